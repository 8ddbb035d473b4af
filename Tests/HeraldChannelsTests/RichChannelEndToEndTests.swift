import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Rich messages through a running Herald to each shipped channel's API (SPEC §12): the menu
/// flow's ask with quick replies (run by an inject), then a notify with an image and one with a
/// card, as they arrive at a local stand-in for the channel's API, in order.
@Suite("Rich messages end to end, every channel")
struct RichChannelEndToEndTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var channel: String
        var vars: @Sendable (String) -> [String: String]
        var reply: TestReceiver.Reply
        var user: String
        var session: String
        /// Checks the three requests: the ask, the image notify, the card notify.
        var check: @Sendable ([TestReceiver.Received]) throws -> Void
        var testDescription: String { channel }
    }

    static let image = "https://cdn.example.com/parcel.jpg"
    static let cardImage = "https://cdn.example.com/diavola.jpg"

    /// The fields of a form-encoded body.
    static func form(_ request: TestReceiver.Received) -> [String: [String]] {
        var fields: [String: [String]] = [:]
        for pair in String(decoding: request.bytes, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            fields[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        return fields
    }

    /// Every `key` value anywhere in `json`.
    static func values(_ key: String, in json: JSON) -> [JSON] {
        switch json {
        case .object(let object): return (object[key].map { [$0] } ?? []) + object.flatMap { values(key, in: $0.value) }
        case .array(let items): return items.flatMap { values(key, in: $0) }
        default: return []
        }
    }

    static let cases: [Case] = [
        Case(
            channel: "telegram", vars: TelegramChannelTests.vars, reply: TelegramChannelTests.ok, user: "1111111", session: "1111111",
            check: { sent in
                #expect(sent[0].path.hasSuffix("/sendMessage"))
                #expect(values("callback_data", in: sent[0].body) == ["pizza:margherita", "pizza:funghi", "Just browsing"])
                #expect(sent[1].path.hasSuffix("/sendPhoto"))
                #expect(sent[1].body["photo"] == .string(image))
                #expect(sent[2].path.hasSuffix("/sendPhoto"))
                #expect(sent[2].body["photo"] == .string(cardImage))
                #expect(sent[2].body["caption"]?.stringValue?.contains("Diavola") == true)
                #expect(values("callback_data", in: sent[2].body) == ["pizza:diavola"])
            }),
        Case(
            channel: "slack", vars: SlackChannelTests.vars, reply: SlackChannelTests.ok, user: "U2147483697", session: "C2147483705",
            check: { sent in
                #expect(sent.allSatisfy { $0.path == "/api/chat.postMessage" })
                #expect(values("type", in: sent[0].body).contains("actions"))
                #expect(values("value", in: sent[0].body) == ["pizza:margherita", "pizza:funghi", "Just browsing"])
                #expect(values("image_url", in: sent[1].body).contains(.string(image)))
                #expect(values("image_url", in: sent[2].body).contains(.string(cardImage)))
                #expect(values("value", in: sent[2].body) == ["pizza:diavola"])
                #expect(sent.allSatisfy { $0.body["text"]?.stringValue?.isEmpty == false }, "a text for notifications")
            }),
        Case(
            channel: "whatsapp", vars: WhatsAppChannelTests.vars, reply: WhatsAppChannelTests.ok, user: "16505551234", session: "16505551234",
            check: { sent in
                #expect(sent[0].body["type"] == "interactive")
                #expect(sent[0].body["interactive"]?["type"] == "button")
                #expect(values("id", in: sent[0].body["interactive"]?["action"] ?? .null) == ["pizza:margherita", "pizza:funghi", "Just browsing"])
                #expect(sent[1].body["type"] == "image")
                #expect(sent[1].body["image"]?["link"] == .string(image))
                #expect(values("link", in: sent[2].body).contains(.string(cardImage)))
                #expect(values("id", in: sent[2].body).contains("pizza:diavola"))
            }),
        Case(
            channel: "twilio", vars: TwilioChannelTests.vars, reply: TwilioChannelTests.created, user: "+15558675310", session: "+15558675310",
            check: { sent in
                let ask = form(sent[0])
                #expect(ask["Body"]?.first?.contains("1. Margherita\n2. Funghi\n3. Just browsing") == true, "\(ask)")
                #expect(form(sent[1])["MediaUrl"] == [image])
                let card = form(sent[2])
                #expect(card["MediaUrl"] == [cardImage])
                #expect(card["Body"]?.first?.contains("Today's special: Diavola") == true, "\(card)")
            }),
    ]

    @Test(arguments: cases)
    func aFlowsQuickRepliesAndANotifysImageAndCardArriveNatively(_ test: Case) async throws {
        let receiver = TestReceiver { _, _ in test.reply }
        try await ChannelHerald.run(channel: test.channel, urlToken: "c", receiver: receiver, vars: test.vars, flow: "menu") { herald in
            let session = #""userId":"\#(test.user)","sessionId":"\#(test.session)","createSession":true"#
            #expect(try await herald.admin("POST", "/inject/c", json: "{\(session),\"text\":\"hi\"}").status == 202)
            _ = try await receiver.waitForAccepted(1)
            let image = #""attachments":[{"type":"image","url":"\#(Self.image)","caption":"Your parcel"}]"#
            #expect(try await herald.admin("POST", "/notify/c", json: "{\(session),\"text\":\"On its way\",\(image)}").status == 202)
            _ = try await receiver.waitForAccepted(2)
            let card = #"""
                "card":{"title":"Today's special: Diavola","subtitle":"13.90 EUR","imageUrl":"\#(Self.cardImage)","buttons":[{"title":"Diavola","payload":"pizza:diavola"}]}
                """#
            #expect(try await herald.admin("POST", "/notify/c", json: "{\(session),\(card)}").status == 202)
            let sent = try await receiver.waitForAccepted(3)
            try test.check(sent)
        }
    }
}
