/// A user message or an inject, validated, on its way into a session.
public struct InboundMessage: Sendable {
    public var urlToken: String
    public var sessionId: String
    public var userId: String
    public var text: String?
    public var data: JSON?
    public var source: InputSource
    /// For inject: create the session when it does not exist (user messages always may).
    public var createSession: Bool
    /// Any user may write in the session, not only the one who started it: a channel's
    /// conversation (a Telegram group, a Slack channel) is one session whoever writes.
    public var sharedSession = false

    public init(
        urlToken: String, sessionId: String, userId: String, text: String?, data: JSON?, source: InputSource = .user,
        createSession: Bool = false
    ) {
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.userId = userId
        self.text = text
        self.data = data
        self.source = source
        self.createSession = createSession
    }
}

/// Text and data for a user, bypassing the flow.
public struct Notification: Sendable {
    public var urlToken: String
    public var sessionId: String
    public var userId: String?
    public var text: String?
    public var data: JSON?
    /// Quick replies, buttons, attachments, a card, a template (SPEC §12).
    public var rich: RichContent
    public var createSession: Bool

    public init(
        urlToken: String, sessionId: String, userId: String?, text: String?, data: JSON?, rich: RichContent = RichContent(),
        createSession: Bool = false
    ) {
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.userId = userId
        self.text = text
        self.data = data
        self.rich = rich
        self.createSession = createSession
    }
}

/// What an accepted message produced, once recorded.
public struct Receipt: Sendable {
    public var sessionId: String
    /// The input's id; `nil` for a notify.
    public var inputId: String?
    public var outputs: [Output]
    /// The schedule a scheduled notify or inject set up (or a cancel removed, or that fired).
    public var scheduled: Schedule?
    /// The session's user.
    public var userId: String?
}

/// When a scheduled notify or inject is due, and how it may be replaced or dropped.
public struct ScheduleRequest: Sendable {
    public var dueAt: Timestamp
    /// A pending schedule with the same key in the session is replaced.
    public var key: String?
    /// Dropped when the user writes before it is due.
    public var cancelOnUserMessage: Bool

    public init(dueAt: Timestamp, key: String? = nil, cancelOnUserMessage: Bool = false) {
        self.dueAt = dueAt
        self.key = key
        self.cancelOnUserMessage = cancelOnUserMessage
    }
}

/// Makes the answer an `Idempotency-Key` replays: recorded with the change it answers,
/// rendered from the receipt as ``Answer`` says.
public struct IdempotencyRequest: Sendable {
    /// What the recorded answer is.
    public enum Answer: Sendable, Hashable {
        /// The receipt's JSON (``Receipt/json(wait:)``), with its outputs when the caller waits,
        /// replayed with `status`.
        case receipt(wait: Bool, status: Int)
        /// A channel's message: 200 with the input's id as text (the channel's answer is the
        /// channel's own).
        case channelInput
    }

    public var key: String
    public var answer: Answer

    public init(key: String, answer: Answer) {
        self.key = key
        self.answer = answer
    }
}

/// The outcome of a request: processed now, or the first answer to the same `Idempotency-Key`.
public enum Accepted: Sendable {
    case processed(Receipt)
    case replayed(IdempotentResponse)
}
