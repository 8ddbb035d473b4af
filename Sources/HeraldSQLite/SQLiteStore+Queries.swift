import Foundation
import GRDB
import HeraldCore

// The store's reads: what the admin API, start-up and the background services ask.
extension SQLiteStore {
    // MARK: Sessions

    public func session(_ key: SessionKey) async throws -> Session? {
        try await pool.read { db in try Self.session(key, db) }
    }

    /// The session as `db` has it (also inside a batch's transaction).
    static func session(_ key: SessionKey, _ db: Database) throws -> Session? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM sessions WHERE url_token = ? AND session_id = ?"), arguments: [key.urlToken, key.sessionId.blob]
        ).map { try Session(stored: SQLiteRow($0)) }
    }

    // MARK: Outbox

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        try await pool.read { db in
            // Insertion order is commit order, which is `seq` order within a session.
            let undelivered = DeliveryStatus.sqlList(DeliveryStatus.undelivered)
            return try Row.fetchAll(db, sql: "SELECT * FROM outputs WHERE status IN (\(undelivered)) ORDER BY position").map {
                try OutboxEntry(stored: SQLiteRow($0))
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
            ).map { SessionSummary(try Session(stored: SQLiteRow($0))) }
        }
    }

    public func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] {
        try await pool.read { db in
            let arguments: StatementArguments = [key.urlToken, key.sessionId.blob, limit]
            // The newest `limit` of each, by position (commit order, which is turn order).
            func newest(_ kind: SQLiteSessionIndex.Kind) throws -> [Row] {
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM \(kind.table) WHERE position IN (\(SQLiteSessionIndex.rows(kind, urlToken: "?1", sessions: "?2")))
                        ORDER BY position DESC LIMIT ?3
                        """, arguments: arguments)
            }
            let inputs = try newest(.input).map { TranscriptEntry.input(try Input(stored: SQLiteRow($0))) }
            let outputs = try newest(.output).map { TranscriptEntry.output(try DeliveryRecord(stored: SQLiteRow($0))) }
            return Array((inputs + outputs).sorted { $0.timestamp < $1.timestamp }.suffix(limit))
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            var filter = SQLFilter()
            filter.add("status = ?", query.status.map { [$0.rawValue] })
            if let urlToken = query.urlToken, let sessionId = query.sessionId {
                filter.add("position IN (\(SQLiteSessionIndex.rows(.output, urlToken: "?", sessions: "?")))", [urlToken, sessionId.blob, urlToken, sessionId.blob])
            } else {
                filter.add("url_token = ?", query.urlToken.map { [$0] })
                filter.add("session_id = ?", query.sessionId.map { [$0.blob] })
            }
            return try Row.fetchAll(
                db, sql: "SELECT * FROM outputs \(filter.clause) ORDER BY position LIMIT ?", arguments: filter.arguments + [query.limit]
            ).map { try DeliveryRecord(stored: SQLiteRow($0)) }
        }
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outputs WHERE id = ?", arguments: [outputId]).map { try DeliveryRecord(stored: SQLiteRow($0)) }
        }
    }

    public func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord? {
        try await pool.read { db in
            // The latest output to record the id, should a channel ever reuse one.
            try Row.fetchOne(
                db, sql: "SELECT * FROM outputs WHERE url_token = ? AND channel_message_id = ? ORDER BY position DESC LIMIT 1",
                arguments: [urlToken, channelMessageId]
            ).map { try DeliveryRecord(stored: SQLiteRow($0)) }
        }
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE output_id = ? ORDER BY number", arguments: [outputId]).map {
                try DeliveryAttempt(stored: SQLiteRow($0))
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
        try await sessions(of: urlToken, where: "next_due_at IS NULL", and: "updated_at", before: cutoff, limit: limit)
    }

    /// Keys of at most `limit` sessions of `urlToken` that meet `condition` and whose `column`
    /// is before `cutoff`.
    private func sessions(of urlToken: String, where condition: String, and column: String, before cutoff: Timestamp, limit: Int) async throws
        -> [SessionKey]
    {
        try await pool.read { db in
            try Data.fetchAll(
                db, sql: "SELECT session_id FROM sessions WHERE url_token = ? AND \(condition) AND \(column) < ? LIMIT ?",
                arguments: [urlToken, cutoff.milliseconds, limit]
            ).map { SessionKey(urlToken: urlToken, sessionId: String(decoding: $0, as: UTF8.self)) }
        }
    }

    public func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT url_token, session_id FROM sessions WHERE next_due_at <= ? ORDER BY next_due_at LIMIT ?",
                arguments: [time.milliseconds, limit]
            ).map { try SessionKey(stored: SQLiteRow($0)) }
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
            return ScheduledEntry.earliest(try rows.map { try Session(stored: SQLiteRow($0)) }, limit: query.limit)
        }
    }

    public func scheduledSession(id: String) async throws -> SessionKey? {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM sessions WHERE next_due_at IS NOT NULL AND instr(schedules, ?) > 0", arguments: [Schedule.storedIdField(id)])
            for row in rows {
                let session = try Session(stored: SQLiteRow(row))
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
            let finished = DeliveryStatus.sqlList(DeliveryStatus.finished)
            try db.execute(sql: "DELETE FROM idempotency WHERE created_at < ?", arguments: [idempotencyCutoff.milliseconds])
            try db.execute(sql: "DELETE FROM inputs WHERE received_at < ?", arguments: [history])
            try db.execute(
                sql: "DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE created_at < ? AND status IN (\(finished)))",
                arguments: [history])
            try db.execute(sql: "DELETE FROM outputs WHERE created_at < ? AND status IN (\(finished))", arguments: [history])
            // Receipts for messages no output ever recorded.
            try db.execute(sql: "DELETE FROM early_receipts WHERE at < ?", arguments: [history])
            // Users of sessions that left nothing behind (usually stopped at the first probe:
            // the session still exists). With every row indexed, the index alone says.
            try SQLiteSessionIndex.catchUp(db)
            try db.execute(
                sql: """
                    DELETE FROM user_sessions WHERE
                      NOT EXISTS (SELECT 1 FROM sessions s WHERE s.url_token = user_sessions.url_token AND s.session_id = user_sessions.session_id)
                      AND NOT EXISTS (
                        SELECT 1 FROM session_index x WHERE x.url_token = user_sessions.url_token AND x.session_id = user_sessions.session_id)
                    """)
        }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit WHERE ? IS NULL OR sequence < ? ORDER BY sequence DESC LIMIT ?", arguments: [before, before, limit]
            ).map { try AuditEntry(stored: SQLiteRow($0)) }
        }
    }

    public func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await sessions(of: urlToken, where: "operator IS NOT NULL", and: "operator_active_at", before: cutoff, limit: limit)
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
