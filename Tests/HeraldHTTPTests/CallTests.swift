import Foundation
import Synchronization
import HeraldCore
import HeraldTestSupport
import Testing

/// A flow's `call` node end to end (SPEC §13), on every store: a real Herald on 127.0.0.1
/// calls a real HTTP server standing in for an order API through libcurl, and its webhook
/// receives what the flow says with the answer.
@Suite struct CallTests {
    static let secret = "s3cret-api-key-4711"

    /// The flow: remember the order, say so, call the API (POST API/orders/ID with a JSON body
    /// and a secret header), then say its status, or what failed at `onError`.
    static func flow(api: String, timeout: String = "2s") -> String {
        """
        name: lookup
        nodes:
          - set: { context.orderId: "{{ input.text }}", context.api: "\(api)" }
          - say: "Looking up {{ context.orderId }}"
          - id: lookup
            call:
              url: "\(api)/orders/{{ urlEncode(context.orderId) }}"
              headers: { X-Api-Key: "${ORDERS_KEY}", X-Order: "{{ context.orderId }}" }
              json: { order: "{{ context.orderId }}" }
              timeout: \(timeout)
              retry: { maxAttempts: 3, delays: [50ms] }
            into: context.order
            onError: sorry
          - say: "Order {{ context.orderId }}: {{ context.order.status }}"
          - end: true
          - id: sorry
            say: "Sorry: {{ input.error }}"
        """
    }

    /// Herald on `store` with endpoint `shop` (calls to `allow`), its webhook `receiver` and
    /// the stand-in order API `api`.
    static func withHerald(
        _ store: Fixtures.Store, api: TestReceiver, receiver: TestReceiver = TestReceiver(), allow: String = "127.0.0.1",
        timeout: String = "2s", computedHost: Bool = false, _ body: @Sendable (TestHerald) async throws -> Void
    ) async throws {
        let storage = try store.location()
        try await TestServices.run([api.application(logger: TestServices.logger)]) {
            try await api.waitUntilListening()
            let apiBase = String(api.url.dropLast("/hook".count))
            try await TestServices.withHerald(receiver: receiver) { url in
                let directory = try Fixtures.temporaryDirectory()
                var flow = flow(api: apiBase, timeout: timeout)
                if computedHost { flow = flow.replacingOccurrences(of: "url: \"\(apiBase)/", with: "url: \"{{ context.api }}/") }
                try flow.write(toFile: directory + "/lookup.yaml", atomically: true, encoding: .utf8)
                let yaml = """
                    admin: { keys: [\(Fixtures.adminKey)] }
                    storage: memory
                    endpoints:
                      - urlToken: shop
                        flow: lookup.yaml
                        webhook: { url: "\(url)" }
                        calls:
                          allow: ["\(allow)"]
                          secrets: { ORDERS_KEY: "\(secret)" }
                    """
                return try Fixtures.configuration(yaml, in: directory, storage: storage)
            } _: { herald in
                try await body(herald)
            }
        }
    }

