import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// Channel files are checked once, with `file:line: reason` errors, before anything runs.
@Suite("Channel files")
struct ChannelLoadingTests {
    static let minimal = """
        channel: demo
        vars:
          token: { secret: true }
        input:
          messages:
            - userId: "{{ request.body.user }}"
              sessionId: "{{ request.body.chat }}"
              text: "{{ request.body.text }}"
        output:
          url: "https://api.example.com/send?token={{ vars.token }}"
          json: { chat: "{{ output.sessionId }}", text: "{{ output.text }}" }

        """

    func error(_ text: String, vars: [String: String] = ["token": "t0ps3cret"]) -> FileError? {
        do {
            _ = try Channel.load(path: "demo.yaml", text: text, vars: vars)
            return nil
        } catch {
            return error
        }
    }

    @Test("the four shipped channel files check clean", arguments: ["telegram", "twilio", "slack", "whatsapp"])
    func shipped(name: String) throws {
        let channel = try Channel.check(path: Fixtures.root + "/examples/channels/\(name).yaml")
        #expect(channel.name == name)
        #expect(channel.variables.contains { $0.name == "apiBase" && $0.defaultValue?.hasPrefix("https://") == true })
    }

    @Test("a good file loads")
    func good() throws {
        #expect(error(Self.minimal) == nil)
    }

    @Test("mistakes are reported with file, line and reason")
    func mistakes() {
        let cases: [(String, String, Int?, String)] = [
            ("unknown key", Self.minimal.replacingOccurrences(of: "  json:", with: "  jsn:"), 11, "output.jsn: unknown key"),
            (
                "bad expression", Self.minimal.replacingOccurrences(of: "{{ request.body.text }}", with: "{{ request.body.text + }}"), 8,
                "input.messages[0].text: bad template"
            ),
            (
                "unknown root", Self.minimal.replacingOccurrences(of: "{{ output.sessionId }}", with: "{{ input.sessionId }}"), 11,
                "unknown name 'input'"
            ),
            (
                "no url", Self.minimal.replacingOccurrences(of: "  url: \"https://api.example.com/send?token={{ vars.token }}\"\n", with: ""), 10,
                "output.url: is required"
            ),
            (
                "no userId",
                Self.minimal.replacingOccurrences(of: "    - userId: \"{{ request.body.user }}\"\n      sessionId", with: "    - sessionId"), 6,
                "input.messages[0].userId: is required"
            ),
            (
                "bad check",
                Self.minimal.replacingOccurrences(
                    of: "input:\n", with: "input:\n  verify:\n    - hmac: { algorithm: md5, key: k, content: c, signature: s }\n"),
                6, "'md5' is not sha1 or sha256"
            ),
            (
                "expression in braces", Self.minimal.replacingOccurrences(of: "  json:", with: "  success: \"{{ response.status }}\"\n  json:"), 11,
                "without {{ }}"
            ),
        ]
        for (name, text, line, reason) in cases {
            let found = error(text)
            #expect(found?.file == "demo.yaml", "\(name)")
            #expect(found?.line == line, "\(name): \(found?.description ?? "no error")")
            #expect(found?.reason.contains(reason) == true, "\(name): \(found?.description ?? "no error")")
        }
    }

    @Test("channelVars: a missing, unknown or empty variable is an error naming it")
    func variables() {
        #expect(error(Self.minimal, vars: [:])?.reason.contains("channelVars.token: is required") == true)
        #expect(error(Self.minimal, vars: ["token": "x", "tokn": "y"])?.reason.contains("channelVars.tokn: unknown variable") == true)
        #expect(error(Self.minimal, vars: ["token": ""])?.reason.contains("channelVars.token: must not be empty") == true)
    }

    @Test("a config names the channel file relative to itself; errors in channelVars point at the config")
    func configuration() throws {
        let directory = try Fixtures.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        try Self.minimal.write(toFile: directory + "/channels/demo.yaml", atomically: true, encoding: .utf8)
        func config(_ endpoint: String) throws -> HeraldConfiguration {
            let yaml = """
                admin: { keys: [k] }
                storage: memory
                publicUrl: https://bots.example.com/
                endpoints:
                  - urlToken: demo
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                \(endpoint)
                """
            try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
            return try HeraldConfiguration.load(path: directory + "/herald.yaml", environment: ["TOKEN": "from-env"])
        }
        let loaded = try config("    channel: channels/demo.yaml\n    channelVars:\n      token: ${TOKEN}\n")
        #expect(loaded.publicUrl == "https://bots.example.com")
        let reference = try #require(loaded.endpoints[0].channel)
        #expect(reference.path == directory + "/channels/demo.yaml")
        let channel = try Channel.load(reference)
        #expect(channel.shownValue(of: "token") == "***")
        #expect(channel.redact("https://api.example.com/send?token=from-env") == "https://api.example.com/send?token=***")

        let unknown = try config("    channel: channels/demo.yaml\n    channelVars:\n      token: a\n      extra: b\n")
        #expect(
            throws: FileError(file: directory + "/herald.yaml", line: 10, reason: "channelVars.extra: unknown variable (channel demo declares token)")
        ) {
            try Channel.load(unknown.endpoints[0].channel!)
        }
        #expect(throws: FileError.self) { try config("    channel: channels/missing.yaml\n") }
        #expect(throws: FileError.self) { try config("    channelVars: { token: a }\n    webhook: { url: http://127.0.0.1:9/hook }\n") }
        // A channel endpoint's webhook section takes timeouts and retries, not a URL or auth.
        #expect(throws: FileError.self) {
            try config("    channel: channels/demo.yaml\n    channelVars: { token: a }\n    webhook: { url: http://127.0.0.1:9/hook }\n")
        }
        _ = try config("    channel: channels/demo.yaml\n    channelVars: { token: a }\n    webhook: { timeout: 5s, retry: { maxAttempts: 3 } }\n")
        // Without a channel, webhook.url is still required.
        #expect(throws: FileError.self) { try config("    webhook: { timeout: 5s }\n") }
    }
}

