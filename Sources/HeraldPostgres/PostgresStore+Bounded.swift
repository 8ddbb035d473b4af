import Synchronization

// Every read a request makes, and each batch, is bounded in time.
extension PostgresStore {
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
