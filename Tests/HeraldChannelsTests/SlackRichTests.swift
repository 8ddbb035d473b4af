import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// Rich outputs on Slack (SPEC §12): Block Kit blocks (sections, images, an actions block with
/// buttons), checked with slack_sdk's Block Kit models; a pressed button comes back through
/// Slack's interactivity request (block_actions) on the same URL, signed like the events.
@Suite("Slack rich messages")
struct SlackRichTests {
    static let channel: Channel = try! ShippedChannel.load(
        "slack", vars: ["botToken": SlackChannelTests.botToken, "signingSecret": SlackChannelTests.signingSecret])

    static func body(_ text: String?, _ rich: RichContent, type: OutputType = .output) throws -> JSON {
        let request = try channel.request(for: ShippedChannel.output(type, to: "C2147483705", text: text, rich: rich))
        #expect(request.url == "https://slack.com/api/chat.postMessage")
        return try ShippedChannel.json(request)
    }

    /// The blocks as slack_sdk's models read and write them back: equal when every block is
    /// one the SDK knows and validates.
    static func checkWithSDK(_ blocks: JSON?) async throws {
        let blocks = try #require(blocks)
        #expect(try await ChannelSDK.slackBlocks(blocks) == blocks)
    }

    static func button(_ title: String, value: String) -> JSON {
        ["type": "button", "text": ["type": "plain_text", "text": .string(title), "emoji": true], "value": .string(value)]
    }

    static func button(_ title: String, url: String) -> JSON {
        ["type": "button", "text": ["type": "plain_text", "text": .string(title), "emoji": true], "url": .string(url)]
    }

