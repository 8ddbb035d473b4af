import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// `POST /{urlToken}` end to end over 127.0.0.1: real HTTP in, the echo flow, the libcurl
/// client out to a real receiver.
@Suite struct EndpointTests {
    @Test func echoOutputArrivesWithBodyAuthAndWebhookId() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let response = try await herald.send("demo", user: "user-42", session: "conv-7", text: "hello", data: ["key": "value"])
            #expect(response.status == 202)
            let inputId = try #require(response.json["inputId"]?.stringValue)
            #expect(response.json["sessionId"] == "conv-7")
            #expect(inputId.hasPrefix("in_"))

            let delivery = try #require(try await herald.receiver.waitForAccepted(1).first)
            let body = delivery.body
            #expect(body["type"] == "output")
            #expect(body["text"] == "You said: hello")
            #expect(body["data"] == ["key": "value"])
            #expect(body["userId"] == "user-42")
            #expect(body["sessionId"] == "conv-7")
            #expect(body["urlToken"] == "demo")
            #expect(body["seq"] == 1)
            #expect(body["source"] == "user")
            #expect(body["inputId"] == .string(inputId))
            #expect(delivery.headers["authorization"] == "Basic " + Data("bot:hook-secret".utf8).base64EncodedString())
            #expect(delivery.headers["content-type"] == "application/json")
            #expect(delivery.headers["user-agent"]?.hasPrefix("herald/") == true)
            let id = try #require(delivery.webhookId)
            #expect(body["id"] == .string(id))
            #expect(id.hasPrefix("out_"))
            let timestamp = try #require(delivery.headers["webhook-timestamp"].flatMap { Int64($0) })
            #expect(abs(timestamp - Timestamp.now().seconds) < 60)
            #expect(delivery.headers["webhook-signature"] == nil)
        }
    }

    struct Rejection: Sendable, CustomStringConvertible {
        var name: String
        var path: String
        var body: String
        var headers: [String: String] = [:]
        var status: Int
        var mentions: String

        var description: String { name }
    }

    static let rejections: [Rejection] = [
        Rejection(name: "unknown urlToken", path: "/nope", body: #"{"userId":"u","sessionId":"s","text":"x"}"#, status: 404, mentions: "urlToken"),
        Rejection(name: "malformed JSON", path: "/demo", body: #"{"userId":"u","sessionId":"#, status: 400, mentions: "body"),
        Rejection(name: "not an object", path: "/demo", body: #"["u"]"#, status: 400, mentions: "body"),
        Rejection(name: "userId missing", path: "/demo", body: #"{"sessionId":"s","text":"x"}"#, status: 400, mentions: "userId"),
        Rejection(name: "userId a number", path: "/demo", body: #"{"userId":7,"sessionId":"s","text":"x"}"#, status: 400, mentions: "userId"),
        Rejection(name: "userId empty", path: "/demo", body: #"{"userId":"","sessionId":"s","text":"x"}"#, status: 400, mentions: "userId"),
        Rejection(
            name: "userId too long", path: "/demo", body: #"{"userId":"\#(String(repeating: "u", count: 257))","sessionId":"s","text":"x"}"#,
            status: 400, mentions: "userId"),
        Rejection(name: "sessionId missing", path: "/demo", body: #"{"userId":"u","text":"x"}"#, status: 400, mentions: "sessionId"),
        Rejection(name: "sessionId an object", path: "/demo", body: #"{"userId":"u","sessionId":{},"text":"x"}"#, status: 400, mentions: "sessionId"),
        Rejection(name: "text a number", path: "/demo", body: #"{"userId":"u","sessionId":"s","text":5}"#, status: 400, mentions: "text"),
        Rejection(name: "data an array", path: "/demo", body: #"{"userId":"u","sessionId":"s","data":[1]}"#, status: 400, mentions: "data"),
        Rejection(name: "neither text nor data", path: "/demo", body: #"{"userId":"u","sessionId":"s"}"#, status: 400, mentions: "text"),
        Rejection(name: "empty text, no data", path: "/demo", body: #"{"userId":"u","sessionId":"s","text":""}"#, status: 400, mentions: "data"),
        Rejection(
            name: "body over 1 MiB", path: "/demo",
            body: #"{"userId":"u","sessionId":"s","text":"\#(String(repeating: "x", count: 1 << 20))"}"#, status: 413, mentions: "body"),
        Rejection(
            name: "wrong content type", path: "/demo", body: #"{"userId":"u","sessionId":"s","text":"x"}"#,
            headers: ["Content-Type": "text/plain"], status: 415, mentions: "Content-Type"),
    ]

    @Test(arguments: rejections)
    func rejectionGivesStatusAndJSONErrorAndDeliversNothing(_ rejection: Rejection) async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let response = try await herald.post(rejection.path, json: rejection.body, headers: rejection.headers)
            #expect(response.status == rejection.status)
            #expect(response.headers["content-type"] == "application/json")
            let message = try #require(response.errorMessage)
            #expect(message.contains(rejection.mentions), "message '\(message)' should name \(rejection.mentions)")

            // A valid message afterwards is the only thing that arrives.
            let ok = try await herald.send("demo", session: "after", text: "ok")
            #expect(ok.status == 202)
            try await herald.receiver.waitForAccepted(1)
            try await Task.sleep(for: .milliseconds(100))
            #expect(herald.receiver.all.map(\.text) == ["You said: ok"])
            let sessions = try await herald.herald.store.sessions(SessionQuery())
            #expect(sessions.map(\.key.sessionId) == ["after"])
        }
    }

    @Test func webhookKeyIsRequiredWhenTheEndpointHasAPIKeys() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0, apiKeys: ["k1", "k2"]) }) { herald in
            let missing = try await herald.send("demo", session: "s", text: "x")
            #expect(missing.status == 401)
            #expect(missing.errorMessage?.contains("X-Webhook-Key") == true)
            let wrong = try await herald.send("demo", session: "s", text: "x", headers: ["X-Webhook-Key": "k3"])
            #expect(wrong.status == 401)
            let right = try await herald.send("demo", session: "s", text: "x", headers: ["X-Webhook-Key": "k2"])
            #expect(right.status == 202)
            let arrived = try await herald.receiver.waitForAccepted(1)
            #expect(arrived.count == 1)
        }
    }

    /// 20 sessions, each sending 20 messages one after another, all sessions at once: every
    /// output arrives, and each session's arrive in the order sent with gap-free `seq`.
    @Test func twentySessionsTimesTwentyMessagesArriveCompleteAndInOrder() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<20 {
                    group.addTask {
                        for message in 0..<20 {
                            let response = try await herald.send("demo", session: "s\(session)", text: "m\(message)")
                            #expect(response.status == 202)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let deliveries = try await herald.receiver.waitForAccepted(400)
            #expect(deliveries.count == 400)
            for session in 0..<20 {
                let mine = deliveries.filter { $0.sessionId == "s\(session)" }
                #expect(mine.map(\.seq) == Array(1...20).map { Optional($0) })
                #expect(mine.map(\.text) == (0..<20).map { "You said: m\($0)" })
            }
        }
    }

    /// 20 sessions × 20 messages all sent concurrently: whatever order the server took them in,
    /// each session's `seq` is gap-free and arrives in `seq` order, with no duplicates.
    @Test func concurrentMessagesOfOneSessionGetGapFreeSeqInArrivalOrder() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<400 {
                    group.addTask {
                        try await herald.send("demo", session: "c\(index % 20)", text: "m\(index)").status
                    }
                }
                for try await status in group { #expect(status == 202) }
            }
            let deliveries = try await herald.receiver.waitForAccepted(400)
            #expect(Set(deliveries.compactMap(\.webhookId)).count == 400)
            for session in 0..<20 {
                let mine = deliveries.filter { $0.sessionId == "c\(session)" }
                #expect(mine.map(\.seq) == Array(1...20).map { Optional($0) })
            }
        }
    }

    @Test func waitTrueAnswersWithTheOutputsAndStillDelivers() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let response = try await herald.send("demo", session: "w", text: "hi", query: "?wait=true")
            #expect(response.status == 200)
            let outputs = try #require(response.json["outputs"]?.arrayValue)
            #expect(outputs.count == 1)
            #expect(outputs.first?["text"] == "You said: hi")
            let delivered = try await herald.receiver.waitForAccepted(1)
            #expect(delivered.first?.webhookId == outputs.first?["id"]?.stringValue)
        }
    }
}
