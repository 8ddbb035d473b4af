import GRDB
import HeraldCore
import HeraldWebhook
import Logging
import ServiceLifecycle
import Synchronization

/// The floor's SQLite file: the rows Herald's path writes for one echo message, and no more.
///
/// Stored like Herald's ``SQLiteStore``: WAL (GRDB's `DatabasePool`), `synchronous=FULL`, and
/// the same checkpoint settings, so a difference in the benchmark is not a difference in
/// tuning. Rows are bound with GRDB's `StatementArguments`, its ordinary API (Herald binds its
/// hot statements through SQLite's C API, which it measured at a few µs less).
///
/// Tables: `inputs` and `outputs` keyed by id, the attempts by output and number, and the
/// index of undelivered outputs that a restart needs to find what to send again. No index by
/// session or user (Herald keeps those to read and erase a conversation: its own work).
final class FloorStore: Sendable {
    private let pool: DatabasePool

    init(path: String) async throws {
        var configuration = Configuration()
        configuration.label = "herald-bench-floor"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 250")
            try db.execute(sql: "PRAGMA journal_size_limit = \(8 << 20)")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try await pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS inputs (
                      id TEXT PRIMARY KEY NOT NULL,
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      text TEXT,
                      data TEXT,
                      received_at INTEGER NOT NULL
                    );
                    CREATE TABLE IF NOT EXISTS outputs (
                      id TEXT PRIMARY KEY NOT NULL,
                      url_token TEXT NOT NULL,
                      session_id TEXT NOT NULL,
                      user_id TEXT NOT NULL,
                      seq INTEGER NOT NULL,
                      text TEXT,
                      data TEXT,
                      input_id TEXT,
                      created_at INTEGER NOT NULL,
                      status TEXT NOT NULL,
                      attempts INTEGER NOT NULL DEFAULT 0,
                      last_error TEXT,
                      delivered_at INTEGER
                    );
                    CREATE INDEX IF NOT EXISTS outputs_undelivered ON outputs (status) WHERE status IN ('pending', 'failed');
                    CREATE TABLE IF NOT EXISTS attempts (
                      output_id TEXT NOT NULL,
                      number INTEGER NOT NULL,
                      started_at INTEGER NOT NULL,
                      duration_ms INTEGER NOT NULL,
                      status_code INTEGER,
                      error TEXT,
                      response_body TEXT,
                      PRIMARY KEY (output_id, number)
                    ) WITHOUT ROWID;
                    """)
        }
    }

    /// Writes one batch in one transaction (GRDB's writer queue; the commit is the fsync).
    func write(messages: [FloorMessage], attempts: [DeliveryAttempt]) async throws {
        try await pool.write { db in
            let insertInput = try db.cachedStatement(
                sql: "INSERT INTO inputs (id, url_token, session_id, user_id, text, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            let insertOutput = try db.cachedStatement(
                sql: """
                    INSERT INTO outputs (id, url_token, session_id, user_id, seq, text, data, input_id, created_at, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
                    """)
            for message in messages {
                let output = message.output
                try insertInput.execute(arguments: [
                    message.inputId, output.session.urlToken, output.session.sessionId, output.userId, message.text, message.data,
                    output.timestamp.milliseconds,
                ])
                try insertOutput.execute(arguments: [
                    output.id, output.session.urlToken, output.session.sessionId, output.userId, output.seq, output.text, message.data,
                    output.inputId, output.timestamp.milliseconds,
                ])
            }
            let updateOutput = try db.cachedStatement(
                sql: "UPDATE outputs SET status = ?, attempts = ?, last_error = ?, delivered_at = ? WHERE id = ?")
            let insertAttempt = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO attempts (output_id, number, started_at, duration_ms, status_code, error, response_body)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            for attempt in attempts {
                let deliveredAt: Int64? = attempt.delivered ? attempt.startedAt.milliseconds + attempt.durationMilliseconds : nil
                try updateOutput.execute(arguments: [
                    attempt.delivered ? "delivered" : "failed", attempt.number, attempt.error, deliveredAt, attempt.outputId,
                ])
                try insertAttempt.execute(arguments: [
                    attempt.outputId, attempt.number, attempt.startedAt.milliseconds, attempt.durationMilliseconds, attempt.statusCode,
                    attempt.error, attempt.responseBody,
                ])
            }
        }
    }

    func close() async throws {
        try pool.close()
    }
}

extension DeliveryAttempt {
    /// The floor's one attempt at an output, recorded in Herald's own shape: `result` is the
    /// webhook's answer (a non-2xx status is an error) or the transport's failure.
    init(outputId: String, startedAt: Timestamp, result: Result<WebhookResponse, WebhookError>) {
        let duration = Timestamp.now().milliseconds - startedAt.milliseconds
        switch result {
        case .success(let response):
            self.init(
                outputId: outputId, number: 1, startedAt: startedAt, durationMilliseconds: duration, statusCode: response.status,
                error: (200..<300).contains(response.status) ? nil : "HTTP \(response.status)",
                responseBody: response.body.isEmpty ? nil : String(decoding: response.body, as: UTF8.self))
        case .failure(let failure):
            self.init(
                outputId: outputId, number: 1, startedAt: startedAt, durationMilliseconds: duration, statusCode: nil,
                error: failure.description, responseBody: nil)
        }
    }

    /// The webhook answered 2xx.
    var delivered: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
}

/// Group commit: every message and attempt queued while a transaction is written goes into the
/// next one. ``record(_:)`` returns once its message is durable (the route answers 202 only
/// then); ``submit(_:)`` queues an attempt without waiting, as Herald's `StoreWriter` does with
/// delivery results.
final class FloorWriter: Service, Sendable {
    /// What one transaction writes, and the requests waiting for it.
    private struct Batch {
        var messages: [FloorMessage] = []
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var attempts: [DeliveryAttempt] = []

        var isEmpty: Bool { messages.isEmpty && attempts.isEmpty }
    }

    private struct State {
        var queued = Batch()
        var wakeup: CheckedContinuation<Void, Never>?
        var stopping = false
        var stopped = false
    }

    struct Stopped: Error, CustomStringConvertible {
        var description: String { "the floor is shutting down" }
    }

    private let store: FloorStore
    private let logger: Logger
    private let state = Mutex(State())

    init(store: FloorStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Queues the message's rows and returns once they are committed.
    func record(_ message: FloorMessage) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let (accepted, wakeup) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.stopped { return (false, nil) }
                state.queued.messages.append(message)
                state.queued.waiting.append(continuation)
                defer { state.wakeup = nil }
                return (true, state.wakeup)
            }
            if !accepted { continuation.resume(throwing: Stopped()) }
            wakeup?.resume()
        }
    }

    /// Queues an attempt for the next transaction.
    func submit(_ attempt: DeliveryAttempt) {
        let wakeup = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.stopped { return nil }
            state.queued.attempts.append(attempt)
            defer { state.wakeup = nil }
            return state.wakeup
        }
        wakeup?.resume()
    }

    /// Writes until graceful shutdown, then writes what is queued and returns.
    func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.loop()
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    private func stop() {
        let wakeup = state.withLock { state in
            state.stopping = true
            defer { state.wakeup = nil }
            return state.wakeup
        }
        wakeup?.resume()
    }

    private func loop() async {
        while true {
            let taken = state.withLock { state -> Batch? in
                if state.queued.isEmpty {
                    if state.stopping { state.stopped = true }
                    return nil
                }
                var batch = Batch()
                swap(&batch, &state.queued)
                return batch
            }
            guard let batch = taken else {
                if state.withLock({ $0.stopped }) { return }
                await waitForWork()
                continue
            }
            do {
                try await store.write(messages: batch.messages, attempts: batch.attempts)
                for continuation in batch.waiting { continuation.resume() }
            } catch {
                logger.error("floor: a transaction failed; its requests get a 500", metadata: ["error": "\(error)"])
                for continuation in batch.waiting { continuation.resume(throwing: error) }
            }
        }
    }

    private func waitForWork() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if !state.queued.isEmpty || state.stopping { return true }
                state.wakeup = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
