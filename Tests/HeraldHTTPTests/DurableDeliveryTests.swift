import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// Delivery guarantees, tested on the real `herald serve` binary with a SQLite file and a
/// real receiver: at-least-once across `kill -9`, order per session, retries, isolation of a
/// hung endpoint, dead letters, Retry-After, signatures.
@Suite(.serialized) struct DurableDeliveryTests {
    /// A temp directory with a config for `herald serve` on a free port.
    struct Setup {
        var directory: String
        var port: Int
        var configPath: String
        var baseURL: String { "http://127.0.0.1:\(port)" }

        /// `endpoints`: (urlToken, webhook URL, extra webhook YAML lines); `storage`: the
        /// config's `storage` (a SQLite file in the directory when `nil`).
        init(endpoints: [(String, String, String)], storage: String? = nil) throws {
            directory = try Fixtures.temporaryDirectory()
            port = try freePort()
            configPath = directory + "/herald.yaml"
            var yaml = """
                listen: 127.0.0.1:\(port)
                admin:
                  keys: ["\(Fixtures.adminKey)"]
                storage: \(storage ?? "sqlite:\(directory)/herald.sqlite")
                endpoints:

                """
            for (urlToken, url, extra) in endpoints {
                yaml += """
                      - urlToken: \(urlToken)
                        flow: \(Fixtures.root)/examples/flows/echo.yaml
                        webhook:
                          url: \(url)
                          retry:
                            schedule: [100ms, 200ms, 400ms]
                            jitter: 0
                            throttleDelay: 1s
                    \(extra.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))

                    """
            }
            try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        }

        func start(_ name: String = "serve") async throws -> HeraldProcess {
            let process = try HeraldProcess(["serve", "--config", configPath, "--log-level", "info"], logPath: directory + "/\(name).log")
            try await process.waitUntilHealthy(baseURL + "/healthz")
            return process
        }

        func send(_ urlToken: String = "demo", session: String, text: String) async throws -> Int {
            let body = #"{"userId":"u","sessionId":"\#(session)","text":"\#(text)"}"#
            return try await HTTP.request("POST", baseURL + "/\(urlToken)", body: Array(body.utf8), headers: ["Content-Type": "application/json"]).status
        }

        func admin(_ method: String, _ path: String) async throws -> HTTPResult {
            try await HTTP.request(method, baseURL + path, headers: ["X-API-Key": Fixtures.adminKey])
        }
    }

    /// A second Herald on a port that is taken says so and exits; it used to wait forever (its
    /// store writer ignored the cancellation that followed the failed bind). The first one
    /// keeps serving. `herald receive` on that port says so the same way.
    @Test func aSecondHeraldOnATakenPortSaysWhyAndExits() async throws {
        let setup = try Setup(endpoints: [("demo", "http://127.0.0.1:9/hook", "")])
        let first = try await setup.start()
        defer { first.stop() }
        let config = setup.directory + "/second.yaml"
        try String(contentsOfFile: setup.configPath, encoding: .utf8)
            .replacingOccurrences(of: "sqlite:\(setup.directory)/herald.sqlite", with: "memory")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let second = try HeraldProcess(["serve", "--config", config], logPath: setup.directory + "/second.log")
        // 20 s: the stop watchdog would end it at 30 s.
        #expect(try await second.waitForExit(timeout: .seconds(20)), "still running: \(second.log)")
        second.stop()
        #expect(second.process.terminationStatus == 1)
        #expect(
            second.log.contains("herald: \(config): listen 127.0.0.1:\(setup.port): cannot listen, the address is in use"), "\(second.log)")
        #expect(try await setup.send(session: "still", text: "here") == 202)

