/// Where an input came from: the user through the endpoint, a back-end through `inject` (now
/// or scheduled, or a flow's reminder), the timeout of the `ask` the session waited at, or
/// the answer to the flow's `call`.
/// As an output's source it says what made the output: a flow run for one of those, or an
/// operator's reply (`operator`, never an input's source).
public enum InputSource: String, Sendable, Hashable, CaseIterable {
    case user
    case inject
    case timeout
    case `operator`
    case call
}

/// One message entering a session's flow.
public struct Input: Sendable, Hashable {
    public var id: String
    public var session: SessionKey
    public var userId: String
    public var text: String?
    /// A JSON object, when the message carried one.
    public var data: JSON?
    public var source: InputSource
    public var receivedAt: Timestamp

    public init(
        id: String = Identifier.input(),
        session: SessionKey,
        userId: String,
        text: String?,
        data: JSON?,
        source: InputSource,
        receivedAt: Timestamp = .now()
    ) {
        self.id = id
        self.session = session
        self.userId = userId
        self.text = text
        self.data = data
        self.source = source
        self.receivedAt = receivedAt
    }
}

/// What kind of output this is: produced by the flow, sent by `notify`, or an error the flow
/// run hit (a step limit, say) reported to the user's channel so it is not silently lost.
public enum OutputType: String, Sendable, Hashable, CaseIterable {
    case output
    case notify
    case error
    /// A user's message while an operator has the session, for the endpoint's
    /// `handover.webhook` (not the user's channel).
    case userMessage
    /// A change of another output's ``OutputStatus``, for the endpoint's `statusWebhook` (not
    /// the user's channel); its `data` is `{outputId, status, at, error?}`.
    case status
    /// A flow's HTTP call (SPEC §13): its `data` is the ``CallRequest``, made by the outbox to
    /// the called API, whose answer comes back as an input with source `call`.
    case call

    /// Outputs that go to the user's channel (or the endpoint's webhook), rather than to a
    /// side webhook of the endpoint or a called API; only these have a status of their own.
    public var isForUser: Bool {
        switch self {
        case .output, .notify, .error: true
        case .userMessage, .status, .call: false
        }
    }
}

/// One message to the user, sent as one webhook POST.
public struct Output: Sendable, Hashable {
    public var id: String
    public var session: SessionKey
    public var userId: String
    /// Position in the session's output stream; strictly increasing, gap-free.
    public var seq: Int64
    public var type: OutputType
    public var text: String?
    public var data: JSON?
    /// Quick replies, buttons, attachments, a card, a template (SPEC §12); empty for plain text.
    public var rich: RichContent
    /// The input whose flow run produced this output (`nil` for notify).
    public var inputId: String?
    public var source: InputSource?
    public var timestamp: Timestamp
    /// The schedule this output came from (a scheduled notify or inject, a reminder, a timeout).
    public var scheduledId: String?
    /// The schedule fired more than ``Schedule/lateAfter`` after it was due (Herald was down).
    public var late: Bool
    /// The operator who sent this reply (`source == .operator`), or who has the session a
    /// `userMessage` was written in.
    public var operatorName: String?
    /// The W3C `traceparent` of the turn that made this output, while tracing is on, so its
    /// delivery attempts join the request's trace (``HeraldTracing``). Kept in memory only: an
    /// output loaded from the store after a restart starts a trace of its own.
    public var traceparent: String?
    /// The version of the flow whose run made this output (``Flow/version``); `nil` for what
    /// no flow made (notify, an operator's reply).
    public var flowVersion: String?

    public init(
        id: String = Identifier.output(),
        session: SessionKey,
        userId: String,
        seq: Int64,
        type: OutputType,
        text: String?,
        data: JSON?,
        rich: RichContent = RichContent(),
        inputId: String?,
        source: InputSource?,
        timestamp: Timestamp = .now(),
        scheduledId: String? = nil,
        late: Bool = false
    ) {
        self.id = id
        self.session = session
        self.userId = userId
        self.seq = seq
        self.type = type
        self.text = text
        self.data = data
        self.rich = rich
        self.inputId = inputId
        self.source = source
        self.timestamp = timestamp
        self.scheduledId = scheduledId
        self.late = late
        self.operatorName = nil
        self.traceparent = nil
        self.flowVersion = nil
    }
}

extension Output {
    /// The attachments as JSON, `nil` when there are none.
    public var attachments: [JSON]? {
        rich.attachments.isEmpty ? nil : rich.json["attachments"]?.arrayValue
    }
}
