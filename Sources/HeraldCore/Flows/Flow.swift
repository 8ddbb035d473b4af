/// A conversation program: what an endpoint does with each input of a session.
///
/// A flow is a list of nodes that run in file order unless one jumps (docs/flows.md). It is
/// loaded from YAML once (``Flow/load(path:)``), every expression compiled, every jump target
/// checked, and then run by ``FlowEngine`` for each input.
public struct Flow: Sendable {
    /// The flow's `name:`, or the file name without its extension.
    public var name: String
    /// The file it was loaded from, for messages.
    public var file: String
    /// The steps, in file order.
    public var nodes: [FlowNode]
    /// A run stops with an error output after this many node steps (loops).
    public var stepLimit: Int
    /// Things that load but are probably mistakes, such as an unreachable node.
    public var warnings: [FileError]
    /// The flow's version: a hash of the text it was loaded from (``Flow/version(of:)``), the
    /// same for the same text everywhere; empty for a flow built in code.
    public var version = ""
    /// The YAML text it was loaded from (`nil` for a flow built in code), stored under its
    /// version so that sessions on it resume after a restart or on another instance.
    public var source: String?

    let indexById: [String: Int]

    /// A flow built in code. Ids should be unique (the first of a duplicate wins) and jump
    /// targets should exist; a run that meets a missing target stops with an error output.
    public init(name: String, file: String, nodes: [FlowNode], stepLimit: Int = 1000, warnings: [FileError] = []) {
        self.name = name
        self.file = file
        self.nodes = nodes
        self.stepLimit = stepLimit
        self.warnings = warnings
        var index: [String: Int] = [:]
        for (position, node) in nodes.enumerated() where index[node.id] == nil { index[node.id] = position }
        self.indexById = index
    }

    /// The position of the node with this id.
    public func index(of id: String) -> Int? {
        indexById[id]
    }
}

/// One step of a flow.
public struct FlowNode: Sendable {
    /// The node's `id`, or `#N` (its 1-based position) when the file gives none.
    public var id: String
    /// Line in the flow file, for messages.
    public var line: Int
    /// What the node does.
    public var kind: Kind

    public init(id: String, line: Int, kind: Kind) {
        self.id = id
        self.line = line
        self.kind = kind
    }

    /// The ten node kinds (docs/flows.md has each with examples).
    public enum Kind: Sendable {
        /// Emit an output.
        case say(Message)
        /// Emit a prompt and wait; the next input resumes here.
        case ask(Ask)
        /// Assign context values, in order.
        case set([Assignment])
        /// Jump to `then` when the condition is truthy, to `else` when not; a missing branch
        /// continues with the next node.
        case `if`(condition: Expression, then: String?, else: String?)
        /// Jump to the case whose key equals the value's text, else to `default`, else continue.
        case `switch`(subject: Expression, cases: [(value: String, target: String)], default: String?)
        /// Jump to the node with this id.
        case goto(String)
        /// Stop the run; with `reset` the session's context is cleared.
        case end(reset: Bool)
        /// Schedule an inject into this session, later (a reminder).
        case schedule(Reminder)
        /// Cancel this session's pending schedule with this key, if any.
        case cancel(key: String)
        /// Call an HTTP API and wait for its answer (``Call``).
        case call(Call)
    }

    /// An inject a `schedule` node sets up: due `after` a while or `at` a time, with a text and
    /// data the flow sees as `input.text` and `input.data` when it fires.
    public struct Reminder: Sendable {
        public enum When: Sendable {
            case after(Duration)
            /// A template that renders an RFC 3339 time.
            case at(Template)
        }

        /// A pending schedule with the same key is replaced; `cancel` finds it by the key.
        public var key: String?
        public var when: When
        public var message: Message

        public init(key: String?, when: When, message: Message) {
            self.key = key
            self.when = when
            self.message = message
        }
    }

    /// How long an `ask` waits, and where the flow goes on when the user has not answered by
    /// then.
    public struct Timeout: Sendable {
        public var after: Duration
        /// The node id the flow continues at.
        public var target: String

        public init(after: Duration, target: String) {
            self.after = after
            self.target = target
        }
    }

    /// The text and data of an output, both templated, and its rich fields.
    public struct Message: Sendable {
        /// Rendered to a string (`null` holes as nothing).
        public var text: Template?
        /// Evaluated to JSON; a `null` result sends no data.
        public var data: ValueTemplate?
        /// `quickReplies`, `buttons`, `attachments`, `card` (SPEC §12), each evaluated when the
        /// node runs and checked by ``RichContent/parse(_:allowTemplate:prefix:)``.
        public var rich: [(key: String, value: ValueTemplate)]

        public init(text: Template?, data: ValueTemplate?, rich: [(key: String, value: ValueTemplate)] = []) {
            self.text = text
            self.data = data
            self.rich = rich
        }
    }

    /// A question: the prompt, where the answer goes, and how it is checked.
    public struct Ask: Sendable {
        /// Said when the node is reached.
        public var prompt: Message
        /// Where the answer goes: the steps of a `context.` path.
        public var into: [Substring]
        /// How the answer is checked; `nil` accepts any answer.
        public var validation: Validation?
        /// Said when the answer does not validate; the prompt again when absent.
        public var retry: Message?
        /// When the user has not answered by then, the flow goes on elsewhere.
        public var timeout: Timeout?

        public init(prompt: Message, into: [Substring], validation: Validation?, retry: Message?, timeout: Timeout? = nil) {
            self.prompt = prompt
            self.into = into
            self.validation = validation
            self.retry = retry
            self.timeout = timeout
        }
    }

    /// How an `ask` checks its answer before storing it.
    public enum Validation: Sendable {
        /// The answer's text must match (search anywhere; anchor with `^…$`).
        case pattern(CompiledPattern)
        /// The answer must be a number within the bounds; it is stored as a number.
        case number(min: Double?, max: Double?)
    }

    /// One `context.path: value` of a `set` node.
    public struct Assignment: Sendable {
        /// Steps of the `context.` path, without `context`.
        public var path: [Substring]
        /// The value stored, evaluated when the node runs.
        public var value: ValueTemplate

        public init(path: [Substring], value: ValueTemplate) {
            self.path = path
            self.value = value
        }
    }
}

/// A regular expression compiled at load time.
///
/// `@unchecked Sendable`: a `Regex` is immutable once built, and the standard library
/// initialises its lazily lowered program with an atomic compare-and-swap, so sharing one across
/// threads is safe; `Regex` itself is not marked `Sendable` only because of its generic output.
public struct CompiledPattern: @unchecked Sendable {
    /// The pattern as written.
    public let source: String
    /// The compiled expression.
    public let regex: Regex<AnyRegexOutput>

    /// Compiles `source`; throws when it is not a valid regular expression.
    public init(_ source: String) throws {
        self.source = source
        self.regex = try Regex(source)
    }
}
