import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// What goes wrong at run time stays with its request or its output: 400 for a request the
/// channel cannot map, a dead output with the reason for a request it cannot build. Secrets
/// never show.
@Suite("Channel failures and secrets")
struct ChannelFailureTests {
    @Test("an update the mapping cannot make a message of is 400 naming the field; the server keeps serving")
    func unmappableInput() async throws {
        let receiver = TestReceiver { _, _ in TelegramChannelTests.ok }
        try await ChannelHerald.run(channel: "telegram", urlToken: "tg", receiver: receiver, vars: TelegramChannelTests.vars) { herald in
            let noSender = #"{"update_id":7,"message":{"message_id":1,"chat":{"id":5,"type":"private"},"date":1,"text":"hi"}}"#
            let answer = try await ChannelHerald.post(herald, "/tg", body: Array(noSender.utf8), headers: TelegramChannelTests.headers)
            #expect(answer.status == 400)
            #expect(answer.errorMessage == "channel telegram: input.messages[0].userId: is empty for this request")
            let good = try await TelegramChannelTests.sendUpdate(herald)
            #expect(good.status == 200)
            try await receiver.waitForAccepted(1)
        }
    }

    @Test("an output the channel cannot make a request of is dead with the reason in its attempt log")
    func unbuildableOutput() async throws {
        let directory = try Fixtures.temporaryDirectory()
        let file = directory + "/broken.yaml"
        let text = try String(contentsOfFile: Fixtures.root + "/examples/channels/telegram.yaml", encoding: .utf8)
            .replacingOccurrences(of: #"  url: "{{ vars.apiBase }}/bot{{ vars.botToken }}/sendMessage""#, with: #"  url: "{{ output.data.url }}""#)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let receiver = TestReceiver { _, _ in TelegramChannelTests.ok }
        try await ChannelHerald.run(channel: file, urlToken: "tg", receiver: receiver, vars: TelegramChannelTests.vars) { herald in
            let answer = try await TelegramChannelTests.sendUpdate(herald)
            #expect(answer.status == 200)
            let dead = try await waitForDelivery(herald, status: "dead")
            #expect(dead.contains("channel telegram: output.url '' is not an http:// or https:// URL"), "\(dead)")
            #expect(receiver.all.isEmpty)
        }
    }

    @Test("tokens and secrets appear in no admin answer, error or log line")
    func secretsStaySecret() async throws {
        let capture = LogCapture()
        let receiver = TestReceiver { _, _ in
            .json(400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#)
        }
        try await ChannelHerald.run(
            channel: "telegram", urlToken: "tg", receiver: receiver, vars: TelegramChannelTests.vars, logger: capture.logger()
        ) { herald in
            let wrong = try await TelegramChannelTests.sendUpdate(
                herald, headers: ["Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TelegramChannelTests.secretToken + "x"])
            #expect(wrong.status == 401)
            let good = try await TelegramChannelTests.sendUpdate(herald)
            #expect(good.status == 200)
            let dead = try await waitForDelivery(herald, status: "dead")
            #expect(dead.contains("HTTP 400: Bad Request: chat not found"), "\(dead)")

            let endpoints = try await HTTP.get(herald.adminURL + "/admin/v1/endpoints", headers: ["X-API-Key": Fixtures.adminKey])
            let channel = try #require(endpoints.json["endpoints"]?[0]?["channel"] ?? endpoints.json[0]?["channel"], "\(endpoints.text)")
            #expect(channel["name"] == .string("telegram"))
            #expect(channel["vars"]?["botToken"] == .string("***"))
            #expect(channel["vars"]?["secretToken"] == .string("***"))
            #expect(channel["vars"]?["apiBase"]?.stringValue?.hasPrefix("http://127.0.0.1:") == true)

            for text in [wrong.text, dead, endpoints.text] + capture.all {
                #expect(text.contains(TelegramChannelTests.botToken) == false, "\(text)")
                #expect(text.contains(TelegramChannelTests.secretToken) == false, "\(text)")
            }
            #expect(capture.all.contains { $0.contains("channel request rejected") }, "the 401 is logged (without the secret)")
        }
    }
}
