import NIOCore
import NIOHTTP1
import NIOPosix

/// Where the load goes: `http://host:port/path`.
struct TargetURL: Sendable {
    var host: String
    var port: Int
    var path: String

    init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty else { return nil }
    }
}

/// What one run sends, and how.
struct LoadPlan: Sendable {
    var target: TargetURL
    var headers: [(name: String, value: String)]
    var messages: Messages
    /// Open loop at this many messages per second; closed loop when `nil`.
    var rate: Double?
    var duration: TimeAmount
    var count: Int?
    var connections: Int

    init(
        target: TargetURL, headers: [(name: String, value: String)], messages: Messages, rate: Double?, duration: Duration, count: Int?,
        connections: Int
    ) {
        self.target = target
        self.headers = headers
        self.messages = messages
        self.rate = rate
        self.duration = .nanoseconds(Int64(duration.seconds * 1e9))
        self.count = count
        self.connections = connections
    }
}

/// The `nio` client: `connections` keep-alive HTTP/1.1 connections on one event loop. Every
/// step (send, answer, next send) runs on that loop, so a request costs no thread hop and no
/// task; the run's state lives in a loop-bound box.
enum NIOLoad {
    static func run(_ plan: LoadPlan) async throws -> LoadStats {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        let run = try await eventLoop.submit { LoadRun(plan: plan, eventLoop: eventLoop) }.get()
        let stats = try await run.start().get()
        try await group.shutdownGracefully()
        return stats
    }
}

/// One run's shared state. Everything mutable is in `state`, which only the event loop touches.
final class LoadRun: Sendable {
    struct State {
        var stats = LoadStats()
        var nextMessage = 0
        /// Open loop: connections with no request in flight.
        var idle: [LoadConnection] = []
        var open: [LoadConnection] = []
        var inFlight = 0
        /// Closed loop: connections still sending.
        var senders = 0
        /// Open loop: the schedule has ended.
        var scheduleDone = false
        var finished = false
        /// How many of the first connections are still opening.
        var connecting = 0
        var startedAt = NIODeadline.now()
    }

    let plan: LoadPlan
    let eventLoop: any EventLoop
    let state: NIOLoopBoundBox<State>
    let done: EventLoopPromise<LoadStats>
    /// When sending starts: once every connection is open, so the open loop's schedule does not
    /// begin with messages no connection can take.
    var startedAt: NIODeadline { state.value.startedAt }
    var deadline: NIODeadline { state.value.startedAt + plan.duration }
    /// The request head every message shares.
    let head: HTTPRequestHead

    init(plan: LoadPlan, eventLoop: any EventLoop) {
        self.plan = plan
        self.eventLoop = eventLoop
        self.state = NIOLoopBoundBox(State(), eventLoop: eventLoop)
        self.done = eventLoop.makePromise()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(plan.target.host):\(plan.target.port)")
        headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in plan.headers { headers.add(name: name, value: value) }
        head = HTTPRequestHead(version: .http1_1, method: .POST, uri: plan.target.path, headers: headers)
    }

    /// Opens the connections (and starts the schedule); the future completes when the run ends.
    func start() -> EventLoopFuture<LoadStats> {
        eventLoop.execute {
            self.state.value.senders = self.plan.connections
            self.state.value.connecting = self.plan.connections
            for _ in 0..<self.plan.connections { self.connect() }
        }
        return done.futureResult
    }

