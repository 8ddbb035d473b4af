/// A conversation on one endpoint: its context, where its flow waits, and its output counter.
public struct Session: Sendable, Hashable {
    public var key: SessionKey
    public var userId: String
    /// The flow's memory for this session (`context.*` in expressions). Always an object.
    public var context: JSONObject
    /// Set while the flow waits at an `ask` for the next input.
    public var waiting: FlowWait?
    /// The `seq` the next output of this session gets.
    public var nextSeq: Int64
    /// Messages due later, in `dueAt` order (``Schedule``). A session with one never expires.
    public var schedules: [Schedule]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// Incremented on every recorded change; stores sharing sessions across instances use it to
    /// detect a concurrent update.
    public var version: Int64
    /// Set while an operator has the session (SPEC §11): the flow does not run for user messages.
    public var handover: Handover?
    /// The version of the flow its last run used (``Flow/version``): while the session is in
    /// the middle of that flow it goes on with it, even after the endpoint's flow changed
    /// (SPEC §14). `nil` before the first run, or for a flow built in code.
    public var flowVersion: String?

    public init(key: SessionKey, userId: String, now: Timestamp = .now()) {
        self.key = key
        self.userId = userId
        self.context = JSONObject()
        self.waiting = nil
        self.nextSeq = 1
        self.schedules = []
        self.createdAt = now
        self.updatedAt = now
        self.version = 0
        self.handover = nil
    }
}

/// Where a flow run paused: the `ask` node waiting for an answer and how often it re-prompted,
/// or the `call` node waiting for its call's answer.
public struct FlowWait: Sendable, Hashable {
    public var nodeId: String
    public var retries: Int
    /// Set while the session waits at a `call` node.
    public var call: CallWait?

    public init(nodeId: String, retries: Int = 0, call: CallWait? = nil) {
        self.nodeId = nodeId
        self.retries = retries
        self.call = call
    }
}

/// A session waiting for a call's answer: which call, how many this input set off, and the
/// inputs that arrived meanwhile. Those run, in order, once the flow has gone on.
public struct CallWait: Sendable, Hashable {
    /// The id of the call's output: only its answer resumes the flow.
    public var outputId: String
    /// Calls made since the last input that was not a call's answer, this one included.
    public var count: Int
    /// User messages and injects that came while the call was out, in arrival order (each
    /// already recorded as an input).
    public var queued: [Input] = []
}
