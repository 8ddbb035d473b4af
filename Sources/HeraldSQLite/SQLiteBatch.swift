import Foundation
import GRDB
import HeraldCore

/// One `StoreWriter` batch written in one SQLite transaction: each change as it comes
/// (``StoreChangeHandler/apply(_:)``), through statements prepared once per connection.
struct SQLiteBatch: StoreChangeHandler {
    let db: Database

    /// The lists of ``DeliveryStatus/finished`` and ``DeliveryStatus/undelivered`` for `IN (…)`.
    private static let finished = DeliveryStatus.sqlList(DeliveryStatus.finished)
    private static let undelivered = DeliveryStatus.sqlList(DeliveryStatus.undelivered)

    func session(_ key: SessionKey) throws -> Session? {
        try SQLiteStore.session(key, db)
    }

    func write(_ commit: SessionCommit) throws {
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
        write.text(session.flowVersion)
        write.text(CallWait.stored(session.waiting))
        if commit.expectedVersion != 0 { write.int(commit.expectedVersion) }
        guard try write.execute() == 1 else { throw StoreConflict(session: key) }

        // Whose rows these are, for a later erasure: the session's user when it starts (or
        // starts over after it expired, maybe for another user), and anyone else who writes in
        // it (a channel's shared conversation). One row per session and user, not per message.
        if commit.startsSession { try noteUser(session.userId, of: key) }
        if let input = commit.input, input.userId != session.userId { try noteUser(input.userId, of: key) }

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
                  status, attempts, scheduled_id, late, operator, flow_version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)
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
            insert.text(output.flowVersion)
            try insert.execute()
        }
        if let response = commit.idempotency {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO idempotency (url_token, key, status, body, created_at) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [response.urlToken, response.key, response.status, Data(response.body), response.createdAt.milliseconds])
        }
    }

    /// The three ways a ``SessionCommit`` is written (``write(_:)``). Parameters by number: the same
    /// bindings serve all three; `?18` is the version the change expects.
    private enum SessionSQL {
        static let insert = """
            INSERT INTO sessions (url_token, session_id, user_id, context, waiting_node, waiting_retries, next_seq, created_at, updated_at, version,
              schedules, next_due_at, operator, operator_since, operator_active_at, flow_version, waiting_call)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
            ON CONFLICT (url_token, session_id) DO NOTHING
            """
        static let startOver = """
            UPDATE sessions SET user_id = ?3, created_at = ?8, context = ?4, waiting_node = ?5, waiting_retries = ?6, next_seq = ?7, updated_at = ?9,
              version = ?10, schedules = ?11, next_due_at = ?12, operator = ?13, operator_since = ?14, operator_active_at = ?15, flow_version = ?16,
              waiting_call = ?17
            WHERE url_token = ?1 AND session_id = ?2 AND version = ?18
            """
        static let goOn = """
            UPDATE sessions SET context = ?4, waiting_node = ?5, waiting_retries = ?6, next_seq = ?7, updated_at = ?9, version = ?10,
              schedules = ?11, next_due_at = ?12, operator = ?13, operator_since = ?14, operator_active_at = ?15, flow_version = ?16,
              waiting_call = ?17
            WHERE url_token = ?1 AND session_id = ?2 AND version = ?18
            """
    }

    private func noteUser(_ userId: String, of key: SessionKey) throws {
        var insert = StatementBinder(
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO user_sessions (url_token, user_id, session_id) VALUES (?, ?, ?)"))
        insert.text(key.urlToken)
        insert.blob(userId)
        insert.blob(key.sessionId)
        try insert.execute()
    }

    func deleteSession(_ key: SessionKey) throws {
        let arguments: StatementArguments = [key.urlToken, key.sessionId.blob]
        let inputs = SQLiteSessionIndex.rows(.input, urlToken: "?1", sessions: "?2")
        let finished = "FROM outputs WHERE position IN (\(SQLiteSessionIndex.rows(.output, urlToken: "?1", sessions: "?2"))) AND status IN (\(Self.finished))"
        try db.execute(sql: "DELETE FROM sessions WHERE url_token = ?1 AND session_id = ?2", arguments: arguments)
        try db.execute(sql: "DELETE FROM inputs WHERE position IN (\(inputs))", arguments: arguments)
        try db.execute(sql: "DELETE FROM attempts WHERE output_id IN (SELECT id \(finished))", arguments: arguments)
        try db.execute(sql: "DELETE \(finished)", arguments: arguments)
    }

    func write(_ update: DeliveryUpdate) throws {
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
        statement.int(update.deliveredAt?.milliseconds)
        statement.text(update.channelMessageId)
        statement.text(update.outputId)
        // No output, no attempt: one that was erased while its delivery was in flight leaves
        // nothing behind.
        let updated = try statement.execute()
        if update.channelMessageId != nil, updated > 0 { try applyEarlyReceipt(to: update.outputId) }
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
    func write(_ report: StatusReport) throws {
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
    private func applyEarlyReceipt(to outputId: String) throws {
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

    func write(_ entry: AuditEntry) throws {
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

    /// Deletes the user's outputs (with their attempts), inputs and sessions, and redacts the
    /// audit entries naming the user (SPEC §11, ``AuditEntry/redactForErasure()``).
    func erase(_ erasure: Erasure) throws {
        let user: StatementArguments = [erasure.urlToken, erasure.userId.blob]
        // The sessions the user started or wrote in, then their rows through the session index.
        // The user's outputs are those sent to them (outputs of a session are to its user);
        // their inputs are those they wrote, and every input of a session they still own.
        let theirSessions = "SELECT session_id FROM user_sessions WHERE url_token = ?1 AND user_id = ?2"
        let theirOutputs = "FROM outputs WHERE position IN (\(SQLiteSessionIndex.rows(.output, urlToken: "?1", sessions: theirSessions))) AND user_id = ?2"
        var counts = ErasureCounts()
        try db.execute(sql: "DELETE FROM attempts WHERE output_id IN (SELECT id \(theirOutputs))", arguments: user)
        counts.attempts = db.changesCount
        counts.undelivered = try Int.fetchOne(db, sql: "SELECT COUNT(*) \(theirOutputs) AND status IN (\(Self.undelivered))", arguments: user) ?? 0
        try db.execute(sql: "DELETE \(theirOutputs)", arguments: user)
        counts.outputs = db.changesCount
        try db.execute(
            sql: """
                DELETE FROM inputs WHERE position IN (\(SQLiteSessionIndex.rows(.input, urlToken: "?1", sessions: theirSessions)))
                  AND (user_id = ?2 OR session_id IN (SELECT session_id FROM sessions WHERE url_token = ?1 AND user_id = ?2))
                """, arguments: user)
        counts.inputs = db.changesCount
        try db.execute(sql: "DELETE FROM sessions WHERE url_token = ?1 AND user_id = ?2", arguments: user)
        counts.sessions = db.changesCount
        try db.execute(sql: "DELETE FROM user_sessions WHERE url_token = ?1 AND user_id = ?2", arguments: user)
        try db.execute(
            sql: "UPDATE audit SET \(AuditEntry.sqlRedactionForErasure) WHERE url_token = ?1 AND user_id = ?2",
            arguments: user)
        erasure.record(counts)
    }

    func setEndpoint(_ urlToken: String, paused: Bool) throws {
        if paused {
            try db.execute(sql: "INSERT OR IGNORE INTO paused_endpoints (url_token) VALUES (?)", arguments: [urlToken])
        } else {
            try db.execute(sql: "DELETE FROM paused_endpoints WHERE url_token = ?", arguments: [urlToken])
        }
    }
}
