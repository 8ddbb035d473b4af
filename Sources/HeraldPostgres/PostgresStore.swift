import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// The store several Herald instances share: PostgreSQL through postgres-nio.
///
/// - Each input runs in one transaction holding `pg_advisory_xact_lock` on its session
///   (``withSessionLock(_:_:)``): instances take turns on a session, `seq` stays gap-free.
/// - Outputs are the outbox table; their commit sends `NOTIFY herald_outbox` with the session,
///   and ``OutboxLeases`` decides which instance delivers which session.
/// - Delivery results and other changes arrive in batches from the `StoreWriter` (``apply(_:)``).
public final class PostgresStore: SharedStore, Service {
    let client: PostgresClient
    let logger: Logger
    /// Shown in messages; the password is not in it.
    public let location: String

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
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.location = "postgres://\(host):\(components.port ?? 5432)/\(database)"
    }

    /// Runs the connection pool; it must run before the store is used (Herald starts it first).
    public func run() async throws {
        await client.run()
    }

    public func prepare() async throws {
        try await PostgresSchema.migrate(client, logger: logger)
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    public func close() async throws {}

    // MARK: Sessions

    public func session(_ key: SessionKey) async throws -> Session? {
        let rows = try await client.query(
            "SELECT * FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)", logger: logger)
        for try await row in rows { return try Self.session(from: Reader(row)) }
        return nil
    }

    public func withSessionLock<T: Sendable>(
        _ key: SessionKey, _ body: @Sendable (Session?) throws -> (SessionCommit, T)
    ) async throws -> T {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key.urlToken + "/" + key.sessionId), 0))", logger: logger)
            var stored: Session?
            let rows = try await connection.query(
                "SELECT * FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)", logger: logger)
            for try await row in rows { stored = try Self.session(from: Reader(row)) }
            let (commit, result) = try body(stored)
            guard commit.expectedVersion == (stored?.version ?? 0) else { throw StoreConflict(session: key) }
            try await Self.write(commit, connection, logger)
            return result
        }
    }

    /// A transaction whose errors are the closure's own (postgres-nio wraps them).
    private func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        guard !changes.isEmpty else { return }
        try await transaction { connection in
            for change in changes {
                switch change {
                case .session(let commit):
                    let key = commit.session.key
                    try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key.urlToken + "/" + key.sessionId), 0))", logger: logger)
                    var stored: Int64 = 0
                    for try await version in try await connection.query(
                        "SELECT version FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)", logger: logger
                    ).decode(Int64.self) { stored = version }
                    guard stored == commit.expectedVersion else { throw StoreConflict(session: key) }
                    try await Self.write(commit, connection, logger)
                case .deleteSession(let key):
                    try await connection.query("DELETE FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)", logger: logger)
                    try await connection.query("DELETE FROM inputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)", logger: logger)
                    try await connection.query(
                        """
                        DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE url_token = \(key.urlToken)
                          AND session_id = \(key.sessionId) AND status IN ('delivered', 'dead'))
                        """, logger: logger)
                    try await connection.query(
                        """
                        DELETE FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)
                          AND status IN ('delivered', 'dead')
                        """, logger: logger)
                case .delivery(let update):
                    try await Self.write(update, connection, logger)
                case .endpointPaused(let urlToken, let paused):
                    if paused {
                        try await connection.query("INSERT INTO paused_endpoints (url_token) VALUES (\(urlToken)) ON CONFLICT DO NOTHING", logger: logger)
                    } else {
                        try await connection.query("DELETE FROM paused_endpoints WHERE url_token = \(urlToken)", logger: logger)
                    }
                }
            }
        }
    }

    private static func write(_ commit: SessionCommit, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let session = commit.session
        let key = session.key
        if let response = commit.idempotency {
            var inserted = false
            for try await _ in try await connection.query(
                """
                INSERT INTO idempotency (url_token, key, status, body, created_at)
                VALUES (\(response.urlToken), \(response.key), \(response.status), \(String(decoding: response.body, as: UTF8.self)), \(response.createdAt.milliseconds))
                ON CONFLICT (url_token, key) DO NOTHING RETURNING 1
                """, logger: logger)
            {
                inserted = true
            }
            guard inserted else { throw IdempotencyConflict(urlToken: response.urlToken, key: response.key) }
        }
        try await connection.query(
            """
            INSERT INTO sessions (url_token, session_id, user_id, context, waiting_node, waiting_retries, next_seq, created_at, updated_at, version)
            VALUES (\(key.urlToken), \(key.sessionId), \(session.userId), \(JSON.object(session.context).jsonString), \(session.waiting?.nodeId),
              \(session.waiting?.retries ?? 0), \(session.nextSeq), \(session.createdAt.milliseconds), \(session.updatedAt.milliseconds), \(session.version))
            ON CONFLICT (url_token, session_id) DO UPDATE SET
              user_id = excluded.user_id, context = excluded.context, waiting_node = excluded.waiting_node,
              waiting_retries = excluded.waiting_retries, next_seq = excluded.next_seq, created_at = excluded.created_at,
              updated_at = excluded.updated_at, version = excluded.version
            """, logger: logger)
        if let input = commit.input {
            try await connection.query(
                """
                INSERT INTO inputs (id, url_token, session_id, user_id, text, data, source, received_at)
                VALUES (\(input.id), \(key.urlToken), \(key.sessionId), \(input.userId), \(input.text), \(input.data?.jsonString),
                  \(input.source.rawValue), \(input.receivedAt.milliseconds))
                """, logger: logger)
        }
        for output in commit.outputs {
            try await connection.query(
                """
                INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, text, data, attachments, input_id, source, created_at, status, attempts)
                VALUES (\(output.id), \(key.urlToken), \(key.sessionId), \(output.userId), \(output.seq), \(output.type.rawValue), \(output.text),
                  \(output.data?.jsonString), \(output.attachments.map { JSON.array($0).jsonString }), \(output.inputId), \(output.source?.rawValue),
                  \(output.timestamp.milliseconds), 'pending', 0)
                """, logger: logger)
        }
        if !commit.outputs.isEmpty {
            // Delivered to every listening instance when the transaction commits.
            try await connection.query("SELECT pg_notify('herald_outbox', \(key.urlToken + "/" + key.sessionId))", logger: logger)
        }
    }

    private static func write(_ update: DeliveryUpdate, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let deliveredAt = update.status == .delivered ? update.attempt.map { $0.startedAt.milliseconds + $0.durationMilliseconds } : nil
        try await connection.query(
            """
            UPDATE outputs SET status = \(update.status.rawValue), attempts = \(update.attempts), next_attempt_at = \(update.nextAttemptAt?.milliseconds),
              last_error = COALESCE(\(update.attempt?.error), CASE WHEN \(update.status.rawValue) = 'delivered' THEN NULL ELSE last_error END),
              delivered_at = COALESCE(\(deliveredAt), delivered_at)
            WHERE id = \(update.outputId)
            """, logger: logger)
        if let attempt = update.attempt {
            try await connection.query(
                """
                INSERT INTO attempts (output_id, number, started_at, duration_ms, status_code, error, response_body)
                VALUES (\(attempt.outputId), \(attempt.number), \(attempt.startedAt.milliseconds), \(attempt.durationMilliseconds),
                  \(attempt.statusCode), \(attempt.error), \(attempt.responseBody))
                ON CONFLICT (output_id, number) DO UPDATE SET started_at = excluded.started_at, duration_ms = excluded.duration_ms,
                  status_code = excluded.status_code, error = excluded.error, response_body = excluded.response_body
                """, logger: logger)
        }
    }

    // MARK: Outbox

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        try await entries(try await client.query("SELECT * FROM outputs WHERE status IN ('pending', 'failed') ORDER BY position", logger: logger))
    }

    /// A session's undelivered outputs after `position`, in order, with the last position seen.
    func undeliveredOutputs(of key: SessionKey, after position: Int64) async throws -> (entries: [OutboxEntry], last: Int64) {
        let rows = try await client.query(
            """
            SELECT * FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)
              AND status IN ('pending', 'failed') AND position > \(position) ORDER BY position
            """, logger: logger)
        var entries: [OutboxEntry] = []
        var last = position
        for try await row in rows {
            let reader = Reader(row)
            last = max(last, try reader("position"))
            entries.append(try Self.entry(from: reader))
        }
        return (entries, last)
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
        let afterToken = query.after?.urlToken
        let afterSession = query.after?.sessionId
        let rows = try await client.query(
            """
            SELECT * FROM sessions
            WHERE (\(query.urlToken)::text IS NULL OR url_token = \(query.urlToken))
              AND (\(query.userId)::text IS NULL OR user_id = \(query.userId))
              AND (\(query.activeSince?.milliseconds)::bigint IS NULL OR updated_at >= \(query.activeSince?.milliseconds))
              AND (\(afterToken)::text IS NULL OR (url_token, session_id) > (\(afterToken), \(afterSession)))
            ORDER BY url_token, session_id LIMIT \(query.limit)
            """, logger: logger)
        var sessions: [SessionSummary] = []
        for try await row in rows { sessions.append(SessionSummary(try Self.session(from: Reader(row)))) }
        return sessions
    }

    public func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] {
        var entries: [TranscriptEntry] = []
        for try await row in try await client.query(
            """
            SELECT * FROM inputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId) ORDER BY received_at DESC LIMIT \(limit)
            """, logger: logger)
        {
            entries.append(.input(try Self.input(from: Reader(row))))
        }
        for try await row in try await client.query(
            """
            SELECT * FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId) ORDER BY position DESC LIMIT \(limit)
            """, logger: logger)
        {
            entries.append(.output(try Self.delivery(from: Reader(row))))
        }
        return Array(entries.sorted { $0.timestamp < $1.timestamp }.suffix(limit))
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] {
        let rows = try await client.query(
            """
            SELECT * FROM outputs
            WHERE (\(query.status?.rawValue)::text IS NULL OR status = \(query.status?.rawValue))
              AND (\(query.urlToken)::text IS NULL OR url_token = \(query.urlToken))
              AND (\(query.sessionId)::text IS NULL OR session_id = \(query.sessionId))
            ORDER BY position LIMIT \(query.limit)
            """, logger: logger)
        var records: [DeliveryRecord] = []
        for try await row in rows { records.append(try Self.delivery(from: Reader(row))) }
        return records
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        for try await row in try await client.query("SELECT * FROM outputs WHERE id = \(outputId)", logger: logger) {
            return try Self.delivery(from: Reader(row))
        }
        return nil
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
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

    public func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
        for try await count in try await client.query(
            "SELECT COUNT(*) FROM sessions WHERE url_token = \(urlToken) AND updated_at >= \(since.milliseconds)", logger: logger
        ).decode(Int64.self) {
            return Int(count)
        }
        return 0
    }

    public func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        var keys: [SessionKey] = []
        for try await sessionId in try await client.query(
            "SELECT session_id FROM sessions WHERE url_token = \(urlToken) AND updated_at < \(cutoff.milliseconds) LIMIT \(limit)", logger: logger
        ).decode(String.self) {
            keys.append(SessionKey(urlToken: urlToken, sessionId: sessionId))
        }
        return keys
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
        }
    }

    public func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse? {
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
    }

    private static func json(_ text: String?) throws -> JSON? {
        guard let text else { return nil }
        return try JSON.parse(text)
    }

    static func session(from row: Reader) throws -> Session {
        let key = SessionKey(urlToken: try row("url_token"), sessionId: try row("session_id"))
        var session = Session(key: key, userId: try row("user_id"), now: Timestamp(milliseconds: try row("created_at")))
        session.context = try json(try row("context"))?.objectValue ?? JSONObject()
        if let node: String = try row("waiting_node") { session.waiting = FlowWait(nodeId: node, retries: Int(try row("waiting_retries") as Int64)) }
        session.nextSeq = try row("next_seq")
        session.updatedAt = Timestamp(milliseconds: try row("updated_at"))
        session.version = try row("version")
        return session
    }

    static func input(from row: Reader) throws -> Input {
        Input(
            id: try row("id"), session: SessionKey(urlToken: try row("url_token"), sessionId: try row("session_id")), userId: try row("user_id"),
            text: try row("text"), data: try json(try row("data")), source: InputSource(rawValue: try row("source")) ?? .user,
            receivedAt: Timestamp(milliseconds: try row("received_at")))
    }

    static func output(from row: Reader) throws -> Output {
        let source: String? = try row("source")
        return Output(
            id: try row("id"), session: SessionKey(urlToken: try row("url_token"), sessionId: try row("session_id")), userId: try row("user_id"),
            seq: try row("seq"), type: OutputType(rawValue: try row("type")) ?? .output, text: try row("text"), data: try json(try row("data")),
            attachments: try json(try row("attachments"))?.arrayValue, inputId: try row("input_id"), source: source.flatMap(InputSource.init),
            timestamp: Timestamp(milliseconds: try row("created_at")))
    }

    static func entry(from row: Reader) throws -> OutboxEntry {
        let next: Int64? = try row("next_attempt_at")
        return OutboxEntry(output: try output(from: row), attempts: Int(try row("attempts") as Int64), notBefore: next.map(Timestamp.init(milliseconds:)))
    }

    static func delivery(from row: Reader) throws -> DeliveryRecord {
        let next: Int64? = try row("next_attempt_at")
        let delivered: Int64? = try row("delivered_at")
        return DeliveryRecord(
            output: try output(from: row), status: DeliveryStatus(rawValue: try row("status")) ?? .pending,
            attempts: Int(try row("attempts") as Int64), nextAttemptAt: next.map(Timestamp.init(milliseconds:)), lastError: try row("last_error"),
            deliveredAt: delivered.map(Timestamp.init(milliseconds:)))
    }
}

/// A problem with the PostgreSQL store, in words for the operator (never with the password).
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
