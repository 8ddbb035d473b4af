import Logging
import ServiceLifecycle
import Synchronization

/// Fires schedules when they are due (``Schedule``): every `interval` it asks the store for
/// sessions with a schedule due and lets the registry fire them, many sessions at once so their
/// changes share group commits.
///
/// Every instance on a shared store runs one. When two see the same session due, both try;
/// the session's turn orders them and the second finds nothing left to fire. A schedule due
/// while Herald was down fires on the first pass after start-up.
///
/// It waits for ``start()``: the store must be migrated, and the outputs left undelivered by
/// the last run queued, before anything fires — an output fired earlier would be queued twice
/// (once as it is committed, once with the backlog) and delivered twice.
public struct Scheduler: Service {
    let registry: SessionRegistry
    let store: any HeraldStore
    let interval: Duration
    let logger: Logger
    private let started = StartSignal()

    /// How many sessions fire at once.
    static let concurrency = 256
    /// How many due sessions one store query returns.
    static let pageSize = 2000

    public init(registry: SessionRegistry, store: any HeraldStore, interval: Duration = .milliseconds(200), logger: Logger) {
        self.registry = registry
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// Lets ``run()`` begin firing; called once Herald is prepared.
    public func start() {
        started.fire()
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            guard await started.wait() else { return }
            while !Task.isCancelled {
                await fireDue()
                do {
                    try await registry.clock.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }

    /// Fires everything due now; returns how many schedules fired. Tests and self-contained
    /// playbooks call it after advancing the clock.
    @discardableResult
    public func fireDue() async -> Int {
        var fired = 0
        while !Task.isCancelled {
            let due: [SessionKey]
            do {
                due = try await store.dueSessions(before: registry.clock.now(), limit: Self.pageSize)
            } catch {
                logger.warning("could not read due schedules; trying again", metadata: ["error": "\(error)"])
                return fired
            }
            let firedNow = await fire(due.filter { registry.endpoints[$0.urlToken] != nil })
            fired += firedNow
            // A short page was everything due; a page where nothing fired (sessions another
            // instance is firing, endpoints no longer configured) waits for the next pass.
            if due.count < Self.pageSize || firedNow == 0 { return fired }
        }
        return fired
    }

    private func fire(_ keys: [SessionKey]) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            var pending = keys[...]
            var total = 0
            func next() {
                guard let key = pending.popFirst() else { return }
                group.addTask {
                    do {
                        return try await registry.fireDue(key).count
                    } catch {
                        logger.warning("a due schedule did not fire; trying again", metadata: ["urlToken": "\(key.urlToken)", "sessionId": "\(key.sessionId)", "error": "\(error)"])
                        return 0
                    }
                }
            }
            for _ in 0..<Self.concurrency { next() }
            for await count in group {
                total += count
                next()
            }
            return total
        }
    }
}

/// A one-time signal: ``wait()`` returns true once ``fire()`` was called, false when the
/// waiting task is cancelled first.
final class StartSignal: Sendable {
    private enum State {
        case waiting([Int: CheckedContinuation<Bool, Never>])
        case fired
    }

    private let state = Mutex(State.waiting([:]))
    private let ids = Atomic<Int>(0)

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .fired
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    func wait() async -> Bool {
        let id = ids.wrappingAdd(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer: Bool? = state.withLock { state in
                    guard case .waiting(var waiters) = state else { return true }
                    if Task.isCancelled { return false }
                    waiters[id] = continuation
                    state = .waiting(waiters)
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard case .waiting(var waiters) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
                state = .waiting(waiters)
                return waiter
            }
            waiter?.resume(returning: false)
        }
    }
}
