import HeraldChannels
import HeraldCore
import HeraldPostgres
import HeraldSQLite
import HeraldWebhook
import Logging
import ServiceLifecycle

/// A running Herald's parts, assembled from its configuration: the store, the writer in front
/// of it, the session registry, the outbox, the libcurl client and the delivery service.
///
/// ``services`` lists the long-lived ones in start order; they stop in reverse, after the HTTP
/// server: delivery stops, the writer drains, the client stops, the store closes.
/// ``prepare()`` runs once they are up and before the server accepts anything.
public struct Herald: Sendable {
    public let configuration: HeraldConfiguration
    public let store: any HeraldStore
    public let writer: StoreWriter
    public let outbox: Outbox
    public let registry: SessionRegistry
    public let client: CurlWebhookClient
    public let delivery: DeliveryService
    public let sweeper: SessionSweeper
    /// Fires scheduled messages, reminders and timeouts when they are due.
    public let scheduler: Scheduler
    /// Hands sessions back when their operator was idle past `handover.idleTimeout`.
    public let handoverTimeout: HandoverTimeout
    /// With PostgreSQL: which instance delivers which session.
    public let leases: OutboxLeases?
    public let logger: Logger
    /// The compiled channel of each channel endpoint, by `urlToken` (SPEC §9).
    public var channels: [String: HeraldChannels.Channel] = [:]
    /// The time a request arrives, for channel signatures with a time window. The wall clock
    /// unless a test sets another.
    public var now: @Sendable () -> Timestamp = { Timestamp.now() }

    /// Operators' actions on deliveries: retry, resume.
    public var deliveries: Deliveries {
        if let leases {
            return Deliveries(store: store, writer: writer, outbox: outbox) { entry in await leases.requeue(entry) }
        }
        return Deliveries(store: store, writer: writer, outbox: outbox)
    }

    public var services: [any Service] {
        var services: [any Service] = [StoreService(store: store), client, writer]
        if let leases { services.append(leases) }
        return services + [delivery, sweeper, scheduler, handoverTimeout]
    }

    /// Wires the message path together. Nothing touches the store until ``prepare()``.
    ///
    /// `maxCommitBatch` caps how many changes one store transaction takes (group commit); 1
    /// turns group commit off, which only benchmarks want. `clock` is the time schedules,
    /// timeouts and session expiry follow (a ``ManualClock`` in tests and playbooks).
    public static func start(
        configuration: HeraldConfiguration, maxCommitBatch: Int = 2000, clock: HeraldClock = .system, logger: Logger
    ) async throws -> Herald {
        _ = HeraldMetrics.registry  // before any counter is made
        // Channel files first: a bad one stops start-up with file:line before anything opens.
        let channels = try loadChannels(configuration)
        let store = try makeStore(configuration.storage, logger: logger)
        let writer = StoreWriter(store: store, maxBatch: maxCommitBatch, logger: logger)
        let outbox = Outbox(limits: Dictionary(uniqueKeysWithValues: configuration.endpoints.map { ($0.urlToken, $0.webhook.concurrency) }))
        var leases: OutboxLeases?
        if let postgres = store as? PostgresStore {
            leases = OutboxLeases(store: postgres, outbox: outbox, writer: writer, leaseDuration: configuration.outboxLease, logger: logger)
        } else {
            writer.onCommitted { outputs in outbox.add(outputs) }
        }
        let registry = SessionRegistry(
            endpoints: configuration.endpoints, store: store, writer: writer, cachesSessions: store.isSingleWriter, clock: clock, logger: logger)
        let client = CurlWebhookClient()
        let delivery = DeliveryService(
            endpoints: configuration.endpoints, channels: channels, outbox: outbox, writer: writer, client: client, registry: registry,
            logger: logger)
        let sweeper = SessionSweeper(registry: registry, store: store, history: configuration.history, logger: logger)
        let scheduler = Scheduler(registry: registry, store: store, logger: logger)
        var herald = Herald(
            configuration: configuration, store: store, writer: writer, outbox: outbox, registry: registry, client: client, delivery: delivery,
            sweeper: sweeper, scheduler: scheduler, handoverTimeout: HandoverTimeout(registry: registry, store: store, logger: logger),
            leases: leases, logger: logger)
        herald.channels = channels
        return herald
    }

    /// Reads and checks the channel file of every channel endpoint, with its `channelVars`.
    public static func loadChannels(_ configuration: HeraldConfiguration) throws(FileError) -> [String: HeraldChannels.Channel] {
        var channels: [String: HeraldChannels.Channel] = [:]
        for endpoint in configuration.endpoints {
            guard let reference = endpoint.channel else { continue }
            channels[endpoint.urlToken] = try HeraldChannels.Channel.load(reference)
        }
        return channels
    }

    /// Migrates the store and resumes what was not delivered before the last stop. Runs after
    /// the services start (the PostgreSQL pool must run) and before the server accepts
    /// requests, so resumed outputs are queued before any new output of their session.
    public func prepare() async throws {
        try await store.prepare()
        for urlToken in try await store.pausedEndpoints() { outbox.pause(urlToken) }
        // With PostgreSQL, the lease scan picks up undelivered outputs session by session.
        if let leases {
            try await leases.start()
        } else {
            let backlog = try await store.undeliveredOutputs()
            outbox.add(backlog)
            if !backlog.isEmpty { logger.info("resuming undelivered outputs", metadata: ["count": "\(backlog.count)"]) }
        }
        // Schedules fire only now: what they produce comes after the backlog, queued once.
        scheduler.start()
    }

    static func makeStore(_ location: StorageLocation, logger: Logger) throws -> any HeraldStore {
        switch location {
        case .memory: return MemoryStore()
        case .sqlite(let path): return try SQLiteStore(path: path, logger: logger)
        case .postgres(let url): return try PostgresStore(url: url.value, logger: logger)
        }
    }
}

struct StoreUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// Runs the store for as long as Herald runs (the PostgreSQL connection pool), and closes it
/// when everything else has stopped.
struct StoreService: Service {
    let store: any HeraldStore

    func run() async throws {
        if let postgres = store as? PostgresStore {
            // The pool runs until cancelled, after the other services stopped.
            try await cancelWhenGracefulShutdown { try await postgres.run() }
            return
        }
        try? await gracefulShutdown()
        try await store.close()
    }
}
