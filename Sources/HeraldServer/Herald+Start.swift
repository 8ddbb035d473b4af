import HeraldChannels
import HeraldCore
import HeraldHTTP
import HeraldPostgres
import HeraldSQLite
import HeraldWebhook
import Hummingbird
import Logging
import ServiceLifecycle
import Tracing

// The composition root: the one place that reads the configuration's choice of store and
// wires the message path together. Everything below it knows only the store protocol.

/// Builds the Herald application from a configuration: assembles its parts (``Herald/start``)
/// and serves the routes. `herald serve` runs it; tests build the same one.
///
/// With `reloadOnSignal`, `SIGHUP` reloads the config file (what `herald serve` wants; tests
/// call ``ConfigurationReloader/reload()`` instead).
public func buildApplication(
    configuration: HeraldConfiguration, maxCommitBatch: Int = 2000, reloadOnSignal: Bool = false, logger: Logger
) async throws -> some ApplicationProtocol {
    let herald = try await Herald.start(configuration: configuration, maxCommitBatch: maxCommitBatch, reloadOnSignal: reloadOnSignal, logger: logger)
    return buildApplication(herald: herald)
}

extension Herald {
    /// Assembles Herald's parts from its configuration. Nothing touches the store until
    /// ``Herald/prepare()``.
    ///
    /// `maxCommitBatch` caps how many changes one store transaction takes (group commit); 1
    /// turns group commit off, which only benchmarks want. `clock` is the time schedules,
    /// timeouts and session expiry follow (a ``ManualClock`` in tests and playbooks).
    public static func start(
        configuration: HeraldConfiguration, maxCommitBatch: Int = 2000, clock: HeraldClock = .system, reloadOnSignal: Bool = false,
        logger: Logger
    ) async throws -> Herald {
        _ = HeraldMetrics.registry  // before any counter is made
        // Channel files first: a bad one stops start-up with file:line before anything opens.
        let channels = try loadChannels(configuration)
        // The one configuration every part reads, swapped whole by reloads and endpoint changes.
        let live = LiveConfiguration(configuration, channels: channels)
        let store = try makeStore(configuration.storage, logger: logger)
        let writer = StoreWriter(store: store, maxBatch: maxCommitBatch, logger: logger)
        let outbox = Outbox(limits: Dictionary(uniqueKeysWithValues: configuration.endpoints.map { ($0.urlToken, $0.webhook.concurrency) }))
        let reloader = ConfigurationReloader(
            live: live, store: store, outbox: outbox, compileChannel: { reference throws(FileError) in try HeraldChannels.Channel.load(reference) },
            logger: logger)
        // The outbox's feed: with PostgreSQL, leases share the sessions among instances (and
        // announce committed outputs); otherwise every commit goes straight to this outbox.
        let feed: any OutboxFeed
        var leases: OutboxLeases?
        if let postgres = store as? PostgresStore {
            leases = OutboxLeases(store: postgres, outbox: outbox, writer: writer, leaseDuration: configuration.outboxLease, logger: logger)
            feed = leases!
        } else {
            feed = LocalOutboxFeed(store: store, writer: writer, outbox: outbox, logger: logger)
        }
        let registry = SessionRegistry(live: live, store: store, writer: writer, cachesSessions: store.isSingleWriter, clock: clock, logger: logger)
        let client = CurlWebhookClient()
        let delivery = DeliveryService(live: live, outbox: outbox, writer: writer, client: client, registry: registry, logger: logger)
        let sweeper = SessionSweeper(registry: registry, store: store, history: configuration.history, logger: logger)
        let scheduler = Scheduler(registry: registry, store: store, logger: logger)
        let handoverTimeout = HandoverTimeout(registry: registry, store: store, logger: logger)
        // Start order; they stop in reverse after the HTTP server: delivery stops, the writer
        // drains, the client stops, the store closes, and the tracer sends its last spans.
        var services: [any Service] = []
        if let tracing = configuration.tracing, let tracer = try TracingBootstrap.start(tracing, logger: logger) { services.append(tracer) }
        services += [StoreService(store: store), client, writer]
        if let leases { services.append(leases) }
        services += [delivery, sweeper, scheduler, handoverTimeout]
        // Instances sharing a store serve each other's endpoint changes (SPEC §14: within 2 s).
        if !store.isSingleWriter { services.append(ConfigurationWatcher(reloader: reloader, logger: logger)) }
        if reloadOnSignal { services.append(ReloadOnSignal(reloader: reloader, logger: logger)) }
        return Herald(
            live: live, reloader: reloader, store: store, writer: writer, outbox: outbox, feed: feed, registry: registry, client: client,
            delivery: delivery, sweeper: sweeper, scheduler: scheduler, handoverTimeout: handoverTimeout, services: services, logger: logger)
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

    static func makeStore(_ location: StorageLocation, logger: Logger) throws -> any HeraldStore {
        switch location {
        case .memory: return MemoryStore()
        case .sqlite(let path): return try SQLiteStore(path: path, logger: logger)
        case .postgres(let url): return try PostgresStore(url: url.value, logger: logger)
        }
    }
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
