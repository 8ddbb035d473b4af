/// A value that must never be shown: a webhook password, an API key, a signing secret.
/// Printing, interpolating or logging it gives `***`; the value is only read where it is used.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
}

/// `host:port` to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Where sessions and the outbox are kept.
public enum StorageLocation: Sendable, Hashable, CustomStringConvertible {
    case memory
    case sqlite(path: String)
    /// The URL carries a password, so it is a secret; `description` hides it.
    case postgres(url: Secret)

    public var description: String {
        switch self {
        case .memory: "memory"
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): Self.redacted(url.value)
        }
    }

    /// `postgres://user:***@host/db`
    static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url[schemeEnd.upperBound...].firstIndex(of: "@")
        else { return url }
        let credentials = url[schemeEnd.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}

/// The body shape of webhook POSTs.
public enum WebhookFormat: String, Sendable, Hashable, CaseIterable {
    /// Herald's own (SPEC §3): one object per output with `id`, `seq`, `type`, ….
    case herald
    /// Cognigy.AI's: `{userId, sessionId, AIOutput: {text, data, traceId, source}}`.
    case cognigy
}

/// When to try a failed delivery again, and when to give up.
public struct RetryPolicy: Sendable, Hashable {
    /// Delay before attempt 2, 3, …; the last entry repeats.
    public var schedule: [Duration]
    /// Give up after this many attempts (`nil`: only `maxAge` limits).
    public var maxAttempts: Int?
    /// Give up when the output is older than this.
    public var maxAge: Duration
    /// Each delay is varied by up to this fraction either way, so many failed outputs do not
    /// retry in lockstep.
    public var jitter: Double
    /// 429 and timeouts push the next attempt at least this far out.
    public var throttleDelay: Duration

    public init(
        schedule: [Duration] = RetryPolicy.defaultSchedule, maxAttempts: Int? = nil, maxAge: Duration = .seconds(24 * 3600),
        jitter: Double = 0.2, throttleDelay: Duration = .seconds(60)
    ) {
        self.schedule = schedule
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
        self.jitter = jitter
        self.throttleDelay = throttleDelay
    }

    /// About 1 s, 5 s, 30 s, 2 min, 10 min, 30 min, then hourly.
    public static let defaultSchedule: [Duration] = [
        .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600), .seconds(1800), .seconds(3600),
    ]

    /// The delay after failed attempt number `attempt` (1-based), jittered.
    public func delay(after attempt: Int, random: Double = Double.random(in: -1...1)) -> Duration {
        let base = schedule.isEmpty ? .seconds(1) : schedule[min(max(attempt - 1, 0), schedule.count - 1)]
        let millis = Double(base.milliseconds) * (1 + jitter * random)
        return .milliseconds(Int64(max(0, millis)))
    }
}

/// How an endpoint's outputs reach its webhook.
public struct WebhookSettings: Sendable {
    public var url: String
    public var user: String?
    public var password: Secret?
    public var signingSecret: Secret?
    public var format: WebhookFormat
    public var connectTimeout: Duration
    public var timeout: Duration
    /// PEM file of CAs to trust for https webhooks, instead of the system's.
    public var caBundle: String?
    public var retry: RetryPolicy
    /// At most this many POSTs to this webhook at once.
    public var concurrency: Int

    public init(
        url: String, user: String? = nil, password: Secret? = nil, signingSecret: Secret? = nil, format: WebhookFormat = .herald,
        connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(15), caBundle: String? = nil,
        retry: RetryPolicy = RetryPolicy(), concurrency: Int = 64
    ) {
        self.url = url
        self.user = user
        self.password = password
        self.signingSecret = signingSecret
        self.format = format
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.caBundle = caBundle
        self.retry = retry
        self.concurrency = concurrency
    }
}

/// An endpoint's channel (SPEC §9) as the config names it: the channel file and the values
/// (`channelVars`) it declares. HeraldChannels reads and checks the file; the core only carries
/// the reference.
public struct ChannelReference: Sendable {
    /// The channel file, resolved against the config file's folder.
    public var path: String
    /// `channelVars`, each kept as a ``Secret``: the channel file says which ones may be shown.
    public var vars: [String: Secret]
    /// Where each of `channelVars` is written, for errors (the config file's lines).
    public var varLines: [String: Int]
    /// The config file and the line of `channel:`, for errors.
    public var configFile: String
    public var line: Int?
    /// The URL the channel calls this endpoint at (`publicUrl` + `/` + urlToken), when the
    /// config has a `publicUrl`: channel files give it where the channel asks for a callback
    /// address (Twilio's `StatusCallback`), as `endpoint.url`.
    public var callbackUrl: String?

