import Foundation
import HeraldCore
import HeraldTestSupport
import Synchronization
import Testing

/// Several `herald serve` processes on one PostgreSQL behave as one service: any instance
/// takes any message, a session's order holds across instances, and a `kill -9`ed instance
/// loses nothing (its sessions are taken over when its leases expire).
@Suite(.serialized) struct ScaleOutTests {
    /// Starts `count` instances on `database`, delivering to `receiver`.
    static func startInstances(
        _ count: Int, database: String, receiver: TestReceiver, directory: String, outboxLease: String = "2s", concurrency: Int = 32
    ) async throws -> (processes: [HeraldProcess], urls: [String]) {
        var instances: [HeraldProcess] = []
        var urls: [String] = []
        for index in 0..<count {
            let port = try freePort()
            let config = directory + "/herald-\(index).yaml"
            try """
                listen: 127.0.0.1:\(port)
                admin:
                  keys: ["\(Fixtures.adminKey)"]
                storage: \(database)
                outboxLease: \(outboxLease)
                endpoints:
                  - urlToken: demo
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                    webhook:
                      url: \(receiver.url)
                      concurrency: \(concurrency)
                      retry:
                        schedule: [100ms, 200ms]
                        jitter: 0
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let process = try HeraldProcess(["serve", "--config", config, "--log-level", "info"], logPath: directory + "/serve-\(index).log")
            try await process.waitUntilHealthy("http://127.0.0.1:\(port)/healthz")
            instances.append(process)
            urls.append("http://127.0.0.1:\(port)")
        }
        return (instances, urls)
    }

    /// SPEC §8: with no fault (no instance dies, the webhook answers 2xx at once), every output
    /// is POSTed exactly once, whatever the number of instances; and a session's outputs arrive
    /// in order though its messages went to every instance in turn.
    @Test(arguments: [1, 2, 3]) func noDuplicateDeliveriesWithoutAFault(instances count: Int) async throws {
        let database = try PostgresTestDatabase.create()
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            // The default lease: a 2 s lease on a busy 2-core machine can lapse, and a lapsed
            // heartbeat is a fault (the instance looks dead and is taken over).
            let (processes, endpoints) = try await Self.startInstances(
                count, database: database, receiver: receiver, directory: try Fixtures.temporaryDirectory(), outboxLease: "30s")
            defer { for process in processes { process.stop() } }

            let sessions = 100
            let messages = count == 1 ? 10 : 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<sessions {
                    group.addTask {
                        for message in 0..<messages {
                            let body = #"{"userId":"u","sessionId":"s\#(session)","text":"m\#(message)"}"#
                            let response = try await HTTP.request(
                                "POST", endpoints[(session + message) % count] + "/demo", body: Array(body.utf8),
                                headers: ["Content-Type": "application/json"])
                            #expect(response.status == 202, "\(response.text)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = sessions * messages
            _ = try await receiver.wait(timeout: .seconds(120)) { $0.count >= total }
            // Time for any late duplicate to show up: every lease is handed back or renewed once.
            try await Task.sleep(for: .seconds(3))
            let arrivals = receiver.all
            let repeated = Dictionary(grouping: arrivals.compactMap(\.webhookId), by: { $0 }).filter { $0.value.count > 1 }
            #expect(arrivals.count == total, "\(arrivals.count) POSTs for \(total) outputs")
            #expect(repeated.isEmpty, "\(repeated.count) Webhook-Ids POSTed more than once with \(count) instances")
            for session in 0..<sessions {
                let seqs = arrivals.filter { $0.sessionId == "s\(session)" }.map(\.seq)
                #expect(seqs == (1...messages).map { Optional($0) }, "session s\(session)")
                let texts = arrivals.filter { $0.sessionId == "s\(session)" }.map(\.text)
                #expect(texts == (0..<messages).map { "You said: m\($0)" }, "session s\(session)")
            }
        }
    }

    @Test func threeInstancesOneReceiverOneKilledMidRun() async throws {
        let database = try PostgresTestDatabase.create()
        // The receiver is a little slow, so instances have backlogs when one dies.
        let receiver = TestReceiver { _, _ in .init(status: 200, delay: .milliseconds(20)) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let (processes, endpoints) = try await Self.startInstances(
                3, database: database, receiver: receiver, directory: try Fixtures.temporaryDirectory(), concurrency: 8)
            defer { for process in processes { process.stop() } }

            let sessions = 12
            let messages = 15
            let killed = Shared(false)
            let accepted = Shared<[String: [String]]>([:])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<sessions {
                    group.addTask {
                        for message in 0..<messages {
                            let text = "m\(message)"
                            // Round-robin over the instances, so one session hits all three;
                            // once instance 2 is gone, the others take its share.
                            var target = (session + message) % 3
                            if target == 2, killed.value { target = message % 2 }
                            let body = #"{"userId":"u","sessionId":"s\#(session)","text":"\#(text)"}"#
                            func send(to target: Int) async throws -> HTTPResult {
                                try await HTTP.request(
                                    "POST", endpoints[target] + "/demo", body: Array(body.utf8), headers: ["Content-Type": "application/json"])
                            }
                            let response: HTTPResult
                            do {
                                response = try await send(to: target)
                            } catch let error as NSError where target == 2 && killed.value && error.code == NSURLErrorCannotConnectToHost {
                                // Meant for instance 2 just as it was killed (on a loaded machine
                                // the request can start after the kill), and refused, so never
                                // received: a client sends it to another instance, as a load
                                // balancer would.
                                response = try await send(to: message % 2)
                            }
                            #expect(response.status == 202, "\(response.text)")
                            accepted.update { $0["s\(session)", default: []].append(text) }
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    }
                }
                // Mid-run: stop routing to instance 2, then kill it without warning.
                group.addTask {
                    try await receiver.wait(timeout: .seconds(60)) { $0.count >= sessions * messages / 3 }
                    killed.update { $0 = true }
                    try await Task.sleep(for: .milliseconds(200))
                    processes[2].kill9()
                }
                try await group.waitForAll()
            }
            #expect(killed.value)

            let total = sessions * messages
            let arrivals = try await receiver.wait(timeout: .seconds(90)) { Set($0.compactMap(\.webhookId)).count >= total }
            #expect(Set(arrivals.compactMap(\.webhookId)).count == total)
            let sent = accepted.value
            for session in 0..<sessions {
                var seen = Set<String>()
                let firsts = arrivals.filter { $0.sessionId == "s\(session)" && seen.insert($0.webhookId ?? "").inserted }
                // Gap-free seq, arriving in order, carrying the texts in the order sent.
                #expect(firsts.map(\.seq) == (1...messages).map { Optional($0) }, "session s\(session)")
                #expect(firsts.map(\.text) == (sent["s\(session)"] ?? []).map { "You said: \($0)" }, "session s\(session)")
            }
            // Duplicates (a delivery the dead instance made but never recorded) repeat the same body.
            for (_, copies) in Dictionary(grouping: arrivals, by: { $0.webhookId ?? "" }) {
                #expect(Set(copies.map(\.bytes)).count == 1)
            }
        }
    }
}

/// A value shared by concurrent test tasks.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value { storage.withLock { $0 } }

    func update(_ change: (inout Value) -> Void) {
        storage.withLock { change(&$0) }
    }
}
