/// Where Herald keeps sessions, inputs, the outbox and the delivery log.
///
/// Implementations: ``MemoryStore`` (tests, `storage: memory`), the SQLite store (the embedded
/// default) and the PostgreSQL store. Every write goes through ``apply(_:)``, which the
/// ``StoreWriter`` calls with a batch of changes from many concurrent requests: one
/// transaction, one durable commit for all of them (group commit).
public protocol HeraldStore: Sendable {
    /// True when this process is the only one writing (memory, SQLite): session state can then
    /// be carried in memory between inputs. False for a store shared by several instances.
    var isSingleWriter: Bool { get }
    /// How many ``StoreWriter`` batches may be written at once, each in its own transaction.
    /// 1 (the default) unless the store itself orders concurrent transactions that touch the
    /// same sessions (PostgreSQL: the sessions' advisory locks).
    var concurrentBatches: Int { get }

    /// Creates or migrates the schema. Called once before anything else.
    func prepare() async throws
    /// Checks the store answers (`/readyz`).
    func ping() async throws
    func close() async throws

    /// The session, or `nil` when there is none.
    func session(_ key: SessionKey) async throws -> Session?

    /// Applies all changes in one transaction: all are recorded, or none and it throws.
    /// A ``SessionCommit`` whose `expectedVersion` does not match the stored session's version
    /// fails the batch with ``StoreConflict``. A ``SessionTurn`` is run on its session's
    /// current state inside the transaction (in queue order) and its commit written; a turn
    /// that rejects changes nothing and does not fail the batch.
    func apply(_ changes: [StoreChange]) async throws

    /// Outputs not yet delivered nor dead, ordered by session and `seq`: the work to resume on
    /// start-up. Endpoints paused by a 410 are listed in ``pausedEndpoints()``.
    func undeliveredOutputs() async throws -> [OutboxEntry]
    func pausedEndpoints() async throws -> Set<String>

    /// Sessions matching the query, ordered by (urlToken, sessionId), after the cursor.
    func sessions(_ query: SessionQuery) async throws -> [SessionSummary]
    /// The newest inputs and outputs of a session, oldest first.
    func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry]
    func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord]
    func delivery(outputId: String) async throws -> DeliveryRecord?
    /// The output a channel sent as the message with this id (``DeliveryUpdate/channelMessageId``).
    func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord?
    func attempts(outputId: String) async throws -> [DeliveryAttempt]

    /// How many sessions of `urlToken` were active at or after `since` (the active-sessions gauge).
    func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int

    /// Keys of sessions of `urlToken` idle since before `cutoff` and without a pending
    /// schedule (for expiry).
    func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey]

    /// Sessions with a schedule due at or before `time`, earliest first (``Session/nextDueAt``).
    func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey]
    /// Pending schedules matching the query, earliest `dueAt` first.
    func scheduled(_ query: ScheduleQuery) async throws -> [ScheduledEntry]
    /// The session holding the pending schedule with this id.
    func scheduledSession(id: String) async throws -> SessionKey?

    /// The recorded answer for an `Idempotency-Key`, if it is younger than 24 h.
    func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse?

    /// The audit log, newest first: entries with a ``AuditEntry/sequence`` below `before` (all
    /// when `nil`), at most `limit`.
    func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry]

    /// Keys of sessions of `urlToken` an operator has had without acting since before `cutoff`
    /// (for the handover's idle timeout).
    func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey]

    // MARK: Configuration made at runtime (SPEC §14)

    /// Stores flow versions; a version already stored stays as it is. Versions are never
    /// deleted: a session may run on an old one for as long as it lasts.
    func saveFlows(_ flows: [StoredFlow]) async throws
    /// A stored flow version, or `nil`.
    func storedFlow(version: String) async throws -> StoredFlow?
    /// Makes `name` stand for `version` (stored already); returns the name with its revision.
    func nameFlow(_ name: FlowName) async throws -> FlowName
    /// Every flow name, by name.
    func flowNames() async throws -> [FlowName]
    /// Every endpoint made through the admin API, deleted ones included, by `urlToken`.
    func endpointDefinitions() async throws -> [EndpointDefinition]
    /// Records a new, changed or deleted endpoint definition; returns it with its revision.
    func saveEndpoint(_ definition: EndpointDefinition) async throws -> EndpointDefinition
    /// The highest revision of endpoint definitions and flow names (0 when there are none): when
    /// it moves, another instance changed them.
    func configurationRevision() async throws -> Int64

    /// Deletes what is no longer needed: idempotency records older than `idempotencyCutoff`, and
    /// delivered or dead outputs (with their attempts) and inputs older than `historyCutoff`.
    /// Undelivered outputs are never pruned.
    func prune(idempotencyCutoff: Timestamp, historyCutoff: Timestamp) async throws
}

/// The `Idempotency-Key` was recorded by another instance between the check and the commit.
public struct IdempotencyConflict: Error, Sendable {
    public var urlToken: String
    public var key: String

    public init(urlToken: String, key: String) {
        self.urlToken = urlToken
        self.key = key
    }
}