    public init(path: String, vars: [String: Secret] = [:], varLines: [String: Int] = [:], configFile: String = "<config>", line: Int? = nil) {
        self.path = path
        self.vars = vars
        self.varLines = varLines
        self.configFile = configFile
        self.line = line
    }
}

/// A place clients POST messages to (`POST /{urlToken}`), with its flow and webhook.
///
/// A value, as every setting is; its settings sit in one shared, immutable box (a change makes
/// a new box), because an endpoint is large (its flow, webhooks, channel, calls: 840 bytes
/// inline) and every message carries it from the route through its turn: a copy is then one
/// reference, not a few hundred bytes and dozens of them.
public struct Endpoint: Sendable {
    /// Everything an endpoint says, as the properties of ``Endpoint`` give it.
    struct Settings: Sendable {
        var urlToken: String
        var flow: Flow
        var webhook: WebhookSettings
        var apiKeys: [Secret]
        var sessionTTL: Duration
        var channel: ChannelReference?
        var handover = HandoverSettings()
        var statusWebhook: WebhookSettings?
        var calls = CallSettings()
    }

    private final class Box: Sendable {
        let settings: Settings
        init(_ settings: Settings) { self.settings = settings }
    }

    private var box: Box

    private mutating func change(_ body: (inout Settings) -> Void) {
        var settings = box.settings
        body(&settings)
        box = Box(settings)
    }

    public var urlToken: String {
        get { box.settings.urlToken }
        set { change { $0.urlToken = newValue } }
    }

    public var flow: Flow {
        get { box.settings.flow }
        set { change { $0.flow = newValue } }
    }

    public var webhook: WebhookSettings {
        get { box.settings.webhook }
        set { change { $0.webhook = newValue } }
    }

    /// When not empty, callers must send one of these in `X-Webhook-Key`.
    public var apiKeys: [Secret] {
        get { box.settings.apiKeys }
        set { change { $0.apiKeys = newValue } }
    }

    /// Sessions idle for longer expire.
    public var sessionTTL: Duration {
        get { box.settings.sessionTTL }
        set { change { $0.sessionTTL = newValue } }
    }

    /// When set, the endpoint speaks this channel's protocol instead of Herald's JSON: inbound
    /// requests and outgoing webhook requests are translated by the channel file (SPEC §9).
    /// `webhook.url` is then unused (the channel's output says where to send).
    public var channel: ChannelReference? {
        get { box.settings.channel }
        set { change { $0.channel = newValue } }
    }

    /// What happens while an operator has a session (SPEC §11): where the user's messages go,
    /// and when the session goes back to its flow by itself.
    public var handover: HandoverSettings {
        get { box.settings.handover }
        set { change { $0.handover = newValue } }
    }

    /// Where status events go (SPEC §12): `{type: "status", outputId, sessionId, status, at,
    /// error?}` each time an output's status moves, delivered like outputs. `nil`: none are made.
    public var statusWebhook: WebhookSettings? {
        get { box.settings.statusWebhook }
        set { change { $0.statusWebhook = newValue } }
    }

    /// Which hosts the flow's `call` nodes may reach, how many calls one input may set off, and
    /// the secrets their `${NAME}` references use (SPEC §13). By default no call may be made.
    public var calls: CallSettings {
        get { box.settings.calls }
        set { change { $0.calls = newValue } }
    }

    public init(
        urlToken: String, flow: Flow, webhook: WebhookSettings, apiKeys: [Secret] = [], sessionTTL: Duration = .seconds(1800),
        channel: ChannelReference? = nil
    ) {
        box = Box(Settings(urlToken: urlToken, flow: flow, webhook: webhook, apiKeys: apiKeys, sessionTTL: sessionTTL, channel: channel))
    }
}

