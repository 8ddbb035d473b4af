import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// Failover in seconds on PostgreSQL (SPEC §15): when an instance dies, the others take over
/// its outputs, and fire the schedules that fall due, as soon as the database sees its
/// connection close, not when its lease (30 s here) lapses.
@Suite(.serialized) struct FailoverTests {
    @Test func theOutputsOfAKilledInstanceAreDeliveredByTheOthersWithinSeconds() async throws {
        let database = try PostgresTestDatabase.create()
        // The webhook fails until the instance is dead, so its outputs wait, leased to it.
        let failing = Shared(true)
        let receiver = TestReceiver { _, _ in failing.value ? .init(status: 503) : .init(status: 200) }
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let (processes, urls) = try await ScaleOutTests.startInstances(
                3, database: database, receiver: receiver, directory: try Fixtures.temporaryDirectory(), outboxLease: "30s")
            defer { for process in processes { process.stop() } }

            let sessions = 10
            for session in 0..<sessions {
                let body = #"{"userId":"u","sessionId":"s\#(session)","text":"m"}"#
                let answer = try await HTTP.request(
                    "POST", urls[0] + "/demo", body: Array(body.utf8), headers: ["Content-Type": "application/json"])
                #expect(answer.status == 202)
            }
            // Every output was tried (and failed) by the instance that recorded it.
            _ = try await receiver.wait(timeout: .seconds(30)) { Set($0.compactMap(\.sessionId)).count >= sessions }
            // A notify that falls due after the death, scheduled through the dying instance.
            let scheduled = try await HTTP.request(
                "POST", urls[0] + "/notify/demo", body: Array(#"{"userId":"u","sessionId":"s0","text":"later","delay":"1s"}"#.utf8),
                headers: ["Content-Type": "application/json", "X-API-Key": Fixtures.adminKey])
            #expect(scheduled.status == 202, "\(scheduled.text)")
            processes[0].kill9()
            let killedAt = ContinuousClock.now
            // Its last attempts may still be on their way: they are answered 503 like the others
            // (once it has exited and they have arrived), so what is accepted came from the others.
            #expect(try await processes[0].waitForExit(timeout: .seconds(5)))
            try await Task.sleep(for: .milliseconds(300))
            failing.update { $0 = false }
            let delivered = try await receiver.wait(timeout: .seconds(20)) { received in
                let accepted = received.filter { $0.status == 200 }
                return Set(accepted.compactMap(\.sessionId)).count >= sessions && accepted.contains { $0.text == "later" }
            }
            let took = ContinuousClock.now - killedAt
            // The lease is 30 s: only the closed connection can explain a take-over this fast.
            #expect(took < .seconds(3), "the others took \(took) to deliver the dead instance's outputs")
            let accepted = delivered.filter { $0.status == 200 }
            #expect(Set(accepted.compactMap(\.webhookId)).count == sessions + 1, "each output and the due notify, once")
            try await Task.sleep(for: .seconds(1))
            let repeated = Dictionary(grouping: receiver.all.filter { $0.status == 200 }.compactMap(\.webhookId), by: { $0 }).filter { $0.value.count > 1 }
            #expect(repeated.isEmpty, "accepted more than once: \(repeated.keys.sorted())")
        }
    }
}
