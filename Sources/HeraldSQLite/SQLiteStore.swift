import Foundation
import GRDB
import HeraldCore
import Logging

/// The embedded default store: one SQLite file in WAL mode (GRDB.swift).
///
/// Writes come in batches from the `StoreWriter` and commit in one transaction each, with
/// `synchronous=FULL` by default, so a 202 means the input survives `kill -9` and a power
/// cut alike. One process owns a file at a time (an exclusive lock on `PATH.lock`), which is
/// what lets the session registry carry session state in memory.
public final class SQLiteStore: HeraldStore {
    /// How hard a commit waits for the disk.
    public enum Synchronous: String, Sendable {
        /// fsync on every commit: survives power loss. The default.
        case full = "FULL"
        /// No fsync on commit in WAL mode: survives a process crash, may lose the last commits
        /// on power loss. Faster on slow disks.
        case normal = "NORMAL"
    }

    private let pool: DatabasePool
    private let lock: FileLock
    private let logger: Logger
    public let path: String

    public var isSingleWriter: Bool { true }

    static let walCheckpointPages = 250
    static let walSizeLimit = 8 << 20

    public init(path: String, synchronous: Synchronous = .full, logger: Logger) throws {
        self.path = path
        self.logger = logger
        self.lock = try FileLock(path: path + ".lock")
        var configuration = Configuration()
        configuration.label = "herald"
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
            // Checkpoint every 250 WAL pages instead of SQLite's 1000: the commit that crosses
            // the limit copies the WAL into the database and fsyncs it while its batch waits,
            // and smaller checkpoints are shorter waits. At 1,000 messages/s this took the p99
            // from send to webhook arrival from 21–26 ms to 11–13 ms, at the same throughput
            // (docs/performance.md).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.walCheckpointPages)")
            // A WAL that grew (a minute's pruning in one transaction, a long read holding a
            // checkpoint back) is cut back to 8 MiB when a checkpoint restarts it, instead of
            // keeping its peak size (63 MB in the soak at 1,500 messages/s).
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
        do {
            self.pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw SQLiteStoreError("cannot open SQLite file '\(path)': \(error)")
        }
    }

