import Foundation
import HTTPTypes
import HeraldCore
import HeraldWebhook
import Hummingbird
import Logging
import NIOCore

/// `herald receive`: a webhook sink that checks basic auth and signatures and reports each
/// delivery as one JSON line: `{"receivedAt", "headers", "body", "signature"?}`.
public struct WebhookReceiver: Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: Secret?
    /// Verify `Webhook-Signature` with this Standard Webhooks secret; invalid → 401.
    public var signingSecret: Secret?
    /// The status to answer accepted deliveries with.
    public var status: Int
    /// The body to answer accepted deliveries with (JSON when it parses as JSON), so the sink
    /// can stand in for a channel's API (`{"ok":true}` for Telegram).
    public var body: String?
    /// Called with each delivery's line.
    public var onDelivery: @Sendable (String) -> Void

    public init(
        host: String = "127.0.0.1", port: Int, user: String? = nil, password: Secret? = nil, signingSecret: Secret? = nil, status: Int = 200,
        onDelivery: @escaping @Sendable (String) -> Void
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.signingSecret = signingSecret
        self.status = status
        self.onDelivery = onDelivery
    }

    public func application(logger: Logger) throws -> some ApplicationProtocol {
        let key = try signingSecret.map { secret in
            guard let key = WebhookSigningKey(secret: secret) else {
                throw ReceiverError(description: "--secret must be 'whsec_' followed by the base64 of 24 to 64 bytes")
            }
            return key
        }
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        let receiver = self
        router.post("**") { request, context in
            try await receiver.handle(request, key: key)
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
    }

    private func handle(_ request: Request, key: WebhookSigningKey?) async throws -> Response {
        let bytes = Array(buffer: try await request.body.collect(upTo: 16 << 20))
        var line = JSONObject()
        line["receivedAt"] = .string(Timestamp.now().iso8601)
        line["path"] = .string(request.uri.path)
        var headers = JSONObject()
        for field in request.headers where field.name != .authorization {
            headers[field.name.canonicalName] = .string(field.value)
        }
        if request.headers[.authorization] != nil { headers["authorization"] = .string("***") }
        line["headers"] = .object(headers)
        line["body"] = (try? JSON.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))

        var verdict: (HTTPResponse.Status, String)?
        if let user, let password {
            if !Self.basicAuthMatches(request.headers[.authorization], user: user, password: password.value) {
                verdict = (.unauthorized, "Authorization: basic auth missing or wrong")
            }
        }
        if verdict == nil, let key {
            let valid: Bool
            if let id = request.headers[Self.webhookId], let timestamp = request.headers[Self.webhookTimestamp].flatMap(Int64.init),
                let signature = request.headers[Self.webhookSignature]
            {
                valid = WebhookSignature.verify(id: id, timestamp: timestamp, body: bytes, header: signature, key: key)
            } else {
                valid = false
            }
            line["signature"] = .string(valid ? "valid" : "invalid")
            if !valid { verdict = (.unauthorized, "Webhook-Signature: missing or not valid for this secret") }
        }
        if let (status, message) = verdict {
            line["rejected"] = .string("\(status.code) \(message)")
            onDelivery(JSON.object(line).jsonString)
            throw APIError(status, message)
        }
        onDelivery(JSON.object(line).jsonString)
        guard let body else { return Response(status: HTTPResponse.Status(code: status)) }
        let contentType = (try? JSON.parse(body)) != nil ? "application/json" : "text/plain"
        return Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static let webhookId = HTTPField.Name("Webhook-Id")!
    static let webhookTimestamp = HTTPField.Name("Webhook-Timestamp")!
    static let webhookSignature = HTTPField.Name("Webhook-Signature")!

    static func basicAuthMatches(_ header: String?, user: String, password: String) -> Bool {
        guard let header, header.lowercased().hasPrefix("basic ") else { return false }
        let expected = Array(Data("\(user):\(password)".utf8).base64EncodedString().utf8)
        return constantTimeEqual(Array(header.dropFirst(6).utf8), expected)
    }
}

struct ReceiverError: Error, CustomStringConvertible {
    var description: String
}
