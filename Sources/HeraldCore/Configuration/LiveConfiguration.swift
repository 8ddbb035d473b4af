import Synchronization

/// Where an endpoint is defined.
public enum EndpointOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The config file at this path: read-only through the admin API.
    case file(String)
    /// The admin API (`PUT /admin/v1/endpoints/{urlToken}`), kept in the store.
    case api

    public var description: String {
        switch self {
        case .file(let path): path
        case .api: "api"
        }
    }
}

/// An endpoint as Herald serves it: its settings, where they come from, and what is compiled
/// from them once (the channel, the signing keys), so requests and deliveries only look up.
public struct LiveEndpoint: Sendable {
    public var endpoint: Endpoint
    public var origin: EndpointOrigin
    /// The compiled channel of a channel endpoint. It is HeraldChannels' `Channel`; the core
    /// only carries it, so the HTTP and webhook layers cast it back.
    public var channel: (any Sendable)?
    /// The webhook's Standard Webhooks key, when it has a signing secret.
    public var signingKey: WebhookSigningKey?
    /// The `handover.webhook`'s key.
    public var handoverSigningKey: WebhookSigningKey?
    /// The `statusWebhook`'s key.
    public var statusSigningKey: WebhookSigningKey?
    /// For an endpoint made through the admin API: how it was defined (with its secrets, never
    /// shown) and the flow it names.
    public var definition: EndpointDefinition?

    public init(_ endpoint: Endpoint, origin: EndpointOrigin, channel: (any Sendable)? = nil, definition: EndpointDefinition? = nil) {
        self.endpoint = endpoint
        self.origin = origin
        self.channel = channel
        self.definition = definition
        self.signingKey = endpoint.webhook.signingSecret.flatMap(WebhookSigningKey.init(secret:))
        self.handoverSigningKey = endpoint.handover.webhook?.signingSecret.flatMap(WebhookSigningKey.init(secret:))
        self.statusSigningKey = endpoint.statusWebhook?.signingSecret.flatMap(WebhookSigningKey.init(secret:))
    }
}

/// One state of Herald's configuration, never changed once made: the config file as read and
/// every endpoint served, each with its compiled parts. A request or a delivery attempt reads
/// one snapshot (``LiveConfiguration/snapshot``) and uses it from start to end, so a reload in
/// the middle never mixes two configurations (SPEC §14).
public final class ConfigurationSnapshot: Sendable {
    /// 1 at start-up, one more with every change.
    public let generation: Int
    /// The configuration: the config file's settings, and in `endpoints` every endpoint served
    /// (the file's, then those made through the admin API, by `urlToken`).
    public let configuration: HeraldConfiguration
    /// Every endpoint served, by `urlToken`.
    public let endpoints: [String: LiveEndpoint]
    /// Endpoints no longer served (removed from the config file by a reload, deleted through
    /// the admin API) whose outputs may still be waiting: delivery finds them here, new
    /// messages get 404.
    public let retired: [String: LiveEndpoint]
    /// `endpoints` without the compiled parts, for the registry.
    let plainEndpoints: [String: Endpoint]

    init(generation: Int, configuration: HeraldConfiguration, endpoints: [LiveEndpoint], retired: [String: LiveEndpoint]) {
        var configuration = configuration
        configuration.endpoints = endpoints.map(\.endpoint)
        self.generation = generation
        self.configuration = configuration
        self.endpoints = Dictionary(endpoints.map { ($0.endpoint.urlToken, $0) }, uniquingKeysWith: { first, _ in first })
        self.retired = retired
        self.plainEndpoints = self.endpoints.mapValues(\.endpoint)
    }

    /// The endpoint served at `urlToken`.
    public func endpoint(_ urlToken: String) -> LiveEndpoint? {
        endpoints[urlToken]
    }

    /// The endpoint whose outputs are delivered: served, or retired with outputs still queued.
    public func delivering(_ urlToken: String) -> LiveEndpoint? {
        endpoints[urlToken] ?? retired[urlToken]
    }
}

/// Herald's configuration as it is now: an immutable ``ConfigurationSnapshot`` swapped
/// atomically under one lock (a reload, an endpoint changed through the admin API), and every
/// flow version sessions may still run on.
///
/// The session registry, the delivery service and the routes share one instance; each reads the
/// snapshot once per message, request or delivery attempt.
public final class LiveConfiguration: Sendable {
    private let current: Mutex<ConfigurationSnapshot>
    /// Flow versions by ``Flow/version``: loaded ones, and `nil` for versions the store does
    /// not have either (their sessions go on with the endpoint's current flow).
    private let versions = Mutex<[String: Flow?]>([:])

    /// Starts with `configuration`'s endpoints, all from the config file (or from code).
    public init(_ configuration: HeraldConfiguration, channels: [String: any Sendable] = [:]) {
        let endpoints = configuration.endpoints.map { LiveEndpoint($0, origin: .file(configuration.file), channel: channels[$0.urlToken]) }
        self.current = Mutex(ConfigurationSnapshot(generation: 1, configuration: configuration, endpoints: endpoints, retired: [:]))
        remember(configuration.endpoints.map(\.flow))
    }

    /// The configuration now. Read it once and keep it for the whole request.
    public var snapshot: ConfigurationSnapshot {
        current.withLock { $0 }
    }

    /// Makes `configuration` with `endpoints` the one served, atomically. Endpoints served before
    /// and not now are kept as retired, with `retiring` (deleted through the admin API, maybe
    /// before a restart), so their queued outputs are still delivered; the flows are remembered
    /// (sessions on them go on after a later change).
    @discardableResult
    public func publish(_ configuration: HeraldConfiguration, endpoints: [LiveEndpoint], retiring: [LiveEndpoint] = []) -> ConfigurationSnapshot {
        remember(endpoints.map(\.endpoint.flow))
        return current.withLock { old in
            let served = Set(endpoints.map(\.endpoint.urlToken))
            var retired = old.retired.filter { !served.contains($0.key) }
            for endpoint in retiring where !served.contains(endpoint.endpoint.urlToken) { retired[endpoint.endpoint.urlToken] = endpoint }
            for (urlToken, endpoint) in old.endpoints where !served.contains(urlToken) { retired[urlToken] = endpoint }
            let next = ConfigurationSnapshot(generation: old.generation + 1, configuration: configuration, endpoints: endpoints, retired: retired)
            old = next
            return next
        }
    }

    // MARK: Flow versions

    /// What is known of a flow version.
    public enum FlowVersionLookup: Sendable {
        case loaded(Flow)
        /// Neither here nor in the store.
        case missing
        /// Not loaded yet: ask the store.
        case unknown
    }

    public func flow(version: String) -> FlowVersionLookup {
        versions.withLock { versions in
            switch versions[version] {
            case .none: .unknown
            case .some(.none): .missing
            case .some(.some(let flow)): .loaded(flow)
            }
        }
    }

    /// Keeps these flows' versions for sessions that run on them (flows built in code have no
    /// version and are not kept).
    public func remember(_ flows: [Flow]) {
        versions.withLock { versions in
            for flow in flows where !flow.version.isEmpty {
                if case .some(.some) = versions[flow.version] { continue }
                versions[flow.version] = .some(flow)
            }
        }
    }

    /// Notes that the store does not have this version either.
    public func rememberMissing(_ version: String) {
        versions.withLock { versions in
            if versions[version] == nil { versions[version] = .some(nil) }
        }
    }
}
