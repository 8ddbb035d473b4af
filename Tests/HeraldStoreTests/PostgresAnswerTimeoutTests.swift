@testable import HeraldPostgres
import Synchronization
import Testing

/// The PostgreSQL store's answer timeout holds even when the call it bounds ignores
/// cancellation: during an outage a transaction once hung on a dead connection, and with it the
/// store writer, every request waiting for a commit, and the graceful stop.
@Suite struct PostgresAnswerTimeoutTests {
    /// Waits until opened, deaf to cancellation (as the hung transaction was).
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        var isOpen: Bool { state.withLock { $0.open } }

        func wait() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let open = state.withLock { state in
                    if !state.open { state.waiters.append(continuation) }
                    return state.open
                }
                if open { continuation.resume() }
            }
        }

        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    @Test func aCallThatIgnoresCancellationStillEndsAtItsTimeout() async throws {
        let gate = Gate()
        let call = Task { () -> (result: Result<Int, any Error>, gateWasOpen: Bool) in
            let result: Result<Int, any Error>
            do {
                result = .success(try await PostgresStore.bounded(within: .milliseconds(200)) { await gate.wait(); return 1 })
            } catch {
                result = .failure(error)
            }
            return (result, gate.isOpen)
        }
        // Only so that a regression fails instead of hanging the suite.
        let failSafe = Task {
            try await Task.sleep(for: .seconds(20))
            gate.open()
        }
        let (result, gateWasOpen) = await call.value
        failSafe.cancel()
        gate.open()  // the abandoned call may finish now
        #expect(!gateWasOpen, "the timeout waited for the call to end")
        guard case .failure(let error) = result else {
            Issue.record("the call returned a value although it never answered")
            return
        }
        #expect("\(error)" == "PostgreSQL did not answer within 0.2 seconds")
    }

    @Test func anAnswerInTimeIsReturned() async throws {
        let value = try await PostgresStore.bounded(within: .seconds(5)) { 42 }
        #expect(value == 42)
    }
}
