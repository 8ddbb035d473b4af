import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// Rich outputs on WhatsApp Cloud API (SPEC §12): interactive reply buttons (≤ 3, titles ≤ 20)
/// or lists (≤ 10 rows), image/document/audio/video messages, template messages; replies
/// (button_reply, list_reply, a template's quick-reply button) back as input; delivery statuses.
/// Shapes from https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages.
@Suite("WhatsApp rich messages")
struct WhatsAppRichTests {
    static let channel: Channel = try! ShippedChannel.load(
        "whatsapp",
        vars: [
            "accessToken": WhatsAppChannelTests.accessToken, "appSecret": WhatsAppChannelTests.appSecret,
            "verifyToken": WhatsAppChannelTests.verifyToken, "phoneNumberId": WhatsAppChannelTests.phoneNumberId,
        ])

    static let to = "16505551234"

    static func body(_ text: String?, _ rich: RichContent, type: OutputType = .output) throws -> JSON {
        let request = try channel.request(for: ShippedChannel.output(type, to: to, text: text, rich: rich))
        #expect(request.url == "https://graph.facebook.com/v21.0/\(WhatsAppChannelTests.phoneNumberId)/messages")
        #expect(request.headers.first { $0.name == "Authorization" }?.value == "Bearer \(WhatsAppChannelTests.accessToken)")
        let body = try ShippedChannel.json(request)
        #expect(body["messaging_product"] == "whatsapp")
        #expect(body["recipient_type"] == "individual")
        #expect(body["to"] == .string(to))
        return body
    }

    /// The body without the envelope every message has.
    static func message(_ body: JSON) -> JSON {
        guard var object = body.objectValue else { return body }
        for key in ["messaging_product", "recipient_type", "to"] { object[key] = nil }
        return .object(object)
    }

    static func reply(_ id: String, _ title: String) -> JSON {
        ["type": "reply", "reply": ["id": .string(id), "title": .string(title)]]
    }