/// Thrown by ``HeraldStore/apply(_:)`` when a session changed since it was read: another
/// instance processed an input of it first. The caller reloads and runs the input again.
public struct StoreConflict: Error, Sendable, CustomStringConvertible {
    public var session: SessionKey
    public init(session: SessionKey) { self.session = session }
    public var description: String { "session \(session) was changed concurrently" }
}

/// One change for ``HeraldStore/apply(_:)``.
///
/// Boxed (`indirect`): a change is copied from the writer's queue into its batch and on to the
/// store, and a commit is 400 bytes with dozens of references; a boxed one is one.
public indirect enum StoreChange: Sendable {
    /// An input (or a notify) and everything it produced, computed from cached state.
    case session(SessionCommit)
    /// An input (or a notify) to compute from the stored state inside the transaction
    /// (stores several instances share).
    case turn(SessionTurn)
    case deleteSession(SessionKey)
    /// The result of a delivery attempt, or an operator's retry.
    case delivery(DeliveryUpdate)
    /// Delivery to an endpoint stopped (410 Gone) or resumed.
    case endpointPaused(urlToken: String, paused: Bool)
    /// An admin action, for the audit log.
    case audit(AuditEntry)
    /// Everything of one user of one endpoint goes.
    case erase(Erasure)
    /// A channel's receipt for one of its messages: the output sent as that message moves
    /// forward to the reported status (never back). A report for a message id no output has
    /// recorded yet (it came before the send's answer) is kept, and applied when the delivery
    /// that records the id is written.
    case status(StatusReport)
}

/// What one input or notify changes: the session's new state, the input, its outputs.
public struct SessionCommit: Sendable {
    public var session: Session
    /// The version the change was computed from; 0 for a new session.
    public var expectedVersion: Int64
    /// The session starts here: it did not exist, or it had expired and starts over, possibly
    /// for another user. (A store that keeps who used a session, for erasure, notes the user.)
    public var startsSession: Bool
    public var input: Input?
    public var outputs: [Output]
    public var idempotency: IdempotentResponse?

    /// `startsSession` defaults to whether there was no session (`expectedVersion` 0).
    public init(
        session: Session, expectedVersion: Int64, startsSession: Bool? = nil, input: Input?, outputs: [Output], idempotency: IdempotentResponse? = nil
    ) {
        self.session = session
        self.expectedVersion = expectedVersion
        self.startsSession = startsSession ?? (expectedVersion == 0)
        self.input = input
        self.outputs = outputs
        self.idempotency = idempotency
    }
}

/// The answer first given to a request with an `Idempotency-Key`, replayed for repeats.
public struct IdempotentResponse: Sendable, Hashable {
    public var urlToken: String
    public var key: String
    public var status: Int
    public var body: [UInt8]
    public var createdAt: Timestamp

    public init(urlToken: String, key: String, status: Int, body: [UInt8], createdAt: Timestamp = .now()) {
        self.urlToken = urlToken
        self.key = key
        self.status = status
        self.body = body
        self.createdAt = createdAt
    }
}

/// Where an output is in its delivery.
public enum DeliveryStatus: String, Sendable, Hashable, CaseIterable {
    /// Not attempted yet, or being attempted.
    case pending
    /// Attempted and failed; another attempt is scheduled.
    case failed
    /// Given up: a permanent error, or retries exhausted. An operator can retry it.
    case dead
    /// Accepted by the webhook with a 2xx.
    case delivered
}

extension DeliveryStatus {
    /// Delivery is over: delivered, or dead. Only finished outputs are deleted with their
    /// session or pruned with old history.
    public static let finished: [DeliveryStatus] = [.delivered, .dead]
    /// Still to deliver: pending, or failed with another attempt scheduled. Resumed on start-up
    /// (``HeraldStore/undeliveredOutputs()``), never pruned; an erasure counts them as dropped.
    public static let undelivered: [DeliveryStatus] = [.pending, .failed]

    public var isFinished: Bool { Self.finished.contains(self) }
    public var isUndelivered: Bool { Self.undelivered.contains(self) }

    /// The statuses as the list of an SQL `IN (…)`, in the order given: `'pending', 'failed'`
    /// for ``undelivered``, the order the SQL stores' partial indexes name them in.
    public static func sqlList(_ statuses: [DeliveryStatus]) -> String {
        statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }
}

/// An output waiting in the outbox, with its delivery state.
public struct OutboxEntry: Sendable, Hashable {
    public var output: Output
    public var attempts: Int
    /// The next attempt is not made before this time.
    public var notBefore: Timestamp?
    /// When the retry policy's `maxAge` starts counting: the output's creation, or the moment an
    /// operator retried it.
    public var retryWindowStart: Timestamp

    public init(output: Output, attempts: Int = 0, notBefore: Timestamp? = nil, retryWindowStart: Timestamp? = nil) {
        self.output = output
        self.attempts = attempts
        self.notBefore = notBefore
        self.retryWindowStart = retryWindowStart ?? output.timestamp
    }
}