    static func shipped(_ request: TestReceiver.Received) -> TestReceiver.Reply {
        .json(200, #"{"status":"shipped","order":"\#(request.body["order"]?.stringValue ?? "?")"}"#)
    }

    @Test(arguments: Fixtures.Store.allCases)
    func theAnswerIsRecordedAndUsed(_ store: Fixtures.Store) async throws {
        let api = TestReceiver { request, _ in Self.shipped(request) }
        try await Self.withHerald(store, api: api) { herald in
            #expect(try await herald.send("shop", session: "s1", text: "A 1").status == 202)
            let delivered = try await herald.receiver.waitForAccepted(2)
            #expect(delivered.map(\.text) == ["Looking up A 1", "Order A 1: shipped"])
            #expect(delivered.map(\.seq) == [1, 3])  // seq 2 is the call, which goes to the API

            let calls = api.all
            try #require(calls.count == 1)
            let call = calls[0]
            #expect(call.path == "/orders/A%201")
            #expect(call.body == ["order": "A 1"])
            #expect(call.headers["x-api-key"] == Self.secret)
            #expect(call.headers["x-order"] == "A 1")
            let callId = try #require(call.headers["idempotency-key"])

            // The admin view: the call as an output with its attempt, the answer as an input.
            let view = try await herald.admin("GET", "/admin/v1/sessions/shop/s1")
            #expect(view.json["context"]?["order"]?["status"] == "shipped")
            #expect(view.json["waitingForCall"] == .null)
            let messages = view.json["messages"]?.arrayValue ?? []
            let callOutput = try #require(messages.first { $0["type"] == "call" })
            #expect(callOutput["outputId"]?.stringValue == callId)
            #expect(callOutput["text"]?.stringValue?.hasPrefix("POST http://127.0.0.1:") == true)
            #expect(callOutput["data"]?["secretHeaders"]?[0]?["value"] == "${ORDERS_KEY}")
            let answer = try #require(messages.first { $0["kind"] == "input" && $0["source"] == "call" })
            #expect(answer["data"]?["status"] == 200)
            #expect(answer["data"]?["body"]?["status"] == "shipped")
            let record = try await RichMessageTests.waitForDelivery(herald, callId)
            #expect(record["attemptLog"]?.arrayValue?.map { $0["statusCode"] } == [200])
            // Secrets are resolved only for the request: never stored or shown.
            #expect(!view.text.contains(Self.secret))
            #expect(!(try await herald.admin("GET", "/admin/v1/deliveries/\(callId)").text.contains(Self.secret)))
            let endpoint = try await herald.admin("GET", "/admin/v1/endpoints/shop")
            #expect(endpoint.json["calls"]?["secrets"]?["ORDERS_KEY"] == "***")
            #expect(endpoint.json["calls"]?["allow"] == ["127.0.0.1"])
            #expect(!endpoint.text.contains(Self.secret))
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aFailedAttemptIsMadeAgainWithTheSameIdempotencyKey(_ store: Fixtures.Store) async throws {
        let api = TestReceiver { request, _ in request.body["order"] == "B2" && CallTests.count(request) == 0 ? .init(status: 500) : Self.shipped(request) }
        try await Self.withHerald(store, api: api) { herald in
            #expect(try await herald.send("shop", session: "s1", text: "B2").status == 202)
            let delivered = try await herald.receiver.waitForAccepted(2)
            #expect(delivered.map(\.text) == ["Looking up B2", "Order B2: shipped"])
            let calls = api.all
            #expect(calls.map(\.status) == [500, 200])
            let keys = Set(calls.compactMap { $0.headers["idempotency-key"] })
            #expect(keys.count == 1)
            let record = try await RichMessageTests.waitForDelivery(herald, try #require(keys.first))
            #expect(record["attemptLog"]?.arrayValue?.map { $0["statusCode"] } == [500, 200])
        }
    }

    /// How many requests with this one's Idempotency-Key came before it (the receiver counts by
    /// Webhook-Id only).
    static func count(_ request: TestReceiver.Received) -> Int {
        attempts.withLock { counts in
            let key = request.headers["idempotency-key"] ?? ""
            defer { counts[key, default: 0] += 1 }
            return counts[key, default: 0]
        }
    }

    static let attempts = Mutex<[String: Int]>([:])

    @Test func aTimeoutGoesToOnErrorWithoutRetries() async throws {
        let api = TestReceiver { _, _ in .init(status: 200, delay: .seconds(2)) }
        try await Self.withHerald(.memory, api: api, timeout: "300ms") { herald in
            #expect(try await herald.send("shop", session: "s1", text: "C3").status == 202)
            let delivered = try await herald.receiver.waitForAccepted(2)
            #expect(delivered[1].text?.hasPrefix("Sorry: no answer within 300ms") == true)
            #expect(api.all.count == 1)
        }
    }

    /// A url whose host is written out must name an allowed host: the configuration does not
    /// load, and says where.
    @Test func aLiteralHostNotAllowedIsALoadError() throws {
        let directory = try Fixtures.temporaryDirectory()
        try Self.flow(api: "http://127.0.0.1:9").write(toFile: directory + "/lookup.yaml", atomically: true, encoding: .utf8)
        let yaml = """
            admin: { keys: [\(Fixtures.adminKey)] }
            endpoints:
              - urlToken: shop
                flow: lookup.yaml
                webhook: { url: "http://127.0.0.1:9/hook" }
                calls: { allow: [orders.example.com] }
            """
        try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
        let error = try #require(throws: FileError.self) { try HeraldConfiguration.load(path: directory + "/herald.yaml", environment: [:]) }
        #expect(error.file == directory + "/lookup.yaml")
        #expect(error.line == 5)  // the call node
        #expect(error.reason.contains("host '127.0.0.1:9' is not in the endpoint's calls.allow (endpoint 'shop'"))
    }

    /// A host the flow computes is checked when the call is made: not allowed, it is never
    /// called and the flow goes on at onError.
    @Test func aComputedHostNotAllowedIsNeverCalled() async throws {
        let api = TestReceiver { request, _ in Self.shipped(request) }
        try await Self.withHerald(.memory, api: api, allow: "orders.example.com", computedHost: true) { herald in
            #expect(try await herald.send("shop", session: "s1", text: "D4").status == 202)
            let delivered = try await herald.receiver.waitForAccepted(2)
            #expect(delivered[1].text == "Sorry: host '127.0.0.1:\(api.url.split(separator: ":").last!.split(separator: "/")[0])' is not in the endpoint's calls.allow")
            #expect(api.all.isEmpty)
        }
    }

    @Test func answersThatAreNotJSONOrTooLargeGoToOnError() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: (1 << 20) + 10)
        let api = TestReceiver { request, _ in
            switch request.body["order"]?.stringValue {
            case "json": .init(status: 200, headers: [("Content-Type", "application/json")], body: Array("{not json".utf8))
            case "big": .init(status: 200, headers: [("Content-Type", "text/plain")], body: big)
            default: .init(status: 200, headers: [("Content-Type", "text/plain")], body: Array("plain words".utf8))
            }
        }
        try await Self.withHerald(.memory, api: api) { herald in
            for (session, text) in [("s1", "json"), ("s2", "big"), ("s3", "text")] {
                #expect(try await herald.send("shop", session: session, text: text).status == 202)
            }
            let delivered = try await herald.receiver.waitForAccepted(6)
            let last = Dictionary(grouping: delivered, by: { $0.sessionId ?? "" }).mapValues { $0.last?.text ?? "" }
            #expect(last["s1"]?.hasPrefix("Sorry: the answer is not valid JSON") == true)
            #expect(last["s2"] == "Sorry: the answer is larger than 1 MiB")
            // Text that is not JSON is the answer itself: `context.order` is the string.
            #expect(last["s3"] == "Order text: ")
            let view = try await herald.admin("GET", "/admin/v1/sessions/shop/s3").json
            #expect(view["context"]?["order"] == "plain words")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aMessageDuringTheCallIsAnsweredAfterItInOrder(_ store: Fixtures.Store) async throws {
        let api = TestReceiver { request, _ in
            var reply = Self.shipped(request)
            // Long enough for the second message to arrive while the call is out, on a busy machine too.
            if request.body["order"] == "first" { reply.delay = .seconds(2) }
            return reply
        }
        try await Self.withHerald(store, api: api, timeout: "5s") { herald in
            #expect(try await herald.send("shop", session: "s1", text: "first").status == 202)
            try await api.wait { $0.count == 1 }
            #expect(try await herald.send("shop", session: "s1", text: "second").status == 202)
            let waiting = try await herald.admin("GET", "/admin/v1/sessions/shop/s1").json
            #expect(waiting["queuedInputs"] == 1)
            #expect(waiting["waitingForCall"]?.stringValue != nil)
            let delivered = try await herald.receiver.waitForAccepted(4)
            #expect(delivered.map(\.text) == ["Looking up first", "Order first: shipped", "Looking up second", "Order second: shipped"])
            #expect(delivered.map(\.seq) == [1, 3, 4, 6])
            #expect(api.all.map { $0.body["order"]?.stringValue } == ["first", "second"])
        }
    }
}

extension RichMessageTests {
    /// The delivery record of `outputId` once it is delivered or dead.
    static func waitForDelivery(_ herald: TestHerald, _ outputId: String) async throws -> JSON {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let record = try await herald.admin("GET", "/admin/v1/deliveries/\(outputId)").json
            if ["delivered", "dead"].contains(record["status"]?.stringValue) { return record }
            guard ContinuousClock.now < deadline else {
                Issue.record("output \(outputId) never finished: \(record.jsonString)")
                return record
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A call in flight when Herald is killed (`kill -9`, the real binary): after the restart it
/// is made again with the same Idempotency-Key, and the flow goes on once.
@Suite(.serialized) struct CallCrashTests {
    @Test(arguments: ["sqlite", "postgres"])
    func aCallInFlightAtKill9IsMadeAgainAndTheFlowResumesOnce(_ store: String) async throws {
        // The first attempt is held for 10 s, long enough to kill Herald while it waits.
        let api = TestReceiver { request, _ in
            var reply = CallTests.shipped(request)
            if CallTests.count(request) == 0 { reply.delay = .seconds(10) }
            return reply
        }
        let receiver = TestReceiver()
        try await TestServices.run([api.application(logger: TestServices.logger), receiver.application(logger: TestServices.logger)]) {
            try await api.waitUntilListening()
            try await receiver.waitUntilListening()
            let directory = try Fixtures.temporaryDirectory()
            let port = try freePort()
            let storage = store == "postgres" ? try PostgresTestDatabase.create() : "sqlite:\(directory)/herald.sqlite"
            try CallTests.flow(api: String(api.url.dropLast("/hook".count)), timeout: "30s")
                .write(toFile: directory + "/lookup.yaml", atomically: true, encoding: .utf8)
            let yaml = """
                listen: 127.0.0.1:\(port)
                admin: { keys: ["\(Fixtures.adminKey)"] }
                storage: \(storage)
                endpoints:
                  - urlToken: shop
                    flow: lookup.yaml
                    webhook: { url: "\(receiver.url)", retry: { schedule: [100ms], jitter: 0 } }
                    calls:
                      allow: ["127.0.0.1"]
                      secrets: { ORDERS_KEY: "\(CallTests.secret)" }
                """
            try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
            func start(_ name: String) async throws -> HeraldProcess {
                let process = try HeraldProcess(["serve", "--config", directory + "/herald.yaml"], logPath: directory + "/\(name).log")
                try await process.waitUntilHealthy("http://127.0.0.1:\(port)/healthz")
                return process
            }
            let first = try await start("first")
            let body = #"{"userId":"u","sessionId":"s1","text":"K9"}"#
            let sent = try await HTTP.request(
                "POST", "http://127.0.0.1:\(port)/shop", body: Array(body.utf8), headers: ["Content-Type": "application/json"])
            #expect(sent.status == 202)
            try await api.wait { $0.count == 1 }
            first.kill9()

            let second = try await start("second")
            defer { second.stop() }
            let calls = try await api.wait(timeout: .seconds(30)) { $0.count >= 2 }
            #expect(calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"])
            try await receiver.wait(timeout: .seconds(30)) { $0.contains { $0.text == "Order K9: shipped" } }
            // Time for a second answer to show, if the flow resumed twice.
            try await Task.sleep(for: .seconds(1))
            let answers = receiver.accepted.filter { $0.text == "Order K9: shipped" }
            #expect(answers.count == 1)
            #expect(Set(receiver.accepted.filter { $0.text == "Looking up K9" }.compactMap(\.webhookId)).count == 1)
            #expect(api.all.count == 2)
        }
    }
}
