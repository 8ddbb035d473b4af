import DequeModule
import Synchronization

/// One FIFO turn per session: inputs of a session run one after another in the order they
/// arrived; different sessions never wait for each other.
///
/// A session with no one inside has no entry, so idle sessions cost nothing here.
final class SessionMailbox: Sendable {
    private struct Turns {
        var waiting: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let turns = Mutex<[SessionKey: Turns]>([:])

    /// Runs `body` when it is this caller's turn for `key`.
    func withTurn<T>(_ key: SessionKey, _ body: () async throws -> T) async rethrows -> T {
        await enter(key)
        defer { leave(key) }
        return try await body()
    }

    private func enter(_ key: SessionKey) async {
        let entered = turns.withLock { turns in
            if turns[key] == nil {
                turns[key] = Turns()
                return true
            }
            return false
        }
        if entered { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enteredNow = turns.withLock { turns in
                if turns[key] == nil {
                    turns[key] = Turns()
                    return true
                }
                turns[key]!.waiting.append(continuation)
                return false
            }
            if enteredNow { continuation.resume() }
        }
    }

    /// Hands the turn to the next waiter, or frees the session.
    private func leave(_ key: SessionKey) {
        let next = turns.withLock { turns -> CheckedContinuation<Void, Never>? in
            if let next = turns[key]?.waiting.popFirst() { return next }
            turns[key] = nil
            return nil
        }
        next?.resume()
    }
}
