import HeraldCore
import Logging
import NIOCore
import PostgresNIO

/// Sessions whose delivery lease a committed batch claimed for this instance, with their new
/// outputs and outbox positions, in position order.
struct ClaimedOutputs: Sendable {
    var key: SessionKey
    var outputs: [(position: Int64, entry: OutboxEntry)]
}

struct ClaimedOutputsHandler: Sendable {
    /// The last outbox position queued here, per session (0 when none).
    var queued: @Sendable ([SessionKey]) -> [Int64]
    var call: @Sendable ([ClaimedOutputs]) -> Void
}

/// One `StoreWriter` batch written in one PostgreSQL transaction.
///
/// 1. The advisory lock of every session the batch touches, and of every channel message id
///    it records or has a receipt for, in ascending key order (every instance takes them in
///    that order, so batches of two instances never deadlock).
/// 2. Those sessions, read in one query.
/// 3. The changes in queue order: each ``SessionTurn`` runs on its session as the batch left it
///    (so a second message of a session in the same batch sees the first one's result).
/// 4. What they decided, a few array statements for the whole batch (`unnest`), not one per row.
/// 5. The delivery lease of each session that got outputs: claimed for this instance, or, when
///    another live instance holds it, that instance is told with `NOTIFY herald_outbox`.
///
/// A session deletion writes what came before it first, so changes keep their queue order.
struct PostgresBatch {
    /// Turns whose `Idempotency-Key` another instance recorded first.
    struct IdempotencyConflicts: Error {
        var turns: [(SessionTurn, IdempotencyConflict)]
    }

    /// This instance's name and what it has queued, when it claims leases; `nil` announces
    /// every new output instead.
    let leasing: (owner: String, queued: @Sendable ([SessionKey]) -> [Int64])?
    let excluded: Set<ObjectIdentifier>
    let logger: Logger

    /// Each locked session as the batch has left it so far (`.some(nil)`: none).
    private var sessions: [SessionKey: Session?] = [:]
    // What is still to write, in queue order.
    private var sessionWrites: [SessionKey: Session] = [:]
    private var sessionOrder: [SessionKey] = []
    private var inputs: [Input] = []
    private var outputs: [Output] = []
    private var idempotency: [(response: IdempotentResponse, turn: SessionTurn?)] = []
    private var deliveries: [DeliveryUpdate] = []
    private var receipts: [StatusReport] = []
    private var audit: [AuditEntry] = []
    /// Users a session started with or got an input from (`user_sessions`, for erasure).
    private var users: [(key: SessionKey, userId: String)] = []
    /// Leases claimed, with the outputs to hand to the local outbox after the commit.
    private(set) var claimed: [ClaimedOutputs] = []

    init(leasing: (owner: String, queued: @Sendable ([SessionKey]) -> [Int64])?, excluding excluded: Set<ObjectIdentifier>, logger: Logger) {
        self.leasing = leasing
        self.excluded = excluded
        self.logger = logger
    }

