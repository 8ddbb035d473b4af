import HTTPTypes
import HeraldChannels
import HeraldCore
import HeraldWebhook
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
        do {
            return (urlToken, try herald.registry.endpoint(urlToken))
        } catch {
            throw APIError.from(error)
        }
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

    /// A request in a channel's own protocol: the channel checks it and maps it to messages,
    /// each runs like a user message, and the channel's answer goes back once they are recorded.
    /// A message with the channel's id for it is processed once, however often the channel
    /// sends it (the id is its idempotency key).
    func receive(_ request: Request, _ endpoint: Endpoint, _ channel: HeraldChannels.Channel) async throws -> Response {
        try Self.checkWebhookKey(request, endpoint)
        let limit = herald.configuration.maxBodySize
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "body: \(length) bytes is over the limit of \(limit) bytes")
        }
        let bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "body: over the limit of \(limit) bytes")
        }
        let query = request.uri.query ?? ""
        let base = herald.configuration.publicUrl ?? "http://" + (request.head.authority ?? "localhost")
        let channelRequest = ChannelRequest(
            method: request.method.rawValue, url: base + request.uri.path + (query.isEmpty ? "" : "?" + query), query: query,
            headers: request.headers.map { ($0.name.rawName, $0.value) }, body: Array(buffer: bytes))
        let inbound: ChannelInbound
        do {
            inbound = try channel.receive(channelRequest, now: herald.now())
        } catch {
            herald.logger.info(
                "channel request rejected", metadata: ["urlToken": "\(endpoint.urlToken)", "status": "\(error.status)", "reason": "\(error.reason)"])
            throw APIError(HTTPResponse.Status(code: error.status), "channel \(channel.name): \(error.reason)")
        }
        for message in inbound.messages {
            var inboundMessage = InboundMessage(
                urlToken: endpoint.urlToken, sessionId: message.sessionId, userId: message.userId, text: message.text, data: message.data,
                source: .user, createSession: true)
            inboundMessage.sharedSession = true
            let idempotency = message.id.map { id in
                IdempotencyRequest(key: "channel:" + id, render: { receipt in (200, Array((receipt.inputId ?? "").utf8)) })
            }
            do {
                _ = try await herald.registry.receive(inboundMessage, idempotency: idempotency)
            } catch {
                throw APIError.from(error)
            }
        }
        // Receipts (SPEC §12): recorded before the answer, so a channel that gets an error
        // sends them again; order and repeats cannot move an output back.
        let reports = inbound.statuses.map { status in
            StatusReport(
                urlToken: endpoint.urlToken, channelMessageId: status.messageId,
                receipt: OutputReceipt(status: status.status, at: status.at, error: status.error))
        }
        do {
            try await herald.registry.report(reports)
        } catch {
            throw APIError.from(error)
        }
        let reply = inbound.reply
        var headers = HTTPFields()
        if let contentType = reply.contentType { headers[.contentType] = contentType }
        return Response(status: HTTPResponse.Status(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
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
        let render: @Sendable (Receipt) -> (status: Int, body: [UInt8]) = { receipt in
            (wait ? 200 : 202, ReceiptBody.render(receipt, wait: wait))
        }
        var idempotency: IdempotencyRequest?
        if let key = request.headers[.idempotencyKey] {
            guard !key.isEmpty, key.utf8.count <= 256 else {
                throw APIError(.badRequest, "Idempotency-Key: must be 1 to 256 bytes")
            }
            idempotency = IdempotencyRequest(key: route + ":" + key, render: render)
        }
        let accepted: Accepted
        do {
            accepted = try await run(idempotency)
        } catch {
            throw APIError.from(error)
        }
        switch accepted {
        case .processed(let receipt):
            let (status, body) = render(receipt)
            return .json(HTTPResponse.Status(code: status), body)
        case .replayed(let response):
            return .json(HTTPResponse.Status(code: response.status), response.body, headers: [.idempotentReplayed: "true"])
        }
    }
}

/// The answer to an accepted message: `{"sessionId", "inputId"}` (or `"outputId"` for a
/// notify, `"scheduledId"` and `"dueAt"` for a scheduled one), with `"outputs"` when the
/// caller asked to wait.
enum ReceiptBody {
    static func render(_ receipt: Receipt, wait: Bool) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("sessionId", receipt.sessionId)
        if let scheduled = receipt.scheduled {
            writer.field("scheduledId", scheduled.id)
            writer.field("dueAt", scheduled.dueAt.iso8601)
        } else if let inputId = receipt.inputId {
            writer.field("inputId", inputId)
        } else if let output = receipt.outputs.first {
            writer.field("outputId", output.id)
        }
        if wait {
            writer.key("outputs")
            writer.raw("[")
            for (index, output) in receipt.outputs.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.append(json: WebhookPayload.body(for: output, format: .herald))
            }
            writer.raw("]")
            writer.comma()
        }
        writer.endObject()
        return writer.bytes
    }
}

extension HTTPField.Name {
    static let webhookKey = Self("X-Webhook-Key")!
    static let apiKey = Self("X-API-Key")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
