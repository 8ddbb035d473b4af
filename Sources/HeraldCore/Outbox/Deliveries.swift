/// What operators do with deliveries: retry one now (a dead letter, or a failed output before
/// its next scheduled attempt) and resume an endpoint that a 410 paused.
public struct Deliveries: Sendable {
    let store: any HeraldStore
    let writer: StoreWriter
    let outbox: Outbox
    let requeue: @Sendable (OutboxEntry) async -> Void

    /// `requeue` puts a retried dead output back in line; by default into the local outbox
    /// (with a shared store, the instance that holds the session's lease gets it).
    public init(store: any HeraldStore, writer: StoreWriter, outbox: Outbox, requeue: (@Sendable (OutboxEntry) async -> Void)? = nil) {
        self.store = store
        self.writer = writer
        self.outbox = outbox
        self.requeue = requeue ?? { entry in outbox.add([entry]) }
    }

    /// Attempts the output again. A dead output goes back to the end of its session's queue
    /// with a fresh retry window; a failed one is attempted now instead of at its retry time.
    /// A delivered output is refused (409).
    @discardableResult
    public func retry(outputId: String) async throws(HeraldError) -> DeliveryRecord {
        let found: DeliveryRecord?
        do {
            found = try await store.delivery(outputId: outputId)
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
        guard var record = found else { throw .unknownOutput(outputId) }
        switch record.status {
        case .delivered:
            throw .invalidState("outputId: '\(outputId)' was already delivered")
        case .dead:
            let update = DeliveryUpdate(outputId: outputId, status: .pending, attempts: record.attempts, nextAttemptAt: nil, attempt: nil)
            do {
                try await writer.commit(.delivery(update))
            } catch {
                throw .unavailable("the store could not record the retry: \(error)")
            }
            await requeue(OutboxEntry(output: record.output, attempts: record.attempts, retryWindowStart: .now()))
            record.status = .pending
            record.nextAttemptAt = nil
        case .failed, .pending:
            _ = outbox.retryNow(outputId: outputId)
            record.nextAttemptAt = nil
        }
        return record
    }

    /// Resumes delivery to an endpoint paused by a 410 Gone.
    public func resume(urlToken: String) async throws(HeraldError) {
        do {
            try await writer.commit(.endpointPaused(urlToken: urlToken, paused: false))
        } catch {
            throw .unavailable("the store could not record the resume: \(error)")
        }
        outbox.resume(urlToken)
    }
}
