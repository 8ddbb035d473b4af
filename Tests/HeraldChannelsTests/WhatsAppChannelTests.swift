import Crypto
import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// WhatsApp Cloud API as Meta talks: the GET verification handshake, webhooks signed with
/// X-Hub-Signature-256 carrying several messages, answered by Graph `/messages` calls.
@Suite("WhatsApp channel")
struct WhatsAppChannelTests {
    static let accessToken = "EAAJB0a5hZCZAUBAKZAhSZBqAUeJZCHqEXAMPLEACCESSTOKEN"
    static let appSecret = "4f1cd7b8c1a94e9c8d0b6a1f2e3d4c5b"
    static let verifyToken = "herald-verify-1234"
    static let phoneNumberId = "106540352242922"

    static func vars(_ apiBase: String) -> [String: String] {
        [
            "accessToken": accessToken, "appSecret": appSecret, "verifyToken": verifyToken, "phoneNumberId": phoneNumberId,
            "apiBase": apiBase,
        ]
    }

    static let ok = TestReceiver.Reply.json(
        200,
        #"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}"#
    )

    /// `sha256=` + hex HMAC-SHA256 of the body, keyed with the App Secret, as Meta signs.
    static func signature(_ body: [UInt8], secret: String = appSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    @Test("the GET verification handshake answers hub.challenge; a wrong verify token is 403")
    func handshake() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "whatsapp", urlToken: "wa", receiver: receiver, vars: Self.vars) { herald in
            let good = try await HTTP.get(herald.baseURL + "/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=\(Self.verifyToken)")
            #expect(good.status == 200)
            #expect(good.text == "1158201444")
            let wrong = try await HTTP.get(herald.baseURL + "/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess")
            #expect(wrong.status == 403)
            #expect(wrong.text.contains(Self.verifyToken) == false)
            let none = try await HTTP.get(herald.baseURL + "/wa")
            #expect(none.status == 403)
        }
    }

    @Test("every message of a signed webhook becomes a /messages call; statuses are skipped")
    func messages() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "whatsapp", urlToken: "wa", receiver: receiver, vars: Self.vars) { herald in
            let body = try ChannelHerald.fixture("whatsapp-messages.json")
            let answer = try await ChannelHerald.post(
                herald, "/wa", body: body, headers: ["Content-Type": "application/json", "X-Hub-Signature-256": Self.signature(body)])
            #expect(answer.status == 200, "\(answer.text)")
            let sent = try await receiver.waitForAccepted(2)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 2, "one call per message, none for the status")
            for request in sent {
                #expect(request.path == "/v21.0/\(Self.phoneNumberId)/messages")
                #expect(request.headers["authorization"] == "Bearer \(Self.accessToken)")
                #expect(request.headers["content-type"] == "application/json")
                #expect(request.body["messaging_product"] == .string("whatsapp"))
                #expect(request.body["type"] == .string("text"))
                #expect(request.body["text"]?["preview_url"] == .bool(false))
            }
            let byRecipient = Dictionary(sent.map { ($0.body["to"]?.stringValue ?? "", $0.body["text"]?["body"]?.stringValue ?? "") }) { a, _ in a }
            #expect(
                byRecipient == [
                    "16505551234": "You said: Does it come in another color?", "16315551181": "You said: this is a text message",
                ])
        }
    }

    @Test("a webhook with a wrong signature is 401 and runs nothing")
    func wrongSignature() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "whatsapp", urlToken: "wa", receiver: receiver, vars: Self.vars) { herald in
            let body = try ChannelHerald.fixture("whatsapp-messages.json")
            let wrong = try await ChannelHerald.post(
                herald, "/wa", body: body,
                headers: ["Content-Type": "application/json", "X-Hub-Signature-256": Self.signature(body, secret: "another-app")])
            #expect(wrong.status == 401)
            #expect(wrong.errorMessage?.contains("X-Hub-Signature-256: does not match") == true)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.isEmpty)
        }
    }
}
