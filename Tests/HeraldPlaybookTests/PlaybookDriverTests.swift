import Foundation
import HeraldCore
import HeraldHTTP
import HeraldPlaybook
import HeraldTestSupport
import Testing

/// The example playbooks, self-contained and against a live server, and the remote driver's
/// behaviour over real HTTP: a Herald with a real receiver (``TestServices/withHerald``).
@Suite struct PlaybookDriverTests {
    static var exampleConversationCount: Int {
        PlaybookFixtures.examplePlaybooks.reduce(0) { $0 + ((try? Playbook.load(path: $1))?.conversations.count ?? 0) }
    }

    /// Conversations a running server cannot run: reminder.yaml lets time pass, and the
    /// playbooks of flows with calls answer them with stand-ins.
    static var selfContainedOnlyConversationCount: Int {
        ["reminder.yaml", "order-lookup.yaml", "assistant.yaml"].reduce(0) {
            $0 + ((try? Playbook.load(path: Fixtures.root + "/examples/playbooks/" + $1))?.conversations.count ?? 0)
        }
    }

    @Test func theExamplePlaybooksPassSelfContained() async throws {
        let results = try await InProcessDriver.run(configuration: try PlaybookFixtures.examplesConfiguration(), logger: TestServices.logger) {
            driver in
            await PlaybookRunner(driver: driver).run(files: PlaybookFixtures.examplePlaybooks)
        }
        #expect(results.map { URL(fileURLWithPath: $0.file).lastPathComponent } == [
            "assistant.yaml", "echo.yaml", "menu.yaml", "order-lookup.yaml", "order-status.yaml", "reminder.yaml", "survey.yaml",
        ])
        for result in results {
            #expect(result.failed == 0, "\(result.report)")
        }
        #expect(results.reduce(0) { $0 + $1.passed } == Self.exampleConversationCount)
        #expect(Self.exampleConversationCount >= 12)
    }

    @Test func theExamplePlaybooksPassAgainstALiveServerAndItsOutputsStillReachTheWebhook() async throws {
        try await TestServices.withHerald({ try PlaybookFixtures.examplesConfiguration(webhookURL: $0) }) { herald in
            let results = try await RemoteDriver.run(baseURL: herald.baseURL, apiKey: Fixtures.adminKey) { driver in
                await PlaybookRunner(driver: driver).run(files: PlaybookFixtures.examplePlaybooks)
            }
            for result in results {
                #expect(result.failed == 0, "\(result.report)")
            }
            // reminder.yaml lets time pass (a running server's clock is its own) and the call
            // examples answer their calls with stand-ins (a running server makes real calls),
            // so their conversations are skipped, saying why, and count as neither passed nor failed.
            let skipped = results.flatMap(\.conversations).filter { $0.skipped != nil }
            #expect(skipped.count == Self.selfContainedOnlyConversationCount)
            #expect(skipped.allSatisfy { $0.skipped?.contains("needs a self-contained run") == true })
            #expect(skipped.contains { $0.skipped?.contains("mock:") == true })
            #expect(results.reduce(0) { $0 + $1.passed } == Self.exampleConversationCount - Self.selfContainedOnlyConversationCount)
            // ?wait=true only adds the outputs to the answer: the webhook gets them as usual.
            try await herald.receiver.wait { received in
                received.contains { $0.text == "Good news: your order 123456 has shipped with DHL!" && $0.body["source"] == "inject" }
                    && received.contains { $0.body["type"] == "notify" && $0.text == "An agent will call you at 3pm." }
            }
        }
    }

    @Test func aBrokenExpectationGivesTheSameReportInProcessAndRemote() async throws {
        let playbook = try Playbook.load(yaml: PlaybookReportTests.brokenPlaybook, file: "playbooks/echo.yaml")
        let inProcess = try await InProcessDriver.run(configuration: try PlaybookFixtures.configuration(), logger: TestServices.logger) { driver in
            await PlaybookRunner(driver: driver).run(playbook)
        }
        let remote = try await TestServices.withHerald({ _ in try PlaybookFixtures.configuration() }) { herald in
            try await RemoteDriver.run(baseURL: herald.baseURL, apiKey: Fixtures.adminKey) { driver in
                await PlaybookRunner(driver: driver).run(playbook)
            }
        }
        #expect(remote.conversations.map(\.passed) == [true, false, false])
        #expect(remote.report == inProcess.report)
    }

    @Test func everyStepKindWorksRemotelyWithASeparateAdminListener() async throws {
        let playbook = try Playbook.load(
            yaml: """
                endpoint: steps
                conversations:
                  - name: all kinds
                    session: remote-fixed
                    steps:
                      - user: name
                        expect: ["Your name?"]
                      - user: Ada
                        expect: "Hello Ada"
                        context: { profile: { name: Ada, visits: 1 } }
                      - inject: { data: { event: shipped } }
                        expect: [{ text: event shipped, data: { event: shipped, count: 3 }, source: inject }]
                      - notify: { text: note, data: { k: v }, attachments: [{ type: image, url: "https://example.com/a.png" }] }
                        expect: [{ type: notify, text: note, data: { k: v }, attachments: [{ type: image }] }]
                      - user: quiet
                        expectNothing: true
                      - user: loop
                        expect: { type: error }
                """, file: "remote.yaml")
        try await TestServices.withHerald({ _ in
            var configuration = try PlaybookFixtures.configuration()
            configuration.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
            return configuration
        }) { herald in
            #expect(herald.adminPort != herald.port)
            for _ in 0..<2 {
                let result = try await RemoteDriver.run(baseURL: herald.baseURL, adminURL: herald.adminURL, apiKey: Fixtures.adminKey) { driver in
                    await PlaybookRunner(driver: driver).run(playbook)
                }
                #expect(result.failed == 0, "\(result.report)")
            }
        }
    }

    @Test func remoteStepsThatCannotRunSayWhy() async throws {
        let playbook = try Playbook.load(
            yaml: """
                endpoint: steps
                conversations:
                  - name: user only
                    steps:
                      - user: hi
                        expect: "You said: hi"
                  - name: inject
                    steps:
                      - user: hi
                      - inject: hi
                """, file: "keyless.yaml")
        try await TestServices.withHerald({ _ in try PlaybookFixtures.configuration() }) { herald in
            // Without an admin key: user messages work, an inject says what is missing.
            let keyless = try await RemoteDriver.run(baseURL: herald.baseURL, apiKey: nil) { driver in
                await PlaybookRunner(driver: driver).run(playbook)
            }
            #expect(keyless.conversations.map(\.passed) == [true, false])
            #expect(
                keyless.failure("inject")?.headline
                    == "the step could not run: this step needs Herald's admin API: give an admin key with --api-key KEY or HERALD_ADMIN_KEY")

            // A wrong key: Herald's 401, before any conversation runs.
            let wrongKey = try await RemoteDriver.run(baseURL: herald.baseURL, apiKey: "wrong") { driver in
                await PlaybookRunner(driver: driver).run(playbook)
            }
            #expect(wrongKey.failed == 2)
            #expect(wrongKey.failure("user only")?.headline.hasPrefix("Herald answered 401 to GET /admin/v1/endpoints/steps: X-API-Key") == true)

            // An endpoint the server does not have.
            var elsewhere = playbook
            elsewhere.urlToken = "nowhere"
            let unknown = try await RemoteDriver.run(baseURL: herald.baseURL, apiKey: Fixtures.adminKey) { driver in
                await PlaybookRunner(driver: driver).run(elsewhere)
            }
            #expect(unknown.failure("inject")?.headline == "Herald at \(herald.baseURL) has no endpoint 'nowhere' (urlToken: no endpoint 'nowhere')")
        }
        // Nobody listening.
        let port = try freePort()
        let unreachable = try await RemoteDriver.run(baseURL: "http://127.0.0.1:\(port)", apiKey: Fixtures.adminKey) { driver in
            await PlaybookRunner(driver: driver).run(playbook)
        }
        #expect(unreachable.failed == 2)
        #expect(
            unreachable.failure("inject")?.headline.hasPrefix("cannot reach Herald at http://127.0.0.1:\(port)/healthz: connection failed") == true)
        // The reason is said once, above the conversations it stopped.
        let report = unreachable.report.split(separator: "\n").map(String.init)
        #expect(report.count == 4)
        #expect(report[1].hasPrefix("  cannot run: cannot reach Herald at http://127.0.0.1:\(port)/healthz: connection failed"))
        #expect(report[2...] == ["  FAIL  user only", "  FAIL  inject"])
    }
}

