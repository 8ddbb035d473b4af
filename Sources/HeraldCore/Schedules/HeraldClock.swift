import Synchronization

/// Herald's one source of time for what depends on it: when a schedule is due, whether it
/// fired late, when an `ask` times out, whether a session expired.
///
/// ``system`` (the wall clock) in a server; built from any Swift `Clock`, such as a
/// ``ManualClock``, in tests and self-contained playbooks, where time passes only when
/// something advances it. The composition root picks one and hands it down.
public struct HeraldClock: Sendable {
    private let current: @Sendable () -> Timestamp
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// The wall clock, and sleeping with `Task.sleep`. (Not an offset from a monotonic clock:
    /// over weeks of uptime that drifts from the wall clock, which `sendAt` times are in.)
    public static let system = HeraldClock(now: { Timestamp.now() }, sleep: { try await Task.sleep(for: $0) })

    public init(now: @escaping @Sendable () -> Timestamp, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.current = now
        self.sleeper = sleep
    }

    /// Time as `clock` tells it, reading `origin` at the clock's present instant: a
    /// ``ManualClock`` makes Herald's time move only when a test or a playbook moves it.
    public init<C: Clock>(_ clock: C, startingAt origin: Timestamp) where C.Duration == Duration {
        let start = clock.now
        self.init(
            now: { origin.adding(start.duration(to: clock.now)) },
            sleep: { duration in try await clock.sleep(until: clock.now.advanced(by: duration), tolerance: nil) })
    }

    /// The present, as a wall-clock timestamp.
    public func now() -> Timestamp {
        current()
    }

    /// Sleeps for `duration` of this clock's time; throws when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleeper(duration)
    }
}

/// A clock that moves only when ``advance(by:)`` is called: tests and self-contained playbook
/// runs let ten minutes pass in a millisecond with it. Sleepers whose deadline is reached are
/// woken in deadline order.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol {
        /// Time since the clock was made.
        public var offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var id: Int
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextId = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state in
            state.nextId += 1
            return state.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if deadline <= state.now || Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }
}