/// The compiled channel on its own: the clock is a parameter, so time windows are exact.
@Suite("Channel input and output")
struct ChannelRulesTests {
    static let slack: Channel = {
        try! Channel.load(
            path: Fixtures.root + "/examples/channels/slack.yaml",
            text: try! String(contentsOfFile: Fixtures.root + "/examples/channels/slack.yaml", encoding: .utf8),
            vars: ["botToken": "xoxb-1", "signingSecret": "8f742231b10e8888abcd99yyyzzz85a5"])
    }()

    /// Slack's documented example: this signature over this body at 1531420618.
    static let body =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"

    func request(_ signature: String = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503") -> ChannelRequest {
        ChannelRequest(
            method: "POST", url: "https://bots.example.com/slack", query: "",
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"), ("X-Slack-Request-Timestamp", "1531420618"), ("X-Slack-Signature", signature),
            ], body: Array(Self.body.utf8))
    }

    @Test("Slack's example signature passes within 5 minutes and fails after, by the given clock")
    func slackWindow() throws {
        let signed = Timestamp(milliseconds: 1_531_420_618_000)
        let inside = try Self.slack.receive(request(), now: signed.adding(milliseconds: 300_000))
        #expect(inside.messages.isEmpty, "a slash command is no message event")
        #expect(inside.reply.status == 200)
        #expect(throws: ChannelRejection.self) { try Self.slack.receive(request(), now: signed.adding(milliseconds: 301_000)) }
        #expect(throws: ChannelRejection.self) { try Self.slack.receive(request(), now: signed.adding(milliseconds: -301_000)) }
        do {
            _ = try Self.slack.receive(request("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504"), now: signed)
            Issue.record("a changed signature passed")
        } catch {
            #expect(error.status == 401)
            #expect(error.reason == "X-Slack-Signature: does not match")
        }
    }

    @Test("Twilio's output is a form with lists as repeated keys and basic auth")
    func twilioForm() throws {
        let channel = try Channel.load(
            path: "twilio.yaml", text: try String(contentsOfFile: Fixtures.root + "/examples/channels/twilio.yaml", encoding: .utf8),
            vars: ["accountSid": "AC1", "authToken": "tok", "from": "+15550001"])
        let output = Output(
            session: SessionKey(urlToken: "sms", sessionId: "+15551234"), userId: "+15551234", seq: 1, type: .output,
            text: "a b&c=d ✓", data: ["mediaUrl": ["https://x.test/1.jpg", "https://x.test/2.jpg"]], inputId: nil, source: .user)
        let request = try channel.request(for: output)
        #expect(request.url == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
        #expect(request.user == "AC1")
        #expect(request.password?.value == "tok")
        #expect(
            String(decoding: request.body, as: UTF8.self)
                == "To=%2B15551234&From=%2B15550001&Body=a+b%26c%3Dd+%E2%9C%93&MediaUrl=https%3A%2F%2Fx.test%2F1.jpg&MediaUrl=https%3A%2F%2Fx.test%2F2.jpg"
        )
    }

    @Test("an output becomes the request, and answers are judged by the channel's rules")
    func output() throws {
        let output = Output(
            id: "out_1", session: SessionKey(urlToken: "slack", sessionId: "C1"), userId: "U1", seq: 1, type: .notify, text: "hi", data: nil,
            inputId: nil, source: nil, timestamp: Timestamp(milliseconds: 0))
        let request = try Self.slack.request(for: output)
        #expect(request.url == "https://slack.com/api/chat.postMessage")
        #expect(request.headers.first { $0.name == "Authorization" }?.value == "Bearer xoxb-1")
        #expect(request.headers.filter { $0.name.lowercased() == "content-type" }.map(\.value) == ["application/json; charset=utf-8"])
        #expect(try JSON.parse(request.body) == ["channel": "C1", "text": "hi"])

        func judge(_ status: Int, _ body: String, retryAfter: String? = nil) -> ChannelVerdict {
            Self.slack.judge(ChannelResponse(status: status, retryAfter: retryAfter, body: Array(body.utf8)), for: output)
        }
        #expect(judge(200, #"{"ok":true}"#) == .delivered)
        #expect(
            judge(200, #"{"ok":false,"error":"internal_error"}"#)
                == .retry(after: nil, reason: "HTTP 200: internal_error (not a success for channel slack)"))
        #expect(judge(200, #"{"ok":false,"error":"channel_not_found"}"#) == .dead(reason: "HTTP 200: channel_not_found"))
        #expect(judge(429, #"{"ok":false,"error":"ratelimited"}"#, retryAfter: "30") == .byStatus(reason: "HTTP 429: ratelimited"))
    }
}
