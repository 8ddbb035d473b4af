import ArgumentParser
import HeraldCore
import HeraldWebhook
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `herald-bench floor`: the same physical work as Herald's message path, done the simplest
/// honest way, so the benchmark can say how much of Herald's cost is its own (issue 27).
///
/// Per `POST /{urlToken}` with Herald's body (`{userId, sessionId, text, data}`):
/// 1. **decode** it with Herald's own parser (``JSON/parse(_:)`` from HeraldCore, so the
///    parsing costs the same as in Herald and only what Herald does beyond it counts against
///    it; Foundation's `JSONSerialization` would measure a different parser);
/// 2. **record** the input and one output (`"You said: <text>"`, the input's `data`) in
///    SQLite: WAL, `synchronous=FULL`, one transaction for every request queued meanwhile
///    (group commit, ``FloorWriter``);
/// 3. answer **202** `{"sessionId", "inputId"}`, only once that transaction is durable;
/// 4. **POST** the output with libcurl through Herald's ``CurlWebhookClient`` (one multi handle,
///    keep-alive), at most `--concurrency` at once like an endpoint's `webhook.concurrency`
///    (``FloorDelivery``), in Herald's webhook JSON (written by Herald's own code) with its
///    `Webhook-Id` header;
/// 5. **record the attempt**: an `UPDATE` of the output row and an attempt row, queued without
///    waiting and written in the next group commit, as Herald's store writer does.
///
/// No flow, no session registry (so no per-session order of deliveries and no session row),
/// no validation beyond decoding, no retries (the benchmark's sink always answers 200).
struct Floor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Herald's physical work without Herald: decode, record in SQLite, 202, POST with libcurl, record the attempt.")

    @Option(help: "Port to listen on.")
    var port: Int = 9300

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "The SQLite file (created if missing).")
    var database: String = "floor.sqlite"

    @Option(help: "Where each output is POSTed, e.g. http://127.0.0.1:9100/hook.")
    var webhook: String

    @Option(help: "Deliveries in flight at most (Herald's webhook.concurrency default).")
    var concurrency: Int = 64

    @Option(help: "Largest request body accepted, in bytes (Herald's maxBodySize default).")
    var maxBodySize: Int = 1 << 20

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "herald-bench.floor")
        logger.logLevel = .warning
        let store = try await FloorStore(path: database)
        let writer = FloorWriter(store: store, logger: logger)
        let client = CurlWebhookClient(userAgent: "herald-bench-floor")
        let delivery = FloorDelivery(url: webhook, client: client, writer: writer, concurrency: concurrency)
        let sequence = InputCounter()
        let maxBodySize = self.maxBodySize

        let router = Router()
        router.post(":urlToken") { request, context -> Response in
            let urlToken = try context.parameters.require("urlToken")
            let body = try await request.body.collect(upTo: maxBodySize)
            let message = try FloorMessage(urlToken: urlToken, body: body, seq: Int64(sequence.next()))
            try await writer.record(message)
            delivery.send(message.output)
            var answer = JSONWriter(capacity: 96)
            answer.beginObject()
            answer.field("sessionId", message.output.session.sessionId)
            answer.field("inputId", message.inputId)
            answer.endObject()
            return Response(
                status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer.bytes)))
        }
        // The server stops first on SIGTERM, then the writer (which writes what is queued),
        // then the client: services stop in the reverse of this order.
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)), services: [client, writer], logger: logger)
        print("herald-bench floor: listening on http://\(host):\(port), SQLite \(database), webhook \(webhook)")
        try await app.runService()
        try await store.close()
    }
}

/// One accepted message: the input as received and the one output the floor makes of it, as
/// Herald's own ``Output`` value. The output holds what the two share (endpoint, session, user,
/// time); the input adds its id (the output's `inputId`), text and data.
struct FloorMessage: Sendable {
    var inputId: String
    /// The input's text.
    var text: String?
    /// The input's `data` as JSON text, as it is stored (for the output's row too).
    var data: String?
    var output: Output

    /// Decodes Herald's message body; anything that is not an object with string `userId` and
    /// `sessionId` is a 400. Nothing else is checked.
    init(urlToken: String, body: ByteBuffer, seq: Int64) throws {
        let json: JSON
        do {
            json = try body.withUnsafeReadableBytes { bytes throws(JSONParseError) in try JSON.parse(bytes) }
        } catch {
            throw HTTPError(.badRequest, message: "body: not valid JSON (\(error))")
        }
        guard let userId = json["userId"]?.stringValue, let sessionId = json["sessionId"]?.stringValue else {
            throw HTTPError(.badRequest, message: "body: userId and sessionId must be strings")
        }
        let text = json["text"]?.stringValue
        let data = json["data"].flatMap { $0.isNull ? nil : $0 }
        let now = Timestamp.now()
        let inputId = Identifier.input(at: now)
        self.inputId = inputId
        self.text = text
        self.data = data.map { String(decoding: $0.serialized(), as: UTF8.self) }
        // The floor keeps no sessions: `seq` is a process-wide counter, which grows within each
        // session too (what the sink checks).
        output = Output(
            id: Identifier.output(at: now), session: SessionKey(urlToken: urlToken, sessionId: sessionId), userId: userId, seq: seq,
            type: .output, text: "You said: \(text ?? "")", data: data, inputId: inputId, source: .user, timestamp: now)
    }
}
