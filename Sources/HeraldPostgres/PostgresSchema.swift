import Logging
import HeraldCore
import PostgresNIO

/// The PostgreSQL schema as numbered migrations. Instances starting together take turns through
/// an advisory lock; each migration runs once, in its own transaction. Never edit a registered
/// migration: add a new one.
enum PostgresSchema {
    /// A session's `active_minute` (migration 9): its `updated_at` in whole minutes, as the
    /// generated column computes it.
    static func activeMinute(_ time: Timestamp) -> Int64 { time.milliseconds / minute }
    private static let minute: Int64 = 60_000

    static let migrations: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE sessions (
                  url_token TEXT COLLATE "C" NOT NULL,
                  session_id TEXT COLLATE "C" NOT NULL,
                  user_id TEXT NOT NULL,
                  context TEXT NOT NULL,
                  waiting_node TEXT,
                  waiting_retries BIGINT NOT NULL DEFAULT 0,
                  next_seq BIGINT NOT NULL,
                  created_at BIGINT NOT NULL,
                  updated_at BIGINT NOT NULL,
                  version BIGINT NOT NULL,
                  PRIMARY KEY (url_token, session_id)
                )
                """,
                "CREATE INDEX sessions_by_activity ON sessions (url_token, updated_at)",
                "CREATE INDEX sessions_by_user ON sessions (user_id)",
                """
                CREATE TABLE inputs (
                  id TEXT PRIMARY KEY,
                  url_token TEXT COLLATE "C" NOT NULL,
                  session_id TEXT COLLATE "C" NOT NULL,
                  user_id TEXT NOT NULL,
                  text TEXT,
                  data TEXT,
                  source TEXT NOT NULL,
                  received_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX inputs_by_session ON inputs (url_token, session_id, received_at)",
                """
                CREATE TABLE outputs (
                  position BIGSERIAL PRIMARY KEY,
                  id TEXT NOT NULL UNIQUE,
                  url_token TEXT COLLATE "C" NOT NULL,
                  session_id TEXT COLLATE "C" NOT NULL,
                  user_id TEXT NOT NULL,
                  seq BIGINT NOT NULL,
                  type TEXT NOT NULL,
                  text TEXT,
                  data TEXT,
                  attachments TEXT,
                  input_id TEXT,
                  source TEXT,
                  created_at BIGINT NOT NULL,
                  status TEXT NOT NULL,
                  attempts BIGINT NOT NULL DEFAULT 0,
                  next_attempt_at BIGINT,
                  last_error TEXT,
                  delivered_at BIGINT
                )
                """,
                "CREATE INDEX outputs_undelivered ON outputs (url_token, session_id, position) WHERE status IN ('pending', 'failed')",
                "CREATE INDEX outputs_by_session ON outputs (url_token, session_id, position)",
                """
                CREATE TABLE attempts (
                  output_id TEXT NOT NULL,
                  number BIGINT NOT NULL,
                  started_at BIGINT NOT NULL,
                  duration_ms BIGINT NOT NULL,
                  status_code BIGINT,
                  error TEXT,
                  response_body TEXT,
                  PRIMARY KEY (output_id, number)
                )
                """,
                "CREATE TABLE paused_endpoints (url_token TEXT PRIMARY KEY)",
                """
                CREATE TABLE idempotency (
                  url_token TEXT NOT NULL,
                  key TEXT NOT NULL,
                  status BIGINT NOT NULL,
                  body TEXT NOT NULL,
                  created_at BIGINT NOT NULL,
                  PRIMARY KEY (url_token, key)
                )
                """,
                // Which instance delivers which session's outputs, until when.
                """
                CREATE TABLE outbox_leases (
                  url_token TEXT COLLATE "C" NOT NULL,
                  session_id TEXT COLLATE "C" NOT NULL,
                  owner TEXT NOT NULL,
                  lease_until BIGINT NOT NULL,
                  PRIMARY KEY (url_token, session_id)
                )
                """,
                "CREATE INDEX outbox_leases_by_owner ON outbox_leases (owner)",
            ]
        ),
        (
            2,
            [
                // Ids, user ids and texts as UTF-8 bytes: `text` cannot hold U+0000, which any
                // JSON string may contain and the other stores keep.
                """
                ALTER TABLE sessions ALTER COLUMN session_id TYPE BYTEA USING convert_to(session_id, 'UTF8'),
                  ALTER COLUMN user_id TYPE BYTEA USING convert_to(user_id, 'UTF8')
                """,
                """
                ALTER TABLE inputs ALTER COLUMN session_id TYPE BYTEA USING convert_to(session_id, 'UTF8'),
                  ALTER COLUMN user_id TYPE BYTEA USING convert_to(user_id, 'UTF8'),
                  ALTER COLUMN text TYPE BYTEA USING convert_to(text, 'UTF8')
                """,
                """
                ALTER TABLE outputs ALTER COLUMN session_id TYPE BYTEA USING convert_to(session_id, 'UTF8'),
                  ALTER COLUMN user_id TYPE BYTEA USING convert_to(user_id, 'UTF8'),
                  ALTER COLUMN text TYPE BYTEA USING convert_to(text, 'UTF8')
                """,
                // A lease is live while its owner's heartbeat is: one row renewed per instance,
                // instead of every lease row, which also kept renewals out of the batches' way.
                "ALTER TABLE outbox_leases ALTER COLUMN session_id TYPE BYTEA USING convert_to(session_id, 'UTF8'), DROP COLUMN lease_until",
                "CREATE TABLE outbox_owners (owner TEXT PRIMARY KEY, alive_until BIGINT NOT NULL)",
            ]
        ),
        (
            3,
            [
                // A session's pending schedules live in its row; `next_due_at` is the earliest.
                "ALTER TABLE sessions ADD COLUMN schedules TEXT, ADD COLUMN next_due_at BIGINT",
                "CREATE INDEX sessions_by_due_time ON sessions (next_due_at) WHERE next_due_at IS NOT NULL",
                "ALTER TABLE outputs ADD COLUMN scheduled_id TEXT, ADD COLUMN late BOOLEAN NOT NULL DEFAULT false",
            ]
        ),
        (
            4,
            [
                // Operators (SPEC §11): handover state on the session, the operator on an output,
                // lookups by user for erasure, and the audit log.
                "ALTER TABLE sessions ADD COLUMN operator TEXT, ADD COLUMN operator_since BIGINT, ADD COLUMN operator_active_at BIGINT",
                "CREATE INDEX sessions_handed_over ON sessions (url_token, operator_active_at) WHERE operator IS NOT NULL",
                "ALTER TABLE outputs ADD COLUMN operator TEXT",
                "CREATE INDEX outputs_by_user ON outputs (url_token, user_id)",
                "CREATE INDEX inputs_by_user ON inputs (url_token, user_id)",
                """
                CREATE TABLE audit (
                  sequence BIGSERIAL PRIMARY KEY,
                  at BIGINT NOT NULL,
                  key_name TEXT NOT NULL,
                  action TEXT NOT NULL,
                  url_token TEXT,
                  session_id BYTEA,
                  user_id BYTEA,
                  output_id TEXT,
                  detail TEXT,
                  target_erased BOOLEAN NOT NULL DEFAULT false
                )
                """,
                "CREATE INDEX audit_by_user ON audit (url_token, user_id)",
            ]
        ),
        (
            5,
            [
                // Rich outputs and receipts (SPEC §12): rich content beside the attachments
                // (which keep their column); the channel's id of the message that delivered an
                // output and the furthest status its receipts gave. A receipt that comes before
                // the send's answer recorded the id waits in `early_receipts` until it does.
                """
                ALTER TABLE outputs ADD COLUMN rich TEXT, ADD COLUMN channel_message_id TEXT COLLATE "C", ADD COLUMN receipt_status TEXT,
                  ADD COLUMN receipt_at BIGINT, ADD COLUMN receipt_error TEXT
                """,
                "CREATE INDEX outputs_by_channel_message ON outputs (url_token, channel_message_id) WHERE channel_message_id IS NOT NULL",
                """
                CREATE TABLE early_receipts (
                  url_token TEXT COLLATE "C" NOT NULL,
                  channel_message_id TEXT COLLATE "C" NOT NULL,
                  status TEXT NOT NULL,
                  at BIGINT NOT NULL,
                  error TEXT,
                  PRIMARY KEY (url_token, channel_message_id)
                )
                """,
                "CREATE INDEX early_receipts_by_time ON early_receipts (at)",
            ]
        ),
        (
            6,
            [
                // Failover in seconds (SPEC §15): an instance's liveness is also its LISTEN
                // connection, by backend pid and start time; when the connection closes (the
                // process died), the others take its sessions over at their next scan.
                "ALTER TABLE outbox_owners ADD COLUMN pid INTEGER, ADD COLUMN backend_start BIGINT",
            ]
        ),
        (
            7,
            [
                // A session waiting for a call's answer (SPEC §13): which call, how many this
                // input set off, and the inputs queued behind it, as JSON.
                "ALTER TABLE sessions ADD COLUMN waiting_call TEXT",
            ]
        ),
        (
            8,
            [
                // Sessions keep the flow version they run on, outputs name the version that made
                // them (SPEC §14); every version's text is kept, so any instance resumes sessions
                // on old versions. Flow names and endpoints made through the admin API; one
                // sequence numbers every change of either, which instances poll for.
                "ALTER TABLE sessions ADD COLUMN flow_version TEXT",
                "ALTER TABLE outputs ADD COLUMN flow_version TEXT",
                "CREATE TABLE flows (version TEXT PRIMARY KEY, yaml BYTEA NOT NULL, file TEXT NOT NULL, created_at BIGINT NOT NULL)",
                "CREATE SEQUENCE configuration_revision",
                "CREATE TABLE flow_names (name TEXT PRIMARY KEY, version TEXT NOT NULL, updated_at BIGINT NOT NULL, revision BIGINT NOT NULL)",
                """
                CREATE TABLE endpoints (
                  url_token TEXT COLLATE "C" PRIMARY KEY,
                  settings TEXT NOT NULL,
                  flow_name TEXT,
                  flow_version TEXT,
                  updated_at BIGINT NOT NULL,
                  updated_by TEXT NOT NULL,
                  revision BIGINT NOT NULL,
                  deleted BOOLEAN NOT NULL DEFAULT false
                )
                """,
            ]
        ),
        (
            9,
            [
                // Every message updates its session's `updated_at`. Indexed itself, it made each
                // of those updates write a new entry in every index of the table; indexed by the
                // minute, most updates change no indexed column and stay on their page (a HOT
                // update: no index entry at all), for which each page keeps some room free.
                // Queries by activity narrow by the minute, then compare `updated_at`.
                "ALTER TABLE sessions ADD COLUMN active_minute BIGINT GENERATED ALWAYS AS (updated_at / \(minute)) STORED",
                "CREATE INDEX sessions_by_active_minute ON sessions (url_token, active_minute)",
                "DROP INDEX sessions_by_activity",
                "ALTER TABLE sessions SET (fillfactor = 75)",
            ]
        ),
        (
            10,
            [
                // Erasure finds a user's rows through the sessions they started or wrote in (a
                // row per session and user, not per message) and the per-session indexes, as on
                // SQLite; the indexes by user put an entry in two more indexes for every input,
                // output and delivery.
                """
                CREATE TABLE user_sessions (
                  url_token TEXT COLLATE "C" NOT NULL,
                  user_id BYTEA NOT NULL,
                  session_id BYTEA NOT NULL,
                  PRIMARY KEY (url_token, user_id, session_id)
                )
                """,
                "INSERT INTO user_sessions SELECT url_token, user_id, session_id FROM sessions ON CONFLICT DO NOTHING",
                "INSERT INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM inputs ON CONFLICT DO NOTHING",
                "INSERT INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM outputs ON CONFLICT DO NOTHING",
                "DROP INDEX outputs_by_user",
                "DROP INDEX inputs_by_user",
            ]
        ),
    ]

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One instance migrates at a time; the others wait here, then find nothing to do.
            try await connection.query("SELECT pg_advisory_xact_lock(7246831)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS herald_migrations (version BIGINT PRIMARY KEY)", logger: logger)
            var applied = Set<Int64>()
            for try await version in try await connection.query("SELECT version FROM herald_migrations", logger: logger).decode(Int64.self) {
                applied.insert(version)
            }
            for migration in migrations where !applied.contains(Int64(migration.version)) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO herald_migrations (version) VALUES (\(Int64(migration.version)))", logger: logger)
                logger.info("PostgreSQL schema migrated", metadata: ["version": "\(migration.version)"])
            }
        }
    }
}
