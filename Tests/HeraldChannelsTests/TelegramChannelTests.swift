import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Synchronization
import Testing

/// Telegram as Telegram talks: Update JSON POSTed with the secret header setWebhook was given,
/// answered by `sendMessage` calls to a stand-in Bot API server.
@Suite("Telegram channel")
struct TelegramChannelTests {
    static let botToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
    static let secretToken = "tg-secret_0123456789"

    static func vars(_ apiBase: String) -> [String: String] {
        ["botToken": botToken, "secretToken": secretToken, "apiBase": apiBase]
    }

    static let headers = ["Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secretToken]

    /// POSTs the fixture Update (Telegram's own example) as Telegram does, with the secret.
    static func sendUpdate(_ herald: TestHerald, headers: [String: String] = headers) async throws -> HTTPResult {
        try await ChannelHerald.post(herald, "/tg", body: try ChannelHerald.fixture("telegram-update.json"), headers: headers)
    }

    static let ok = TestReceiver.Reply.json(200, #"{"ok":true,"result":{"message_id":2,"date":1441645600,"chat":{"id":1111111,"type":"private"}}}"#)

    @Test("an Update becomes a sendMessage to the chat, with the flow's answer")
    func updateToSendMessage() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await Self.sendUpdate(herald)
            #expect(answer.status == 200)
            let sent = try await receiver.waitForAccepted(1)
            #expect(sent[0].path == "/bot\(Self.botToken)/sendMessage")
            #expect(sent[0].headers["content-type"] == "application/json")
            #expect(sent[0].headers["authorization"] == nil)
            #expect(sent[0].body["chat_id"] == .number(1_111_111))
            #expect(sent[0].body["text"] == .string("You said: /start"))
            #expect(sent[0].body.objectValue?.keys.sorted() == ["chat_id", "text"])

            // The session is the chat, its user the sender.
            let session = try await herald.herald.registry.session(SessionKey(urlToken: "tg", sessionId: "1111111"))
            #expect(session?.userId == "1111111")
        }
    }

    @Test("notify and inject to a Telegram session go out as sendMessage too")
    func notifyAndInject() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await Self.sendUpdate(herald)
            #expect(answer.status == 200)
            try await receiver.waitForAccepted(1)
            let admin = ["X-API-Key": Fixtures.adminKey]
            let notify = try await herald.post(
                "/notify/tg", json: #"{"userId":"1111111","sessionId":"1111111","text":"Your order shipped"}"#, headers: admin)
            #expect(notify.status == 202, "\(notify.text)")
            let inject = try await herald.post(
                "/inject/tg", json: #"{"userId":"1111111","sessionId":"1111111","text":"event: paid"}"#, headers: admin)
            #expect(inject.status == 202, "\(inject.text)")
            let sent = try await receiver.waitForAccepted(3)
            #expect(sent.map { $0.body["text"]?.stringValue ?? "" } == ["You said: /start", "Your order shipped", "You said: event: paid"])
            #expect(sent.allSatisfy { $0.path == "/bot\(Self.botToken)/sendMessage" && $0.body["chat_id"] == .number(1_111_111) })
        }
    }

    @Test("64-bit chat and user ids of a group keep every digit; other members share the chat's session; bots are skipped")
    func groupIds() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let first = try await ChannelHerald.post(herald, "/tg", body: try ChannelHerald.fixture("telegram-group-update.json"), headers: Self.headers)
            #expect(first.status == 200)
            let bot = try await ChannelHerald.post(herald, "/tg", body: try ChannelHerald.fixture("telegram-bot-echo.json"), headers: Self.headers)
            #expect(bot.status == 200)
            let sent = try await receiver.waitForAccepted(1)
            let raw = String(decoding: sent[0].bytes, as: UTF8.self)
            #expect(raw.contains(#""chat_id":-1001234567890"#), "\(raw)")
            #expect(sent[0].body["text"] == .string("You said: hello from the group"))
            let session = try await herald.herald.registry.session(SessionKey(urlToken: "tg", sessionId: "-1001234567890"))
            #expect(session?.userId == "7012345678")
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 1, "the bot's message ran no flow")
        }
    }

    @Test("a pressed inline button runs the flow with the button's title; the webhook's answer is answerCallbackQuery")
    func callbackQuery() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await ChannelHerald.post(herald, "/tg", body: try ChannelHerald.fixture("telegram-callback-query.json"), headers: Self.headers)
            #expect(answer.status == 200)
            #expect(answer.headers["content-type"]?.hasPrefix("application/json") == true)
            #expect(answer.json == ["method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"])
            let sent = try await receiver.waitForAccepted(1)
            #expect(sent[0].path == "/bot\(Self.botToken)/sendMessage")
            #expect(sent[0].body["text"] == .string("You said: No"))
            #expect(sent[0].body["chat_id"] == .number(1_111_111))
        }
    }

    @Test("the same update sent twice (Telegram redelivers) runs the flow once")
    func redelivery() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            for _ in 0..<2 {
                let answer = try await Self.sendUpdate(herald)
                #expect(answer.status == 200)
            }
            try await receiver.waitForAccepted(1)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 1)
        }
    }

    @Test("a wrong or missing secret header is 401 and runs nothing")
    func wrongSecret() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let body = try ChannelHerald.fixture("telegram-update.json")
            let wrong = try await ChannelHerald.post(
                herald, "/tg", body: body, headers: ["Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "guess"])
            #expect(wrong.status == 401)
            #expect(wrong.errorMessage?.contains("X-Telegram-Bot-Api-Secret-Token") == true)
            #expect(wrong.text.contains(Self.secretToken) == false)
            let missing = try await ChannelHerald.post(herald, "/tg", body: body, headers: ["Content-Type": "application/json"])
            #expect(missing.status == 401)
            let get = try await HTTP.get(herald.baseURL + "/tg")
            #expect(get.status == 403)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.isEmpty)
            #expect(try await herald.herald.registry.session(SessionKey(urlToken: "tg", sessionId: "1111111")) == nil)
        }
    }

    @Test("a body that is not JSON is 400 once the secret is right")
    func badBody() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await ChannelHerald.post(herald, "/tg", body: Array("{not json".utf8), headers: Self.headers)
            #expect(answer.status == 400)
            #expect(answer.errorMessage?.contains("body: not valid JSON") == true)
        }
    }

    @Test("429 with parameters.retry_after: the next attempt waits that long")
    func rateLimited() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        let calls = Mutex(0)
        receiver.setBehavior { _, _ in
            let call = calls.withLock { count -> Int in
                count += 1
                return count
            }
            if call == 1 {
                return .json(
                    429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#)
            }
            return Self.ok
        }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await Self.sendUpdate(herald)
            #expect(answer.status == 200)
            let all = try await receiver.wait(timeout: .seconds(15)) { $0.count >= 2 }
            let gap = all[1].arrivedAt - all[0].arrivedAt
            #expect(gap >= .milliseconds(1900), "retried after \(gap), retry_after was 2 s (the retry schedule alone says 100 ms)")
            #expect(all[1].status == 200)
            #expect(all[1].body == all[0].body)

            // The attempt log says why the first attempt failed.
            let delivery = try await waitForDelivery(herald, status: "delivered")
            #expect(delivery.contains("HTTP 429: Too Many Requests: retry after 2"), "\(delivery)")
            #expect(delivery.contains(Self.botToken) == false)
        }
    }
}
