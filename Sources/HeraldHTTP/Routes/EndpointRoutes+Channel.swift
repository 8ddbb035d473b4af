import HTTPTypes
import HeraldChannels
import HeraldCore
import Hummingbird
import Logging
import NIOCore

/// Channel intake (SPEC §9, §12): on a channel endpoint, `POST` and `GET /{urlToken}` hand
/// the raw request to the endpoint's ``HeraldChannels/Channel``, which checks it and maps it
/// to messages, receipts and the channel's answer.
extension EndpointRoutes {
    /// A request in a channel's own protocol: the channel checks it and maps it to messages,
    /// each runs like a user message, and the channel's answer goes back once they are recorded.
    /// A message with the channel's id for it is processed once, however often the channel
    /// sends it (the id is its idempotency key).
    func receive(
        _ request: Request, _ snapshot: ConfigurationSnapshot, _ endpoint: Endpoint, _ channel: HeraldChannels.Channel
    ) async throws -> Response {
        try Self.checkWebhookKey(request, endpoint)
        let bytes = try await request.bodyBytes(limit: snapshot.configuration.maxBodySize)
        let query = request.uri.query ?? ""
        let base = snapshot.configuration.publicUrl ?? "http://" + (request.head.authority ?? "localhost")
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
            let idempotency = message.id.map { IdempotencyRequest(key: "channel:" + $0, answer: .channelInput) }
            _ = try await herald.registry.receive(inboundMessage, idempotency: idempotency, endpoint: endpoint)
        }
        // Receipts (SPEC §12): recorded before the answer, so a channel that gets an error
        // sends them again; order and repeats cannot move an output back.
        let reports = inbound.statuses.map { status in
            StatusReport(
                urlToken: endpoint.urlToken, channelMessageId: status.messageId,
                receipt: OutputReceipt(status: status.status, at: status.at, error: status.error))
        }
        try await herald.registry.report(reports)
        let reply = inbound.reply
        var headers = HTTPFields()
        if let contentType = reply.contentType { headers[.contentType] = contentType }
        return Response(status: HTTPResponse.Status(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
