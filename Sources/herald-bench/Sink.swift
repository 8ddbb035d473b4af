import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `herald-bench sink`: a webhook receiver that answers 200 to every POST as cheaply as it can
/// (plain SwiftNIO on one event loop, no body kept) and records, for each delivery, its
/// arrival time and the send time the load tool put in the message (`data.sentAt`, which the
/// echo flow copies into its output).
///
/// `GET /stats` answers the counts and the send→arrival latency percentiles as JSON;
/// `POST /reset` starts over.
struct Sink: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A fast webhook sink that timestamps deliveries (GET /stats, POST /reset); POST /api answers a flow's call.")

    @Option(help: "Port to listen on.")
    var port: Int = 9100

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    func run() async throws {
        let stats = SinkStats()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SinkHandler(stats: stats))
                }
            }
            .bind(host: host, port: port)
            .get()
        print("herald-bench sink: listening on http://\(host):\(port)")
        try await channel.closeFuture.get()
    }
}

/// What the sink has seen since the last reset.
final class SinkStats: Sendable {
    struct State {
        var count = 0
        var firstArrival: Int64?
        var lastArrival: Int64?
        /// Send→arrival, µs, of each delivery that carried `data.sentAt`.
        var latencies: [Int64] = []
        /// The last `seq` seen per session, to check per-session order.
        var lastSeq: [String: Int64] = [:]
        /// Deliveries whose `seq` was not above the last one seen for their session
        /// (a reordering, or a redelivery, which at-least-once allows).
        var outOfOrder = 0
    }

    private let state = Mutex(State())

    func record(_ body: UnsafeRawBufferPointer, arrival: Int64) {
        let sentAt = ScanJSON.integer("sentAt", in: body)
        let sessionId = ScanJSON.string("sessionId", in: body)
        let seq = ScanJSON.integer("seq", in: body)
        state.withLock { state in
            state.count += 1
            if state.firstArrival == nil { state.firstArrival = arrival }
            state.lastArrival = arrival
            if let sentAt { state.latencies.append(arrival - sentAt) }
            if let sessionId, let seq {
                if let last = state.lastSeq[sessionId], seq <= last { state.outOfOrder += 1 }
                state.lastSeq[sessionId] = Swift.max(seq, state.lastSeq[sessionId] ?? 0)
            }
        }
    }

    func reset() {
        state.withLock { $0 = State() }
    }

    /// `{"count", "withSentAt", "outOfOrder", "sessions", "firstArrivalMicros", "lastArrivalMicros", "latencyMs"}`.
    func json() -> String {
        let snapshot = state.withLock { state in
            (state.count, state.firstArrival, state.lastArrival, state.latencies, state.outOfOrder, state.lastSeq.count)
        }
        let (count, first, last, latencies, outOfOrder, sessions) = snapshot
        let percentiles = Percentiles(micros: latencies)
        return #"{"count":\#(count),"withSentAt":\#(latencies.count),"outOfOrder":\#(outOfOrder),"sessions":\#(sessions),"#
            + #""firstArrivalMicros":\#(first.map(String.init) ?? "null"),"lastArrivalMicros":\#(last.map(String.init) ?? "null"),"#
            + #""latencyMs":\#(percentiles.json)}"#
    }
}

/// One connection's HTTP/1.1 handler: gathers a request, records it, answers at once.
final class SinkHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let stats: SinkStats
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?

    init(stats: SinkStats) {
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var chunk):
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        var answer = "{}"
        var status = HTTPResponseStatus.ok
        switch (head.method, head.uri) {
        case (.GET, "/stats"):
            answer = stats.json()
        case (.POST, "/reset"):
            stats.reset()
        case (.POST, "/api"):
            // A flow's call (the bench's `call` scenario): answered at once, not a delivery.
            answer = #"{"status":"ok"}"#
        case (.POST, let uri) where uri.hasPrefix("/v1/"):
            // Spans exported over OTLP/HTTP (the `tracing` scenario): taken, not a delivery.
            break
        case (.POST, _):
            let arrival = nowMicros()
            if let body {
                body.withUnsafeReadableBytes { stats.record($0, arrival: arrival) }
            } else {
                stats.record(UnsafeRawBufferPointer(start: nil, count: 0), arrival: arrival)
            }
        default:
            status = .notFound
        }
        body = nil
        var buffer = context.channel.allocator.buffer(capacity: answer.utf8.count)
        buffer.writeString(answer)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
