import GRDB

/// The SQLite schema, as migrations from the first version on. Never edit a registered
/// migration: add a new one.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sessions (
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      context TEXT NOT NULL,
                      waiting_node TEXT,
                      waiting_retries INTEGER NOT NULL DEFAULT 0,
                      next_seq INTEGER NOT NULL,
                      created_at INTEGER NOT NULL,
                      updated_at INTEGER NOT NULL,
                      version INTEGER NOT NULL,
                      PRIMARY KEY (url_token, session_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX sessions_by_activity ON sessions (url_token, updated_at);
                    CREATE INDEX sessions_by_user ON sessions (user_id);

                    CREATE TABLE inputs (
                      id TEXT PRIMARY KEY NOT NULL,
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      text TEXT,
                      data TEXT,
                      source TEXT NOT NULL,
                      received_at INTEGER NOT NULL
                    );
                    CREATE INDEX inputs_by_session ON inputs (url_token, session_id, received_at);

                    -- The outbox. `position` (the rowid) is insertion order, which is commit
                    -- order: within a session it is `seq` order, also after a session id is reused.
                    CREATE TABLE outputs (
                      position INTEGER PRIMARY KEY,
                      id TEXT NOT NULL UNIQUE,
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      seq INTEGER NOT NULL,
                      type TEXT NOT NULL,
                      text TEXT,
                      data TEXT,
                      attachments TEXT,
                      input_id TEXT,
                      source TEXT,
                      created_at INTEGER NOT NULL,
                      status TEXT NOT NULL,
                      attempts INTEGER NOT NULL DEFAULT 0,
                      next_attempt_at INTEGER,
                      last_error TEXT,
                      delivered_at INTEGER
                    );
                    CREATE INDEX outputs_undelivered ON outputs (status) WHERE status IN ('pending', 'failed');
                    CREATE INDEX outputs_by_session ON outputs (url_token, session_id, position);

                    CREATE TABLE attempts (
                      output_id TEXT NOT NULL,
                      number INTEGER NOT NULL,
                      started_at INTEGER NOT NULL,
                      duration_ms INTEGER NOT NULL,
                      status_code INTEGER,
                      error TEXT,
                      response_body TEXT,
                      PRIMARY KEY (output_id, number)
                    ) WITHOUT ROWID;

                    CREATE TABLE paused_endpoints (url_token TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;

                    CREATE TABLE idempotency (
                      url_token TEXT NOT NULL,
                      key TEXT NOT NULL,
                      status INTEGER NOT NULL,
                      body BLOB NOT NULL,
                      created_at INTEGER NOT NULL,
                      PRIMARY KEY (url_token, key)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2: ids and texts as bytes") { db in
            // Bound as BLOBs from now on (U+0000 survives); earlier rows are converted so that
            // they compare equal to the new bindings.
            try db.execute(
                sql: """
                    UPDATE sessions SET session_id = CAST(session_id AS BLOB), user_id = CAST(user_id AS BLOB);
                    UPDATE inputs SET session_id = CAST(session_id AS BLOB), user_id = CAST(user_id AS BLOB), text = CAST(text AS BLOB);
                    UPDATE outputs SET session_id = CAST(session_id AS BLOB), user_id = CAST(user_id AS BLOB), text = CAST(text AS BLOB);
                    """)
        }
        migrator.registerMigration("v3: schedules") { db in
            try db.execute(
                sql: """
                    ALTER TABLE sessions ADD COLUMN schedules TEXT;
                    ALTER TABLE sessions ADD COLUMN next_due_at INTEGER;
                    CREATE INDEX sessions_by_due_time ON sessions (next_due_at) WHERE next_due_at IS NOT NULL;
                    ALTER TABLE outputs ADD COLUMN scheduled_id TEXT;
                    ALTER TABLE outputs ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        migrator.registerMigration("v4: operators") { db in
            // Handover state on the session, the operator on an output, and the audit log
            // (its sequence never reused, so the log's cursor stays valid after erasures).
            try db.execute(
                sql: """
                    ALTER TABLE sessions ADD COLUMN operator TEXT;
                    ALTER TABLE sessions ADD COLUMN operator_since INTEGER;
                    ALTER TABLE sessions ADD COLUMN operator_active_at INTEGER;
                    CREATE INDEX sessions_handed_over ON sessions (url_token, operator_active_at) WHERE operator IS NOT NULL;
                    ALTER TABLE outputs ADD COLUMN operator TEXT;
                    CREATE INDEX outputs_by_user ON outputs (url_token, user_id);
                    CREATE INDEX inputs_by_user ON inputs (url_token, user_id);
                    CREATE TABLE audit (
                      sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                      at INTEGER NOT NULL,
                      key_name TEXT NOT NULL,
                      action TEXT NOT NULL,
                      url_token TEXT,
                      session_id BLOB,
                      user_id BLOB,
                      output_id TEXT,
                      detail TEXT,
                      target_erased INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX audit_by_user ON audit (url_token, user_id);
                    """)
        }
        migrator.registerMigration("v5: users of sessions") { db in
            // Erasure finds a user's inputs and outputs through the sessions the user started or
            // wrote in, then the per-session indexes. The indexes by user that v4 added put
            // two random B-tree pages in the WAL for every message (docs/performance.md);
            // this table gets a row per session and user instead, not per message.
            try db.execute(
                sql: """
                    CREATE TABLE user_sessions (
                      url_token TEXT NOT NULL,
                      user_id BLOB NOT NULL,
                      session_id BLOB NOT NULL,
                      PRIMARY KEY (url_token, user_id, session_id)
                    ) WITHOUT ROWID;
                    INSERT OR IGNORE INTO user_sessions SELECT url_token, user_id, session_id FROM sessions;
                    INSERT OR IGNORE INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM inputs;
                    INSERT OR IGNORE INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM outputs;
                    DROP INDEX inputs_by_user;
                    DROP INDEX outputs_by_user;
                    """)
        }
        migrator.registerMigration("v6: users of sessions, again") { db in
            // Until 2026-12-02 a session that expired and was started over by another user did
            // not note that user in `user_sessions` (only a session without a row did), so an
            // erasure of them missed their inputs and outputs. Noted again, as v5 did, from the
            // rows themselves.
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO user_sessions SELECT url_token, user_id, session_id FROM sessions;
                    INSERT OR IGNORE INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM inputs;
                    INSERT OR IGNORE INTO user_sessions SELECT DISTINCT url_token, user_id, session_id FROM outputs;
                    """)
        }
        migrator.registerMigration("v7: rich outputs and receipts") { db in
            // Rich content beside the attachments (which keep their column); the channel's id
            // of the message that delivered an output, and the furthest status its receipts
            // gave. A receipt that comes before the send's answer recorded the id waits in
            // `early_receipts` until it does.
            try db.execute(
                sql: """
                    ALTER TABLE outputs ADD COLUMN rich TEXT;
                    ALTER TABLE outputs ADD COLUMN channel_message_id TEXT;
                    ALTER TABLE outputs ADD COLUMN receipt_status TEXT;
                    ALTER TABLE outputs ADD COLUMN receipt_at INTEGER;
                    ALTER TABLE outputs ADD COLUMN receipt_error TEXT;
                    CREATE INDEX outputs_by_channel_message ON outputs (url_token, channel_message_id) WHERE channel_message_id IS NOT NULL;
                    CREATE TABLE early_receipts (
                      url_token TEXT NOT NULL,
                      channel_message_id TEXT NOT NULL,
                      status TEXT NOT NULL,
                      at INTEGER NOT NULL,
                      error TEXT,
                      PRIMARY KEY (url_token, channel_message_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX early_receipts_by_time ON early_receipts (at);
                    """)
        }
        migrator.registerMigration("v8: flow calls") { db in
            // A session waiting for a call's answer (SPEC §13): which call, how many this input
            // set off, and the inputs queued behind it, as JSON.
            try db.execute(sql: "ALTER TABLE sessions ADD COLUMN waiting_call TEXT")
        }
        migrator.registerMigration("v9: flow versions and runtime endpoints") { db in
            // Sessions keep the flow version they run on, outputs name the version that made
            // them (SPEC §14); every version's text is kept, so a restart resumes sessions on old
            // versions. Flow names and endpoints made through the admin API; `revision`
            // increases with every change of either.
            try db.execute(
                sql: """
                    ALTER TABLE sessions ADD COLUMN flow_version TEXT;
                    ALTER TABLE outputs ADD COLUMN flow_version TEXT;
                    CREATE TABLE flows (
                      version TEXT PRIMARY KEY NOT NULL,
                      yaml BLOB NOT NULL,
                      file TEXT NOT NULL,
                      created_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE flow_names (
                      name TEXT PRIMARY KEY NOT NULL,
                      version TEXT NOT NULL,
                      updated_at INTEGER NOT NULL,
                      revision INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE endpoints (
                      url_token TEXT PRIMARY KEY NOT NULL,
                      settings TEXT NOT NULL,
                      flow_name TEXT,
                      flow_version TEXT,
                      updated_at INTEGER NOT NULL,
                      updated_by TEXT NOT NULL,
                      revision INTEGER NOT NULL,
                      deleted INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v10: the session index") { db in
            // A session's inputs and outputs are found through `session_index`, written in bulk
            // (``SQLiteSessionIndex``), instead of `inputs_by_session` and `outputs_by_session`,
            // which cost a random page per message each. `inputs` gets a `position` of its own,
            // as `outputs` has, so that the index's positions survive a VACUUM (which may
            // renumber an implicit rowid).
            try db.execute(
                sql: """
                    CREATE TABLE inputs_v10 (
                      position INTEGER PRIMARY KEY,
                      id TEXT NOT NULL UNIQUE,
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      text TEXT,
                      data TEXT,
                      source TEXT NOT NULL,
                      received_at INTEGER NOT NULL
                    );
                    INSERT INTO inputs_v10 (position, id, url_token, session_id, user_id, text, data, source, received_at)
                      SELECT rowid, id, url_token, session_id, user_id, text, data, source, received_at FROM inputs ORDER BY rowid;
                    DROP TABLE inputs;
                    ALTER TABLE inputs_v10 RENAME TO inputs;
                    DROP INDEX outputs_by_session;

                    CREATE TABLE session_index (
                      url_token TEXT NOT NULL,
                      session_id BLOB NOT NULL,
                      kind INTEGER NOT NULL,
                      position INTEGER NOT NULL,
                      PRIMARY KEY (url_token, session_id, kind, position)
                    ) WITHOUT ROWID;
                    CREATE TABLE session_index_upto (inputs INTEGER NOT NULL, outputs INTEGER NOT NULL);
                    INSERT INTO session_index_upto VALUES (0, 0);
                    """)
            try SQLiteSessionIndex.catchUp(db)
            try db.execute(sql: SQLiteSessionIndex.triggers)
        }
        return migrator
    }
}