    mutating func write(_ changes: [StoreChange], _ connection: PostgresConnection) async throws {
        var keys: Set<SessionKey> = []
        // A receipt and the delivery that records its message id, written by two instances at
        // once, would each miss the other's row (the receipt kept as early for good); the lock
        // of the message id puts one after the other.
        var messageKeys: Set<Int64> = []
        for change in changes {
            switch change {
            case .session(let commit): keys.insert(commit.session.key)
            case .turn(let turn) where !excluded.contains(ObjectIdentifier(turn)): keys.insert(turn.key)
            case .deleteSession(let key): keys.insert(key)
            case .erase(let erasure): keys.formUnion(erasure.sessions)
            case .delivery(let update): if let id = update.channelMessageId { messageKeys.insert(Self.messageLockKey(id)) }
            case .status(let report): messageKeys.insert(Self.messageLockKey(report.channelMessageId))
            default: break
            }
        }
        if !keys.isEmpty || !messageKeys.isEmpty { try await Self.lock(keys, and: messageKeys, connection, logger) }
        if !keys.isEmpty { try await read(keys, connection) }
        // Not Core's `StoreChangeHandler`: the changes are collected here and written by
        // `flush` as a few array statements, the locks above come first, and the writes are
        // asynchronous.
        for change in changes {
            switch change {
            case .session(let commit):
                let key = commit.session.key
                guard ((sessions[key] ?? nil)?.version ?? 0) == commit.expectedVersion else { throw StoreConflict(session: key) }
                record(commit, turn: nil)
            case .turn(let turn):
                guard !excluded.contains(ObjectIdentifier(turn)) else { continue }
                if let commit = turn.run(on: sessions[turn.key] ?? nil) { record(commit, turn: turn) }
            case .deleteSession(let key):
                try await flush(connection)
                try await Self.delete(key, connection, logger)
                sessions[key] = .some(nil)
            case .delivery(let update):
                deliveries.append(update)
            case .status(let report):
                // Written after the deliveries recorded so far, so a receipt sees the message id
                // a delivery before it in the queue recorded.
                receipts.append(report)
            case .endpointPaused(let urlToken, let paused):
                if paused {
                    try await connection.query("INSERT INTO paused_endpoints (url_token) VALUES (\(urlToken)) ON CONFLICT DO NOTHING", logger: logger)
                } else {
                    try await connection.query("DELETE FROM paused_endpoints WHERE url_token = \(urlToken)", logger: logger)
                }
            case .audit(let entry):
                audit.append(entry)
            case .erase(let erasure):
                try await flush(connection)
                try await Self.erase(erasure, connection, logger)
                for (key, session) in sessions where key.urlToken == erasure.urlToken && session?.userId == erasure.userId { sessions[key] = .some(nil) }
                for key in erasure.sessions { sessions[key] = .some(nil) }
            }
        }
        try await flush(connection)
    }

    /// Takes the advisory locks of `keys` (and the `others`, message ids') in ascending order;
    /// they are held until the transaction ends.
    static func lock(
        _ keys: some Collection<SessionKey>, and others: Set<Int64> = [], _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        let lockKeys = Array(Set(keys.map(\.lockKey)).union(others)).sorted()
        // One row back, not one per lock: the aggregate takes the locks in the array's order.
        try await connection.query("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(\(lockKeys)::int8[]) AS k", logger: logger)
    }