    @Test("an ask with quick replies: an interactive button message; URL buttons are links in the body")
    func quickReplies() throws {
        let body = try Self.body("Shall we ship today?", ShippedChannel.quickReplies)
        #expect(
            Self.message(body)
                == [
                    "type": "interactive",
                    "interactive": [
                        "type": "button",
                        "body": ["text": "Shall we ship today?\nOpening hours: https://shop.example.com/hours"],
                        "action": ["buttons": [Self.reply("ANSWER_YES", "Yes"), Self.reply("ANSWER_NO", "No")]],
                    ],
                ])
    }

    @Test("4 to 10 choices, or a title over 20 characters: an interactive list (row titles cut to 24, the whole title as description)")
    func list() throws {
        let sizes = RichContent(quickReplies: (38...42).map { .init(title: "Size \($0)", payload: "SIZE_\($0)") })
        let body = try Self.body("Which size?", sizes)
        #expect(
            Self.message(body)
                == [
                    "type": "interactive",
                    "interactive": [
                        "type": "list", "body": ["text": "Which size?"],
                        "action": [
                            "button": "Choose",
                            "sections": [["rows": .array((38...42).map { ["id": .string("SIZE_\($0)"), "title": .string("Size \($0)")] })]],
                        ],
                    ],
                ])

        let long = RichContent(quickReplies: [
            .init(title: "Deliver to my home address", payload: "HOME"), .init(title: "Pick up", payload: "PICKUP"),
        ])
        let longBody = try Self.body("Where to?", long)
        #expect(longBody["interactive"]?["type"] == "list")
        #expect(
            longBody["interactive"]?["action"]?["sections"]?[0]?["rows"]?[0]
                == ["id": "HOME", "title": "Deliver to my home addre", "description": "Deliver to my home address"])
        #expect(longBody["interactive"]?["action"]?["sections"]?[0]?["rows"]?[1] == ["id": "PICKUP", "title": "Pick up"])
    }

    @Test("more than 10 choices: a text message with a numbered list")
    func tooMany() throws {
        let rich = RichContent(quickReplies: (1...12).map { .init(title: "Option \($0)", payload: "O\($0)") })
        let body = try Self.body("Pick one", rich)
        #expect(body["type"] == "text")
        let text = try #require(body["text"]?["body"]?.stringValue)
        #expect(text == "Pick one\n" + (1...12).map { "\($0). Option \($0)" }.joined(separator: "\n"))
    }

    @Test("a notify with an image: an image message with the text as its caption; further attachments as links")
    func image() throws {
        let body = try Self.body("Your order shipped", ShippedChannel.image, type: .notify)
        #expect(
            Self.message(body)
                == ["type": "image", "image": ["link": "https://cdn.example.com/parcel.jpg", "caption": "Your order shipped\nYour parcel"]])

        let file = RichContent(attachments: [
            .init(type: .file, url: "https://cdn.example.com/invoice.pdf", name: "invoice.pdf"),
            .init(type: .image, url: "https://cdn.example.com/parcel.jpg"),
        ])
        let document = try Self.body("Your invoice", file, type: .notify)
        #expect(
            Self.message(document)
                == [
                    "type": "document",
                    "document": [
                        "link": "https://cdn.example.com/invoice.pdf", "caption": "Your invoice\nhttps://cdn.example.com/parcel.jpg",
                        "filename": "invoice.pdf",
                    ],
                ])
    }

    @Test("audio has no caption: alone it is an audio message, with text it is a text message with the link")
    func audio() throws {
        let rich = RichContent(attachments: [.init(type: .audio, url: "https://cdn.example.com/note.ogg")])
        #expect(Self.message(try Self.body(nil, rich, type: .notify)) == ["type": "audio", "audio": ["link": "https://cdn.example.com/note.ogg"]])
        let withText = try Self.body("Listen to this", rich, type: .notify)
        #expect(
            Self.message(withText)
                == ["type": "text", "text": ["preview_url": true, "body": "Listen to this\nhttps://cdn.example.com/note.ogg"]])
    }

    @Test("a card: reply buttons under its image as the header, title (bold), subtitle and text as the body")
    func card() throws {
        let body = try Self.body("Back in stock!", ShippedChannel.card)
        #expect(
            Self.message(body)
                == [
                    "type": "interactive",
                    "interactive": [
                        "type": "button",
                        "header": ["type": "image", "image": ["link": "https://cdn.example.com/sneakers.jpg"]],
                        "body": ["text": "*Blue sneakers*\nEUR 89, sizes 38-46\nBack in stock!\nDetails: https://shop.example.com/sneakers"],
                        "action": ["buttons": [Self.reply("BUY_SNEAKERS", "Buy")]],
                    ],
                ])
        // Without buttons: an image message with the card as its caption.
        var still = ShippedChannel.card
        still.card?.buttons = []
        #expect(
            Self.message(try Self.body(nil, still))
                == [
                    "type": "image",
                    "image": ["link": "https://cdn.example.com/sneakers.jpg", "caption": "*Blue sneakers*\nEUR 89, sizes 38-46"],
                ])
    }

    @Test("a notify with a template: a template message, its parameters as the body component")
    func template() throws {
        let rich = RichContent(template: .init(name: "order_shipped", language: "en_US", parameters: ["Ada", "A-17"]))
        let body = try Self.body("Your order A-17 shipped", rich, type: .notify)
        #expect(
            Self.message(body)
                == [
                    "type": "template",
                    "template": [
                        "name": "order_shipped", "language": ["code": "en_US"],
                        "components": [["type": "body", "parameters": [["type": "text", "text": "Ada"], ["type": "text", "text": "A-17"]]]],
                    ],
                ])
        let bare = try Self.body(nil, RichContent(template: .init(name: "hello_world", language: "en_US")), type: .notify)
        #expect(Self.message(bare) == ["type": "template", "template": ["name": "hello_world", "language": ["code": "en_US"]]])
    }

    @Test("plain text is as before")
    func plain() throws {
        #expect(Self.message(try Self.body("hi", RichContent())) == ["type": "text", "text": ["preview_url": false, "body": "hi"]])
    }

    static func signed(_ body: [UInt8]) -> ChannelRequest {
        ChannelRequest(
            method: "POST", url: "https://bots.example.com/wa", query: "",
            headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", WhatsAppChannelTests.signature(body))], body: body)
    }

    @Test("replies (button, list row, a template's quick-reply button) are the user's messages with title and payload")
    func replies() throws {
        let inbound = try Self.channel.receive(Self.signed(try ChannelHerald.fixture("whatsapp-replies.json")), now: .now())
        #expect(inbound.messages.map(\.text) == ["Yes", "Size 42", "Stop promotions"])
        #expect(inbound.messages.map { $0.data?["payload"] } == ["ANSWER_YES", "SIZE_42", "STOP_PROMOTIONS"])
        #expect(inbound.messages.allSatisfy { $0.userId == Self.to && $0.sessionId == Self.to })
        #expect(inbound.messages[0].data?["whatsapp"]?["type"] == "interactive")
        #expect(inbound.statuses.isEmpty)

        // An ordinary text message has no payload.
        let text = try Self.channel.receive(Self.signed(try ChannelHerald.fixture("whatsapp-messages.json")), now: .now())
        #expect(text.messages.allSatisfy { $0.data?["payload"] == nil })

        // A wrong signature is 401.
        var forged = Self.signed(try ChannelHerald.fixture("whatsapp-replies.json"))
        forged.headers[1].value = WhatsAppChannelTests.signature(forged.body, secret: "another-app")
        #expect(throws: ChannelRejection(status: 401, reason: "X-Hub-Signature-256: does not match")) {
            try Self.channel.receive(forged, now: .now())
        }
    }

    @Test("statuses become receipts: id, status, time, the error of a failure; words Herald does not track are skipped")
    func statuses() throws {
        let inbound = try Self.channel.receive(Self.signed(try ChannelHerald.fixture("whatsapp-statuses.json")), now: .now())
        #expect(inbound.messages.isEmpty)
        #expect(inbound.reply.status == 200)
        let sent = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
        let failed = "wamid.HBgLMTY1MDMxNTU1MTE4MRUCABEYEjE0RkQ0NzU3NUYyRDk4RDM5QQA="
        #expect(
            inbound.statuses == [
                ChannelStatus(messageId: sent, status: .sent, at: Timestamp(milliseconds: 1_750_263_770_000)),
                ChannelStatus(messageId: sent, status: .delivered, at: Timestamp(milliseconds: 1_750_263_773_000)),
                ChannelStatus(messageId: sent, status: .read, at: Timestamp(milliseconds: 1_750_263_801_000)),
                ChannelStatus(
                    messageId: failed, status: .failed, at: Timestamp(milliseconds: 1_750_263_805_000),
                    error: "131047 Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
            ])

        // The mixed fixture: two messages and one status in one request.
        let mixed = try Self.channel.receive(Self.signed(try ChannelHerald.fixture("whatsapp-messages.json")), now: .now())
        #expect(mixed.messages.count == 2)
        #expect(mixed.statuses.map(\.status) == [.delivered])
    }

    @Test("the message id of a sent message is the wamid statuses name")
    func messageId() {
        let answer = ChannelResponse(
            status: 200, retryAfter: nil,
            body: Array(#"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.ABC="}]}"#.utf8))
        #expect(Self.channel.messageId(from: answer, for: ShippedChannel.output(to: Self.to, text: "hi")) == "wamid.ABC=")
        let error = ChannelResponse(status: 400, retryAfter: nil, body: Array(#"{"error":{"code":131047}}"#.utf8))
        #expect(Self.channel.messageId(from: error, for: ShippedChannel.output(to: Self.to, text: "hi")) == nil)
    }
}
