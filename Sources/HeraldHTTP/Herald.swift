import HeraldChannels
import HeraldCore
import HeraldWebhook
import Logging
import ServiceLifecycle

/// A running Herald's parts: the store, the writer in front of it, the session registry, the
/// outbox and what feeds it, the libcurl client and the delivery service. The routes read them;
/// `Herald.start` in HeraldServer (the composition root) chooses the store and assembles them.
///
/// ``services`` lists the long-lived ones in start order; they stop in reverse, after the HTTP
/// server: delivery stops, the writer drains, the client stops, the store closes.
/// ``prepare()`` runs once they are up and before the server accepts anything.
public struct Herald: Sendable {
    /// The configuration served now, swapped whole by a reload or an endpoint change
    /// (SPEC §14). A request reads ``LiveConfiguration/snapshot`` once and keeps it.
    public let live: LiveConfiguration
    /// Reloads the config file and merges in the endpoints made through the admin API.
    public let reloader: ConfigurationReloader
    public let store: any HeraldStore
    public let writer: StoreWriter
    public let outbox: Outbox
    /// Resumes the backlog at start and takes operators' retries: this process's own outbox,
    /// or, with PostgreSQL, the leases that share the work among instances.
    public let feed: any OutboxFeed
    public let registry: SessionRegistry
    public let client: CurlWebhookClient
    public let delivery: DeliveryService
    /// Expires idle sessions and prunes old history.
    public let sweeper: SessionSweeper
    /// Fires scheduled messages, reminders and timeouts when they are due.
    public let scheduler: Scheduler
    /// Hands sessions back when their operator was idle past `handover.idleTimeout`.
    public let handoverTimeout: HandoverTimeout
    /// The long-lived parts, in start order.
    public let services: [any Service]
    public let logger: Logger
    /// The time a request arrives, for channel signatures with a time window. The wall clock
    /// unless a test sets another.
    public var now: @Sendable () -> Timestamp = { Timestamp.now() }

    public init(
        live: LiveConfiguration, reloader: ConfigurationReloader, store: any HeraldStore, writer: StoreWriter, outbox: Outbox,
        feed: any OutboxFeed, registry: SessionRegistry, client: CurlWebhookClient, delivery: DeliveryService, sweeper: SessionSweeper,
        scheduler: Scheduler, handoverTimeout: HandoverTimeout, services: [any Service], logger: Logger
    ) {
        self.live = live
        self.reloader = reloader
        self.store = store
        self.writer = writer
        self.outbox = outbox
        self.feed = feed
        self.registry = registry
        self.client = client
        self.delivery = delivery
        self.sweeper = sweeper
        self.scheduler = scheduler
        self.handoverTimeout = handoverTimeout
        self.services = services
        self.logger = logger
    }

    /// The configuration served now: the config file's settings, and every endpoint served
    /// (the file's and those made through the admin API). Read once per request.
    public var configuration: HeraldConfiguration { live.snapshot.configuration }

    /// The compiled channel of each channel endpoint served now, by `urlToken` (SPEC §9).
    public var channels: [String: HeraldChannels.Channel] {
        live.snapshot.endpoints.compactMapValues { $0.channel as? HeraldChannels.Channel }
    }

    /// Operators' actions on deliveries: retry, resume.
    public var deliveries: Deliveries {
        Deliveries(store: store, writer: writer, outbox: outbox) { [feed] entry in await feed.requeue(entry) }
    }

    /// Migrates the store and resumes what was not delivered before the last stop. Runs after
    /// the services start (the PostgreSQL pool must run) and before the server accepts
    /// requests, so resumed outputs are queued before any new output of their session.
    public func prepare() async throws {
        try await store.prepare()
        // The config file's flow versions stored, the endpoints made through the admin API
        // served (and deleted ones kept for their queued outputs) before anything is resumed.
        try await reloader.start()
        for urlToken in try await store.pausedEndpoints() { outbox.pause(urlToken) }
        try await feed.start()
        // Schedules fire only now: what they produce comes after the backlog, queued once.
        scheduler.start()
    }
}
