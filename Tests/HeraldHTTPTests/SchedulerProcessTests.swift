import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// Schedules with real `herald serve` processes (SPEC §10): they survive `kill -9` and fire once
/// after the restart, and several instances on one PostgreSQL fire each schedule once.
@Suite(.serialized) struct SchedulerProcessTests {
    static func post(_ url: String, _ path: String, _ body: String) async throws -> HTTPResult {
        try await HTTP.request(
            "POST", url + path, body: Array(body.utf8), headers: ["Content-Type": "application/json", "X-API-Key": Fixtures.adminKey])
    }

    @Test func aScheduleSurvivesKill9AndFiresOnceAfterTheRestart() async throws {
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let directory = try Fixtures.temporaryDirectory()
            let port = try freePort()
            let config = directory + "/herald.yaml"
            try """
                listen: 127.0.0.1:\(port)
                admin:
                  keys: ["\(Fixtures.adminKey)"]
                storage: sqlite:\(directory)/herald.sqlite
                endpoints:
                  - urlToken: demo
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                    webhook:
                      url: \(receiver.url)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let url = "http://127.0.0.1:\(port)"
            let first = try HeraldProcess(["serve", "--config", config], logPath: directory + "/serve-1.log")
            try await first.waitUntilHealthy(url + "/healthz")
            let later = try await Self.post(url, "/inject/demo", #"{"userId":"u","sessionId":"s","text":"later","delay":"1h","createSession":true}"#)
            let soon = try await Self.post(url, "/notify/demo", #"{"userId":"u","sessionId":"s","text":"soon","delay":"4s"}"#)
            first.kill9()
            #expect(later.status == 202, "\(later.text)")
            #expect(soon.status == 202, "\(soon.text)")

            // Down past the first one's time; it fires once Herald is back.
            try await Task.sleep(for: .seconds(5))
            #expect(receiver.all.isEmpty, "it fired before the kill: the test proves nothing")
            let second = try HeraldProcess(["serve", "--config", config], logPath: directory + "/serve-2.log")
            defer { second.stop() }
            try await second.waitUntilHealthy(url + "/healthz")
            let arrived = try await receiver.waitForAccepted(1)
            #expect(arrived[0].text == "soon")
            #expect(arrived[0].body["scheduledId"] == soon.json["scheduledId"])
            #expect(arrived[0].body["seq"] == 1)

            let pending = try await HTTP.get(url + "/admin/v1/scheduled", headers: ["X-API-Key": Fixtures.adminKey])
            #expect(pending.json["scheduled"]?.arrayValue?.compactMap { $0["id"] } == [later.json["scheduledId"]].compactMap { $0 })
            // Fired once: another scheduler pass or two makes no second output. (The one output
            // may arrive twice, with the same Webhook-Id, if a loaded machine timed out its first
            // attempt: that is at-least-once delivery, not a second firing.)
            try await Task.sleep(for: .seconds(1))
            #expect(Set(receiver.all.compactMap(\.webhookId)) == [arrived[0].webhookId!])
            #expect(receiver.all.allSatisfy { $0.text == "soon" })
        }
    }

    /// Three instances see the same schedules due at the same moment; one instance is killed
    /// before they are due. Every schedule fires once, in each session's order.
    @Test func severalInstancesOnPostgreSQLFireEachScheduleOnce() async throws {
        let database = try PostgresTestDatabase.create()
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let (processes, urls) = try await ScaleOutTests.startInstances(
                3, database: database, receiver: receiver, directory: try Fixtures.temporaryDirectory(), outboxLease: "30s")
            defer { for process in processes { process.stop() } }

            let sessions = 100
            let perSession = 3
            let dueAt = Timestamp.now().adding(.seconds(5)).iso8601
            var scheduled: Set<String> = []
            try await withThrowingTaskGroup(of: [String].self) { group in
                for session in 0..<sessions {
                    group.addTask {
                        var ids: [String] = []
                        for index in 0..<perSession {
                            let body = #"{"userId":"u","sessionId":"s\#(session)","text":"m\#(index)","key":"k\#(index)","sendAt":"\#(dueAt)","createSession":true}"#
                            let response = try await Self.post(urls[(session + index) % 3], "/notify/demo", body)
                            #expect(response.status == 202, "\(response.text)")
                            if let id = response.json["scheduledId"]?.stringValue { ids.append(id) }
                        }
                        return ids
                    }
                }
                for try await ids in group { scheduled.formUnion(ids) }
            }
            #expect(scheduled.count == sessions * perSession)
            processes[2].kill9()

            let total = sessions * perSession
            _ = try await receiver.wait(timeout: .seconds(60)) { $0.count >= total }
            try await Task.sleep(for: .seconds(2))  // room for a duplicate to show up
            let arrivals = receiver.all
            #expect(arrivals.count == total, "\(arrivals.count) POSTs for \(total) schedules")
            #expect(Set(arrivals.compactMap(\.webhookId)).count == arrivals.count, "a Webhook-Id was POSTed twice")
            let fired = arrivals.compactMap { $0.body["scheduledId"]?.stringValue }
            #expect(Set(fired) == scheduled)
            #expect(fired.count == scheduled.count, "a schedule fired twice")
            for session in 0..<sessions {
                let seqs = arrivals.filter { $0.sessionId == "s\(session)" }.compactMap(\.seq)
                #expect(seqs == [1, 2, 3], "session s\(session)")
            }
        }
    }
}

/// `herald notify --delay`, `herald scheduled list` and `herald scheduled cancel`, as an
/// operator runs them against a running Herald.
@Suite struct ScheduledCommandTests {
    /// Runs the `herald` binary to its end and returns its output.
    static func herald(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let log = try Fixtures.temporaryDirectory() + "/cli.log"
        let process = try HeraldProcess(arguments, logPath: log)
        process.process.waitUntilExit()
        return (process.process.terminationStatus, process.log)
    }

    @Test func scheduleListAndCancelFromTheCommandLine() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let admin = ["--url", herald.adminURL, "--api-key", Fixtures.adminKey]
            let scheduled = try await Self.herald(
                ["notify"] + admin + ["--token", "demo", "--session", "s1", "--user", "u1", "--text", "see you", "--delay", "1h", "--key", "bye",
                    "--create-session"])
            #expect(scheduled.status == 0, "\(scheduled.output)")
            #expect(scheduled.output.hasPrefix("scheduled sch_"), "\(scheduled.output)")
            let id = try #require(scheduled.output.split(separator: " ").dropFirst().first.map(String.init))

            let listed = try await Self.herald(["scheduled", "list"] + admin + ["--token", "demo"])
            #expect(listed.status == 0)
            #expect(listed.output.contains(id) && listed.output.contains("notify  demo/s1 key bye  \"see you\""), "\(listed.output)")

            #expect(try await Self.herald(["scheduled", "cancel", id] + admin).output == "cancelled \(id)\n")
            #expect(try await Self.herald(["scheduled", "list"] + admin).output == "nothing scheduled\n")
            let again = try await Self.herald(["scheduled", "cancel", id] + admin)
            #expect(again.status != 0)
            #expect(again.output.contains("no pending schedule '\(id)'"), "\(again.output)")
            #expect(herald.receiver.all.isEmpty)
        }
    }
}