    /// The advisory lock of a channel's message id: FNV-1a over its bytes and a one byte (so
    /// it is not a session's key by construction, though a collision would only make two
    /// batches wait for each other). By the id alone: a delivery update does not know its
    /// output's endpoint.
    static func messageLockKey(_ channelMessageId: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in channelMessageId.storableText.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ 1) &* 0x100_0000_01b3
        return Int64(bitPattern: hash)
    }

    private mutating func read(_ keys: Set<SessionKey>, _ connection: PostgresConnection) async throws {
        let keys = Array(keys)
        for key in keys { sessions[key] = .some(nil) }
        let rows = try await connection.query(
            """
            SELECT s.* FROM sessions s JOIN unnest(\(keys.map(\.urlToken))::text[], \(keys.map(\.sessionId.bytea))::bytea[]) AS k(url_token, session_id)
              ON s.url_token = k.url_token AND s.session_id = k.session_id
            """, logger: logger)
        for try await row in rows {
            let session = try Session(stored: PostgresStore.Reader(row))
            sessions[session.key] = session
        }
    }

    private mutating func record(_ commit: SessionCommit, turn: SessionTurn?) {
        let key = commit.session.key
        sessions[key] = commit.session
        if sessionWrites.updateValue(commit.session, forKey: key) == nil { sessionOrder.append(key) }
        if commit.startsSession { users.append((key, commit.session.userId)) }
        if let input = commit.input {
            inputs.append(input)
            if input.userId != commit.session.userId { users.append((key, input.userId)) }
        }
        outputs += commit.outputs
        if let response = commit.idempotency { idempotency.append((response, turn)) }
    }

    /// Writes what was recorded since the last flush: the sessions, inputs, outputs, delivery
    /// results and lease claims in one statement (``CombinedStatement``), then what is rare
    /// (idempotency keys first, receipts, audit entries, announcements) in statements of their own.
    private mutating func flush(_ connection: PostgresConnection) async throws {
        try await writeIdempotency(connection)
        var statement = CombinedStatement()
        addSessions(to: &statement)
        addInputs(to: &statement)
        addUsers(to: &statement)
        addOutputs(to: &statement)
        let messageIds = deliveredMessageIds()
        addDeliveries(to: &statement, messageIds: messageIds)
        let candidates = addClaims(to: &statement)
        if let candidates, candidates.claiming {
            try await claimed(statement.run(selecting: Self.claimedAnswer, connection, logger), candidates, connection)
        } else {
            if !statement.isEmpty { try await statement.run(connection, logger) }
            if let candidates { try await announce(candidates.keys, connection) }
        }
        try await applyEarlyReceipts(messageIds, connection)
        try await writeReceipts(connection)
        try await writeAudit(connection)
        sessionWrites.removeAll()
        sessionOrder.removeAll()
        inputs.removeAll()
        users.removeAll()
        outputs.removeAll()
        idempotency.removeAll()
        deliveries.removeAll()
        receipts.removeAll()
        audit.removeAll()
    }

    private func writeIdempotency(_ connection: PostgresConnection) async throws {
        guard !idempotency.isEmpty else { return }
        let responses = idempotency.map(\.response)
        var inserted: Set<String> = []
        for try await (urlToken, key) in try await connection.query(
            """
            INSERT INTO idempotency (url_token, key, status, body, created_at)
            SELECT * FROM unnest(\(responses.map(\.urlToken))::text[], \(responses.map(\.key))::text[], \(responses.map { Int64($0.status) })::int8[],
              \(responses.map { String(decoding: $0.body, as: UTF8.self) })::text[], \(responses.map(\.createdAt.milliseconds))::int8[])
            ON CONFLICT (url_token, key) DO NOTHING RETURNING url_token, key
            """, logger: logger
        ).decode((String, String).self) {
            inserted.insert(urlToken + "\u{0}" + key)
        }
        let conflicts = idempotency.compactMap { response, turn -> (SessionTurn, IdempotencyConflict)? in
            guard let turn, !inserted.contains(response.urlToken + "\u{0}" + response.key) else { return nil }
            return (turn, IdempotencyConflict(urlToken: response.urlToken, key: response.key))
        }
        if !conflicts.isEmpty { throw IdempotencyConflicts(turns: conflicts) }
    }

    private func addSessions(to statement: inout CombinedStatement) {
        guard !sessionOrder.isEmpty else { return }
        let rows = sessionOrder.map { sessionWrites[$0]! }
        statement.add(
            "sessions",
            """
            INSERT INTO sessions (url_token, session_id, user_id, context, waiting_node, waiting_retries, next_seq, created_at, updated_at, version,
              schedules, next_due_at, operator, operator_since, operator_active_at, flow_version, waiting_call)
            SELECT * FROM unnest(\(rows.map(\.key.urlToken))::text[], \(rows.map(\.key.sessionId.bytea))::bytea[], \(rows.map(\.userId.bytea))::bytea[],
              \(rows.map { JSON.object($0.context).jsonString })::text[], \(NullableArray(rows.map { $0.waiting?.nodeId }))::text[],
              \(rows.map { Int64($0.waiting?.retries ?? 0) })::int8[], \(rows.map(\.nextSeq))::int8[], \(rows.map(\.createdAt.milliseconds))::int8[],
              \(rows.map(\.updatedAt.milliseconds))::int8[], \(rows.map(\.version))::int8[],
              \(NullableArray(rows.map { Schedule.stored($0.schedules) }))::text[], \(NullableArray(rows.map { $0.nextDueAt?.milliseconds }))::int8[],
              \(NullableArray(rows.map { $0.handover?.operatorName }))::text[], \(NullableArray(rows.map { $0.handover?.since.milliseconds }))::int8[],
              \(NullableArray(rows.map { $0.handover?.lastActivity.milliseconds }))::int8[], \(NullableArray(rows.map(\.flowVersion)))::text[],
              \(NullableArray(rows.map { CallWait.stored($0.waiting) }))::text[])
            ON CONFLICT (url_token, session_id) DO UPDATE SET
              user_id = excluded.user_id, context = excluded.context, waiting_node = excluded.waiting_node,
              waiting_retries = excluded.waiting_retries, next_seq = excluded.next_seq, created_at = excluded.created_at,
              updated_at = excluded.updated_at, version = excluded.version, schedules = excluded.schedules, next_due_at = excluded.next_due_at,
              operator = excluded.operator, operator_since = excluded.operator_since, operator_active_at = excluded.operator_active_at,
              flow_version = excluded.flow_version, waiting_call = excluded.waiting_call
            """)
    }

    private func addInputs(to statement: inout CombinedStatement) {
        guard !inputs.isEmpty else { return }
        statement.add(
            "inputs",
            """
            INSERT INTO inputs (id, url_token, session_id, user_id, text, data, source, received_at)
            SELECT * FROM unnest(\(inputs.map(\.id))::text[], \(inputs.map(\.session.urlToken))::text[], \(inputs.map(\.session.sessionId.bytea))::bytea[],
              \(inputs.map(\.userId.bytea))::bytea[], \(NullableArray(inputs.map { $0.text?.bytea }))::bytea[],
              \(NullableArray(inputs.map { $0.data?.jsonString }))::text[], \(inputs.map(\.source.rawValue))::text[],
              \(inputs.map(\.receivedAt.milliseconds))::int8[])
            """)
    }

    private func addUsers(to statement: inout CombinedStatement) {
        guard !users.isEmpty else { return }
        statement.add(
            "users",
            """
            INSERT INTO user_sessions (url_token, user_id, session_id)
            SELECT DISTINCT * FROM unnest(\(users.map(\.key.urlToken))::text[], \(users.map(\.userId.bytea))::bytea[],
              \(users.map(\.key.sessionId.bytea))::bytea[])
            ON CONFLICT DO NOTHING
            """)
    }

    /// Inserts the outputs in queue order: their `position`s follow it.
    private func addOutputs(to statement: inout CombinedStatement) {
        guard !outputs.isEmpty else { return }
        statement.add(
            "new_outputs",
            """
            INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, text, data, attachments, rich, input_id, source, created_at, status,
              attempts, scheduled_id, late, operator, flow_version)
            SELECT id, url_token, session_id, user_id, seq, type, text, data, attachments, rich, input_id, source, created_at, 'pending', 0,
              scheduled_id, late, operator, flow_version
            FROM unnest(\(outputs.map(\.id))::text[], \(outputs.map(\.session.urlToken))::text[], \(outputs.map(\.session.sessionId.bytea))::bytea[],
              \(outputs.map(\.userId.bytea))::bytea[], \(outputs.map(\.seq))::int8[], \(outputs.map(\.type.rawValue))::text[],
              \(NullableArray(outputs.map { $0.text?.bytea }))::bytea[], \(NullableArray(outputs.map { $0.data?.jsonString }))::text[],
              \(NullableArray(outputs.map { $0.attachments.map { JSON.array($0).jsonString } }))::text[],
              \(NullableArray(outputs.map { $0.storedRich?.jsonString }))::text[], \(NullableArray(outputs.map(\.inputId)))::text[],
              \(NullableArray(outputs.map { $0.source?.rawValue }))::text[],
              \(outputs.map(\.timestamp.milliseconds))::int8[], \(NullableArray(outputs.map(\.scheduledId)))::text[], \(outputs.map(\.late))::bool[],
              \(NullableArray(outputs.map(\.operatorName)))::text[], \(NullableArray(outputs.map(\.flowVersion)))::text[])
              WITH ORDINALITY AS o(id, url_token, session_id, user_id, seq, type, text, data, attachments, rich, input_id, source, created_at,
                scheduled_id, late, operator, flow_version, n)
            ORDER BY n
            RETURNING id, position
            """)
    }

    /// The delivery results: one row per output (the last update wins), one per attempt (an
    /// UPDATE … FROM or an upsert may not touch a row twice).
    private func addDeliveries(to statement: inout CombinedStatement, messageIds: [String: String]) {
        guard !deliveries.isEmpty else { return }
        var latest: [String: Int] = [:]
        for (index, update) in deliveries.enumerated() { latest[update.outputId] = index }
        let updates = deliveries.indices.filter { latest[deliveries[$0].outputId] == $0 }.map { deliveries[$0] }
        statement.add(
            "delivered",
            """
            UPDATE outputs AS o SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
              last_error = COALESCE(u.error, CASE WHEN u.status = 'delivered' THEN NULL ELSE o.last_error END),
              delivered_at = COALESCE(u.delivered_at, o.delivered_at), channel_message_id = COALESCE(u.channel_message_id, o.channel_message_id)
            FROM unnest(\(updates.map(\.outputId))::text[], \(updates.map(\.status.rawValue))::text[], \(updates.map { Int64($0.attempts) })::int8[],
              \(NullableArray(updates.map { $0.nextAttemptAt?.milliseconds }))::int8[],
              \(NullableArray(updates.map { $0.attempt?.error?.storableText }))::text[],
              \(NullableArray(updates.map { $0.deliveredAt?.milliseconds }))::int8[], \(NullableArray(updates.map { messageIds[$0.outputId] }))::text[])
              AS u(id, status, attempts, next_attempt_at, error, delivered_at, channel_message_id)
            WHERE o.id = u.id
            """)
        var attempts: [String: DeliveryAttempt] = [:]
        var order: [String] = []
        for attempt in deliveries.compactMap(\.attempt) {
            let slot = "\(attempt.outputId)#\(attempt.number)"
            if attempts.updateValue(attempt, forKey: slot) == nil { order.append(slot) }
        }
        guard !order.isEmpty else { return }
        let rows = order.map { attempts[$0]! }
        statement.add(
            "attempted",
            """
            INSERT INTO attempts (output_id, number, started_at, duration_ms, status_code, error, response_body)
            SELECT * FROM unnest(\(rows.map(\.outputId))::text[], \(rows.map { Int64($0.number) })::int8[], \(rows.map(\.startedAt.milliseconds))::int8[],
              \(rows.map(\.durationMilliseconds))::int8[], \(NullableArray(rows.map { $0.statusCode.map(Int64.init) }))::int8[],
              \(NullableArray(rows.map { $0.error?.storableText }))::text[], \(NullableArray(rows.map { $0.responseBody?.storableText }))::text[])
              AS a(output_id, number, started_at, duration_ms, status_code, error, response_body)
            WHERE EXISTS (SELECT 1 FROM outputs o WHERE o.id = a.output_id)
            ON CONFLICT (output_id, number) DO UPDATE SET started_at = excluded.started_at, duration_ms = excluded.duration_ms,
              status_code = excluded.status_code, error = excluded.error, response_body = excluded.response_body
            """)
    }

    /// The last message id each output's delivery updates gave (a later update without one
    /// keeps it).
    private func deliveredMessageIds() -> [String: String] {
        var messageIds: [String: String] = [:]
        for update in deliveries { if let id = update.channelMessageId { messageIds[update.outputId] = id.storableText } }
        return messageIds
    }

    /// Receipts that came before the message ids just recorded (the channel's status callback
    /// overtook the send's answer): applied, forward only, and dropped. After the combined
    /// statement, whose new message ids it reads.
    private func applyEarlyReceipts(_ messageIds: [String: String], _ connection: PostgresConnection) async throws {
        guard !messageIds.isEmpty else { return }
        try await connection.query(
            """
            WITH early AS (
              DELETE FROM early_receipts e USING outputs o
              WHERE o.id = ANY(\(Array(messageIds.keys))::text[]) AND e.url_token = o.url_token AND e.channel_message_id = o.channel_message_id
              RETURNING e.url_token, e.channel_message_id, e.status, e.at, e.error)
            UPDATE outputs AS o SET receipt_status = early.status, receipt_at = early.at, receipt_error = early.error
            FROM early WHERE o.url_token = early.url_token AND o.channel_message_id = early.channel_message_id
              AND \(unescaped: Self.rank("early.status")) > \(unescaped: Self.rank("o.receipt_status"))
            """, logger: logger)
    }

    /// Moves each output a receipt names forward to it (never back: the rank is compared in the
    /// statement); a receipt for a message id no output has recorded yet is kept in
    /// `early_receipts`, the higher status of the two when one is there.
    private func writeReceipts(_ connection: PostgresConnection) async throws {
        guard !receipts.isEmpty else { return }
        // One row per message (an UPDATE … FROM or an upsert may not touch a row twice): the
        // batch's reports of a message merged in queue order, by the one rule.
        var merged: [String: StatusReport] = [:]
        var order: [String] = []
        for var report in receipts {
            report.channelMessageId = report.channelMessageId.storableText
            report.receipt.error = report.receipt.error?.storableText
            let slot = report.urlToken + "\u{0}" + report.channelMessageId
            if let earlier = merged[slot] {
                merged[slot]?.receipt = earlier.receipt.merging(report.receipt)
            } else {
                merged[slot] = report
                order.append(slot)
            }
        }
        let rows = order.map { merged[$0]! }
        let (urlTokens, messageIds) = (rows.map(\.urlToken), rows.map(\.channelMessageId))
        let (statuses, times) = (rows.map(\.receipt.status.rawValue), rows.map(\.receipt.at.milliseconds))
        let errors = NullableArray(rows.map(\.receipt.error))
        try await connection.query(
            """
            UPDATE outputs AS o SET receipt_status = u.status, receipt_at = u.at, receipt_error = u.error
            FROM unnest(\(urlTokens)::text[], \(messageIds)::text[], \(statuses)::text[], \(times)::int8[], \(errors)::text[])
              AS u(url_token, channel_message_id, status, at, error)
            WHERE o.url_token = u.url_token AND o.channel_message_id = u.channel_message_id
              AND \(unescaped: Self.rank("u.status")) > \(unescaped: Self.rank("o.receipt_status"))
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO early_receipts (url_token, channel_message_id, status, at, error)
            SELECT u.* FROM unnest(\(urlTokens)::text[], \(messageIds)::text[], \(statuses)::text[], \(times)::int8[], \(errors)::text[])
              AS u(url_token, channel_message_id, status, at, error)
            WHERE NOT EXISTS (SELECT 1 FROM outputs o WHERE o.url_token = u.url_token AND o.channel_message_id = u.channel_message_id)
            ON CONFLICT (url_token, channel_message_id) DO UPDATE SET status = excluded.status, at = excluded.at, error = excluded.error
              WHERE \(unescaped: Self.rank("excluded.status")) > \(unescaped: Self.rank("early_receipts.status"))
            """, logger: logger)
    }

    /// The rank of a status column, by Core's rule (``OutputStatus/sqlRank(of:)``).
    private static func rank(_ column: String) -> String {
        OutputStatus.sqlRank(of: column)
    }

    private func writeAudit(_ connection: PostgresConnection) async throws {
        guard !audit.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO audit (at, key_name, action, url_token, session_id, user_id, output_id, detail)
            SELECT * FROM unnest(\(audit.map(\.at.milliseconds))::int8[], \(audit.map(\.keyName))::text[], \(audit.map(\.action.rawValue))::text[],
              \(NullableArray(audit.map(\.urlToken)))::text[], \(NullableArray(audit.map { $0.sessionId?.bytea }))::bytea[],
              \(NullableArray(audit.map { $0.userId?.bytea }))::bytea[], \(NullableArray(audit.map(\.outputId)))::text[],
              \(NullableArray(audit.map { $0.detail?.storableText }))::text[])
            """, logger: logger)
    }

    /// Deletes the user's outputs (with their attempts), inputs and sessions, redacts the audit
    /// entries naming the user (``AuditEntry/redactForErasure()``), and tells every instance (`NOTIFY
    /// herald_outbox 'erased …'`, on commit) to drop the user's outputs from its outbox.
    static func erase(_ erasure: Erasure, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let (urlToken, userId) = (erasure.urlToken, erasure.userId.bytea)
        var counts = ErasureCounts()
        // The sessions the user started or wrote in, then their rows through the per-session
        // indexes. The user's outputs are those sent to them (outputs of a session are to its
        // user); their inputs are those they wrote, and every input of a session they still own.
        let theirSessions = "SELECT session_id FROM user_sessions WHERE url_token = $1 AND user_id = $2"
        for try await (attempts, outputs, undelivered) in try await connection.query(
            """
            WITH gone AS (DELETE FROM outputs WHERE url_token = \(urlToken) AND session_id IN (\(unescaped: theirSessions)) AND user_id = \(userId)
              RETURNING id, status),
              tried AS (DELETE FROM attempts WHERE output_id IN (SELECT id FROM gone) RETURNING 1)
            SELECT (SELECT count(*) FROM tried), count(*), count(*) FILTER (WHERE status IN (\(unescaped: PostgresStore.undelivered))) FROM gone
            """, logger: logger
        ).decode((Int64, Int64, Int64).self) {
            (counts.attempts, counts.outputs, counts.undelivered) = (Int(attempts), Int(outputs), Int(undelivered))
        }
        for try await inputs in try await connection.query(
            """
            WITH gone AS (DELETE FROM inputs WHERE url_token = \(urlToken) AND session_id IN (\(unescaped: theirSessions)) AND (user_id = \(userId)
              OR session_id IN (SELECT session_id FROM sessions WHERE url_token = $1 AND user_id = $2)) RETURNING 1)
            SELECT count(*) FROM gone
            """, logger: logger
        ).decode(Int64.self) {
            counts.inputs = Int(inputs)
        }
        for try await sessions in try await connection.query(
            "WITH gone AS (DELETE FROM sessions WHERE url_token = \(urlToken) AND user_id = \(userId) RETURNING 1) SELECT count(*) FROM gone",
            logger: logger
        ).decode(Int64.self) {
            counts.sessions = Int(sessions)
        }
        try await connection.query("DELETE FROM user_sessions WHERE url_token = \(urlToken) AND user_id = \(userId)", logger: logger)
        try await connection.query(
            """
            UPDATE audit SET \(unescaped: AuditEntry.sqlRedactionForErasure) WHERE url_token = \(urlToken) AND user_id = \(userId)
            """, logger: logger)
        try await connection.query(
            "SELECT pg_notify('herald_outbox', concat_ws(' ', 'erased', \(urlToken)::text, encode(\(userId)::bytea, 'hex')))", logger: logger)
        erasure.record(counts)
    }

    /// The sessions that got outputs in this flush, in queue order, and whether the statement
    /// claims their leases, with the outbox position this instance has queued for each (0 when
    /// none).
    private struct Candidates {
        var keys: [SessionKey]
        var claiming: Bool
        var queued: [Int64] = []
    }

    /// Adds the claim of the delivery lease of each session that got outputs (where it is
    /// free, held by an instance whose heartbeat stopped, or already this instance's), and
    /// whether each claimed session had undelivered outputs past the position queued here
    /// before this statement.
    private func addClaims(to statement: inout CombinedStatement) -> Candidates? {
        guard !outputs.isEmpty else { return nil }
        var keys: [SessionKey] = []
        var seen: Set<SessionKey> = []
        for output in outputs where seen.insert(output.session).inserted { keys.append(output.session) }
        guard let leasing else { return Candidates(keys: keys, claiming: false) }
        let candidates = Candidates(keys: keys, claiming: true, queued: leasing.queued(keys))
        statement.add(
            "candidates",
            """
            SELECT * FROM unnest(\(keys.map(\.urlToken))::text[], \(keys.map(\.sessionId.bytea))::bytea[], \(candidates.queued)::int8[])
              WITH ORDINALITY AS c(url_token, session_id, queued, n)
            """)
        statement.add(
            "claimed",
            """
            INSERT INTO outbox_leases (url_token, session_id, owner) SELECT url_token, session_id, \(leasing.owner)::text FROM candidates
            \(unescaped: Self.claimConflict(now: Timestamp.now()))
            """)
        return candidates
    }

    /// What the combined statement reads back when it claims leases, as one row of arrays (not
    /// a row per session and output): which candidates (1-based) it claimed, which of those
    /// had undelivered outputs past the position queued here, and the new outputs' positions.
    private static let claimedAnswer = """
        SELECT
          (SELECT array_agg(c.n ORDER BY c.n) FROM candidates c JOIN claimed USING (url_token, session_id)),
          (SELECT array_agg(c.n ORDER BY c.n) FROM candidates c JOIN claimed USING (url_token, session_id)
            WHERE EXISTS (SELECT 1 FROM outputs o WHERE o.url_token = c.url_token AND o.session_id = c.session_id
              AND o.position > c.queued AND o.status IN (\(PostgresStore.undelivered)))),
          (SELECT array_agg(id ORDER BY position) FROM new_outputs),
          (SELECT array_agg(position ORDER BY position) FROM new_outputs)
        """

    /// Hands the claimed sessions' outputs to the local outbox (after the commit), and tells
    /// the holder of each other session.
    ///
    /// A claimed session's outputs are this batch's when the outbox already holds everything of
    /// the session before them. When the statement found undelivered outputs past what is queued
    /// here (committed by another instance while this one held the lease, its NOTIFY still on
    /// the way, or left by an instance that stopped), they are read back from the table: they
    /// come before this batch's (the session lock orders the two batches), and the outbox must
    /// get them first.
    private mutating func claimed(_ answer: PostgresRowSequence, _ candidates: Candidates, _ connection: PostgresConnection) async throws {
        var got: Set<SessionKey> = []
        var readBack: Set<SessionKey> = []
        var positions: [String: Int64] = [:]
        for try await (claimedAt, readBackAt, ids, newPositions) in answer.decode(([Int64]?, [Int64]?, [String]?, [Int64]?).self) {
            for index in claimedAt ?? [] { got.insert(candidates.keys[Int(index) - 1]) }
            for index in readBackAt ?? [] { readBack.insert(candidates.keys[Int(index) - 1]) }
            for (id, position) in zip(ids ?? [], newPositions ?? []) { positions[id] = position }
        }
        if !got.isEmpty {
            var bySession: [SessionKey: [(position: Int64, entry: OutboxEntry)]] = [:]
            for output in outputs where got.contains(output.session) && !readBack.contains(output.session) {
                guard let position = positions[output.id] else { continue }
                bySession[output.session, default: []].append((position, OutboxEntry(output: output)))
            }
            if !readBack.isEmpty {
                let after = zip(candidates.keys, candidates.queued).filter { readBack.contains($0.0) }.map { (key: $0.0, after: $0.1) }
                for row in try await PostgresStore.undeliveredOutputs(of: after, connection, logger) {
                    bySession[row.entry.output.session, default: []].append(row)
                }
            }
            claimed += candidates.keys.filter(got.contains).map { ClaimedOutputs(key: $0, outputs: bySession[$0] ?? []) }
        }
        try await announce(candidates.keys.filter { !got.contains($0) }, connection)
    }

    /// Tells the holder of each session's lease that it has new outputs (delivered when the
    /// transaction commits). The payload names the holder (empty when none: then whoever hears
    /// it first claims the session).
    private func announce(_ keys: [SessionKey], _ connection: PostgresConnection) async throws {
        guard !keys.isEmpty else { return }
        try await connection.query(
            """
            SELECT pg_notify('herald_outbox', concat_ws(' ', coalesce(l.owner, ''), u.url_token, encode(u.session_id, 'hex')))
            FROM unnest(\(keys.map(\.urlToken))::text[], \(keys.map(\.sessionId.bytea))::bytea[]) AS u(url_token, session_id)
            LEFT JOIN outbox_leases l ON l.url_token = u.url_token AND l.session_id = u.session_id
            """, logger: logger)
    }

    /// Claims the delivery lease of `keys` for `owner` where it is free, held by an instance
    /// whose heartbeat stopped, or already `owner`'s; returns those claimed. The caller holds
    /// the sessions' advisory locks.
    static func claim(_ keys: some Collection<SessionKey>, for owner: String, _ connection: PostgresConnection, _ logger: Logger) async throws
        -> [SessionKey]
    {
        try await sessionKeys(
            connection.query(
                """
                INSERT INTO outbox_leases (url_token, session_id, owner)
                SELECT u.*, \(owner)::text FROM unnest(\(keys.map(\.urlToken))::text[], \(keys.map(\.sessionId.bytea))::bytea[]) AS u
                \(unescaped: claimConflict(now: Timestamp.now()))
                """, logger: logger))
    }

    /// The end of a lease claim: the row is taken where it is free, held by an instance whose
    /// heartbeat stopped, or already the claimer's; the claimed keys are returned.
    static func claimConflict(now: Timestamp) -> String {
        """
        ON CONFLICT (url_token, session_id) DO UPDATE SET owner = excluded.owner
          WHERE outbox_leases.owner = excluded.owner
            OR NOT EXISTS (SELECT 1 FROM outbox_owners w WHERE w.owner = outbox_leases.owner AND \(OutboxOwner.alive("w", now: now.milliseconds)))
        RETURNING url_token, session_id
        """
    }

    /// Rows of `(url_token, session_id)` as session keys.
    static func sessionKeys(_ rows: PostgresRowSequence) async throws -> [SessionKey] {
        var keys: [SessionKey] = []
        for try await (urlToken, sessionId) in rows.decode((String, ByteBuffer).self) {
            keys.append(SessionKey(urlToken: urlToken, sessionId: String(buffer: sessionId)))
        }
        return keys
    }

    static func delete(_ key: SessionKey, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let (urlToken, sessionId) = (key.urlToken, key.sessionId.bytea)
        try await connection.query("DELETE FROM sessions WHERE url_token = \(urlToken) AND session_id = \(sessionId)", logger: logger)
        try await connection.query("DELETE FROM inputs WHERE url_token = \(urlToken) AND session_id = \(sessionId)", logger: logger)
        try await connection.query(
            """
            DELETE FROM attempts WHERE output_id IN (SELECT id FROM outputs WHERE url_token = \(urlToken)
              AND session_id = \(sessionId) AND status IN (\(unescaped: PostgresStore.finished)))
            """, logger: logger)
        try await connection.query(
            "DELETE FROM outputs WHERE url_token = \(urlToken) AND session_id = \(sessionId) AND status IN (\(unescaped: PostgresStore.finished))",
            logger: logger)
    }
}
