import HeraldCore

/// How the runner talks to a Herald: ``InProcessDriver`` runs one inside `herald test` from a
/// config file, ``RemoteDriver`` talks to a running `herald serve` over HTTP. The runner and
/// the checks are the same for both.
public protocol PlaybookDriver: Sendable {
    /// Fails when Herald has no endpoint `urlToken`, before any conversation runs.
    func checkEndpoint(_ urlToken: String) async throws(DriverError)

    /// Sends a user message (`source == .user`) or an inject through the endpoint's flow and
    /// returns the outputs the flow produced for it, in order. Inject creates the session when
    /// it does not exist yet.
    func send(_ message: PlaybookMessage, source: InputSource, to session: SessionAddress) async throws(DriverError) -> [ObservedOutput]

    /// Notifies the session's user and returns the one output that made; creates the session
    /// when it does not exist yet.
    func notify(_ message: PlaybookMessage, to session: SessionAddress) async throws(DriverError) -> [ObservedOutput]

    /// True when ``wait(_:in:)`` can move Herald's clock (a self-contained run). Conversations
    /// with a `wait` step are skipped otherwise.
    var letsTimePass: Bool { get }

    /// Lets `duration` pass and returns the outputs of the session's schedules (scheduled
    /// messages, reminders, `ask` timeouts) that fell due meanwhile, in order.
    func wait(_ duration: Duration, in session: SessionAddress) async throws(DriverError) -> [ObservedOutput]

    /// The session's context, or `nil` when there is no such session.
    func context(of session: SessionAddress) async throws(DriverError) -> JSONObject?

    /// Ends the session if it exists, so a conversation with a fixed session id starts afresh.
    func endSession(_ session: SessionAddress) async throws(DriverError)

    /// This driver, answering the flow's calls from `mocks` where it can (a self-contained
    /// run); a driver whose Herald makes real calls returns itself.
    func answeringCalls(from mocks: CallMocks) -> any PlaybookDriver

    /// True when ``answeringCalls(from:)`` makes the stand-ins answer (a self-contained run).
    /// Conversations of a playbook with `mock:` are skipped otherwise: a running server makes
    /// the real calls.
    var answersCallsFromStandIns: Bool { get }
}

extension PlaybookDriver {
    public func answeringCalls(from mocks: CallMocks) -> any PlaybookDriver { self }
    public var answersCallsFromStandIns: Bool { false }
}

/// The session a conversation talks in. The runner makes one per conversation (with the
/// memberwise initialiser); drivers only read it.
public struct SessionAddress: Sendable, Hashable {
    public var urlToken: String
    public var sessionId: String
    public var userId: String
}

/// An output as a step saw it: what the checks look at.
public struct ObservedOutput: Sendable, Hashable {
    public var type: OutputType
    public var text: String?
    public var data: JSON?
    /// Quick replies, buttons, attachments, card, template (SPEC §12), as the webhook shows them.
    public var rich: JSONObject
    /// What ran the flow (`nil` for notify).
    public var source: InputSource?

    public init(type: OutputType, text: String?, data: JSON?, rich: JSONObject = [:], source: InputSource?) {
        self.type = type
        self.text = text
        self.data = data
        self.rich = rich
        self.source = source
    }

    /// The output as Herald recorded it.
    public init(_ output: Output) {
        self.init(type: output.type, text: output.text, data: output.data, rich: output.rich.json, source: output.source)
    }
}

/// A step could not be run: Herald refused the message, could not be reached, or answered
/// something unexpected. The description says which, in Herald's words.
public struct DriverError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
