import HeraldCore
import Logging
import NIOCore
import PostgresNIO

// The store's reads: what the admin API, start-up and the background services ask.
extension PostgresStore {
    /// The lists of ``DeliveryStatus/finished`` and ``DeliveryStatus/undelivered`` for `IN (…)`,
    /// interpolated `unescaped:` (they are SQL, not values).
    static let finished = DeliveryStatus.sqlList(DeliveryStatus.finished)
    static let undelivered = DeliveryStatus.sqlList(DeliveryStatus.undelivered)

    // MARK: Sessions

    public func session(_ key: SessionKey) async throws -> Session? {
        try await bounded { [self] in
            let rows = try await client.query(
                "SELECT * FROM sessions WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId.bytea)", logger: logger)
            for try await row in rows { return try Session(stored: Reader(row)) }
            return nil
        }
    }

    // MARK: Outbox

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        try await entries(
            try await client.query("SELECT * FROM outputs WHERE status IN (\(unescaped: Self.undelivered)) ORDER BY position", logger: logger))
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
            WHERE o.status IN (\(unescaped: Self.undelivered)) ORDER BY o.position
            """, logger: logger)
        var entries: [(position: Int64, entry: OutboxEntry)] = []
        for try await row in rows {
            let reader = Reader(row)
            entries.append((try reader.integer("position"), try OutboxEntry(stored: reader)))
        }
        return entries
    }

    private func entries(_ rows: PostgresRowSequence) async throws -> [OutboxEntry] {
        var entries: [OutboxEntry] = []
        for try await row in rows { entries.append(try OutboxEntry(stored: Reader(row))) }
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
                  AND (\(query.activeSince?.milliseconds)::bigint IS NULL
                    OR (active_minute >= \(query.activeSince.map(PostgresSchema.activeMinute)) AND updated_at >= \(query.activeSince?.milliseconds)))
                  AND (\(afterToken)::text IS NULL OR (url_token, session_id) > (\(afterToken), \(afterSession?.bytea)))
                ORDER BY url_token, session_id LIMIT \(query.limit)
                """, logger: logger)
            var sessions: [SessionSummary] = []
            for try await row in rows { sessions.append(SessionSummary(try Session(stored: Reader(row)))) }
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
                entries.append(.input(try Input(stored: Reader(row))))
            }
            for try await row in try await client.query(
                """
                SELECT * FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId.bytea) ORDER BY position DESC LIMIT \(limit)
                """, logger: logger)
            {
                entries.append(.output(try DeliveryRecord(stored: Reader(row))))
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
            for try await row in rows { records.append(try DeliveryRecord(stored: Reader(row))) }
            return records
        }
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        try await bounded { [self] in
            for try await row in try await client.query("SELECT * FROM outputs WHERE id = \(outputId)", logger: logger) {
                return try DeliveryRecord(stored: Reader(row))
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
                return try DeliveryRecord(stored: Reader(row))
            }
            return nil
        }
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
        try await bounded { [self] in
            var attempts: [DeliveryAttempt] = []
            for try await row in try await client.query("SELECT * FROM attempts WHERE output_id = \(outputId) ORDER BY number", logger: logger) {
                attempts.append(try DeliveryAttempt(stored: Reader(row)))
            }
            return attempts
        }
    }

    public func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
        try await bounded { [self] in
            for try await count in try await client.query(
                """
                SELECT COUNT(*) FROM sessions
                WHERE url_token = \(urlToken) AND active_minute >= \(PostgresSchema.activeMinute(since)) AND updated_at >= \(since.milliseconds)
                """, logger: logger
            ).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }

    public func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await sessions(
            of: urlToken, where: "next_due_at IS NULL AND active_minute <= \(PostgresSchema.activeMinute(cutoff))", and: "updated_at", before: cutoff,
            limit: limit)
    }

    /// Keys of at most `limit` sessions of `urlToken` that meet `condition` and whose `column`
    /// is before `cutoff`.
    private func sessions(of urlToken: String, where condition: String, and column: String, before cutoff: Timestamp, limit: Int) async throws
        -> [SessionKey]
    {
        var keys: [SessionKey] = []
        for try await sessionId in try await client.query(
            """
            SELECT session_id FROM sessions
            WHERE url_token = \(urlToken) AND \(unescaped: condition) AND \(unescaped: column) < \(cutoff.milliseconds) LIMIT \(limit)
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
            for try await row in rows { sessions.append(try Session(stored: Reader(row))) }
            return ScheduledEntry.earliest(sessions, limit: query.limit)
        }
    }

    public func scheduledSession(id: String) async throws -> SessionKey? {
        try await bounded { [self] in
            let rows = try await client.query(
                "SELECT * FROM sessions WHERE next_due_at IS NOT NULL AND strpos(schedules, \(Schedule.storedIdField(id))) > 0", logger: logger)
            for try await row in rows {
                let session = try Session(stored: Reader(row))
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
                "DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE created_at < \(history) AND status IN (\(unescaped: Self.finished)))",
                logger: logger)
            try await connection.query(
                "DELETE FROM outputs WHERE created_at < \(history) AND status IN (\(unescaped: Self.finished))", logger: logger)
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
                entries.append(try AuditEntry(stored: Reader(row)))
            }
            return entries
        }
    }

    public func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        try await bounded { [self] in
            try await sessions(of: urlToken, where: "operator IS NOT NULL", and: "operator_active_at", before: cutoff, limit: limit)
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
}