        let receiver = try HeraldProcess(["receive", "--port", "\(setup.port)"], logPath: setup.directory + "/receive.log")
        #expect(try await receiver.waitForExit(timeout: .seconds(20)), "still running: \(receiver.log)")
        receiver.stop()
        #expect(receiver.process.terminationStatus == 1)
        #expect(receiver.log.contains("herald receive: --host/--port 127.0.0.1:\(setup.port): cannot listen, the address is in use"), "\(receiver.log)")
    }

    @Test func everyAcceptedOutputSurvivesKill9AndArrivesInOrder() async throws {
        let receiverPort = try freePort()
        let setup = try Setup(endpoints: [("demo", "http://127.0.0.1:\(receiverPort)/hook", "")])
        let first = try await setup.start("first")
        // The receiver is down: every delivery fails and is retried.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for session in 0..<10 {
                group.addTask {
                    for message in 0..<20 {
                        let status = try await setup.send(session: "s\(session)", text: "m\(message)")
                        #expect(status == 202)
                    }
                }
            }
            try await group.waitForAll()
        }
        first.kill9()

        let second = try await setup.start("second")
        defer { second.stop() }
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(port: receiverPort, logger: TestServices.logger)]) {
            try await receiver.wait(timeout: .seconds(60)) { Set($0.compactMap(\.webhookId)).count >= 200 }
            try await Task.sleep(for: .milliseconds(300))
        }
        let arrivals = receiver.accepted
        #expect(Set(arrivals.compactMap(\.webhookId)).count == 200)
        for session in 0..<10 {
            // First arrival of each output, in arrival order: seq 1...20, texts in send order.
            var seen = Set<String>()
            let firsts = arrivals.filter { $0.sessionId == "s\(session)" && seen.insert($0.webhookId ?? "").inserted }
            #expect(firsts.map(\.seq) == (1...20).map { Optional($0) })
            #expect(firsts.map(\.text) == (0..<20).map { "You said: m\($0)" })
        }
        // A duplicate is the same output again: same Webhook-Id, same body.
        let byId = Dictionary(grouping: arrivals, by: { $0.webhookId ?? "" })
        for (_, copies) in byId { #expect(Set(copies.map(\.bytes)).count == 1) }
    }

    @Test func retriedOutputsArriveInOrderWithTheAttemptsLogged() async throws {
        // 503 for the first two attempts of every output.
        let receiver = TestReceiver { _, previous in .init(status: previous < 2 ? 503 : 200) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let setup = try Setup(endpoints: [("demo", receiver.url, "")])
            let herald = try await setup.start()
            defer { herald.stop() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<4 {
                    group.addTask {
                        for message in 0..<5 {
                            let status = try await setup.send(session: "r\(session)", text: "m\(message)")
                            #expect(status == 202)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let accepted = try await receiver.waitForAccepted(20, timeout: .seconds(60))
            #expect(receiver.all.count == 60)
            for session in 0..<4 {
                #expect(accepted.filter { $0.sessionId == "r\(session)" }.map(\.seq) == (1...5).map { Optional($0) })
                // Each attempt of output n+1 came after output n was accepted.
                let mine = receiver.all.filter { $0.sessionId == "r\(session)" }
                #expect(mine.map(\.seq) == (1...5).flatMap { [$0, $0, $0] }.map { Optional($0) })
            }
            let outputId = try #require(accepted.first?.webhookId)
            try await Task.sleep(for: .milliseconds(300))
            let detail = try await setup.admin("GET", "/admin/v1/deliveries/\(outputId)")
            #expect(detail.json["status"] == "delivered")
            #expect(detail.json["attempts"] == 3)
            let log = try #require(detail.json["attemptLog"]?.arrayValue)
            #expect(log.map { $0["statusCode"] } == [503, 503, 200])
            #expect(log.map { $0["number"] } == [1, 2, 3])
            #expect(log[0]["error"] == "HTTP 503")
        }
    }

    /// SIGTERM while a POST waits for its answer longer than a stop waits for attempts in
    /// flight (10 s): Herald stops without its answer, and the output, still pending in the
    /// store, goes out again after the restart (same Webhook-Id), with only the attempt that got
    /// an answer in its log. On both durable stores (the memory store keeps nothing across a
    /// restart). (A quicker answer is waited for and recorded: RollingRestartTests.)
    @Test(arguments: ["sqlite", "postgres"])
    func anAttemptInFlightAtAGracefulStopIsSentAgainAfterTheRestart(_ store: String) async throws {
        let storage = store == "postgres" ? try PostgresTestDatabase.create() : nil
        // The first attempt of an output is held for 13 s (Herald's stop waits 10 s for it; the
        // receiver's own stop waits for it); later ones are answered at once.
        let receiver = TestReceiver { _, before in before == 0 ? .init(status: 200, delay: .seconds(13)) : .init(status: 200) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let setup = try Setup(endpoints: [("demo", receiver.url, "timeout: 30s")], storage: storage)
            let first = try await setup.start("first")
            #expect(try await setup.send(session: "s", text: "hello") == 202)
            try await receiver.wait { $0.count == 1 }
            first.stop()

            let second = try await setup.start("second")
            defer { second.stop() }
            let arrivals = try await receiver.wait(timeout: .seconds(30)) { $0.count >= 2 }
            let outputId = try #require(arrivals[0].webhookId)
            #expect(arrivals[1].webhookId == outputId)
            #expect(arrivals[1].text == "You said: hello")
            // The answer is recorded in the writer's next batch, just after the POST returned.
            var detail = try await setup.admin("GET", "/admin/v1/deliveries/\(outputId)")
            let deadline = ContinuousClock.now + .seconds(20)
            while detail.json["status"] != "delivered", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                detail = try await setup.admin("GET", "/admin/v1/deliveries/\(outputId)")
            }
            #expect(detail.json["status"] == "delivered")
            #expect(detail.json["attemptLog"]?.arrayValue?.map { $0["statusCode"] } == [200])
        }
    }

    @Test func aHungEndpointDoesNotDelayAHealthyOne() async throws {
        let receiver = TestReceiver { request, _ in
            request.path == "/slow" ? .init(status: 200, delay: .seconds(5)) : .init(status: 200)
        }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let base = receiver.url.replacingOccurrences(of: "/hook", with: "")
            let setup = try Setup(endpoints: [
                // 3 s: time for the 20 fast ones on a loaded machine while the slow two hang.
                ("slow", base + "/slow", "timeout: 3s\nconcurrency: 2"),
                ("fast", base + "/fast", ""),
            ])
            let herald = try await setup.start()
            defer { herald.stop() }
            for session in 0..<6 { #expect(try await setup.send("slow", session: "slow\(session)", text: "x") == 202) }
            try await receiver.wait { $0.filter { $0.path == "/slow" }.count >= 2 }
            for session in 0..<20 { #expect(try await setup.send("fast", session: "fast\(session)", text: "y") == 202) }
            try await receiver.wait(timeout: .seconds(60)) { $0.filter { $0.path == "/fast" }.count >= 20 }
            // Once the hung attempts time out (3 s), the slow endpoint goes on with more.
            try await receiver.wait(timeout: .seconds(60)) { $0.filter { $0.path == "/slow" }.count >= 4 }
            let all = receiver.all
            let fast = all.indices.filter { all[$0].path == "/fast" }
            // The slow endpoint's attempts time out after 3 s and retry; every fast delivery
            // arrived before the slow endpoint got past its first two (hung) attempts.
            let slowAfterFirstTwo = try #require(all.indices.filter { all[$0].path == "/slow" }.dropFirst(2).first)
            #expect(fast.count == 20)
            #expect(fast.allSatisfy { $0 < slowAfterFirstTwo })
            let endpoints = try await setup.admin("GET", "/admin/v1/endpoints")
            let slow = endpoints.json["endpoints"]?.arrayValue?.first { $0["urlToken"] == "slow" }
            #expect((slow?["backlog"]?.numberValue ?? 0) > 0)
        }
    }

    @Test func aPermanentErrorIsDeadAtOnceAndDeliveredAfterRetry() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 404) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let setup = try Setup(endpoints: [("demo", receiver.url, "")])
            let herald = try await setup.start()
            defer { herald.stop() }
            #expect(try await setup.send(session: "d", text: "lost?") == 202)
            #expect(try await setup.send(session: "d", text: "next") == 202)
            try await receiver.wait { $0.count >= 2 }
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.all.count == 2)  // each tried once: 404 is not retried
            let dead = try await setup.admin("GET", "/admin/v1/deliveries?status=dead")
            let deadLetters = try #require(dead.json["deliveries"]?.arrayValue)
            #expect(deadLetters.count == 2)
            #expect(deadLetters.first?["lastError"] == "HTTP 404")
            let outputId = try #require(deadLetters.first?["outputId"]?.stringValue)

            receiver.setBehavior { _, _ in .init(status: 200) }
            let retry = try HeraldProcess(
                ["deliveries", "retry", outputId, "--url", setup.baseURL, "--api-key", Fixtures.adminKey], logPath: setup.directory + "/cli.log")
            retry.process.waitUntilExit()
            #expect(retry.process.terminationStatus == 0)
            #expect(retry.log.contains("retrying \(outputId)"))
            let delivered = try await receiver.waitForAccepted(1)
            #expect(delivered.first?.webhookId == outputId)
            #expect(delivered.first?.text == "You said: lost?")
            try await Task.sleep(for: .milliseconds(300))
            let detail = try await setup.admin("GET", "/admin/v1/deliveries/\(outputId)")
            #expect(detail.json["status"] == "delivered")
            #expect(detail.json["attemptLog"]?.arrayValue?.map { $0["statusCode"] } == [404, 200])
            let again = try await setup.admin("POST", "/admin/v1/deliveries/\(outputId)/retry")
            #expect(again.status == 409)
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        let receiver = TestReceiver { _, previous in
            previous == 0 ? .init(status: 503, headers: [("Retry-After", "2")]) : .init(status: 200)
        }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let setup = try Setup(endpoints: [("demo", receiver.url, "")])
            let herald = try await setup.start()
            defer { herald.stop() }
            #expect(try await setup.send(session: "ra", text: "x") == 202)
            let all = try await receiver.wait(timeout: .seconds(30)) { $0.count >= 2 }
            #expect(all[0].webhookId == all[1].webhookId)
            // The schedule says 100 ms; Retry-After says 2 s, and wins.
            #expect(all[1].arrivedAt - all[0].arrivedAt >= .seconds(2))
        }
    }

    @Test func signedDeliveriesVerifyInHeraldReceive() async throws {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let receiverPort = try freePort()
        let setup = try Setup(endpoints: [
            ("signed", "http://127.0.0.1:\(receiverPort)/hook", "signingSecret: \(secret)"),
            ("wrong", "http://127.0.0.1:\(receiverPort)/hook", "signingSecret: whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"),
        ])
        let receive = try HeraldProcess(["receive", "--port", "\(receiverPort)", "--secret", secret], logPath: setup.directory + "/receive.log")
        defer { receive.stop() }
        let herald = try await setup.start()
        defer { herald.stop() }
        #expect(try await setup.send("signed", session: "s", text: "signed hello") == 202)
        #expect(try await setup.send("wrong", session: "w", text: "forged") == 202)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, receive.log.components(separatedBy: "\"signature\"").count < 3 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let lines = receive.log.split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        let signed = try #require(lines.first { $0["body"]?["text"] == "You said: signed hello" })
        #expect(signed["signature"] == "valid")
        #expect(signed["rejected"] == nil)
        let forged = try #require(lines.first { $0["body"]?["text"] == "You said: forged" })
        #expect(forged["signature"] == "invalid")
        #expect(forged["rejected"]?.stringValue?.hasPrefix("401") == true)
    }
}