    public func prepare() async throws {
        try SQLiteSchema.migrator.migrate(pool)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func close() async throws {
        try pool.close()
        lock.release()
    }

    // MARK: Sessions

    public func session(_ key: SessionKey) async throws -> Session? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM sessions WHERE url_token = ? AND session_id = ?"),
                arguments: [key.urlToken, key.sessionId.blob]
            ).map(Self.session(from:))
        }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        try await pool.write { db in
            for change in changes {
                switch change {
                case .session(let commit):
                    try Self.write(commit, db)
                case .turn(let turn):
                    let stored = try Row.fetchOne(
                        db.cachedStatement(sql: "SELECT * FROM sessions WHERE url_token = ? AND session_id = ?"),
                        arguments: [turn.key.urlToken, turn.key.sessionId.blob]
                    ).map(Self.session(from:))
                    if let commit = turn.run(on: stored) { try Self.write(commit, db) }
                case .deleteSession(let key):
                    try Self.delete(key, db)
                case .delivery(let update):
                    try Self.write(update, db)
                case .endpointPaused(let urlToken, let paused):
                    if paused {
                        try db.execute(sql: "INSERT OR IGNORE INTO paused_endpoints (url_token) VALUES (?)", arguments: [urlToken])
                    } else {
                        try db.execute(sql: "DELETE FROM paused_endpoints WHERE url_token = ?", arguments: [urlToken])
                    }
                case .audit(let entry):
                    try Self.write(entry, db)
                case .erase(let erasure):
                    try Self.erase(erasure, db)
                case .status(let report):
                    try Self.write(report, db)
                }
            }
        }
    }

    private static func write(_ commit: SessionCommit, _ db: Database) throws {
        let session = commit.session
        let key = session.key
        // The version check is the write itself: a new session is inserted only if no row
        // exists, a known one updated only at the version the change was computed on. Either
        // touches no row when the stored session is not the one expected, and the batch fails.
        // A session that goes on keeps its user and start, so their columns (and the index by
        // user) are left alone; one that starts over after it expired gets every column.
        let sql = commit.expectedVersion == 0 ? SessionSQL.insert : commit.startsSession ? SessionSQL.startOver : SessionSQL.goOn
        var write = StatementBinder(try db.cachedStatement(sql: sql))
        write.text(key.urlToken)
        write.blob(key.sessionId)
        write.blob(session.userId)
        write.json(JSON.object(session.context).serialized())
        write.text(session.waiting?.nodeId)
        write.int(session.waiting?.retries ?? 0)
        write.int(session.nextSeq)
        write.int(session.createdAt.milliseconds)
        write.int(session.updatedAt.milliseconds)
        write.int(session.version)
        write.text(Schedule.stored(session.schedules))
        write.int(session.nextDueAt?.milliseconds)
        write.text(session.handover?.operatorName)
        write.int(session.handover?.since.milliseconds)
        write.int(session.handover?.lastActivity.milliseconds)
        if commit.expectedVersion != 0 { write.int(commit.expectedVersion) }
        guard try write.execute() == 1 else { throw StoreConflict(session: key) }

        // Whose rows these are, for a later erasure: the session's user when it starts (or
        // starts over after it expired, maybe for another user), and anyone else who writes in
        // it (a channel's shared conversation). One row per session and user, not per message.
        if commit.startsSession { try noteUser(session.userId, of: key, db) }
        if let input = commit.input, input.userId != session.userId { try noteUser(input.userId, of: key, db) }

        if let input = commit.input {
            var insert = StatementBinder(
                try db.cachedStatement(
                    sql: """
                        INSERT INTO inputs (id, url_token, session_id, user_id, text, data, source, received_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """))
            insert.text(input.id)
            insert.text(key.urlToken)
            insert.blob(key.sessionId)
            insert.blob(input.userId)
            insert.blob(input.text)
            insert.json(input.data?.serialized())
            insert.text(input.source.rawValue)
            insert.int(input.receivedAt.milliseconds)
            try insert.execute()
        }
        let insertOutput = try db.cachedStatement(
            sql: """
                INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, text, data, attachments, rich, input_id, source, created_at,
                  status, attempts, scheduled_id, late, operator)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
                """)
        for output in commit.outputs {
            var insert = StatementBinder(insertOutput)
            insert.text(output.id)
            insert.text(key.urlToken)
            insert.blob(key.sessionId)
            insert.blob(output.userId)
            insert.int(output.seq)
            insert.text(output.type.rawValue)
            insert.blob(output.text)
            insert.json(output.data?.serialized())
            insert.json(output.attachments.map { JSON.array($0).serialized() })
            insert.json(output.storedRich?.serialized())
            insert.text(output.inputId)
            insert.text(output.source?.rawValue)
            insert.int(output.timestamp.milliseconds)
            insert.text(output.scheduledId)
            insert.bool(output.late)
            insert.text(output.operatorName)
            try insert.execute()
        }
        if let response = commit.idempotency {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO idempotency (url_token, key, status, body, created_at) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [response.urlToken, response.key, response.status, Data(response.body), response.createdAt.milliseconds])
        }
    }

    /// The three ways ``write(_:_:)`` records a session. Parameters by number: the same
    /// bindings serve all three; `?16` is the version the change expects.
    private enum SessionSQL {
        static let insert = """
            INSERT INTO sessions (url_token, session_id, user_id, context, waiting_node, waiting_retries, next_seq, created_at, updated_at, version,
              schedules, next_due_at, operator, operator_since, operator_active_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
            ON CONFLICT (url_token, session_id) DO NOTHING
            """
        static let startOver = """
            UPDATE sessions SET user_id = ?3, created_at = ?8, context = ?4, waiting_node = ?5, waiting_retries = ?6, next_seq = ?7, updated_at = ?9,
              version = ?10, schedules = ?11, next_due_at = ?12, operator = ?13, operator_since = ?14, operator_active_at = ?15
            WHERE url_token = ?1 AND session_id = ?2 AND version = ?16
            """
        static let goOn = """
            UPDATE sessions SET context = ?4, waiting_node = ?5, waiting_retries = ?6, next_seq = ?7, updated_at = ?9, version = ?10,
              schedules = ?11, next_due_at = ?12, operator = ?13, operator_since = ?14, operator_active_at = ?15
            WHERE url_token = ?1 AND session_id = ?2 AND version = ?16
            """
    }

    private static func noteUser(_ userId: String, of key: SessionKey, _ db: Database) throws {
        var insert = StatementBinder(
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO user_sessions (url_token, user_id, session_id) VALUES (?, ?, ?)"))
        insert.text(key.urlToken)
        insert.blob(userId)
        insert.blob(key.sessionId)
        try insert.execute()
    }

    private static func delete(_ key: SessionKey, _ db: Database) throws {
        let arguments: StatementArguments = [key.urlToken, key.sessionId.blob]
        try db.execute(sql: "DELETE FROM sessions WHERE url_token = ? AND session_id = ?", arguments: arguments)
        try db.execute(sql: "DELETE FROM inputs WHERE url_token = ? AND session_id = ?", arguments: arguments)
        try db.execute(
            sql: """
                DELETE FROM attempts WHERE output_id IN
                  (SELECT id FROM outputs WHERE url_token = ? AND session_id = ? AND status IN ('delivered', 'dead'))
                """, arguments: arguments)
        try db.execute(
            sql: "DELETE FROM outputs WHERE url_token = ? AND session_id = ? AND status IN ('delivered', 'dead')", arguments: arguments)
    }

    private static func write(_ update: DeliveryUpdate, _ db: Database) throws {
        let deliveredAt = update.status == .delivered ? update.attempt.map { $0.startedAt.milliseconds + $0.durationMilliseconds } : nil
        var statement = StatementBinder(
            try db.cachedStatement(
                sql: """
                    UPDATE outputs SET status = ?1, attempts = ?2, next_attempt_at = ?3,
                      last_error = COALESCE(?4, CASE WHEN ?1 = 'delivered' THEN NULL ELSE last_error END),
                      delivered_at = COALESCE(?5, delivered_at), channel_message_id = COALESCE(?6, channel_message_id)
                    WHERE id = ?7
                    """))
        statement.text(update.status.rawValue)
        statement.int(update.attempts)
        statement.int(update.nextAttemptAt?.milliseconds)
        statement.text(update.attempt?.error)
        statement.int(deliveredAt)
        statement.text(update.channelMessageId)
        statement.text(update.outputId)
        // No output, no attempt: one that was erased while its delivery was in flight leaves
        // nothing behind.
        let updated = try statement.execute()
        if update.channelMessageId != nil, updated > 0 { try applyEarlyReceipt(to: update.outputId, db) }
        if let attempt = update.attempt, updated > 0 {
            var insert = StatementBinder(
                try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO attempts (output_id, number, started_at, duration_ms, status_code, error, response_body)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """))
            insert.text(attempt.outputId)
            insert.int(attempt.number)
            insert.int(attempt.startedAt.milliseconds)
            insert.int(attempt.durationMilliseconds)
            insert.int(attempt.statusCode)
            insert.text(attempt.error)
            insert.text(attempt.responseBody)
            try insert.execute()
        }
    }

    /// A channel's receipt: the output sent as that message moves forward to it, or, when no
    /// output has recorded the message id yet, it waits in `early_receipts` (the higher status
    /// kept). Either way a status never moves back: the rank is compared in the statement.
    private static func write(_ report: StatusReport, _ db: Database) throws {
        func bind(_ statement: Statement) -> StatementBinder {
            var binder = StatementBinder(statement)
            binder.text(report.urlToken)
            binder.text(report.channelMessageId)
            binder.text(report.receipt.status.rawValue)
            binder.int(report.receipt.at.milliseconds)
            binder.text(report.receipt.error)
            return binder
        }
        let update = try db.cachedStatement(
            sql: """
                UPDATE outputs SET receipt_status = ?3, receipt_at = ?4, receipt_error = ?5
                WHERE url_token = ?1 AND channel_message_id = ?2 AND \(OutputStatus.sqlRank(of: "?3")) > \(OutputStatus.sqlRank(of: "receipt_status"))
                """)
        guard try bind(update).execute() == 0 else { return }
        // Nothing moved: the output is already there (at this status or later), or not yet.
        let early = try db.cachedStatement(
            sql: """
                INSERT INTO early_receipts (url_token, channel_message_id, status, at, error)
                SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM outputs WHERE url_token = ?1 AND channel_message_id = ?2)
                ON CONFLICT (url_token, channel_message_id) DO UPDATE SET status = excluded.status, at = excluded.at, error = excluded.error
                  WHERE \(OutputStatus.sqlRank(of: "excluded.status")) > \(OutputStatus.sqlRank(of: "early_receipts.status"))
                """)
        try bind(early).execute()
    }

    /// Applies the receipt that came for an output's message before its delivery recorded the
    /// message id (the channel's status callback overtook the send's answer), and drops it.
    private static func applyEarlyReceipt(to outputId: String, _ db: Database) throws {
        guard
            let early = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT e.url_token, e.channel_message_id, e.status, e.at, e.error FROM outputs o
                        JOIN early_receipts e ON e.url_token = o.url_token AND e.channel_message_id = o.channel_message_id
                        WHERE o.id = ?
                        """), arguments: [outputId])
        else { return }
        try db.cachedStatement(
            sql: """
                UPDATE outputs SET receipt_status = ?1, receipt_at = ?2, receipt_error = ?3
                WHERE id = ?4 AND \(OutputStatus.sqlRank(of: "?1")) > \(OutputStatus.sqlRank(of: "receipt_status"))
                """
        ).execute(arguments: [early["status"], early["at"], early["error"], outputId])
        try db.cachedStatement(sql: "DELETE FROM early_receipts WHERE url_token = ? AND channel_message_id = ?").execute(arguments: [
            early["url_token"], early["channel_message_id"],
        ])
    }

    private static func write(_ entry: AuditEntry, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO audit (at, key_name, action, url_token, session_id, user_id, output_id, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            entry.at.milliseconds, entry.keyName, entry.action.rawValue, entry.urlToken, entry.sessionId?.blob, entry.userId?.blob, entry.outputId,
            entry.detail,
        ])
    }

    /// Deletes the user's outputs (with their attempts), inputs and sessions, and clears the
    /// targets of audit entries naming the user (SPEC §11).
    private static func erase(_ erasure: Erasure, _ db: Database) throws {
        let user: StatementArguments = [erasure.urlToken, erasure.userId.blob]
        // The sessions the user started or wrote in, then their rows through the per-session
        // indexes. The user's outputs are those sent to them (outputs of a session are to its
        // user); their inputs are those they wrote, and every input of a session they still own.
        let theirSessions = "SELECT session_id FROM user_sessions WHERE url_token = ?1 AND user_id = ?2"
        let theirOutputs = "FROM outputs WHERE url_token = ?1 AND session_id IN (\(theirSessions)) AND user_id = ?2"
        var counts = ErasureCounts()
        try db.execute(sql: "DELETE FROM attempts WHERE output_id IN (SELECT id \(theirOutputs))", arguments: user)
        counts.attempts = db.changesCount
        counts.undelivered = try Int.fetchOne(db, sql: "SELECT COUNT(*) \(theirOutputs) AND status IN ('pending', 'failed')", arguments: user) ?? 0
        try db.execute(sql: "DELETE \(theirOutputs)", arguments: user)
        counts.outputs = db.changesCount
        try db.execute(
            sql: """
                DELETE FROM inputs WHERE url_token = ?1 AND session_id IN (\(theirSessions))
                  AND (user_id = ?2 OR session_id IN (SELECT session_id FROM sessions WHERE url_token = ?1 AND user_id = ?2))
                """, arguments: user)
        counts.inputs = db.changesCount
        try db.execute(sql: "DELETE FROM sessions WHERE url_token = ?1 AND user_id = ?2", arguments: user)
        counts.sessions = db.changesCount
        try db.execute(sql: "DELETE FROM user_sessions WHERE url_token = ?1 AND user_id = ?2", arguments: user)
        try db.execute(
            sql: "UPDATE audit SET session_id = NULL, user_id = NULL, output_id = NULL, target_erased = 1 WHERE url_token = ?1 AND user_id = ?2",
            arguments: user)
        erasure.record(counts)
    }

    // MARK: Outbox

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        try await pool.read { db in
            // Insertion order is commit order, which is `seq` order within a session.
            try Row.fetchAll(db, sql: "SELECT * FROM outputs WHERE status IN ('pending', 'failed') ORDER BY position").map { row in
                let attemptAt: Int64? = row["next_attempt_at"]
                return OutboxEntry(output: try Self.output(from: row), attempts: row["attempts"], notBefore: attemptAt.map(Timestamp.init(milliseconds:)))
            }
        }
    }

    public func pausedEndpoints() async throws -> Set<String> {
        try await pool.read { db in Set(try String.fetchAll(db, sql: "SELECT url_token FROM paused_endpoints")) }
    }

    // MARK: Admin

    public func sessions(_ query: SessionQuery) async throws -> [SessionSummary] {
        try await pool.read { db in
            var filter = SQLFilter()
            filter.add("url_token = ?", query.urlToken.map { [$0] })
            filter.add("user_id = ?", query.userId.map { [$0.blob] })
            filter.add("updated_at >= ?", query.activeSince.map { [$0.milliseconds] })
            filter.add("(url_token, session_id) > (?, ?)", query.after.map { [$0.urlToken, $0.sessionId.blob] })
            return try Row.fetchAll(
                db, sql: "SELECT * FROM sessions \(filter.clause) ORDER BY url_token, session_id LIMIT ?", arguments: filter.arguments + [query.limit]
            ).map { SessionSummary(try Self.session(from: $0)) }
        }
    }

    public func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] {
        try await pool.read { db in
            let arguments: StatementArguments = [key.urlToken, key.sessionId.blob, limit]
            let inputs = try Row.fetchAll(
                db, sql: "SELECT * FROM inputs WHERE url_token = ? AND session_id = ? ORDER BY received_at DESC LIMIT ?", arguments: arguments
            ).map { TranscriptEntry.input(try Self.input(from: $0)) }
            let outputs = try Row.fetchAll(
                db, sql: "SELECT * FROM outputs WHERE url_token = ? AND session_id = ? ORDER BY position DESC LIMIT ?", arguments: arguments
            ).map { TranscriptEntry.output(try Self.delivery(from: $0)) }
            return Array((inputs + outputs).sorted { $0.timestamp < $1.timestamp }.suffix(limit))
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            var filter = SQLFilter()
            filter.add("status = ?", query.status.map { [$0.rawValue] })
            filter.add("url_token = ?", query.urlToken.map { [$0] })
            filter.add("session_id = ?", query.sessionId.map { [$0.blob] })
            return try Row.fetchAll(
                db, sql: "SELECT * FROM outputs \(filter.clause) ORDER BY position LIMIT ?", arguments: filter.arguments + [query.limit]
            ).map(Self.delivery(from:))
        }
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outputs WHERE id = ?", arguments: [outputId]).map(Self.delivery(from:))
        }
    }

    public func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord? {
        try await pool.read { db in
            // The latest output to record the id, should a channel ever reuse one.
            try Row.fetchOne(
                db, sql: "SELECT * FROM outputs WHERE url_token = ? AND channel_message_id = ? ORDER BY position DESC LIMIT 1",
                arguments: [urlToken, channelMessageId]
            ).map(Self.delivery(from:))
        }
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE output_id = ? ORDER BY number", arguments: [outputId]).map { row in
                DeliveryAttempt(
                    outputId: row["output_id"], number: row["number"], startedAt: Timestamp(milliseconds: row["started_at"]),
                    durationMilliseconds: row["duration_ms"], statusCode: row["status_code"], error: row["error"],
                    responseBody: row["response_body"])
            }
        }
    }

    public func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM sessions WHERE url_token = ? AND updated_at >= ?", arguments: [urlToken, since.milliseconds]) ?? 0
        }
    }

    public func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await pool.read { db in
            try Data.fetchAll(
                db, sql: "SELECT session_id FROM sessions WHERE url_token = ? AND updated_at < ? AND next_due_at IS NULL LIMIT ?",
                arguments: [urlToken, cutoff.milliseconds, limit]
            ).map { SessionKey(urlToken: urlToken, sessionId: String(decoding: $0, as: UTF8.self)) }
        }
    }

    public func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT url_token, session_id FROM sessions WHERE next_due_at <= ? ORDER BY next_due_at LIMIT ?",
                arguments: [time.milliseconds, limit]
            ).map { SessionKey(urlToken: $0["url_token"], sessionId: text($0, "session_id")) }
        }
    }

    public func scheduled(_ query: ScheduleQuery) async throws -> [ScheduledEntry] {
        try await pool.read { db in
            var filter = SQLFilter()
            filter.add("next_due_at IS NOT NULL", [])
            filter.add("url_token = ?", query.urlToken.map { [$0] })
            filter.add("session_id = ?", query.sessionId.map { [$0.blob] })
            // The first `limit` sessions by their earliest schedule hold the first `limit` schedules.
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM sessions \(filter.clause) ORDER BY next_due_at LIMIT ?", arguments: filter.arguments + [query.limit])
            return ScheduledEntry.earliest(try rows.map(Self.session(from:)), limit: query.limit)
        }
    }

    public func scheduledSession(id: String) async throws -> SessionKey? {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM sessions WHERE next_due_at IS NOT NULL AND instr(schedules, ?) > 0", arguments: [Schedule.storedIdField(id)])
            for row in rows {
                let session = try Self.session(from: row)
                if session.schedules.contains(where: { $0.id == id }) { return session.key }
            }
            return nil
        }
    }

    public func prune(idempotencyCutoff: Timestamp, historyCutoff: Timestamp) async throws {
        // One transaction: deleting old rows by a range is cheap, and cheaper than in batches,
        // which each paid a commit and held the writer often (docs/performance.md, the soak).
        try await pool.write { db in
            let history = historyCutoff.milliseconds
            try db.execute(sql: "DELETE FROM idempotency WHERE created_at < ?", arguments: [idempotencyCutoff.milliseconds])
            try db.execute(sql: "DELETE FROM inputs WHERE received_at < ?", arguments: [history])
            try db.execute(
                sql: "DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE created_at < ? AND status IN ('delivered', 'dead'))",
                arguments: [history])
            try db.execute(sql: "DELETE FROM outputs WHERE created_at < ? AND status IN ('delivered', 'dead')", arguments: [history])
            // Receipts for messages no output ever recorded.
            try db.execute(sql: "DELETE FROM early_receipts WHERE at < ?", arguments: [history])
            // Users of sessions that left nothing behind (usually stopped at the first probe:
            // the session still exists).
            try db.execute(
                sql: """
                    DELETE FROM user_sessions WHERE
                      NOT EXISTS (SELECT 1 FROM sessions s WHERE s.url_token = user_sessions.url_token AND s.session_id = user_sessions.session_id)
                      AND NOT EXISTS (SELECT 1 FROM inputs i WHERE i.url_token = user_sessions.url_token AND i.session_id = user_sessions.session_id)
                      AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.url_token = user_sessions.url_token AND o.session_id = user_sessions.session_id)
                    """)
        }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit WHERE ? IS NULL OR sequence < ? ORDER BY sequence DESC LIMIT ?", arguments: [before, before, limit]
            ).map { row in
                var entry = AuditEntry(
                    at: Timestamp(milliseconds: row["at"]), keyName: row["key_name"], action: AuditAction(rawValue: row["action"]),
                    urlToken: row["url_token"], sessionId: optionalText(row, "session_id"), userId: optionalText(row, "user_id"),
                    outputId: row["output_id"], detail: row["detail"])
                entry.sequence = row["sequence"]
                entry.targetErased = row["target_erased"]
                return entry
            }
        }
    }

    public func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await pool.read { db in
            try Data.fetchAll(
                db, sql: "SELECT session_id FROM sessions WHERE url_token = ? AND operator IS NOT NULL AND operator_active_at < ? LIMIT ?",
                arguments: [urlToken, cutoff.milliseconds, limit]
            ).map { SessionKey(urlToken: urlToken, sessionId: String(decoding: $0, as: UTF8.self)) }
        }
    }

    public func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM idempotency WHERE url_token = ? AND key = ? AND created_at >= ?",
                arguments: [urlToken, key, since.milliseconds]
            ).map { row in
                let body: Data = row["body"]
                return IdempotentResponse(
                    urlToken: row["url_token"], key: row["key"], status: row["status"], body: Array(body),
                    createdAt: Timestamp(milliseconds: row["created_at"]))
            }
        }
    }

    // MARK: Rows

    private static func json(_ text: String?) throws -> JSON? {
        guard let text else { return nil }
        return try JSON.parse(text)
    }

    static func session(from row: Row) throws -> Session {
        let key = SessionKey(urlToken: row["url_token"], sessionId: text(row, "session_id"))
        var session = Session(key: key, userId: text(row, "user_id"), now: Timestamp(milliseconds: row["created_at"]))
        session.context = try json(row["context"])?.objectValue ?? JSONObject()
        if let node: String = row["waiting_node"] { session.waiting = FlowWait(nodeId: node, retries: row["waiting_retries"]) }
        session.nextSeq = row["next_seq"]
        session.updatedAt = Timestamp(milliseconds: row["updated_at"])
        session.version = row["version"]
        session.schedules = try Schedule.load(stored: row["schedules"])
        if let name: String = row["operator"] {
            session.handover = Handover(
                operatorName: name, since: Timestamp(milliseconds: row["operator_since"]), lastActivity: Timestamp(milliseconds: row["operator_active_at"]))
        }
        return session
    }

    static func input(from row: Row) throws -> Input {
        Input(
            id: row["id"], session: SessionKey(urlToken: row["url_token"], sessionId: text(row, "session_id")), userId: text(row, "user_id"),
            text: optionalText(row, "text"), data: try json(row["data"]), source: InputSource(rawValue: row["source"]) ?? .user,
            receivedAt: Timestamp(milliseconds: row["received_at"]))
    }

    static func output(from row: Row) throws -> Output {
        let source: String? = row["source"]
        var output = Output(
            id: row["id"], session: SessionKey(urlToken: row["url_token"], sessionId: text(row, "session_id")), userId: text(row, "user_id"),
            seq: row["seq"], type: OutputType(rawValue: row["type"]) ?? .output, text: optionalText(row, "text"), data: try json(row["data"]),
            rich: try Self.rich(row["rich"], attachments: row["attachments"]), inputId: row["input_id"], source: source.flatMap(InputSource.init),
            timestamp: Timestamp(milliseconds: row["created_at"]), scheduledId: row["scheduled_id"], late: row["late"])
        output.operatorName = row["operator"]
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

    static func delivery(from row: Row) throws -> DeliveryRecord {
        let next: Int64? = row["next_attempt_at"]
        let delivered: Int64? = row["delivered_at"]
        let receiptStatus: String? = row["receipt_status"]
        return DeliveryRecord(
            output: try output(from: row), status: DeliveryStatus(rawValue: row["status"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: next.map(Timestamp.init(milliseconds:)), lastError: row["last_error"],
            deliveredAt: delivered.map(Timestamp.init(milliseconds:)), channelMessageId: row["channel_message_id"],
            receipt: receiptStatus.flatMap(OutputStatus.init(rawValue:)).map {
                OutputReceipt(status: $0, at: Timestamp(milliseconds: row["receipt_at"]), error: row["receipt_error"])
            })
    }
}

extension Output {
    /// The rich content as stored beside the `attachments` column (which keeps them, as before
    /// rich content): everything else, `nil` when there is nothing else.
    var storedRich: JSON? {
        var object = rich.json
        object["attachments"] = nil
        return object.isEmpty ? nil : .object(object)
    }
}

/// The `WHERE` clause of an admin query: one condition per filter the query gives.
struct SQLFilter {
    private var conditions: [String] = []
    private(set) var arguments: StatementArguments = []

    /// Adds `condition` with its `?` values, when they are given (`nil`: the filter is unset).
    mutating func add(_ condition: String, _ values: StatementArguments?) {
        guard let values else { return }
        conditions.append(condition)
        arguments += values
    }

    /// `WHERE a AND b`, or nothing.
    var clause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }
}

/// A problem opening the SQLite store, in words for the operator.
public struct SQLiteStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// An exclusive `flock` on a file next to the database: a second Herald on the same file
/// stops at start-up instead of corrupting the first one's session state.
final class FileLock: Sendable {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SQLiteStoreError("cannot create lock file '\(path)': \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SQLiteStoreError("another Herald process is using this SQLite store (lock '\(path)' is held)")
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
    }

    deinit {
        close(descriptor)
    }
}

extension String {
    /// The string's UTF-8 bytes, bound as a BLOB. Ids and texts are stored as bytes: SQLite's C
    /// API (and GRDB's `String` binding) would cut a TEXT value at U+0000, which any JSON
    /// string may contain; the other stores keep it.
    var blob: Data { Data(utf8) }
}

/// A column stored by ``Swift/String/blob``, read back without cutting it at U+0000.
func text(_ row: Row, _ column: String) -> String {
    optionalText(row, column) ?? ""
}

func optionalText(_ row: Row, _ column: String) -> String? {
    (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
}