/// One attempt to POST an output.
public struct DeliveryAttempt: Sendable, Hashable {
    public var outputId: String
    /// 1 for the first attempt.
    public var number: Int
    public var startedAt: Timestamp
    public var durationMilliseconds: Int64
    /// The HTTP status, when a response came back.
    public var statusCode: Int?
    /// Why it failed: a transport error or an unexpected status.
    public var error: String?
    /// At most the first 4 KiB of the response body.
    public var responseBody: String?

    public init(
        outputId: String, number: Int, startedAt: Timestamp, durationMilliseconds: Int64, statusCode: Int?, error: String?,
        responseBody: String?
    ) {
        self.outputId = outputId
        self.number = number
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.error = error
        self.responseBody = responseBody
    }
}

/// The new delivery state of an output, with the attempt that led to it (if any).
public struct DeliveryUpdate: Sendable, Hashable {
    public var outputId: String
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Timestamp?
    public var attempt: DeliveryAttempt?
    /// The channel's id for the message this attempt sent (from its answer), for receipts.
    public var channelMessageId: String?

    public init(
        outputId: String, status: DeliveryStatus, attempts: Int, nextAttemptAt: Timestamp?, attempt: DeliveryAttempt?,
        channelMessageId: String? = nil
    ) {
        self.outputId = outputId
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.attempt = attempt
        self.channelMessageId = channelMessageId
    }

    /// When the output was delivered, if this update delivers it: the end of the attempt that
    /// did (its start plus its duration). `nil` for any other update, which keeps the time an
    /// earlier one recorded.
    public var deliveredAt: Timestamp? {
        guard status == .delivered, let attempt else { return nil }
        return attempt.startedAt.adding(milliseconds: attempt.durationMilliseconds)
    }
}

/// An output and its delivery state, as the admin API lists it.
public struct DeliveryRecord: Sendable, Hashable {
    public var output: Output
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Timestamp?
    public var lastError: String?
    public var deliveredAt: Timestamp?
    /// The channel's id for the message that delivered this output, when its answer gave one.
    public var channelMessageId: String?
    /// What the channel's receipts said of it, when any came.
    public var receipt: OutputReceipt?

    public init(
        output: Output, status: DeliveryStatus, attempts: Int, nextAttemptAt: Timestamp?, lastError: String?, deliveredAt: Timestamp?,
        channelMessageId: String? = nil, receipt: OutputReceipt? = nil
    ) {
        self.output = output
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.deliveredAt = deliveredAt
        self.channelMessageId = channelMessageId
        self.receipt = receipt
    }

    /// The output's status (SPEC §12): its delivery and its receipts, by the one rule
    /// (``OutputStatus/of(delivery:receipt:)``).
    public var outputStatus: OutputStatus {
        OutputStatus.of(delivery: status, receipt: receipt)
    }

    /// The error that goes with a `failed` status: the channel's, else the delivery's last.
    public var statusError: String? {
        guard outputStatus == .failed else { return nil }
        return receipt?.status == .failed ? (receipt?.error ?? lastError) : lastError
    }
}

public struct SessionQuery: Sendable, Hashable {
    public var urlToken: String?
    public var userId: String?
    /// Only sessions active since then (used by broadcast to skip expired ones).
    public var activeSince: Timestamp?
    public var limit: Int
    /// The last (urlToken, sessionId) of the previous page.
    public var after: SessionKey?

    public init(urlToken: String? = nil, userId: String? = nil, activeSince: Timestamp? = nil, limit: Int = 50, after: SessionKey? = nil) {
        self.urlToken = urlToken
        self.userId = userId
        self.activeSince = activeSince
        self.limit = limit
        self.after = after
    }
}

public struct SessionSummary: Sendable, Hashable {
    public var key: SessionKey
    public var userId: String
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var waitingAt: String?
    public var outputs: Int64
    /// Set while an operator has the session.
    public var handover: Handover?
    /// The flow version the session runs on (SPEC §14).
    public var flowVersion: String?
}

extension SessionSummary {
    public init(_ session: Session) {
        self.init(
            key: session.key, userId: session.userId, createdAt: session.createdAt, updatedAt: session.updatedAt,
            waitingAt: session.waiting?.nodeId, outputs: session.nextSeq - 1, handover: session.handover, flowVersion: session.flowVersion)
    }
}

/// One line of a session's history.
public enum TranscriptEntry: Sendable, Hashable {
    case input(Input)
    case output(DeliveryRecord)

    public var timestamp: Timestamp {
        switch self {
        case .input(let input): input.receivedAt
        case .output(let record): record.output.timestamp
        }
    }
}

public struct DeliveryQuery: Sendable, Hashable {
    public var status: DeliveryStatus?
    public var urlToken: String?
    public var sessionId: String?
    public var limit: Int

    public init(status: DeliveryStatus? = nil, urlToken: String? = nil, sessionId: String? = nil, limit: Int = 100) {
        self.status = status
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.limit = limit
    }
}

extension HeraldStore {
    public var concurrentBatches: Int { 1 }
}