/// `herald test` as users run it: the built binary, self-contained and against `herald serve`.
@Suite struct TestCommandTests {
    static let config = Fixtures.root + "/examples/herald-test.yaml"

    @Test func theExamplePlaybooksPassSelfContainedAndWriteJUnit() async throws {
        let junit = try Fixtures.temporaryDirectory() + "/playbooks.xml"
        let (status, output) = try await runHerald(["test"] + PlaybookFixtures.examplePlaybooks + ["--config", Self.config, "--junit", junit])
        #expect(status == 0, "\(output)")
        let count = PlaybookDriverTests.exampleConversationCount
        #expect(output.contains("\n\(count) passed, 0 failed ("), "\(output)")
        #expect(!output.contains("FAIL"))
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains(#"<testsuites name="herald test" tests="\#(count)" failures="0" errors="0""#))
    }

    @Test func theExamplePlaybooksPassAgainstHeraldServe() async throws {
        let port = try freePort()
        let directory = try Fixtures.temporaryDirectory()
        let environment = ["HERALD_LISTEN": "127.0.0.1:\(port)", "HERALD_ADMIN_KEY": "serve-key", "HERALD_WEBHOOK_URL": "http://127.0.0.1:9/hook"]
        let server = try HeraldProcess(
            ["serve", "--config", Self.config, "--log-level", "warning"], logPath: directory + "/serve.log", environment: environment)
        defer { server.stop() }
        try await server.waitUntilHealthy("http://127.0.0.1:\(port)/healthz")

        // --url and --api-key
        let (status, output) = try await runHerald(
            ["test"] + PlaybookFixtures.examplePlaybooks + ["--url", "http://127.0.0.1:\(port)", "--api-key", "serve-key"])
        #expect(status == 0, "\(output)\n\(server.log)")
        let skipped = PlaybookDriverTests.selfContainedOnlyConversationCount
        #expect(output.contains("\n\(PlaybookDriverTests.exampleConversationCount - skipped) passed, 0 failed, \(skipped) skipped ("), "\(output)")
        #expect(output.contains("  SKIP  nudges once when the user does not answer"), "\(output)")

        // HERALD_URL and HERALD_ADMIN_KEY
        let (envStatus, envOutput) = try await runHerald(
            ["test"] + PlaybookFixtures.examplePlaybooks, environment: ["HERALD_URL": "http://127.0.0.1:\(port)", "HERALD_ADMIN_KEY": "serve-key"])
        #expect(envStatus == 0, "\(envOutput)")
    }

    @Test func aBrokenPlaybookExitsOneWithTheDiff() async throws {
        let original = try String(contentsOfFile: Fixtures.root + "/examples/playbooks/order-status.yaml", encoding: .utf8)
        let broken = original.replacingOccurrences(of: "has shipped with DHL!", with: "has shipped with UPS!")
        #expect(broken != original)
        let file = try temporaryFile("order-status.yaml", broken)
        let (status, output) = try await runHerald(["test", file, "--config", Self.config])
        #expect(status == 1)
        #expect(output.contains("  FAIL  tells the user when the back-end says it shipped\n"), "\(output)")
        #expect(
            output.contains(
                """
                          - text: "Good news: your order 123456 has shipped with UPS!"
                          + text: "Good news: your order 123456 has shipped with DHL!"
                """), "\(output)")
        #expect(output.contains("\n5 passed, 1 failed ("), "\(output)")
    }

    @Test func withoutConfigOrURLItSaysWhatIsMissing() async throws {
        let (status, output) = try await runHerald(["test", PlaybookFixtures.examplePlaybooks[0]], environment: ["HERALD_URL": ""])
        #expect(status == 64)
        #expect(output.contains("--config herald.yaml to run self-contained, or --url URL"), "\(output)")
    }
}
