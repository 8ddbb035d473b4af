import Foundation
import HeraldCore
import HeraldTestSupport
import HeraldWebhook
import Testing

/// The libcurl client against real sockets: a refused connection and a timeout are typed
/// errors, statuses and Retry-After come back, basic auth and headers go out.
@Suite struct CurlWebhookClientTests {
    @Test func refusedConnectionIsATypedError() async throws {
        let client = CurlWebhookClient()
        defer { client.stop() }
        // Port 9 (discard) has no listener on this machine's loopback.
        let request = WebhookRequest(url: "http://127.0.0.1:9/hook", body: Array("{}".utf8), connectTimeout: .seconds(2))
        await #expect(throws: WebhookError.connectionFailed) { try await client.send(request) }
    }

    @Test func slowReceiverTimesOutAsATypedError() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 200, delay: .seconds(3)) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let client = CurlWebhookClient()
            defer { client.stop() }
            let request = WebhookRequest(url: receiver.url, body: Array("{}".utf8), timeout: .milliseconds(300))
            await #expect(throws: WebhookError.timeout) { try await client.send(request) }
        }
    }

    @Test func invalidURLIsATypedError() async throws {
        let client = CurlWebhookClient()
        defer { client.stop() }
        await #expect(throws: WebhookError.invalidURL) {
            try await client.send(WebhookRequest(url: "ftp://127.0.0.1/x", body: []))
        }
    }

    @Test func statusRetryAfterBodyAndHeadersRoundTrip() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 503, headers: [("Retry-After", "7")]) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let client = CurlWebhookClient()
            defer { client.stop() }
            let request = WebhookRequest(
                url: receiver.url, headers: [("Webhook-Id", "out_1")], body: Array(#"{"a":1}"#.utf8), user: "bot", password: Secret("pw"))
            let response = try await client.send(request)
            #expect(response.status == 503)
            #expect(response.retryAfter == "7")
            let seen = try #require(receiver.all.first)
            #expect(seen.headers["webhook-id"] == "out_1")
            #expect(seen.headers["authorization"] == "Basic " + Data("bot:pw".utf8).base64EncodedString())
            #expect(seen.body == ["a": 1])
            #expect(seen.headers["expect"] == nil)
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 302, headers: [("Location", "http://127.0.0.1:9/elsewhere")]) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let client = CurlWebhookClient()
            defer { client.stop() }
            let response = try await client.send(WebhookRequest(url: receiver.url, body: []))
            #expect(response.status == 302)
            #expect(receiver.all.count == 1)
        }
    }

    @Test func manyRequestsInFlightAtOnce() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 200, delay: .milliseconds(200)) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let client = CurlWebhookClient()
            defer { client.stop() }
            // 50 requests that each take 200 ms at the receiver: all in flight together, so
            // all 50 reach the receiver before the first answer comes back.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await client.send(WebhookRequest(url: receiver.url, body: [])).status }
                }
                try await receiver.wait { $0.count == 50 }
                for try await status in group { #expect(status == 200) }
            }
        }
    }

    @Test func standardWebhooksTestVector() throws {
        let key = try #require(WebhookSigningKey(secret: Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")))
        let signature = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8), key: key)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(
            WebhookSignature.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
                header: "v1,bogus \(signature)", key: key))
        #expect(
            !WebhookSignature.verify(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: Array(#"{"test": 2432232314}"#.utf8),
                header: signature, key: key))
    }
}
