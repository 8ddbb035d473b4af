import HeraldCore

/// A scripted test of one endpoint's flow: conversations of steps, each step a message (user,
/// inject or notify) and what must come of it. `docs/playbooks.md` describes the file format.
public struct Playbook: Sendable {
    /// The file it came from, as given; reports name it.
    public var file: String
    /// `name:` in the file, or the file name without its extension.
    public var name: String
    public var description: String?
    /// The endpoint every conversation talks to (`endpoint:` in the file).
    public var urlToken: String
    /// The `userId` of conversations that do not name their own.
    public var userId: String
    public var conversations: [Conversation]
    /// Stand-ins for the APIs the flow calls (`mock:`).
    public var mocks: CallMocks

    public init(
        file: String, name: String, description: String? = nil, urlToken: String, userId: String, conversations: [Conversation],
        mocks: CallMocks = CallMocks()
    ) {
        self.file = file
        self.name = name
        self.description = description
        self.urlToken = urlToken
        self.userId = userId
        self.conversations = conversations
        self.mocks = mocks
    }

    /// The `userId` when a playbook does not say.
    public static let defaultUserId = "playbook-user"
}

/// One conversation of a playbook: its steps run in order on one session, and it passes when
/// every step does. The first failing step ends it.
public struct Conversation: Sendable {
    public var name: String
    /// Where it starts in the playbook file.
    public var line: Int
    /// The conversation's own `user:`; the playbook's when `nil`.
    public var userId: String?
    public var session: SessionChoice
    public var steps: [Step]

    public init(name: String, line: Int, userId: String? = nil, session: SessionChoice = .fresh, steps: [Step]) {
        self.name = name
        self.line = line
        self.userId = userId
        self.session = session
        self.steps = steps
    }
}

/// Which session a conversation talks in.
public enum SessionChoice: Sendable, Hashable {
    /// A new session with a unique id (the default).
    case fresh
    /// This session id (`session: ID`); an existing session with the id is ended first, so
    /// every run starts the same.
    case named(String)
    /// The previous conversation's session, as it left it (`continue: true`).
    case continuePrevious
}

/// One step: at most one message, then the checks on what it produced and on the context.
/// A step without a message checks the outputs of the last message before it.
public struct Step: Sendable {
    /// Where the step is in the playbook file.
    public var line: Int
    public var action: StepAction?
    public var outputs: OutputsExpectation?
    /// `context:` assertions, checked after the message (and its output checks).
    public var context: [ContextExpectation]

    public init(line: Int, action: StepAction? = nil, outputs: OutputsExpectation? = nil, context: [ContextExpectation] = []) {
        self.line = line
        self.action = action
        self.outputs = outputs
        self.context = context
    }
}

/// What a step sends.
public enum StepAction: Sendable {
    /// A user message (`POST /{urlToken}`).
    case user(PlaybookMessage)
    /// A back-end's message through the flow (`POST /inject/{urlToken}`), `input.source == "inject"`.
    case inject(PlaybookMessage)
    /// An output straight to the user, bypassing the flow (`POST /notify/{urlToken}`).
    case notify(PlaybookMessage)
    /// Time passes: schedules, reminders and `ask` timeouts of the session that fall due fire;
    /// their outputs are the step's outputs. Self-contained runs only (Herald's clock moves).
    case wait(Duration)

    /// `user`, `inject`, `notify` or `wait`.
    public var kind: String {
        switch self {
        case .user: "user"
        case .inject: "inject"
        case .notify: "notify"
        case .wait: "wait"
        }
    }

    /// What the step sends; empty for `wait`.
    public var message: PlaybookMessage {
        switch self {
        case .user(let message), .inject(let message), .notify(let message): message
        case .wait: PlaybookMessage()
        }
    }
}

/// The text, data and (notify only) rich fields a step sends.
public struct PlaybookMessage: Sendable, Hashable {
    public var text: String?
    /// A JSON object.
    public var data: JSON?
    /// Notify only: quick replies, buttons, attachments, a card, a template, as written (and
    /// checked when the playbook loads).
    public var rich: JSONObject

    public init(text: String? = nil, data: JSON? = nil, rich: JSONObject = [:]) {
        self.text = text
        self.data = data
        self.rich = rich
    }
}

/// What the outputs of a step's message must be.
public enum OutputsExpectation: Sendable {
    /// `expect:` with one output: some output of the step is like it (others may come too).
    case some(OutputExpectation)
    /// `expect:` with a list: exactly these outputs, in this order.
    case exactly([OutputExpectation])
    /// `expectNothing: true`: the message produced no output at all.
    case nothing
}

/// What one output must be like. Every check given must hold; an expectation without checks
/// matches any output.
public struct OutputExpectation: Sendable {
    public var checks: [OutputCheck]
    /// Where it is in the playbook file.
    public var line: Int

    public init(checks: [OutputCheck], line: Int) {
        self.checks = checks
        self.line = line
    }
}

/// One property an output must have.
public enum OutputCheck: Sendable {
    /// `text:` the output's text is exactly this (`nil`: the output has no text).
    case text(String?)
    /// `contains:` the output's text contains this.
    case contains(String)
    /// `matches:` the regular expression finds a match in the output's text.
    case matches(CompiledPattern)
    /// `data:` the output's data contains this (objects: these keys with these values, others
    /// allowed; lists: as many elements, each matching; `null`: absent or null).
    case data(JSON)
    /// `attachments:`, `quickReplies:`, `buttons:`, `card:`, `template:` (SPEC §12): the output's
    /// field, matched like `data`.
    case rich(key: String, JSON)
    /// `type:` output, notify or error.
    case type(OutputType)
    /// `source:` what ran the flow that produced the output.
    case source(InputSource)
}

/// `context:` one value the session's context must hold at a path (`survey.rating`).
public struct ContextExpectation: Sendable {
    /// The path's steps inside the context.
    public var path: [String]
    /// Matched like ``OutputCheck/data(_:)``: `null` means the path is not set.
    public var value: JSON
    public var line: Int

    public init(path: [String], value: JSON, line: Int) {
        self.path = path
        self.value = value
        self.line = line
    }
}
