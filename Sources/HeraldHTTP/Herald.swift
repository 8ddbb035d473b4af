import HeraldCore
import HeraldSQLite
import HeraldWebhook
import Logging
import ServiceLifecycle

/// A running Herald's parts, assembled from its configuration: the store, the writer in front
/// of it, the session registry, the outbox, the libcurl client and the delivery service.
///
/// ``services`` lists the long-lived ones in start order; they stop in reverse, after the HTTP
/// server: delivery stops, the writer drains, the client stops, the store closes.
public struct Herald: Sendable {
    public let configuration: HeraldConfiguration
    public let store: any HeraldStore
    public let writer: StoreWriter
    public let outbox: Outbox
    public let registry: SessionRegistry
    public let client: CurlWebhookClient
    public let delivery: DeliveryService
    public let sweeper: SessionSweeper
    public let logger: Logger

    /// Operators' actions on deliveries: retry, resume.
    public var deliveries: Deliveries { Deliveries(store: store, writer: writer, outbox: outbox) }

    public var services: [any Service] {
        [StoreService(store: store), client, writer, delivery, sweeper]
    }

    /// Opens the store, resumes undelivered outputs and wires the message path together.
    ///
    /// `maxCommitBatch` caps how many changes one store transaction takes (group commit); 1
    /// turns group commit off, which only benchmarks want.
    public static func start(configuration: HeraldConfiguration, maxCommitBatch: Int = 2000, logger: Logger) async throws -> Herald {
        _ = HeraldMetrics.registry  // before any counter is made
        let store = try makeStore(configuration.storage, logger: logger)
        try await store.prepare()
        let writer = StoreWriter(store: store, maxBatch: maxCommitBatch, logger: logger)
        let outbox = Outbox(limits: Dictionary(uniqueKeysWithValues: configuration.endpoints.map { ($0.urlToken, $0.webhook.concurrency) }))
        // Outputs from before the last stop go first, before any new message of the same
        // session can be queued behind them.
        let backlog = try await store.undeliveredOutputs()
        outbox.add(backlog)
        for urlToken in try await store.pausedEndpoints() { outbox.pause(urlToken) }
        if !backlog.isEmpty { logger.info("resuming undelivered outputs", metadata: ["count": "\(backlog.count)"]) }
        writer.onCommitted { outputs in outbox.add(outputs) }

        let registry = SessionRegistry(
            endpoints: configuration.endpoints, store: store, writer: writer, cachesSessions: store.isSingleWriter, logger: logger)
        let client = CurlWebhookClient()
        let delivery = DeliveryService(endpoints: configuration.endpoints, outbox: outbox, writer: writer, client: client, logger: logger)
        let sweeper = SessionSweeper(registry: registry, store: store, logger: logger)
        return Herald(
            configuration: configuration, store: store, writer: writer, outbox: outbox, registry: registry, client: client, delivery: delivery,
            sweeper: sweeper, logger: logger)
    }

    static func makeStore(_ location: StorageLocation, logger: Logger) throws -> any HeraldStore {
        switch location {
        case .memory: return MemoryStore()
        case .sqlite(let path): return try SQLiteStore(path: path, logger: logger)
        case .postgres: throw StoreUnavailable(reason: "storage: PostgreSQL is not supported by this build yet")
        }
    }
}

struct StoreUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// Closes the store when everything else has stopped.
struct StoreService: Service {
    let store: any HeraldStore

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
