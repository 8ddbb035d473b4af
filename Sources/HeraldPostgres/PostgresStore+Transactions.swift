import HeraldCore
import PostgresNIO
import Synchronization

// Writes: each `StoreWriter` batch in one transaction (``PostgresBatch``).
extension PostgresStore {
    /// A transaction whose errors are the closure's own (postgres-nio wraps them).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    /// Set by ``OutboxLeases``: after each committed batch, `handler` gets the sessions whose
    /// delivery lease the batch holds for this instance, with their undelivered outputs past
    /// the position `queued` says this instance has queued. Without it the store claims no
    /// lease and announces every new output.
    func onClaimedOutputs(
        queued: @escaping @Sendable ([SessionKey]) -> [Int64], _ handler: @escaping @Sendable ([ClaimedOutputs]) -> Void
    ) {
        committedHandler.withLock { $0 = ClaimedOutputsHandler(queued: queued, call: handler) }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        guard !changes.isEmpty else { return }
        let handler = committedHandler.withLock { $0 }
        // Turns whose Idempotency-Key another instance recorded first: the batch is written
        // again without them (rare: the same key sent to two instances at once).
        var excluded = Set<ObjectIdentifier>()
        while true {
            do {
                let leasing = handler.map { (owner: self.owner, queued: $0.queued) }
                let skip = excluded
                let claimed = try await bounded {
                    try await self.transaction { connection in
                        var batch = PostgresBatch(leasing: leasing, excluding: skip, logger: self.logger)
                        try await batch.write(changes, connection)
                        return batch.claimed
                    }
                }
                if let handler, !claimed.isEmpty { handler.call(claimed) }
                return
            } catch let conflict as PostgresBatch.IdempotencyConflicts {
                for (turn, error) in conflict.turns {
                    turn.reject(error)
                    excluded.insert(ObjectIdentifier(turn))
                }
            }
        }
    }
}
