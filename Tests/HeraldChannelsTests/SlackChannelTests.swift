import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Synchronization
import Testing

/// Slack as Slack talks: Events API JSON signed with X-Slack-Signature (computed by slack_sdk's
/// SignatureVerifier), answered by chat.postMessage calls to a stand-in slack.com.
@Suite("Slack channel")
struct SlackChannelTests {
    static let botToken = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
    static let signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

    static func vars(_ apiBase: String) -> [String: String] {
        ["botToken": botToken, "signingSecret": signingSecret, "apiBase": apiBase]
    }

    static let ok = TestReceiver.Reply.json(200, #"{"ok":true,"channel":"C2147483705","ts":"1503435956.000247","message":{"text":"ok"}}"#)

    /// A message event as the Events API documentation shows one.
    static func messageEvent(text: String = "Hello world", eventId: String = "Ev08MFMKH6", extra: String = "") -> String {
        #"{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"message","channel":"C2147483705","user":"U2147483697","text":"\#(text)","ts":"1355517523.000005","event_ts":"1355517523.000005","channel_type":"im"\#(extra)},"type":"event_callback","authed_users":["U123ABC456"],"event_id":"\#(eventId)","event_time":1355517523}"#
    }

    static func send(_ herald: TestHerald, _ body: String, at time: Int = Int(Date().timeIntervalSince1970), secret: String = signingSecret)
        async throws -> HTTPResult
    {
        let timestamp = String(time)
        let signature = try await ChannelSDK.slackSign(signingSecret: secret, timestamp: timestamp, body: body)
        return try await ChannelHerald.post(
            herald, "/slack", body: Array(body.utf8),
            headers: ["Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature])
    }

    @Test("url_verification is answered with the challenge")
    func urlVerification() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "slack", urlToken: "slack", receiver: receiver, vars: Self.vars) { herald in
            let body =
                #"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#
            let answer = try await Self.send(herald, body)
            #expect(answer.status == 200)
            #expect(answer.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(answer.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        }
    }

    @Test("a message event becomes chat.postMessage with the bot token; bot messages and subtypes are skipped")
    func messageToPostMessage() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "slack", urlToken: "slack", receiver: receiver, vars: Self.vars) { herald in
            #expect(try await Self.send(herald, Self.messageEvent()).status == 200)
            let botEcho = Self.messageEvent(text: "You said: Hello world", eventId: "Ev0BOT", extra: #","bot_id":"B123ABC456""#)
            #expect(try await Self.send(herald, botEcho).status == 200)
            let edit = Self.messageEvent(text: "edited", eventId: "Ev0EDIT", extra: #","subtype":"message_changed""#)
            #expect(try await Self.send(herald, edit).status == 200)

            let sent = try await receiver.waitForAccepted(1)
            #expect(sent[0].path == "/api/chat.postMessage")
            #expect(sent[0].headers["authorization"] == "Bearer \(Self.botToken)")
            #expect(sent[0].headers["content-type"] == "application/json; charset=utf-8")
            #expect(sent[0].body["channel"] == .string("C2147483705"))
            #expect(sent[0].body["text"] == .string("You said: Hello world"))
            #expect(sent[0].body.objectValue?.keys.sorted() == ["channel", "text"])
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 1, "the bot's message and the edit ran no flow")
        }
    }

    @Test("Herald's chat.postMessage is the one slack_sdk's WebClient makes")
    func sameAsSlackSDK() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "slack", urlToken: "slack", receiver: receiver, vars: Self.vars) { herald in
            let apiBase = String(receiver.url.dropLast("/hook".count))
            _ = try await ChannelSDK.call([
                "op": "slack-send", "botToken": .string(Self.botToken), "apiBase": .string(apiBase), "channel": "C2147483705",
                "text": "You said: Hello world",
            ])
            let sdk = try #require(try await receiver.waitForAccepted(1).first)
            #expect(try await Self.send(herald, Self.messageEvent()).status == 200)
            let herald = try await receiver.waitForAccepted(2)[1]
            #expect(herald.path == sdk.path)
            #expect(herald.headers["authorization"] == sdk.headers["authorization"])
            func mediaType(_ value: String?) -> String? { value?.split(separator: ";").first.map(String.init) }
            #expect(mediaType(herald.headers["content-type"]) == mediaType(sdk.headers["content-type"]))
            let (ours, theirs) = (herald.body.objectValue ?? [:], sdk.body.objectValue ?? [:])
            #expect(ours.keys.sorted() == theirs.keys.sorted())
            for key in theirs.keys { #expect(ours[key] == theirs[key], "\(key)") }
        }
    }

    @Test("a request signed over 5 minutes ago, or with another secret, is 401 and runs nothing")
    func staleAndWrong() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        try await ChannelHerald.run(channel: "slack", urlToken: "slack", receiver: receiver, vars: Self.vars) { herald in
            let now = Int(Date().timeIntervalSince1970)
            let stale = try await Self.send(herald, Self.messageEvent(), at: now - 6 * 60)
            #expect(stale.status == 401)
            #expect(stale.errorMessage?.contains("timestamp") == true, "\(stale.text)")
            let ahead = try await Self.send(herald, Self.messageEvent(), at: now + 6 * 60)
            #expect(ahead.status == 401)
            let wrong = try await Self.send(herald, Self.messageEvent(), secret: "another-apps-signing-secret")
            #expect(wrong.status == 401)
            #expect(wrong.errorMessage?.contains("X-Slack-Signature: does not match") == true)
            let unsigned = try await ChannelHerald.post(
                herald, "/slack", body: Array(Self.messageEvent().utf8), headers: ["Content-Type": "application/json"])
            #expect(unsigned.status == 401)
            // Within the window, the same request is fine.
            #expect(try await Self.send(herald, Self.messageEvent(), at: now - 4 * 60).status == 200)
            try await receiver.waitForAccepted(1)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 1)
        }
    }

    @Test("HTTP 200 with ok:false is retried; 429 waits Retry-After; a permanent error is dead")
    func failures() async throws {
        let receiver = TestReceiver { _, _ in Self.ok }
        let calls = Mutex(0)
        receiver.setBehavior { received, _ in
            let call = calls.withLock { count -> Int in
                count += 1
                return count
            }
            if received.body["text"]?.stringValue == "You said: nowhere" {
                return .json(200, #"{"ok":false,"error":"channel_not_found"}"#)
            }
            switch call {
            case 1: return .json(200, #"{"ok":false,"error":"internal_error"}"#)
            case 2: return .json(429, #"{"ok":false,"error":"ratelimited"}"#, headers: [("Retry-After", "2")])
            default: return Self.ok
            }
        }
        try await ChannelHerald.run(channel: "slack", urlToken: "slack", receiver: receiver, vars: Self.vars) { herald in
            #expect(try await Self.send(herald, Self.messageEvent()).status == 200)
            let all = try await receiver.wait(timeout: .seconds(15)) { $0.count >= 3 }
            #expect(all.map(\.status) == [200, 429, 200])
            #expect(all[2].body == all[0].body)
            #expect(all[2].arrivedAt - all[1].arrivedAt >= .milliseconds(1900), "Retry-After: 2 honoured")
            let delivered = try await waitForDelivery(herald, status: "delivered")
            #expect(delivered.contains("HTTP 200: internal_error"), "\(delivered)")

            #expect(try await Self.send(herald, Self.messageEvent(text: "nowhere", eventId: "Ev0NOWHERE")).status == 200)
            let dead = try await waitForDelivery(herald, status: "dead")
            #expect(dead.contains("channel_not_found"), "\(dead)")
            #expect(dead.contains(Self.botToken) == false)
        }
    }
}
