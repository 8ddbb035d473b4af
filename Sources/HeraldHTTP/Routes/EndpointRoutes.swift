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

    /// The configuration now and the endpoint the path names in it (404 when there is none).
    /// The request keeps this one snapshot to its end, whatever a reload does meanwhile.
    private func endpoint(_ context: Context) throws -> (snapshot: ConfigurationSnapshot, served: LiveEndpoint) {
        let urlToken = try context.parameters.require("urlToken")
        let snapshot = herald.live.snapshot
        guard let served = snapshot.endpoint(urlToken) else { throw HeraldError.unknownEndpoint(urlToken) }
        return (snapshot, served)
    }

    /// `GET /{urlToken}`: only channels answer it (verification handshakes such as WhatsApp's
    /// `hub.challenge`).
    @Sendable func handshake(request: Request, context: Context) async throws -> Response {
        let (snapshot, served) = try endpoint(context)
        guard let channel = served.channel as? HeraldChannels.Channel else {
            throw APIError(
                .methodNotAllowed, "GET: endpoint '\(served.endpoint.urlToken)' takes POST only (GET is for channel handshakes)",
                headers: [.allow: "POST"])
        }
        return try await receive(request, snapshot, served.endpoint, channel)
    }

    @Sendable func receive(request: Request, context: Context) async throws -> Response {
        let (snapshot, served) = try endpoint(context)
        let endpoint = served.endpoint
        let urlToken = endpoint.urlToken
        if let channel = served.channel as? HeraldChannels.Channel { return try await receive(request, snapshot, endpoint, channel) }
        try Self.checkWebhookKey(request, endpoint)
        let bytes = try await request.messageBytes(limit: snapshot.configuration.maxBodySize)
        let body = try MessageBody.parse(bytes, rules: .init())
        let message = InboundMessage(
            urlToken: urlToken, sessionId: body.sessionId, userId: body.userId!, text: body.text, data: body.data, source: .user,
            createSession: true)
        return try await Self.accept(request, route: "message", herald: herald) { idempotency throws(HeraldError) in
            try await herald.registry.receive(message, idempotency: idempotency, endpoint: endpoint)
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
