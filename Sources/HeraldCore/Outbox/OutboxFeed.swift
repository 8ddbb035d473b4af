import Logging

/// Where the ``Outbox`` gets work besides what this process just committed: the outputs not
/// delivered before the last stop, and outputs an operator retries.
///
/// Two kinds: ``LocalOutboxFeed`` for a store only this process writes (memory, SQLite), and
/// the PostgreSQL store's outbox leases, which share the work among instances.
public protocol OutboxFeed: Sendable {
    /// Queues what was not delivered before the last stop. Runs once the store is migrated and
    /// before the server accepts requests, so resumed outputs go before new ones of their session.
    func start() async throws
    /// Queues an output an operator retried.
    func requeue(_ entry: OutboxEntry) async
}

/// The feed of a store only this process writes: every committed output goes straight to the
/// outbox, and the backlog is read once at start.
public struct LocalOutboxFeed: OutboxFeed {
    let store: any HeraldStore
    let outbox: Outbox
    let logger: Logger

    /// Hands the writer's committed outputs to the outbox from now on.
    public init(store: any HeraldStore, writer: StoreWriter, outbox: Outbox, logger: Logger) {
        self.store = store
        self.outbox = outbox
        self.logger = logger
        writer.onCommitted { outputs in outbox.add(outputs) }
    }

    public func start() async throws {
        let backlog = try await store.undeliveredOutputs()
        outbox.add(backlog)
        if !backlog.isEmpty { logger.info("resuming undelivered outputs", metadata: ["count": "\(backlog.count)"]) }
    }

    public func requeue(_ entry: OutboxEntry) async {
        outbox.add([entry])
    }
}
