import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Rich outputs over real HTTP (SPEC §12): the vocabulary in notify and in a flow, on Herald's
/// JSON webhook and in the Cognigy format, checked per request; statuses in the admin API and
/// status events on a `statusWebhook`. On every store.
@Suite struct RichMessageTests {
    static func withHerald(
        _ store: Fixtures.Store, flow: String = "echo", configure: @escaping @Sendable (inout HeraldConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestHerald) async throws -> Void
    ) async throws {
        let storage = try store.location()
        try await TestServices.withHerald { url in
            var configuration = try Fixtures.configuration(url: url, flow: flow, storage: storage)
            configure(&configuration)
            return configuration
        } _: { herald in
            try await body(herald)
        }
    }

    static let richNotify = #"""
        {"userId":"u1","sessionId":"s1","text":"Your order shipped.","createSession":true,
         "quickReplies":[{"title":"Thanks"},{"title":"Where is it?","payload":"track"}],
         "buttons":[{"title":"Track","url":"https://example.com/t/1"},{"title":"Cancel","payload":"cancel"}],
         "attachments":[{"type":"image","url":"https://example.com/p.jpg","caption":"Your parcel"}],
         "card":{"title":"Order A-1","subtitle":"2 items","imageUrl":"https://example.com/a1.jpg","buttons":[{"title":"Open","url":"https://example.com/a1"}]}}
        """#

    @Test(arguments: Fixtures.Store.allCases)
    func aNotifyCarriesEveryRichFieldToTheWebhookAndTheAdminView(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store) { herald in
            let answer = try await herald.admin("POST", "/notify/demo", json: Self.richNotify)
            #expect(answer.status == 202, "\(answer.text)")
            let body = try #require(try await herald.receiver.waitForAccepted(1).first).body
            #expect(body["text"] == "Your order shipped.")
            #expect(
                body["quickReplies"] == [["title": "Thanks", "payload": "Thanks"], ["title": "Where is it?", "payload": "track"]],
                "a quick reply's payload defaults to its title")
            #expect(body["buttons"] == [["title": "Track", "url": "https://example.com/t/1"], ["title": "Cancel", "payload": "cancel"]])
            #expect(body["attachments"] == [["type": "image", "url": "https://example.com/p.jpg", "caption": "Your parcel"]])
            #expect(body["card"]?["title"] == "Order A-1")
            #expect(body["card"]?["buttons"]?[0]?["url"] == "https://example.com/a1")

            // The admin view shows the same fields, and the output's status once it is sent.
            let outputId = try #require(answer.json["outputId"]?.stringValue)
            let delivery = try await Self.waitForStatus(herald, outputId, .sent)
            #expect(delivery["quickReplies"]?[1]?["payload"] == "track")
            #expect(delivery["card"]?["subtitle"] == "2 items")
            #expect(delivery["status"] == "delivered", "the delivery state keeps its own field")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aFlowAsksWithQuickRepliesAndAPressedOneComesBackAsTheAnswer(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store, flow: "menu") { herald in
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            let ask = try #require(try await herald.receiver.waitForAccepted(1).first).body
            #expect(ask["text"] == "What would you like?")
            #expect(ask["quickReplies"]?[0] == ["title": "Margherita", "payload": "pizza:margherita"])
            // What every channel makes of a press: the title as text, the payload in data.
            let press = try await herald.send("demo", user: "u1", session: "s1", text: "Funghi", data: ["payload": "pizza:funghi"])
            #expect(press.status == 202)
            let confirm = try await herald.receiver.waitForAccepted(2)[1].body
            #expect(confirm["text"] == "One Funghi, 12.50 EUR. Shall I order it?")
            #expect(confirm["buttons"]?[2] == ["title": "See the menu", "url": "https://example.com/menu"])
            _ = try await herald.send("demo", user: "u1", session: "s1", text: "Order", data: ["payload": "order"])
            let ordered = try await herald.receiver.waitForAccepted(3)[2].body
            #expect(ordered["attachments"]?[0]?["url"] == "https://example.com/receipts/s1.pdf")
        }
    }

    @Test
    func theCognigyFormatUsesItsDefaultRichShapes() async throws {
        try await Self.withHerald(.memory, configure: { $0.endpoints[0].webhook.format = .cognigy }) { herald in
            #expect(try await herald.admin("POST", "/notify/demo", json: Self.richNotify).status == 202)
            let body = try #require(try await herald.receiver.waitForAccepted(1).first).body
            let shapes = try #require(body["AIOutput"]?["data"]?["_cognigy"]?["_default"])
            #expect(shapes["_quickReplies"]?["type"] == "quick_replies")
            #expect(shapes["_quickReplies"]?["quickReplies"]?[1] == ["contentType": "postback", "title": "Where is it?", "payload": "track"])
            #expect(shapes["_buttons"]?["buttons"]?[0] == ["type": "web_url", "title": "Track", "url": "https://example.com/t/1"])
            #expect(shapes["_gallery"]?["items"]?[0]?["imageUrl"] == "https://example.com/a1.jpg")
            #expect(shapes["_image"] == ["type": "image", "imageUrl": "https://example.com/p.jpg"])
            #expect(body["AIOutput"]?["text"] == "Your order shipped.")
        }
    }

    @Test(arguments: [
        (#"{"quickReplies":[{"payload":"x"}]}"#, "quickReplies[0].title: is required"),
        (#"{"quickReplies":"yes,no"}"#, "quickReplies: must be an array, not string"),
        (#"{"buttons":[{"title":"Go"}]}"#, "buttons[0]: a button needs a payload"),
        (#"{"buttons":[{"title":"Go","url":"ftp://x.example"}]}"#, "buttons[0].url: 'ftp://x.example' is not an http"),
        (#"{"attachments":[{"type":"pdf","url":"https://x.example/a.pdf"}]}"#, "attachments[0].type: 'pdf' is not one of"),
        (#"{"attachments":[{"type":"image"}]}"#, "attachments[0].url: is required"),
        (#"{"card":{"subtitle":"no title"}}"#, "card.title: is required"),
        (#"{"card":{"title":"T","colour":"red"}}"#, "card.colour: unknown field"),
        (#"{"template":{"name":"order_update"}}"#, "template.language: is required"),
    ])
    func badRichFieldsAreA400NamingTheField(_ fields: String, _ message: String) async throws {
        try await Self.withHerald(.memory) { herald in
            let body = #"{"userId":"u1","sessionId":"s1","createSession":true,"text":"hi","# + fields.dropFirst()
            let answer = try await herald.admin("POST", "/notify/demo", json: String(body))
            #expect(answer.status == 400)
            #expect(answer.errorMessage?.hasPrefix(message) == true, "\(answer.errorMessage ?? answer.text)")
            try await Task.sleep(for: .milliseconds(100))
            #expect(herald.receiver.all.isEmpty, "nothing is sent for a rejected request")
        }
    }

    @Test
    func aTemplateOnlyNotifyIsAcceptedAndAReplyCannotSendATemplate() async throws {
        try await Self.withHerald(.memory) { herald in
            let template = try await herald.admin(
                "POST", "/notify/demo",
                json: #"{"userId":"u1","sessionId":"s1","createSession":true,"template":{"name":"order_update","language":"en_US","parameters":["A-1",3]}}"#)
            #expect(template.status == 202, "\(template.text)")
            let body = try #require(try await herald.receiver.waitForAccepted(1).first).body
            #expect(body["template"] == ["name": "order_update", "language": "en_US", "parameters": ["A-1", "3"]])

            #expect(try await herald.admin("POST", "/admin/v1/sessions/demo/s1/handover", json: #"{"operator":"ada"}"#).status == 200)
            let reply = try await herald.admin(
                "POST", "/admin/v1/sessions/demo/s1/reply", json: #"{"operator":"ada","template":{"name":"x","language":"en"}}"#)
            #expect(reply.status == 400)
            #expect(reply.errorMessage == "template: only a notify can send a message template")
            let rich = try await herald.admin(
                "POST", "/admin/v1/sessions/demo/s1/reply", json: #"{"operator":"ada","quickReplies":[{"title":"Yes"},{"title":"No"}]}"#)
            #expect(rich.status == 202, "\(rich.text)")
            let sent = try await herald.receiver.waitForAccepted(2)[1].body
            #expect(sent["quickReplies"]?[1]?["title"] == "No")
            #expect(sent["source"] == "operator")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aDeadOutputIsFailedWithItsErrorAndTheStatusWebhookHearsOfIt(_ store: Fixtures.Store) async throws {
        let statusReceiver = TestReceiver()
        try await TestServices.run([statusReceiver.application(logger: TestServices.logger)]) {
            try await statusReceiver.waitUntilListening()
            try await Self.withHerald(
                store,
                configure: { configuration in
                    var hook = WebhookSettings(url: statusReceiver.url)
                    hook.signingSecret = Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                    configuration.endpoints[0].statusWebhook = hook
                }
            ) { herald in
                // The first output is accepted; the second answered 400 is dead at once.
                herald.receiver.setBehavior { received, _ in
                    received.text == "You said: bad" ? TestReceiver.Reply(status: 400, body: Array("no".utf8)) : TestReceiver.Reply()
                }
                #expect(try await herald.send("demo", user: "u1", session: "s1", text: "good").status == 202)
                #expect(try await herald.send("demo", user: "u1", session: "s1", text: "bad").status == 202)
                let events = try await statusReceiver.waitForAccepted(2)
                let byStatus = Dictionary(events.map { ($0.body["status"]?.stringValue ?? "", $0.body) }) { first, _ in first }
                let sent = try #require(byStatus["sent"])
                let failed = try #require(byStatus["failed"])
                #expect(sent["type"] == "status")
                #expect(sent["sessionId"] == "s1")
                #expect(failed["error"]?.stringValue?.contains("HTTP 400") == true)
                #expect(events.allSatisfy { $0.headers["webhook-signature"]?.hasPrefix("v1,") == true }, "signed like outputs")
                // Status events go only to the status webhook, never to the user's.
                try await Task.sleep(for: .milliseconds(200))
                #expect(herald.receiver.all.allSatisfy { $0.body["type"] != "status" })

                let failedId = try #require(failed["outputId"]?.stringValue)
                let record = try await Self.waitForStatus(herald, failedId, .failed)
                #expect(record["statusError"]?.stringValue?.contains("HTTP 400") == true)
                #expect(record["status"] == "dead")
                let metrics = try await herald.admin("GET", "/metrics").text
                let failedLine = metrics.split(separator: "\n").first {
                    $0.hasPrefix("herald_output_status_total") && $0.contains(#"url_token="demo""#) && $0.contains(#"status="failed""#)
                }
                // Counters are per process, and tests run side by side: at least this one.
                let count = failedLine.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
                #expect(count >= 1, "\(failedLine ?? "no herald_output_status_total{status=\"failed\"}")")
            }
        }
    }

    /// The output's admin record once its `outputStatus` is `status`.
    static func waitForStatus(_ herald: TestHerald, _ outputId: String, _ status: OutputStatus) async throws -> JSON {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let record = try await herald.admin("GET", "/admin/v1/deliveries/\(outputId)").json
            if record["outputStatus"]?.stringValue == status.rawValue { return record }
            guard ContinuousClock.now < deadline else {
                Issue.record("output \(outputId) never reached \(status): \(record.jsonString)")
                return record
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
