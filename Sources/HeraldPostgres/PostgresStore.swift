import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The store several Herald instances share: PostgreSQL through postgres-nio.
///
/// - Writes arrive in batches from the `StoreWriter` (``apply(_:)``), one transaction each
///   (group commit): the batch takes the advisory lock of every session it touches, in one
///   order on every instance, reads them, runs the requests' ``SessionTurn``s on them, and
///   writes everything with a few array statements (``PostgresBatch``).
/// - Outputs are the outbox table. The committing transaction also claims the delivery lease of
///   each session it added outputs to, unless another live instance holds it, which it then
///   tells with `NOTIFY herald_outbox` (``OutboxLeases``).
/// - Ids, user ids and texts are `bytea` (UTF-8): PostgreSQL's `text` cannot hold U+0000, and
///   Herald accepts any JSON string, as the other stores do.
public final class PostgresStore: HeraldStore, Service {
    let client: PostgresClient
    let logger: Logger
    /// Shown in messages; the password is not in it.
    public let location: String
    /// This instance's name in `outbox_leases` and `outbox_owners`.
    let owner: String
    private let committedHandler = Mutex<ClaimedOutputsHandler?>(nil)

    public var isSingleWriter: Bool { false }

    /// `url`: `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public init(url: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw PostgresStoreError("storage: not a postgres:// URL")
        }
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 40
        configuration.options.minimumConnections = 2
        // A server that is down is found out quickly: requests answer 503 instead of waiting.
        configuration.options.connectTimeout = .seconds(3)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.location = "postgres://\(host):\(components.port ?? 5432)/\(database)"
        self.owner = "herald-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    /// Runs the connection pool; it must run before the store is used (Herald starts it first).
    public func run() async throws {
        await client.run()
    }

    public func prepare() async throws {
        try await PostgresSchema.migrate(client, logger: logger)
    }

    public func ping() async throws {
        _ = try await bounded { try await self.client.query("SELECT 1", logger: self.logger) }
    }

    /// How long a request waits for PostgreSQL (every read a request makes, and each batch):
    /// while the server is down, postgres-nio keeps a query waiting for a connection, and a
    /// request should get its 503 instead.
    static let answerTimeout: Duration = .seconds(5)

    /// Runs `body`, or throws once ``answerTimeout`` has passed (and cancels it).
    func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Self.bounded(within: Self.answerTimeout, body)
    }

    /// Runs `body`, or throws once `timeout` has passed. On the timeout `body` is cancelled but
    /// not waited for: a task group would wait, and postgres-nio does not always give up when
    /// cancelled (a transaction on a connection to a server that went away was seen to hang
    /// on), which held the store writer, every request behind it and the graceful stop. A
    /// transaction given up this way may still commit (docs/deployment.md).
    static func bounded<T: Sendable>(within timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let call = BoundedCall<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                call.waiter.withLock { $0 = continuation }
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    call.finish(.failure(PostgresStoreError("PostgreSQL did not answer within \(timeout)")))
                }
                call.work.withLock {
                    $0 = Task {
                        let result: Result<T, any Error>
                        do { result = .success(try await body()) } catch { result = .failure(error) }
                        timer.cancel()
                        call.finish(result)
                    }
                }
            }
        } onCancel: {
            call.work.withLock { $0 }?.cancel()
        }
    }

    public func close() async throws {}

    // MARK: Sessions

    public func session(_ key: SessionKey) async throws -> Session? {
        try await bounded { [self] in
            let rows = try await client.query(
                "SELECT * FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId.bytea)", logger: logger)
            for try await row in rows { return try Self.session(from: Reader(row)) }
            return nil
        }
    }

    /// A transaction whose errors are the closure's own (postgres-nio wraps them).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    /// Set by ``OutboxLeases``: after each committed batch, `handler` gets the sessions whose
    /// delivery lease the batch holds for this instance, with their undelivered outputs past
    /// the position `queued` says this instance has queued. Without it the store claims no
    /// lease and announces every new output.
    func onClaimedOutputs(
        queued: @escaping @Sendable ([SessionKey]) -> [Int64], _ handler: @escaping @Sendable ([ClaimedOutputs]) -> Void
    ) {
        committedHandler.withLock { $0 = ClaimedOutputsHandler(queued: queued, call: handler) }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        guard !changes.isEmpty else { return }
        let handler = committedHandler.withLock { $0 }
        // Turns whose Idempotency-Key another instance recorded first: the batch is written
        // again without them (rare: the same key sent to two instances at once).
        var excluded = Set<ObjectIdentifier>()
        while true {
            do {
                let leasing = handler.map { (owner: self.owner, queued: $0.queued) }
                let skip = excluded
                let claimed = try await bounded {
                    try await self.transaction { connection in
                        var batch = PostgresBatch(leasing: leasing, excluding: skip, logger: self.logger)
                        try await batch.write(changes, connection)
                        return batch.claimed
                    }
                }
                if let handler, !claimed.isEmpty { handler.call(claimed) }
                return
            } catch let conflict as PostgresBatch.IdempotencyConflicts {
                for (turn, error) in conflict.turns {
                    turn.reject(error)
                    excluded.insert(ObjectIdentifier(turn))
                }
            }
        }
    }

    // MARK: Outbox

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        try await entries(try await client.query("SELECT * FROM outputs WHERE status IN ('pending', 'failed') ORDER BY position", logger: logger))
    }

    /// The undelivered outputs of these sessions after each one's position, in position order.
    func undeliveredOutputs(of sessions: [(key: SessionKey, after: Int64)]) async throws -> [(position: Int64, entry: OutboxEntry)] {
        try await client.withConnection { connection in try await Self.undeliveredOutputs(of: sessions, connection, self.logger) }
    }

    static func undeliveredOutputs(
        of sessions: [(key: SessionKey, after: Int64)], _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> [(position: Int64, entry: OutboxEntry)] {
        guard !sessions.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            SELECT o.* FROM outputs o
            JOIN unnest(\(sessions.map(\.key.urlToken))::text[], \(sessions.map(\.key.sessionId.bytea))::bytea[], \(sessions.map(\.after))::int8[])
              AS u(url_token, session_id, after) ON o.url_token = u.url_token AND o.session_id = u.session_id AND o.position > u.after
            WHERE o.status IN ('pending', 'failed') ORDER BY o.position
            """, logger: logger)
        var entries: [(position: Int64, entry: OutboxEntry)] = []
        for try await row in rows {
            let reader = Reader(row)
            entries.append((try reader("position"), try Self.entry(from: reader)))
        }
        return entries
    }

    private func entries(_ rows: PostgresRowSequence) async throws -> [OutboxEntry] {
        var entries: [OutboxEntry] = []
        for try await row in rows { entries.append(try Self.entry(from: Reader(row))) }
        return entries
    }

    public func pausedEndpoints() async throws -> Set<String> {
        var paused = Set<String>()
        for try await urlToken in try await client.query("SELECT url_token FROM paused_endpoints", logger: logger).decode(String.self) {
            paused.insert(urlToken)
        }
        return paused
    }

    // MARK: Admin

    public func sessions(_ query: SessionQuery) async throws -> [SessionSummary] {
        try await bounded { [self] in
            let afterToken = query.after?.urlToken
            let afterSession = query.after?.sessionId
            let rows = try await client.query(
                """
                SELECT * FROM sessions
                WHERE (\(query.urlToken)::text IS NULL OR url_token = \(query.urlToken))
                  AND (\(query.userId?.bytea)::bytea IS NULL OR user_id = \(query.userId?.bytea))
                  AND (\(query.activeSince?.milliseconds)::bigint IS NULL OR updated_at >= \(query.activeSince?.milliseconds))
                  AND (\(afterToken)::text IS NULL OR (url_token, session_id) > (\(afterToken), \(afterSession?.bytea)))
                ORDER BY url_token, session_id LIMIT \(query.limit)
                """, logger: logger)
            var sessions: [SessionSummary] = []
            for try await row in rows { sessions.append(SessionSummary(try Self.session(from: Reader(row)))) }
            return sessions
        }
    }

    public func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] {
        try await bounded { [self] in
            var entries: [TranscriptEntry] = []
            for try await row in try await client.query(
                """
                SELECT * FROM inputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId.bytea) ORDER BY received_at DESC LIMIT \(limit)
                """, logger: logger)
            {
                entries.append(.input(try Self.input(from: Reader(row))))
            }
            for try await row in try await client.query(
                """
                SELECT * FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId.bytea) ORDER BY position DESC LIMIT \(limit)
                """, logger: logger)
            {
                entries.append(.output(try Self.delivery(from: Reader(row))))
            }
            return Array(entries.sorted { $0.timestamp < $1.timestamp }.suffix(limit))
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] {
        try await bounded { [self] in
            let rows = try await client.query(
                """
                SELECT * FROM outputs
                WHERE (\(query.status?.rawValue)::text IS NULL OR status = \(query.status?.rawValue))
                  AND (\(query.urlToken)::text IS NULL OR url_token = \(query.urlToken))
                  AND (\(query.sessionId?.bytea)::bytea IS NULL OR session_id = \(query.sessionId?.bytea))
                ORDER BY position LIMIT \(query.limit)
                """, logger: logger)
            var records: [DeliveryRecord] = []
            for try await row in rows { records.append(try Self.delivery(from: Reader(row))) }
            return records
        }
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        try await bounded { [self] in
            for try await row in try await client.query("SELECT * FROM outputs WHERE id = \(outputId)", logger: logger) {
                return try Self.delivery(from: Reader(row))
            }
            return nil
        }
    }

    public func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord? {
        try await bounded { [self] in
            // The latest output to record the id, should a channel ever reuse one. Ids are stored
            // as the batch wrote them (``Swift/String/storableText``).
            for try await row in try await client.query(
                """
                SELECT * FROM outputs WHERE url_token = \(urlToken) AND channel_message_id = \(channelMessageId.storableText)
                ORDER BY position DESC LIMIT 1
                """, logger: logger)
            {
                return try Self.delivery(from: Reader(row))
            }
            return nil
        }
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
        try await bounded { [self] in
            var attempts: [DeliveryAttempt] = []
            for try await row in try await client.query("SELECT * FROM attempts WHERE output_id = \(outputId) ORDER BY number", logger: logger) {
                let reader = Reader(row)
                attempts.append(
                    DeliveryAttempt(
                        outputId: try reader("output_id"), number: Int(try reader("number") as Int64),
                        startedAt: Timestamp(milliseconds: try reader("started_at")), durationMilliseconds: try reader("duration_ms"),
                        statusCode: (try reader("status_code") as Int64?).map { Int($0) }, error: try reader("error"),
                        responseBody: try reader("response_body")))
            }
            return attempts
        }
    }

    public func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
        try await bounded { [self] in
            for try await count in try await client.query(
                "SELECT COUNT(*) FROM sessions WHERE url_token = \(urlToken) AND updated_at >= \(since.milliseconds)", logger: logger
            ).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }

    public func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        var keys: [SessionKey] = []
        for try await sessionId in try await client.query(
            """
            SELECT session_id FROM sessions WHERE url_token = \(urlToken) AND updated_at < \(cutoff.milliseconds) AND next_due_at IS NULL
            LIMIT \(limit)
            """, logger: logger
        ).decode(ByteBuffer.self) {
            keys.append(SessionKey(urlToken: urlToken, sessionId: String(buffer: sessionId)))
        }
        return keys
    }

    public func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await bounded { [self] in
            try await PostgresBatch.sessionKeys(
                client.query(
                    "SELECT url_token, session_id FROM sessions WHERE next_due_at <= \(time.milliseconds) ORDER BY next_due_at LIMIT \(limit)",
                    logger: logger))
        }
    }

    public func scheduled(_ query: ScheduleQuery) async throws -> [ScheduledEntry] {
        try await bounded { [self] in
            // The first `limit` sessions by their earliest schedule hold the first `limit` schedules.
            let rows = try await client.query(
                """
                SELECT * FROM sessions
                WHERE next_due_at IS NOT NULL AND (\(query.urlToken)::text IS NULL OR url_token = \(query.urlToken))
                  AND (\(query.sessionId?.bytea)::bytea IS NULL OR session_id = \(query.sessionId?.bytea))
                ORDER BY next_due_at LIMIT \(query.limit)
                """, logger: logger)
            var sessions: [Session] = []
            for try await row in rows { sessions.append(try Self.session(from: Reader(row))) }
            return ScheduledEntry.earliest(sessions, limit: query.limit)
        }
    }

    public func scheduledSession(id: String) async throws -> SessionKey? {
        try await bounded { [self] in
            let rows = try await client.query(
                "SELECT * FROM sessions WHERE next_due_at IS NOT NULL AND strpos(schedules, \(Schedule.storedIdField(id))) > 0", logger: logger)
            for try await row in rows {
                let session = try Self.session(from: Reader(row))
                if session.schedules.contains(where: { $0.id == id }) { return session.key }
            }
            return nil
        }
    }

    public func prune(idempotencyCutoff: Timestamp, historyCutoff: Timestamp) async throws {
        let history = historyCutoff.milliseconds
        try await transaction { connection in
            try await connection.query("DELETE FROM idempotency WHERE created_at < \(idempotencyCutoff.milliseconds)", logger: logger)
            try await connection.query("DELETE FROM inputs WHERE received_at < \(history)", logger: logger)
            try await connection.query(
                "DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE created_at < \(history) AND status IN ('delivered', 'dead'))",
                logger: logger)
            try await connection.query("DELETE FROM outputs WHERE created_at < \(history) AND status IN ('delivered', 'dead')", logger: logger)
            // Receipts for messages no output ever recorded.
            try await connection.query("DELETE FROM early_receipts WHERE at < \(history)", logger: logger)
        }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await bounded { [self] in
            var entries: [AuditEntry] = []
            for try await row in try await client.query(
                "SELECT * FROM audit WHERE \(before)::bigint IS NULL OR sequence < \(before) ORDER BY sequence DESC LIMIT \(limit)", logger: logger)
            {
                let reader = Reader(row)
                var entry = AuditEntry(
                    at: Timestamp(milliseconds: try reader("at")), keyName: try reader("key_name"), action: AuditAction(rawValue: try reader("action")),
                    urlToken: try reader("url_token"), sessionId: try reader.optionalText("session_id"), userId: try reader.optionalText("user_id"),
                    outputId: try reader("output_id"), detail: try reader("detail"))
                entry.sequence = try reader("sequence")
                entry.targetErased = try reader("target_erased")
                entries.append(entry)
            }
            return entries
        }
    }

    public func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await bounded { [self] in
            var keys: [SessionKey] = []
            for try await sessionId in try await client.query(
                """
                SELECT session_id FROM sessions WHERE url_token = \(urlToken) AND operator IS NOT NULL AND operator_active_at < \(cutoff.milliseconds)
                LIMIT \(limit)
                """, logger: logger
            ).decode(ByteBuffer.self) {
                keys.append(SessionKey(urlToken: urlToken, sessionId: String(buffer: sessionId)))
            }
            return keys
        }
    }

    public func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse? {
        try await bounded { [self] in
            for try await row in try await client.query(
                "SELECT * FROM idempotency WHERE url_token = \(urlToken) AND key = \(key) AND created_at >= \(since.milliseconds)", logger: logger)
            {
                let reader = Reader(row)
                let body: String = try reader("body")
                return IdempotentResponse(
                    urlToken: try reader("url_token"), key: try reader("key"), status: Int(try reader("status") as Int64), body: Array(body.utf8),
                    createdAt: Timestamp(milliseconds: try reader("created_at")))
            }
            return nil
        }
    }

    // MARK: Rows

    /// Reads columns by name.
    struct Reader {
        let row: PostgresRandomAccessRow

        init(_ row: PostgresRow) {
            self.row = row.makeRandomAccess()
        }

        func callAsFunction<T: PostgresDecodable>(_ column: String) throws -> T {
            try row[column].decode(T.self)
        }

        /// A `bytea` column that holds UTF-8 text.
        func text(_ column: String) throws -> String {
            String(buffer: try row[column].decode(ByteBuffer.self))
        }

        func optionalText(_ column: String) throws -> String? {
            try row[column].decode(ByteBuffer?.self).map { String(buffer: $0) }
        }
    }

    private static func json(_ text: String?) throws -> JSON? {
        guard let text else { return nil }
        return try JSON.parse(text)
    }

    static func session(from row: Reader) throws -> Session {
        let key = SessionKey(urlToken: try row("url_token"), sessionId: try row.text("session_id"))
        var session = Session(key: key, userId: try row.text("user_id"), now: Timestamp(milliseconds: try row("created_at")))
        session.context = try json(try row("context"))?.objectValue ?? JSONObject()
        if let node: String = try row("waiting_node") { session.waiting = FlowWait(nodeId: node, retries: Int(try row("waiting_retries") as Int64)) }
        session.nextSeq = try row("next_seq")
        session.updatedAt = Timestamp(milliseconds: try row("updated_at"))
        session.version = try row("version")
        session.schedules = try Schedule.load(stored: try row("schedules"))
        if let name: String = try row("operator") {
            session.handover = Handover(
                operatorName: name, since: Timestamp(milliseconds: try row("operator_since")),
                lastActivity: Timestamp(milliseconds: try row("operator_active_at")))
        }
        return session
    }

    static func input(from row: Reader) throws -> Input {
        Input(
            id: try row("id"), session: SessionKey(urlToken: try row("url_token"), sessionId: try row.text("session_id")),
            userId: try row.text("user_id"), text: try row.optionalText("text"), data: try json(try row("data")), source: InputSource(rawValue: try row("source")) ?? .user,
            receivedAt: Timestamp(milliseconds: try row("received_at")))
    }

    static func output(from row: Reader) throws -> Output {
        let source: String? = try row("source")
        var output = Output(
            id: try row("id"), session: SessionKey(urlToken: try row("url_token"), sessionId: try row.text("session_id")),
            userId: try row.text("user_id"), seq: try row("seq"), type: OutputType(rawValue: try row("type")) ?? .output,
            text: try row.optionalText("text"), data: try json(try row("data")),
            rich: try rich(try row("rich"), attachments: try row("attachments")), inputId: try row("input_id"),
            source: source.flatMap(InputSource.init),
            timestamp: Timestamp(milliseconds: try row("created_at")), scheduledId: try row("scheduled_id"), late: try row("late"))
        output.operatorName = try row("operator")
        return output
    }

    /// An output's rich content from its `rich` column and its `attachments` (kept in their
    /// own column, as before rich content); what older rows hold that the vocabulary does not
    /// know is left out.
    static func rich(_ rich: String?, attachments: String?) throws -> RichContent {
        var object = try json(rich)?.objectValue ?? JSONObject()
        if let attachments = try json(attachments) { object["attachments"] = attachments }
        return RichContent.stored(.object(object))
    }

    static func entry(from row: Reader) throws -> OutboxEntry {
        let next: Int64? = try row("next_attempt_at")
        return OutboxEntry(output: try output(from: row), attempts: Int(try row("attempts") as Int64), notBefore: next.map(Timestamp.init(milliseconds:)))
    }

    static func delivery(from row: Reader) throws -> DeliveryRecord {
        let next: Int64? = try row("next_attempt_at")
        let delivered: Int64? = try row("delivered_at")
        var receipt: OutputReceipt?
        if let status = (try row("receipt_status") as String?).flatMap(OutputStatus.init(rawValue:)) {
            receipt = OutputReceipt(status: status, at: Timestamp(milliseconds: try row("receipt_at")), error: try row("receipt_error"))
        }
        return DeliveryRecord(
            output: try output(from: row), status: DeliveryStatus(rawValue: try row("status")) ?? .pending,
            attempts: Int(try row("attempts") as Int64), nextAttemptAt: next.map(Timestamp.init(milliseconds:)), lastError: try row("last_error"),
            deliveredAt: delivered.map(Timestamp.init(milliseconds:)), channelMessageId: try row("channel_message_id"), receipt: receipt)
    }
}

/// A problem with the PostgreSQL store, in words for the operator (never with the password).
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// One call of ``PostgresStore/bounded(within:_:)``: whoever finishes first, the call or its
/// timer, resumes the caller; a call that times out is cancelled.
private final class BoundedCall<T: Sendable>: Sendable {
    let waiter = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let work = Mutex<Task<Void, Never>?>(nil)

    func finish(_ result: Result<T, any Error>) {
        guard let continuation = waiter.withLock({ $0.take() }) else { return }
        if case .failure = result { work.withLock { $0 }?.cancel() }
        continuation.resume(with: result)
    }
}
