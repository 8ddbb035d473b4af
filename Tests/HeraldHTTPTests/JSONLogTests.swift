import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// `log: {format: json}` (SPEC §15): `herald serve` writes one JSON object a line, with the
/// level, the message and what the line is about (`urlToken`, `outputId`), and never a text a
/// user sent or a secret.
@Suite struct JSONLogTests {
    @Test func jsonLogLinesParseAndNameTheOutputButNotItsText() async throws {
        // The webhook answers 400: the output is given up, which Herald logs as a warning.
        let receiver = TestReceiver { _, _ in TestReceiver.Reply(status: 400) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let directory = try Fixtures.temporaryDirectory()
            let port = try freePort()
            let config = directory + "/herald.yaml"
            try """
                listen: 127.0.0.1:\(port)
                log: { format: json, level: info }
                admin:
                  keys: ["\(Fixtures.adminKey)"]
                storage: sqlite:\(directory)/herald.sqlite
                endpoints:
                  - urlToken: demo
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                    webhook:
                      url: \(receiver.url)
                      user: bot
                      password: hook-password-never-logged
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let url = "http://127.0.0.1:\(port)"
            let herald = try HeraldProcess(["serve", "--config", config], logPath: directory + "/serve.log")
            defer { herald.stop() }
            try await herald.waitUntilHealthy(url + "/healthz")
            let sent = try await HTTP.request(
                "POST", url + "/demo", body: Array(#"{"userId":"u","sessionId":"s","text":"my secret diary"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(sent.status == 202)
            _ = try await receiver.wait { $0.count >= 1 }
            let deadline = ContinuousClock.now + .seconds(10)
            while !herald.log.contains("delivery given up"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }

            let lines = herald.log.split(separator: "\n").filter { !$0.isEmpty }
            let entries = lines.map { try? JSON.parse(Array($0.utf8)) }
            #expect(!lines.isEmpty)
            #expect(entries.allSatisfy { $0?["timestamp"]?.stringValue != nil && $0?["level"] != nil }, "every line is a JSON object: \(lines)")
            let givenUp = try #require(entries.compactMap { $0 }.first { $0["message"] == "delivery given up" })
            #expect(givenUp["level"] == "warning")
            #expect(givenUp["urlToken"] == "demo")
            #expect(givenUp["outputId"]?.stringValue?.hasPrefix("out_") == true)
            #expect(!herald.log.contains("my secret diary"), "no user text in the logs")
            #expect(!herald.log.contains("hook-password-never-logged"), "no secret in the logs")
        }
    }
}
