import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// Rich outputs on Telegram (SPEC §12): inline keyboards, sendPhoto/sendDocument/sendAudio/
/// sendVideo, cards; pressed buttons (callback_query) back as the user's message, answered with
/// answerCallbackQuery in the webhook's answer. Shapes from https://core.telegram.org/bots/api.
@Suite("Telegram rich messages")
struct TelegramRichTests {
    static let base = "https://api.telegram.org"
    static let channel: Channel = try! ShippedChannel.load(
        "telegram", vars: ["botToken": TelegramChannelTests.botToken, "secretToken": TelegramChannelTests.secretToken])

    static func request(_ text: String?, _ rich: RichContent, type: OutputType = .output) throws -> (method: String, body: JSON) {
        let request = try channel.request(for: ShippedChannel.output(type, to: "1111111", text: text, rich: rich))
        #expect(request.headers.first { $0.name == "Content-Type" }?.value == "application/json")
        let prefix = "/bot\(TelegramChannelTests.botToken)/"
        let path = ShippedChannel.path(request, base: Self.base)
        #expect(path.hasPrefix(prefix), "\(path)")
        return (String(path.dropFirst(prefix.count)), try ShippedChannel.json(request))
    }

    @Test("an ask with quick replies: sendMessage with an inline keyboard, payloads as callback_data, URL buttons as url")
    func quickReplies() throws {
        let (method, body) = try Self.request("Shall we ship today?", ShippedChannel.quickReplies)
        #expect(method == "sendMessage")
        #expect(
            body
                == [
                    "chat_id": 1_111_111, "text": "Shall we ship today?",
                    "reply_markup": [
                        "inline_keyboard": [
                            [["text": "Yes", "callback_data": "ANSWER_YES"]], [["text": "No", "callback_data": "ANSWER_NO"]],
                            [["text": "Opening hours", "url": "https://shop.example.com/hours"]],
                        ]
                    ],
                ])
    }

    @Test("a notify with an image: sendPhoto with the text and the image's caption; further attachments as links")
    func image() throws {
        let (method, body) = try Self.request("Your order shipped", ShippedChannel.image, type: .notify)
        #expect(method == "sendPhoto")
        #expect(body == ["chat_id": 1_111_111, "photo": "https://cdn.example.com/parcel.jpg", "caption": "Your order shipped\nYour parcel"])

        var two = ShippedChannel.image
        two.attachments.append(.init(type: .file, url: "https://cdn.example.com/invoice.pdf", name: "invoice.pdf"))
        let (_, both) = try Self.request("Your order shipped", two, type: .notify)
        #expect(both["caption"] == "Your order shipped\nYour parcel\ninvoice.pdf: https://cdn.example.com/invoice.pdf")
    }

    @Test("files, audio and video go as sendDocument, sendAudio, sendVideo", arguments: [
        (RichContent.AttachmentType.file, "sendDocument", "document"), (.audio, "sendAudio", "audio"), (.video, "sendVideo", "video"),
    ])
    func otherMedia(type: RichContent.AttachmentType, method: String, field: String) throws {
        let rich = RichContent(attachments: [.init(type: type, url: "https://cdn.example.com/x.bin", name: "x.bin")])
        let (sent, body) = try Self.request(nil, rich, type: .notify)
        #expect(sent == method)
        #expect(body == ["chat_id": 1_111_111, field: "https://cdn.example.com/x.bin"])
    }

    @Test("a card: sendPhoto of its image, title, subtitle and text as the caption, its buttons as the keyboard")
    func card() throws {
        let (method, body) = try Self.request("Back in stock!", ShippedChannel.card)
        #expect(method == "sendPhoto")
        #expect(
            body
                == [
                    "chat_id": 1_111_111, "photo": "https://cdn.example.com/sneakers.jpg",
                    "caption": "Blue sneakers\nEUR 89, sizes 38-46\nBack in stock!",
                    "reply_markup": [
                        "inline_keyboard": [
                            [["text": "Buy", "callback_data": "BUY_SNEAKERS"]], [["text": "Details", "url": "https://shop.example.com/sneakers"]],
                        ]
                    ],
                ])
        // Without an image, the card is text.
        var plain = ShippedChannel.card
        plain.card?.imageUrl = nil
        let (textMethod, textBody) = try Self.request(nil, plain)
        #expect(textMethod == "sendMessage")
        #expect(textBody["text"] == "Blue sneakers\nEUR 89, sizes 38-46")
        #expect(textBody["reply_markup"]?["inline_keyboard"]?.arrayValue?.count == 2)
    }

    @Test("callback_data holds at most 64 bytes: a longer payload is cut to its first 64 bytes, never inside a character")
    func longPayload() throws {
        let payload = "ORDER:" + String(repeating: "é", count: 40)  // 86 bytes
        let rich = RichContent(quickReplies: [.init(title: "Order", payload: payload)])
        let (_, body) = try Self.request("Confirm?", rich)
        let data = try #require(body["reply_markup"]?["inline_keyboard"]?[0]?[0]?["callback_data"]?.stringValue)
        #expect(data.utf8.count == 64)
        #expect(payload.hasPrefix(data))
    }

    @Test("a caption over 1024 characters: sendMessage with the picture as a link, nothing dropped")
    func longCaption() throws {
        let text = String(repeating: "long text ", count: 120)
        let (method, body) = try Self.request(text, ShippedChannel.image, type: .notify)
        #expect(method == "sendMessage")
        #expect(body["text"] == .string(text + "\nYour parcel: https://cdn.example.com/parcel.jpg"))
    }

    @Test("a template notify is written out as text on Telegram")
    func template() throws {
        let (method, body) = try Self.request(nil, RichContent(template: .init(name: "order_shipped", language: "en", parameters: ["A-17"])), type: .notify)
        #expect(method == "sendMessage")
        #expect(body["text"] == "order_shipped A-17")
    }

    @Test("plain outputs are as before; output data's reply_markup still passes through")
    func plain() throws {
        let (method, body) = try Self.request("hi", RichContent())
        #expect(method == "sendMessage")
        #expect(body == ["chat_id": 1_111_111, "text": "hi"])
        let request = try Self.channel.request(
            for: ShippedChannel.output(to: "@news", text: "hi", data: ["reply_markup": ["force_reply": true], "parse_mode": "HTML"]))
        #expect(try ShippedChannel.json(request) == ["chat_id": "@news", "text": "hi", "parse_mode": "HTML", "reply_markup": ["force_reply": true]])
    }

    @Test("a pressed button is the user's message: the button's title as text, its callback_data as data.payload, answered with answerCallbackQuery")
    func click() throws {
        let body = String(decoding: try ChannelHerald.fixture("telegram-callback-query.json"), as: UTF8.self)
        let request = ShippedChannel.request(json: body, headers: [("X-Telegram-Bot-Api-Secret-Token", TelegramChannelTests.secretToken)])
        let inbound = try Self.channel.receive(request, now: .now())
        #expect(inbound.messages.count == 1)
        let message = try #require(inbound.messages.first)
        #expect(message.id == "telegram-10001")
        #expect(message.userId == "1111111")
        #expect(message.sessionId == "1111111")
        #expect(message.text == "No")
        #expect(message.data?["payload"] == "ANSWER_NO")
        #expect(message.data?["telegram"]?["id"] == "4382bfdwdsb323b2d9")
        #expect(inbound.reply.status == 200)
        #expect(inbound.reply.contentType == "application/json")
        #expect(try JSON.parse(inbound.reply.body) == ["method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"])

        // Without the secret header it is refused like any update.
        let unsigned = ShippedChannel.request(json: body, headers: [])
        #expect(throws: ChannelRejection(status: 401, reason: "X-Telegram-Bot-Api-Secret-Token: missing")) {
            try Self.channel.receive(unsigned, now: .now())
        }

        // A keyboard Herald no longer finds (an old message): the callback_data is the text.
        let stale = body.replacingOccurrences(of: #""callback_data": "ANSWER_NO""#, with: #""callback_data": "OTHER""#)
        let staleInbound = try Self.channel.receive(
            ShippedChannel.request(json: stale, headers: [("X-Telegram-Bot-Api-Secret-Token", TelegramChannelTests.secretToken)]), now: .now())
        #expect(staleInbound.messages.first?.text == "ANSWER_NO")

        // An ordinary message is answered with a plain 200, and has no payload.
        let update = try ChannelHerald.fixture("telegram-update.json")
        let plain = try Self.channel.receive(
            ChannelRequest(
                method: "POST", url: "https://bots.example.com/tg", query: "",
                headers: [("Content-Type", "application/json"), ("X-Telegram-Bot-Api-Secret-Token", TelegramChannelTests.secretToken)], body: update),
            now: .now())
        #expect(plain.reply.body.isEmpty)
        #expect(plain.messages.first?.data?["payload"] == nil)
    }

    @Test("the message id of a sent message is chat:message_id")
    func messageId() {
        let output = ShippedChannel.output(to: "1111111", text: "hi")
        let answer = ChannelResponse(
            status: 200, retryAfter: nil, body: Array(#"{"ok":true,"result":{"message_id":1367,"chat":{"id":1111111,"type":"private"},"date":1}}"#.utf8))
        #expect(Self.channel.messageId(from: answer, for: output) == "1111111:1367")
        #expect(Self.channel.messageId(from: ChannelResponse(status: 200, retryAfter: nil, body: Array(#"{"ok":true}"#.utf8)), for: output) == nil)
    }
}
