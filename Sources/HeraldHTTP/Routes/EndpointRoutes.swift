import HTTPTypes
import HeraldChannels
import HeraldCore
import Hummingbird
import Logging
import NIOCore

/// `POST /{urlToken}`: a user message enters its session (SPEC §1).
///
/// The path of one message: this route validates it, ``SessionRegistry/receive(_:idempotency:)``
/// runs the endpoint's flow in the session's turn and records the input and outputs, the
/// ``Outbox`` queues the outputs, and the ``DeliveryService`` POSTs them with libcurl.
///
/// On a channel endpoint (SPEC §9) the route hands the raw request to the endpoint's
/// ``Channel``, which checks it and maps it to messages (or a handshake answer); `GET
/// /{urlToken}` exists for those handshakes.
struct EndpointRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post(":urlToken", use: receive)
        routes.get(":urlToken", use: handshake)
        return routes
    }

    /// The endpoint the path names (404 when there is none).
    private func endpoint(_ context: Context) throws -> (urlToken: String, endpoint: Endpoint) {
        let urlToken = try context.parameters.require("urlToken")
        return (urlToken, try herald.registry.endpoint(urlToken))
    }

    /// `GET /{urlToken}`: only channels answer it (verification handshakes such as WhatsApp's
    /// `hub.challenge`).
    @Sendable func handshake(request: Request, context: Context) async throws -> Response {
        let (urlToken, endpoint) = try endpoint(context)
        guard let channel = herald.channels[urlToken] else {
            throw APIError(
                .methodNotAllowed, "GET: endpoint '\(urlToken)' takes POST only (GET is for channel handshakes)", headers: [.allow: "POST"])
        }
        return try await receive(request, endpoint, channel)
    }

    @Sendable func receive(request: Request, context: Context) async throws -> Response {
        let (urlToken, endpoint) = try endpoint(context)
        if let channel = herald.channels[urlToken] { return try await receive(request, endpoint, channel) }
        try Self.checkWebhookKey(request, endpoint)
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        let body = try MessageBody.parse(bytes, rules: .init())
        let message = InboundMessage(
            urlToken: urlToken, sessionId: body.sessionId, userId: body.userId!, text: body.text, data: body.data, source: .user,
            createSession: true)
        return try await Self.accept(request, route: "message", herald: herald) { idempotency throws(HeraldError) in
            try await herald.registry.receive(message, idempotency: idempotency)
        }
    }

    /// `X-Webhook-Key` must be one of the endpoint's `apiKeys`, when it has any.
    static func checkWebhookKey(_ request: Request, _ endpoint: Endpoint) throws(APIError) {
        guard !endpoint.apiKeys.isEmpty else { return }
        guard let given = request.headers[.webhookKey] else {
            throw APIError(.unauthorized, "X-Webhook-Key: header is required for this endpoint")
        }
        guard matchesAnyKey(given, endpoint.apiKeys.map { Array($0.value.utf8) }) else {
            throw APIError(.unauthorized, "X-Webhook-Key: not a valid key for this endpoint")
        }
    }

    /// Runs an accepting request (message, inject, notify) with its `Idempotency-Key` and
    /// `?wait=true`, and renders the answer. Keys are scoped by `route` as well as endpoint, so
    /// a key used for a message is not replayed for a notify.
    static func accept(
        _ request: Request, route: String, herald: Herald, _ run: (IdempotencyRequest?) async throws(HeraldError) -> Accepted
    ) async throws -> Response {
        let wait: Bool
        switch request.uri.queryParameters.get("wait") {
        case nil, "false", "0": wait = false
        case "true", "1": wait = true
        case let value?: throw APIError(.badRequest, "wait: must be true or false, not '\(value)'")
        }
        let status = wait ? 200 : 202
        var idempotency: IdempotencyRequest?
        if let key = request.headers[.idempotencyKey] {
            guard !key.isEmpty, key.utf8.count <= 256 else {
                throw APIError(.badRequest, "Idempotency-Key: must be 1 to 256 bytes")
            }
            idempotency = IdempotencyRequest(key: route + ":" + key, answer: .receipt(wait: wait, status: status))
        }
        let accepted: Accepted = try await run(idempotency)
        switch accepted {
        case .processed(let receipt):
            return .json(HTTPResponse.Status(code: status), receipt.json(wait: wait))
        case .replayed(let response):
            return .json(HTTPResponse.Status(code: response.status), response.body, headers: [.idempotentReplayed: "true"])
        }
    }
}

extension HTTPField.Name {
    static let webhookKey = Self("X-Webhook-Key")!
    static let apiKey = Self("X-API-Key")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
