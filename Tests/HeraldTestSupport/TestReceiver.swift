import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A real webhook receiver on 127.0.0.1 for tests: records every request it gets and answers
/// as the test says (status, delay, headers), per request.
public final class TestReceiver: Sendable {
    /// One request as the receiver saw it.
    public struct Received: Sendable {
        /// Header names lowercased.
        public var headers: [String: String]
        public var bytes: [UInt8]
        public var path: String
        /// The raw query string, when there is one.
        public var query: String? = nil
        public var arrivedAt: ContinuousClock.Instant
        /// The status the receiver answered with.
        public var status: Int

        public var body: JSON { (try? JSON.parse(bytes)) ?? .null }
        public var webhookId: String? { headers["webhook-id"] }
        public var seq: Int? { body["seq"]?.numberValue.map { Int($0) } }
        public var sessionId: String? { body["sessionId"]?.stringValue }
        public var text: String? { body["text"]?.stringValue }
    }

    /// How to answer a request.
    public struct Reply: Sendable {
        public var status: Int
        public var delay: Duration
        public var headers: [(String, String)]
        /// The response body (a channel API's JSON answer, say).
        public var body: [UInt8]

        public init(status: Int = 200, delay: Duration = .zero, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.delay = delay
            self.headers = headers
            self.body = body
        }

        /// A JSON answer.
        public static func json(_ status: Int = 200, _ text: String, headers: [(String, String)] = []) -> Reply {
            Reply(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }
    }

    /// Decides the reply; gets the request and how many times this `Webhook-Id` came before
    /// (0 for the first attempt).
    public typealias Behavior = @Sendable (Received, Int) -> Reply

    private let received = Mutex<[Received]>([])
    private let behavior: Mutex<Behavior>
    private let port = Mutex<Int?>(nil)

    public init(behavior: @escaping Behavior = { _, _ in Reply() }) {
        self.behavior = Mutex(behavior)
    }

    public func setBehavior(_ behavior: @escaping Behavior) {
        self.behavior.withLock { $0 = behavior }
    }

    /// Every request so far, in arrival order.
    public var all: [Received] { received.withLock { $0 } }

    /// Requests answered 2xx, in arrival order.
    public var accepted: [Received] { all.filter { (200..<300).contains($0.status) } }

    public var url: String { "http://127.0.0.1:\(port.withLock { $0 } ?? 0)/hook" }

    /// Waits (up to `timeout`, a guard against hangs, not a measurement) until `condition`
    /// holds for the requests received so far.
    @discardableResult
    public func wait(
        timeout: Duration = .seconds(20), until condition: @Sendable ([Received]) -> Bool
    ) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let snapshot = all
            if condition(snapshot) { return snapshot }
            if ContinuousClock.now > deadline {
                throw TestTimeout(description: "receiver: condition not met after \(timeout); got \(snapshot.count) requests")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for `count` accepted deliveries.
    @discardableResult
    public func waitForAccepted(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [Received] {
        try await wait(timeout: timeout) { $0.filter { (200..<300).contains($0.status) }.count >= count }
            .filter { (200..<300).contains($0.status) }
    }

    /// The receiver as a Hummingbird application on 127.0.0.1 (port 0 picks a free one).
    public func application(port requestedPort: Int = 0, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        router.post("**") { request, _ in
            try await self.handle(request)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: requestedPort)),
            onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } },
            logger: logger
        )
    }

    /// Waits until the application listens.
    public func waitUntilListening() async throws {
        try await wait(timeout: .seconds(10)) { _ in self.port.withLock { $0 } != nil }
    }

    private func handle(_ request: Request) async throws -> Response {
        let bytes = Array(buffer: try await request.body.collect(upTo: 16 << 20))
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        var entry = Received(headers: headers, bytes: bytes, path: request.uri.path, query: request.uri.query, arrivedAt: .now, status: 0)
        let previous = received.withLock { list in list.filter { $0.webhookId != nil && $0.webhookId == entry.webhookId }.count }
        let reply = behavior.withLock { $0 }(entry, previous)
        entry.status = reply.status
        received.withLock { $0.append(entry) }
        if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
        var fields = HTTPFields()
        for (name, value) in reply.headers { fields[HTTPField.Name(name)!] = value }
        return Response(status: HTTPResponse.Status(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}

public struct TestTimeout: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
