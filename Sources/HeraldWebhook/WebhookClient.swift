import HeraldCore

/// One webhook POST, as the delivery service builds it. (The `herald` CLI uses the same client
/// for its admin API calls, with other methods and a larger response limit.)
public struct WebhookRequest: Sendable {
    public var method: String = "POST"
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// HTTP basic auth, sent only when both are set.
    public var user: String?
    public var password: Secret?
    public var connectTimeout: Duration
    public var timeout: Duration
    /// PEM file of trusted CAs for https; the system's when `nil`.
    public var caBundle: String?
    /// How much of the response body to keep (the attempt log keeps 4 KiB).
    public var maxResponseBytes: Int = 4096

    public init(
        url: String, headers: [(name: String, value: String)] = [], body: [UInt8], user: String? = nil, password: Secret? = nil,
        connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(15), caBundle: String? = nil
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.user = user
        self.password = password
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.caBundle = caBundle
    }
}

/// The webhook's answer. Any status is a response, 3xx and 5xx included; deciding what it means
/// for delivery is the caller's job.
public struct WebhookResponse: Sendable {
    public var status: Int
    /// The `Retry-After` header, as sent.
    public var retryAfter: String?
    /// The `Content-Type` header, as sent.
    public var contentType: String?
    /// At most the first `maxResponseBytes` (4 KiB) of the body.
    public var body: [UInt8]
    public var duration: Duration

    /// The body as JSON: `null` when empty, the text as a JSON string when it is not JSON (an
    /// answer from a proxy, say), so a caller can always show what came back.
    public var json: JSON {
        if body.isEmpty { return .null }
        return (try? JSON.parse(body)) ?? .string(String(decoding: body, as: UTF8.self))
    }
}

/// Why a webhook POST got no HTTP response. A struct around a private code, like
/// async-http-client's errors, so more cases can be added without breaking callers.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case timeout
        case connectionFailed
        case tls
        case invalidURL
        case transport
        case shutdown
    }

    let code: Code
    /// libcurl's own words, e.g. "Failed to connect to 127.0.0.1 port 9: Connection refused".
    public let detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .timeout: "timeout: \(detail)"
        case .connectionFailed: "connection failed: \(detail)"
        case .tls: "TLS error: \(detail)"
        case .invalidURL: "invalid URL: \(detail)"
        case .transport: "transport error: \(detail)"
        case .shutdown: "client shut down"
        }
    }

    public static func == (lhs: WebhookError, rhs: WebhookError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// The connect or the whole-request timeout passed.
    public static let timeout = WebhookError(.timeout, "")
    /// The host could not be resolved or refused the connection.
    public static let connectionFailed = WebhookError(.connectionFailed, "")
    /// The TLS handshake or the peer's certificate failed.
    public static let tls = WebhookError(.tls, "")
    /// The URL cannot be used (malformed, or not http/https).
    public static let invalidURL = WebhookError(.invalidURL, "")
    /// The connection broke while sending or receiving.
    public static let transport = WebhookError(.transport, "")
    /// The client stopped before the request finished.
    public static let shutdown = WebhookError(.shutdown, "")

    /// Worth another attempt later: everything but a bad URL.
    public var isRetryable: Bool { code != .invalidURL }
}

/// Sends webhook POSTs. ``CurlWebhookClient`` is the implementation.
public protocol WebhookClient: Sendable {
    /// Sends the request and returns the answer; cancelling the task cancels the request.
    func send(_ request: WebhookRequest) async throws(WebhookError) -> WebhookResponse

    /// Starts the request and returns at once; `completion` is called once with the outcome,
    /// on the client's own thread, so it should only hand the outcome on. The delivery service
    /// uses this: no task waits for each POST.
    func start(_ request: WebhookRequest, completion: @escaping @Sendable (Result<WebhookResponse, WebhookError>) -> Void)
}