/// An endpoint's `handover` section.
public struct HandoverSettings: Sendable {
    /// Receives the user's messages while an operator has the session (as outputs of type
    /// `userMessage`, with the delivery guarantees of any output). `nil`: they are only recorded.
    public var webhook: WebhookSettings?
    /// A session whose operator did nothing (no handover, no reply) for this long goes back to
    /// its flow by itself. `nil`: only an explicit handback ends a handover.
    public var idleTimeout: Duration?

    public init(webhook: WebhookSettings? = nil, idleTimeout: Duration? = nil) {
        self.webhook = webhook
        self.idleTimeout = idleTimeout
    }
}

/// `log: {format: text | json, level: trace … critical}`: text lines for a terminal, or one
/// JSON object a line for a log pipeline.
public struct LogSettings: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable, CaseIterable {
        case text, json
    }

    public var format: Format
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`; `nil`: the
    /// command line's `--log-level` (default `info`).
    public var level: String?

    public init(format: Format = .text, level: String? = nil) {
        self.format = format
        self.level = level
    }

    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
}

/// Everything `herald serve` reads from its config file (SPEC §6).
public struct HeraldConfiguration: Sendable {
    /// The file it came from, for messages.
    public var file: String
    public var listen: ListenAddress
    /// `admin.keys`: at least one; each with a name and a scope.
    public var adminKeys: [AdminKey]
    /// A separate listener for the admin API; `nil` serves it on `listen`.
    public var adminListen: ListenAddress?
    public var storage: StorageLocation
    public var endpoints: [Endpoint]
    /// Request bodies above this are answered 413.
    public var maxBodySize: Int
    /// PostgreSQL only: how long an instance's claim on a session's deliveries lasts without
    /// renewal; after it, another instance takes the session over (a dead instance's work).
    public var outboxLease: Duration = .seconds(30)
    /// Delivered and dead outputs, their attempts and inputs are kept this long (transcripts,
    /// the attempt log), then pruned. Undelivered outputs are kept until delivered or dead.
    public var history: Duration = .seconds(7 * 86400)
    /// The furthest ahead a notify or inject may be scheduled (`delay` or `sendAt`).
    public var maxScheduleDelay: Duration = .seconds(365 * 86400)
    /// How callers reach Herald, e.g. `https://bots.example.com`: channels whose signature
    /// covers the request URL (Twilio) sign this plus the path. `nil`: the request's `Host`.
    public var publicUrl: String?
    /// How `herald serve` logs (`log: {format, level}`).
    public var log = LogSettings()
    /// OpenTelemetry spans over OTLP/HTTP (SPEC §15); `nil` (the default): no spans.
    public var tracing: TracingSettings?

    public init(
        file: String = "<config>", listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080), adminKeys: [AdminKey] = [],
        adminListen: ListenAddress? = nil, storage: StorageLocation = .memory, endpoints: [Endpoint], maxBodySize: Int = 1 << 20
    ) {
        self.file = file
        self.listen = listen
        self.adminKeys = adminKeys
        self.adminListen = adminListen
        self.storage = storage
        self.endpoints = endpoints
        self.maxBodySize = maxBodySize
    }

    public func endpoint(_ urlToken: String) -> Endpoint? {
        endpoints.first { $0.urlToken == urlToken }
    }
}

/// `tracing: {otlp: {endpoint, headers?, protocol?}, sampleRatio?}`: where spans go.
public struct TracingSettings: Sendable {
    public enum OTLPProtocol: String, Sendable, CaseIterable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// The collector's OTLP/HTTP base URL (`/v1/traces` is added), e.g. `http://127.0.0.1:4318`.
    public var endpoint: String
    /// Sent with every export (an API key of a hosted collector); never logged.
    public var headers: [(name: String, value: Secret)]
    public var otlpProtocol: OTLPProtocol
    /// The share of traces that are recorded (0 to 1); a caller's sampled `traceparent` is
    /// followed either way.
    public var sampleRatio: Double
    /// How often finished spans are sent.
    public var exportInterval: Duration

    public init(
        endpoint: String, headers: [(name: String, value: Secret)] = [], otlpProtocol: OTLPProtocol = .protobuf, sampleRatio: Double = 1,
        exportInterval: Duration = .seconds(5)
    ) {
        self.endpoint = endpoint
        self.headers = headers
        self.otlpProtocol = otlpProtocol
        self.sampleRatio = sampleRatio
        self.exportInterval = exportInterval
    }
}