    @Test("an ask with quick replies: a section and an actions block (payload as value, URL button as url); text is the fallback")
    func quickReplies() async throws {
        let body = try Self.body("Shall we ship today?", ShippedChannel.quickReplies)
        #expect(body["channel"] == "C2147483705")
        #expect(body["text"] == "Shall we ship today?\n1. Yes\n2. No\nOpening hours: https://shop.example.com/hours")
        #expect(
            body["blocks"]
                == [
                    ["type": "section", "text": ["type": "mrkdwn", "text": "Shall we ship today?"]],
                    [
                        "type": "actions",
                        "elements": [
                            Self.button("Yes", value: "ANSWER_YES"), Self.button("No", value: "ANSWER_NO"),
                            Self.button("Opening hours", url: "https://shop.example.com/hours"),
                        ],
                    ],
                ])
        try await Self.checkWithSDK(body["blocks"])
    }

    @Test("a notify with an image: an image block; files are links in the section")
    func image() async throws {
        var rich = ShippedChannel.image
        rich.attachments.append(.init(type: .file, url: "https://cdn.example.com/invoice.pdf", name: "invoice.pdf"))
        let body = try Self.body("Your order shipped", rich, type: .notify)
        #expect(
            body["blocks"]
                == [
                    ["type": "section", "text": ["type": "mrkdwn", "text": "Your order shipped\n<https://cdn.example.com/invoice.pdf|invoice.pdf>"]],
                    ["type": "image", "image_url": "https://cdn.example.com/parcel.jpg", "alt_text": "Your parcel"],
                ])
        #expect(body["text"]?.stringValue?.contains("https://cdn.example.com/parcel.jpg") == true)
        try await Self.checkWithSDK(body["blocks"])
    }

    @Test("a card: its title and subtitle, its image, the text, its buttons")
    func card() async throws {
        let body = try Self.body("Back in stock!", ShippedChannel.card)
        #expect(
            body["blocks"]
                == [
                    ["type": "section", "text": ["type": "mrkdwn", "text": "*Blue sneakers*\nEUR 89, sizes 38-46"]],
                    ["type": "image", "image_url": "https://cdn.example.com/sneakers.jpg", "alt_text": "Blue sneakers"],
                    ["type": "section", "text": ["type": "mrkdwn", "text": "Back in stock!"]],
                    [
                        "type": "actions",
                        "elements": [Self.button("Buy", value: "BUY_SNEAKERS"), Self.button("Details", url: "https://shop.example.com/sneakers")],
                    ],
                ])
        try await Self.checkWithSDK(body["blocks"])
    }

    @Test("more than 25 buttons do not fit an actions block: a numbered list in the text instead")
    func tooManyButtons() async throws {
        let rich = RichContent(quickReplies: (1...30).map { .init(title: "Option \($0)", payload: "O\($0)") })
        let body = try Self.body("Pick one", rich)
        let blocks = try #require(body["blocks"]?.arrayValue)
        #expect(blocks.count == 1)
        let text = try #require(blocks[0]["text"]?["text"]?.stringValue)
        #expect(text.hasPrefix("Pick one\n1. Option 1\n2. Option 2\n"))
        #expect(text.hasSuffix("\n30. Option 30"))
        try await Self.checkWithSDK(body["blocks"])
    }

    @Test("long button titles are cut to Slack's 75 characters")
    func longTitle() async throws {
        let title = String(repeating: "x", count: 100)
        let body = try Self.body("Pick", RichContent(quickReplies: [.init(title: title, payload: "P")]))
        let shown = try #require(body["blocks"]?[1]?["elements"]?[0]?["text"]?["text"]?.stringValue)
        #expect(shown.count == 75)
        #expect(shown.hasSuffix("…"))
        try await Self.checkWithSDK(body["blocks"])
    }

    /// A block_actions interaction as Slack posts it: form field `payload` with the JSON.
    static func interaction(value: String?, title: String, url: String? = nil) -> String {
        var action: JSONObject = [
            "action_id": "WaXA", "block_id": "=qXel", "type": "button", "action_ts": "1548426417.840180",
            "text": ["type": "plain_text", "text": .string(title), "emoji": true],
        ]
        if let value { action["value"] = .string(value) }
        if let url { action["url"] = .string(url) }
        let payload: JSON = [
            "type": "block_actions", "user": ["id": "U2147483697", "username": "ada", "team_id": "T123ABC456"],
            "api_app_id": "A123ABC456", "token": "9s8d9as89d8as9d8as989", "trigger_id": "12466734323.1395872398",
            "team": ["id": "T123ABC456", "domain": "example"],
            "container": ["type": "message", "message_ts": "1548261231.000200", "channel_id": "C2147483705", "is_ephemeral": false],
            "channel": ["id": "C2147483705", "name": "directmessage"],
            "message": ["type": "message", "ts": "1548261231.000200", "text": "Shall we ship today?", "bot_id": "B123ABC456"],
            "response_url": "https://hooks.slack.com/actions/T123ABC456/1234567890/abc", "actions": [.object(action)],
        ]
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "payload=" + (payload.jsonString.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }

    static func signed(_ body: String, at time: Int = Int(Date().timeIntervalSince1970)) async throws -> ChannelRequest {
        let timestamp = String(time)
        let signature = try await ChannelSDK.slackSign(signingSecret: SlackChannelTests.signingSecret, timestamp: timestamp, body: body)
        return ShippedChannel.request(form: body, headers: [("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature)])
    }

    @Test("a pressed button (block_actions, signed with slack_sdk) is the user's message: title as text, value as data.payload")
    func click() async throws {
        let inbound = try Self.channel.receive(try await Self.signed(Self.interaction(value: "ANSWER_YES", title: "Yes")), now: .now())
        #expect(inbound.messages.count == 1)
        let message = try #require(inbound.messages.first)
        #expect(message.userId == "U2147483697")
        #expect(message.sessionId == "C2147483705")
        #expect(message.text == "Yes")
        #expect(message.data?["payload"] == "ANSWER_YES")
        #expect(message.data?["slack"]?["messageTs"] == "1548261231.000200")
        #expect(message.id == "slack-12466734323.1395872398")
        #expect(inbound.reply.status == 200)

        // A URL button's click carries no value: acknowledged, no message.
        let link = try Self.channel.receive(
            try await Self.signed(Self.interaction(value: nil, title: "Opening hours", url: "https://shop.example.com/hours")), now: .now())
        #expect(link.messages.isEmpty)
        #expect(link.reply.status == 200)

        // Signed with another secret, or too long ago: 401, like the events.
        let body = Self.interaction(value: "ANSWER_YES", title: "Yes")
        let stale = try await Self.signed(body, at: Int(Date().timeIntervalSince1970) - 600)
        #expect(throws: ChannelRejection.self) { try Self.channel.receive(stale, now: .now()) }
        var forged = try await Self.signed(body)
        forged.body = Array(Self.interaction(value: "ANSWER_NO", title: "Yes").utf8)
        #expect(throws: ChannelRejection(status: 401, reason: "X-Slack-Signature: does not match")) {
            try Self.channel.receive(forged, now: .now())
        }
    }

    @Test("plain outputs are as before: text, and output data's blocks pass through")
    func plain() throws {
        #expect(try Self.body("hi", RichContent()) == ["channel": "C2147483705", "text": "hi"])
        let request = try Self.channel.request(
            for: ShippedChannel.output(to: "C1", text: "hi", data: ["blocks": [["type": "divider"]], "slack": ["threadTs": "1.2"]]))
        #expect(try ShippedChannel.json(request) == ["channel": "C1", "text": "hi", "thread_ts": "1.2", "blocks": [["type": "divider"]]])
    }

    @Test("the message id of a sent message is channel:ts")
    func messageId() {
        let answer = ChannelResponse(status: 200, retryAfter: nil, body: Array(#"{"ok":true,"channel":"C2147483705","ts":"1503435956.000247"}"#.utf8))
        #expect(Self.channel.messageId(from: answer, for: ShippedChannel.output(to: "C2147483705", text: "hi")) == "C2147483705:1503435956.000247")
    }
}
