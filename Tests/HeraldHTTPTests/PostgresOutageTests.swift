import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// A PostgreSQL server of the test's own (scripts/postgres.sh), stopped and started again
/// while Herald runs: the other tests' server is never touched.
struct OwnPostgres: Sendable {
    let directory: String
    let url: String

    static func start() throws -> OwnPostgres {
        let output = try script(["start"])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            // export NAME='value'
            guard line.hasPrefix("export "), let equals = line.firstIndex(of: "=") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 7)..<equals])
            values[name] = String(line[line.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        guard let url = values["HERALD_TEST_POSTGRES_URL"], let directory = values["HERALD_TEST_POSTGRES_DIR"] else {
            throw TestTimeout(description: "scripts/postgres.sh start printed no URL: \(output)")
        }
        return OwnPostgres(directory: directory, url: url)
    }

    func down() throws { _ = try Self.script(["down", directory]) }
    func up() throws { _ = try Self.script(["up", directory]) }
    func remove() { _ = try? Self.script(["stop", directory]) }

    @discardableResult
    static func script(_ arguments: [String]) throws -> String {
        // Output to a file, not a pipe: the PostgreSQL server the script starts inherits the
        // script's open descriptors, so a pipe would never reach its end.
        let output = try Fixtures.temporaryDirectory() + "/postgres.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.root + "/scripts/postgres.sh")
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestTimeout(description: "scripts/postgres.sh \(arguments) failed") }
        return try String(contentsOfFile: output, encoding: .utf8)
    }
}

/// SPEC §8, store outage: while PostgreSQL is down, requests answer 503 without hanging and
/// `/readyz` says 503; Herald reconnects by itself and delivers everything it accepted. And a
/// SIGTERM ends the process in bounded time whatever the store does.
@Suite(.serialized)
struct PostgresOutageTests {
    static func config(_ directory: String, port: Int, database: String, receiver: String) throws -> String {
        let path = directory + "/herald.yaml"
        try """
            listen: 127.0.0.1:\(port)
            admin:
              keys: ["\(Fixtures.adminKey)"]
            storage: \(database)
            outboxLease: 2s
            endpoints:
              - urlToken: demo
                flow: \(Fixtures.root)/examples/flows/echo.yaml
                webhook:
                  url: \(receiver)
                  retry:
                    schedule: [100ms, 200ms]
                    jitter: 0
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func send(_ base: String, session: String, text: String) async throws -> HTTPResult {
        let body = #"{"userId":"u","sessionId":"\#(session)","text":"\#(text)"}"#
        return try await HTTP.request("POST", base + "/demo", body: Array(body.utf8), headers: ["Content-Type": "application/json"])
    }

    /// A `herald serve` on a PostgreSQL server of the test's own, delivering to a receiver.
    static func withHerald(
        arguments: [String] = [], _ body: @Sendable (OwnPostgres, TestReceiver, HeraldProcess, String) async throws -> Void
    ) async throws {
        let postgres = try OwnPostgres.start()
        defer { postgres.remove() }
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let directory = try Fixtures.temporaryDirectory()
            let port = try freePort()
            let base = "http://127.0.0.1:\(port)"
            let process = try HeraldProcess(
                ["serve", "--config", try Self.config(directory, port: port, database: postgres.url, receiver: receiver.url)] + arguments,
                logPath: directory + "/serve.log")
            defer { process.stop() }
            try await process.waitUntilHealthy(base + "/healthz")
            try await body(postgres, receiver, process, base)
        }
    }

    @Test func tenSecondsWithoutPostgreSQL() async throws {
        try await Self.withHerald { postgres, receiver, process, base in

            var accepted: [String] = []
            for index in 0..<20 {
                let response = try await Self.send(base, session: "s\(index % 4)", text: "before-\(index)")
                #expect(response.status == 202, "\(response.text)")
                if response.status == 202 { accepted.append("before-\(index)") }
            }

            try postgres.down()
            // Every request gets an answer while the store is down: 503, never a hang (the
            // HTTP client gives up after its own timeout, which would fail the test).
            // Sent together: each waits at most the store's answer timeout (5 s).
            let during = try await withThrowingTaskGroup(of: (String, HTTPResult).self) { group in
                for index in 0..<10 {
                    group.addTask { ("during-\(index)", try await Self.send(base, session: "s\(index % 4)", text: "during-\(index)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var refused = 0
            for (text, response) in during {
                if response.status == 202 { accepted.append(text) } else { refused += 1 }
                #expect(response.status == 503 || response.status == 202, "\(response.text)")
            }
            #expect(refused > 0)
            let ready = try await HTTP.get(base + "/readyz")
            #expect(ready.status == 503)
            try await Task.sleep(for: .seconds(10))
            try postgres.up()

            // Back by itself: the first requests may still meet a dead pooled connection.
            let deadline = ContinuousClock.now + .seconds(30)
            var back = false
            while ContinuousClock.now < deadline, !back {
                back = (try? await HTTP.get(base + "/readyz"))?.status == 200
                if !back { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(back, "readyz did not recover: \(process.log.suffix(2000))")
            for index in 0..<20 {
                var response = try await Self.send(base, session: "s\(index % 4)", text: "after-\(index)")
                if response.status == 503 { response = try await Self.send(base, session: "s\(index % 4)", text: "after-\(index)") }
                #expect(response.status == 202, "\(response.text)")
                if response.status == 202 { accepted.append("after-\(index)") }
            }
            let expected = Set(accepted.map { "You said: \($0)" })
            let arrivals = try await receiver.wait(timeout: .seconds(60)) { all in expected.isSubset(of: Set(all.compactMap(\.text))) }
            #expect(expected.isSubset(of: Set(arrivals.compactMap(\.text))))
            // Per session, in order.
            for session in 0..<4 {
                var seen = Set<String>()
                let seqs = arrivals.filter { $0.sessionId == "s\(session)" && seen.insert($0.webhookId ?? "").inserted }.compactMap(\.seq)
                #expect(seqs == seqs.sorted(), "session s\(session)")
            }
        }
    }

    @Test func sigtermWhilePostgreSQLIsDownEndsTheProcessInBoundedTime() async throws {
        try await Self.withHerald(arguments: ["--shutdown-timeout", "5"]) { postgres, _, process, base in
            for index in 0..<10 {
                _ = try await Self.send(base, session: "s\(index % 3)", text: "m\(index)")
            }
            try postgres.down()
            // Requests in flight while the store is gone, then the stop.
            async let late = try? Self.send(base, session: "s0", text: "late")
            process.process.terminate()
            #expect(
                try await process.waitForExit(timeout: .seconds(40)),
                "herald still running 40 s after SIGTERM with --shutdown-timeout 5: \(process.log.suffix(2000))")
            _ = await late
        }
    }
}
