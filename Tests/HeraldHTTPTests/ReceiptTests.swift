import Crypto
import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Receipts end to end (SPEC §12), on every store: a WhatsApp endpoint (the shipped channel
/// file) sends through a stand-in for the Graph API, which answers with the message's `wamid`;
/// Meta's `statuses` webhooks, signed as Meta signs them, then move the output's status, in
/// whatever order and however often they come, and the endpoint's `statusWebhook` hears each
/// move.
@Suite struct ReceiptTests {
    static let appSecret = "4f1cd7b8c1a94e9c8d0b6a1f2e3d4c5b"
    static let recipient = "16505551234"

    /// Herald with one WhatsApp endpoint `wa` on `store`, whose Graph API is `api` and whose
    /// status events go to `events`.
    static func withHerald(
        _ store: Fixtures.Store, api: TestReceiver, events: TestReceiver, _ body: @Sendable (TestHerald) async throws -> Void
    ) async throws {
        let storage = try store.location()
        try await TestServices.run([events.application(logger: TestServices.logger)]) {
            try await events.waitUntilListening()
            try await TestServices.withHerald(receiver: api) { url in
                let apiBase = String(url.dropLast("/hook".count))
                let directory = try Fixtures.temporaryDirectory()
                let yaml = """
                    publicUrl: https://bots.example.com
                    admin: { keys: [\(Fixtures.adminKey)] }
                    storage: memory
                    endpoints:
                      - urlToken: wa
                        flow: \(Fixtures.root)/examples/flows/echo.yaml
                        channel: \(Fixtures.root)/examples/channels/whatsapp.yaml
                        channelVars:
                          accessToken: "EAAJB0a5hZCZAUBAKZAhSZBqAUeJZCHqEXAMPLE"
                          appSecret: "\(appSecret)"
                          verifyToken: "verify-me"
                          phoneNumberId: "106540352242922"
                          apiBase: "\(apiBase)"
                        webhook: { retry: { schedule: [100ms], jitter: 0, throttleDelay: 100ms } }
                        statusWebhook:
                          url: \(events.url)
                          signingSecret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
                    """
                return try Fixtures.configuration(yaml, in: directory, storage: storage)
            } _: { herald in
                try await body(herald)
            }
        }
    }

    /// The Graph API's answer to a send: a created message `wamid.` + the text sent.
    static func graphAnswer(_ request: TestReceiver.Received, delay: Duration = .zero) -> TestReceiver.Reply {
        let id = "wamid." + (request.body["text"]?["body"]?.stringValue ?? "?")
        var reply = TestReceiver.Reply.json(
            200, #"{"messaging_product":"whatsapp","contacts":[{"input":"\#(recipient)","wa_id":"\#(recipient)"}],"messages":[{"id":"\#(id)"}]}"#)
        reply.delay = delay
        return reply
    }

    /// A `statuses` webhook as Meta sends it, one entry per (wamid, status).
    static func statusWebhook(_ statuses: [(id: String, status: String)], error: String? = nil) -> [UInt8] {
        let items = statuses.enumerated().map { offset, item in
            var status: JSONObject = [
                "id": .string(item.id), "status": .string(item.status), "timestamp": .string(String(1_764_756_000 + offset)),
                "recipient_id": .string(recipient),
                "conversation": ["id": "CONVERSATION_ID", "origin": ["type": "utility"]],
                "pricing": ["billable": true, "pricing_model": "CBP", "category": "utility"],
            ]
            if item.status == "failed", let error {
                status["errors"] = [["code": 131047, "title": .string(error), "message": .string(error)]]
            }
            return JSON.object(status)
        }
        let body: JSON = [
            "object": "whatsapp_business_account",
            "entry": [
                [
                    "id": "102290129340398",
                    "changes": [
                        [
                            "field": "messages",
                            "value": [
                                "messaging_product": "whatsapp",
                                "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                                "statuses": .array(items),
                            ],
                        ]
                    ],
                ]
            ],
        ]
        return body.serialized()
    }

    static func post(_ herald: TestHerald, _ body: [UInt8]) async throws -> HTTPResult {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(appSecret.utf8)))
        let signature = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        return try await HTTP.request(
            "POST", herald.baseURL + "/wa", body: body, headers: ["Content-Type": "application/json", "X-Hub-Signature-256": signature])
    }

    static func notify(_ herald: TestHerald, _ text: String) async throws -> String {
        let answer = try await herald.admin(
            "POST", "/notify/wa", json: #"{"userId":"\#(recipient)","sessionId":"\#(recipient)","createSession":true,"text":"\#(text)"}"#)
        #expect(answer.status == 202, "\(answer.text)")
        return try #require(answer.json["outputId"]?.stringValue)
    }

    @Test(arguments: Fixtures.Store.allCases)
    func receiptsInAnyOrderOrRepeatedOnlyMoveTheStatusForward(_ store: Fixtures.Store) async throws {
        let api = TestReceiver { request, _ in Self.graphAnswer(request) }
        let events = TestReceiver()
        try await Self.withHerald(store, api: api, events: events) { herald in
            let outputId = try await Self.notify(herald, "Shipped")
            _ = try await api.waitForAccepted(1)
            let sent = try await RichMessageTests.waitForStatus(herald, outputId, .sent)
            #expect(sent["channelMessageId"] == "wamid.Shipped")

            // Read comes first, then the earlier statuses, then read again: it stays read.
            #expect(try await Self.post(herald, Self.statusWebhook([("wamid.Shipped", "read")])).status == 200)
            #expect(try await Self.post(herald, Self.statusWebhook([("wamid.Shipped", "delivered"), ("wamid.Shipped", "sent")])).status == 200)
            #expect(try await Self.post(herald, Self.statusWebhook([("wamid.Shipped", "read")])).status == 200)
            let read = try await RichMessageTests.waitForStatus(herald, outputId, .read)
            #expect(read["statusAt"]?.stringValue?.hasPrefix("2025-12-03T") == true, "the channel's time: \(read)")

            // Every event names the output, and none goes back: sent, then read (repeated).
            let received = try await events.waitForAccepted(5)
            let statuses = received.map { $0.body["status"]?.stringValue ?? "" }
            #expect(statuses.first == "sent", "\(statuses)")
            #expect(Array(statuses.dropFirst()).allSatisfy { $0 == "read" }, "never back to delivered or sent: \(statuses)")
            #expect(received.allSatisfy { $0.body["outputId"]?.stringValue == outputId && $0.body["type"] == "status" })
            #expect(received.allSatisfy { $0.headers["webhook-signature"]?.hasPrefix("v1,") == true })
            // The Graph API got only the notify: status events never go to the user's channel.
            try await Task.sleep(for: .milliseconds(200))
            #expect(api.all.count == 1)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aReceiptBeforeTheSendsAnswerIsKeptAndAFailureCarriesTheChannelsError(_ store: Fixtures.Store) async throws {
        // The Graph API answers the first send after 1.5 s; its receipt comes meanwhile.
        let api = TestReceiver { request, _ in
            Self.graphAnswer(request, delay: request.body["text"]?["body"] == "First" ? .milliseconds(1500) : .zero)
        }
        let events = TestReceiver()
        try await Self.withHerald(store, api: api, events: events) { herald in
            let early = try await Self.notify(herald, "First")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.post(herald, Self.statusWebhook([("wamid.First", "delivered")])).status == 200)
            let delivered = try await RichMessageTests.waitForStatus(herald, early, .delivered)
            #expect(delivered["channelMessageId"] == "wamid.First")

            let failing = try await Self.notify(herald, "Second")
            _ = try await api.waitForAccepted(2)
            _ = try await RichMessageTests.waitForStatus(herald, failing, .sent)
            let webhook = Self.statusWebhook([("wamid.Second", "failed")], error: "Re-engagement message")
            #expect(try await Self.post(herald, webhook).status == 200)
            let failed = try await RichMessageTests.waitForStatus(herald, failing, .failed)
            #expect(failed["statusError"]?.stringValue?.contains("Re-engagement message") == true, "\(failed)")
            #expect(failed["status"] == "delivered", "the delivery itself succeeded")
            let events = try await events.wait(timeout: .seconds(20)) { all in all.contains { $0.body["status"] == "failed" } }
            #expect(events.contains { $0.body["status"] == "failed" && $0.body["error"]?.stringValue?.contains("Re-engagement") == true })
        }
    }

    @Test
    func aStatusWebhookWithABadSignatureIsRefusedAndChangesNothing() async throws {
        let api = TestReceiver { request, _ in Self.graphAnswer(request) }
        try await Self.withHerald(.memory, api: api, events: TestReceiver()) { herald in
            let outputId = try await Self.notify(herald, "Hello")
            _ = try await RichMessageTests.waitForStatus(herald, outputId, .sent)
            let answer = try await HTTP.request(
                "POST", herald.baseURL + "/wa", body: Self.statusWebhook([("wamid.Hello", "read")]),
                headers: ["Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"])
            #expect(answer.status == 401)
            try await Task.sleep(for: .milliseconds(200))
            let record = try await herald.admin("GET", "/admin/v1/deliveries/\(outputId)").json
            #expect(record["outputStatus"] == "sent")
        }
    }
}