    private func connect() {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(LoadConnection(run: self))
                }
            }
            .connect(host: plan.target.host, port: plan.target.port)
            .whenFailure { error in
                self.state.value.stats.record(error: "connect: \(error)")
                if self.state.value.connecting > 0 { self.connectionSettled() }
                self.senderDone()
            }
    }

    // Called by the connections, on the loop.

    func ready(_ connection: LoadConnection) {
        state.value.open.append(connection)
        if plan.rate != nil { state.value.idle.append(connection) }
        if state.value.connecting > 0 {
            connectionSettled()
        } else if plan.rate == nil {
            sendNext(on: connection)  // a replacement joins a running closed loop
        }
    }

    /// One of the first connections opened or failed; once all have, sending starts.
    private func connectionSettled() {
        state.value.connecting -= 1
        guard state.value.connecting == 0 else { return }
        state.value.startedAt = .now()
        if let rate = plan.rate {
            schedule(rate: rate)
        } else {
            for connection in state.value.open { sendNext(on: connection) }
        }
    }

    func answered(_ connection: LoadConnection, status: Int, nanoseconds: Int64, body: String) {
        state.value.inFlight -= 1
        state.value.stats.record(status: status, micros: nanoseconds / 1000) { body }
        if plan.rate == nil {
            sendNext(on: connection)
        } else {
            state.value.idle.append(connection)
            finishIfDone()
        }
    }

    /// A connection closed; with a request in flight, that request failed. While the run goes on,
    /// a new connection takes its place.
    func closed(_ connection: LoadConnection, requestInFlight: Bool) {
        state.value.open.removeAll { $0 === connection }
        state.value.idle.removeAll { $0 === connection }
        if requestInFlight {
            state.value.inFlight -= 1
            state.value.stats.record(error: "the server closed the connection with a request in flight")
            finishIfDone()
        }
        if connection.retired { return }
        if NIODeadline.now() < deadline, !state.value.finished {
            connect()
        } else {
            senderDone()
        }
    }

    // Sending

    /// Closed loop: the connection's next message, or its end.
    private func sendNext(on connection: LoadConnection) {
        let number = state.value.nextMessage
        if NIODeadline.now() >= deadline || plan.count.map({ number >= $0 }) == true {
            connection.retire()
            senderDone()
            return
        }
        state.value.nextMessage += 1
        send(number, on: connection)
    }

    private func send(_ number: Int, on connection: LoadConnection) {
        state.value.inFlight += 1
        state.value.stats.sent += 1
        connection.send(head: head, body: plan.messages.body(number))
    }

    /// Open loop: every half millisecond, starts what is due on idle connections.
    private func schedule(rate: Double) {
        eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .microseconds(500)) { task in
            let elapsed = NIODeadline.now() - self.startedAt
            if elapsed >= self.plan.duration {
                task.cancel()
                self.state.value.scheduleDone = true
                self.finishIfDone()
                return
            }
            let due = Int(Double(elapsed.nanoseconds) / 1e9 * rate) + 1
            while self.state.value.nextMessage < due {
                let number = self.state.value.nextMessage
                self.state.value.nextMessage += 1
                if let connection = self.state.value.idle.popLast() {
                    self.send(number, on: connection)
                } else {
                    self.state.value.stats.skipped += 1
                }
            }
        }
    }

    private func senderDone() {
        state.value.senders -= 1
        if plan.rate == nil, state.value.senders <= 0 { finish() }
    }

    private func finishIfDone() {
        if state.value.scheduleDone, state.value.inFlight == 0 { finish() }
    }

    private func finish() {
        guard !state.value.finished else { return }
        state.value.finished = true
        for connection in state.value.open { connection.retire() }
        done.succeed(state.value.stats)
    }
}

/// One keep-alive connection: sends a request when told, reports the answer to the run.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let run: LoadRun
    private var context: ChannelHandlerContext?
    private var sentAt: NIODeadline?
    private var status = 0
    private var errorBody = ""
    /// Closed on purpose: no replacement, no error.
    private(set) var retired = false

    init(run: LoadRun) {
        self.run = run
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        run.ready(self)
    }

    func send(head: HTTPRequestHead, body: String) {
        guard let context else { return }
        var head = head
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        head.headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        sentAt = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            errorBody = ""
        case .body(let buffer):
            if !(200..<300).contains(status), errorBody.utf8.count < 200 {
                errorBody += String(buffer: buffer).prefix(200 - errorBody.utf8.count)
            }
        case .end:
            guard let sentAt else { return }
            self.sentAt = nil
            run.answered(self, status: status, nanoseconds: (NIODeadline.now() - sentAt).nanoseconds, body: errorBody)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let inFlight = sentAt != nil
        sentAt = nil
        run.closed(self, requestInFlight: inFlight)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Closes the connection at the end of the run.
    func retire() {
        guard !retired else { return }
        retired = true
        context?.close(promise: nil)
    }
}
