import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

@testable import HeraldWebhook

/// How the delivery turns a channel's verdict into its own (SPEC §4 rules where the channel has none).
@Suite struct ChannelVerdictTests {
    static let policy = RetryPolicy(schedule: [.seconds(1)], jitter: 0, throttleDelay: .seconds(60))
    static let telegram: Channel = {
        try! Channel.load(
            path: "telegram.yaml",
            text: try! String(contentsOfFile: Fixtures.root + "/examples/channels/telegram.yaml", encoding: .utf8),
            vars: ["botToken": "123:SECRETTOKEN", "secretToken": "s3cret-token"])
    }()
    static let output = Output(
        session: SessionKey(urlToken: "tg", sessionId: "5"), userId: "5", seq: 1, type: .output, text: "hi", data: nil, inputId: nil,
        source: .user)

    static func judge(_ status: Int, _ body: String, retryAfter: String? = nil) -> DeliveryService.Verdict {
        DeliveryService.judge(
            .success(WebhookResponse(status: status, retryAfter: retryAfter, body: Array(body.utf8), duration: .zero)), channel: telegram,
            output: output, policy: policy)
    }

    @Test func channelRulesComeFirst() {
        #expect(Self.judge(200, #"{"ok":true,"result":{}}"#).kind == .delivered)
        // retry_after is honoured, with the 429 floor of the policy (60 s here).
        #expect(Self.judge(429, #"{"ok":false,"parameters":{"retry_after":300}}"#).kind == .retry(atLeast: .seconds(300)))
        #expect(Self.judge(429, #"{"ok":false,"parameters":{"retry_after":3}}"#).kind == .retry(atLeast: .seconds(60)))
        // A 2xx the channel does not call a success is retried.
        #expect(Self.judge(200, #"{"ok":false}"#).kind == .retry(atLeast: nil))
        // No channel rule: the status decides, with the channel's words.
        let dead = Self.judge(403, #"{"ok":false,"description":"Forbidden: bot was blocked by the user"}"#)
        #expect(dead.kind == .dead)
        #expect(dead.error == "HTTP 403: Forbidden: bot was blocked by the user")
        #expect(Self.judge(502, "").kind == .retry(atLeast: nil))
        #expect(Self.judge(410, "").kind == .pause)
    }

    @Test func transportErrorsHideSecrets() {
        let verdict = DeliveryService.judge(
            .failure(.invalidURL), channel: Self.telegram, output: Self.output, policy: Self.policy)
        #expect(verdict.kind == .dead)
        #expect(Self.telegram.redact("https://api.telegram.org/bot123:SECRETTOKEN/sendMessage") == "https://api.telegram.org/bot***/sendMessage")
    }
}
