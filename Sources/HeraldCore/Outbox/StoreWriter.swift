import Logging
import ServiceLifecycle
import Synchronization

/// The single writer in front of the store: it gathers the changes of all concurrent requests
/// and deliveries and applies them in one transaction per round (group commit), so durability
/// costs one commit per batch instead of one per message.
///
/// A request waits in ``commit(_:)`` until its change is durable; only then are its outputs
/// handed to the outbox (``onCommitted``), so nothing unrecorded is ever delivered. Delivery
/// results go through ``submit(_:)`` and are not waited for: losing one in a crash only means
/// the output is delivered again, with the same `Webhook-Id`.
public final class StoreWriter: Service, Sendable {
    /// Raised when a batch fails, so state cached from before the failure is not reused; see
    /// ``epoch``.
    public struct CommitFailed: Error, CustomStringConvertible {
        public var underlying: any Error
        public var description: String { "the store could not record the change: \(underlying)" }
    }

    public struct ShutDown: Error, CustomStringConvertible {
        public var description: String { "Herald is shutting down" }
    }

    private struct Pending {
        /// `nil` for a barrier (``flush()``): it only waits for what was queued before it.
        var change: StoreChange?
        var epoch: Int
        /// `nil` for fire-and-forget changes.
        var ticket: CommitTicket?
        /// Failed batches this fire-and-forget change was part of.
        var failures = 0
    }

    private struct State {
        var queue: [Pending] = []
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
        var stopped = false
        /// Consecutive failed batches: the next batch waits a little longer each time, so a
        /// store that is down is not hammered.
        var failedBatches = 0
    }

    private let store: any HeraldStore
    private let logger: Logger
    private let maxBatch: Int
    /// Batches written at once (``HeraldStore/concurrentBatches``).
    private let concurrency: Int
    private let state = Mutex(State())
    private let failureEpoch = Atomic<Int>(0)
    private let committedHandler = Mutex<Callback<[Output]>?>(nil)

    public init(store: any HeraldStore, maxBatch: Int = 2000, logger: Logger) {
        self.store = store
        self.maxBatch = maxBatch
        self.concurrency = max(1, store.concurrentBatches)
        self.logger = logger
    }

    /// Called after each durable batch with its outputs, in commit order.
    public func onCommitted(_ handler: @escaping @Sendable ([Output]) -> Void) {
        committedHandler.withLock { $0 = Callback(call: handler) }
    }

    /// Increases every time a batch fails. Session state read from a cache is only valid with
    /// the epoch it was read under: a change computed on an older epoch may build on an input
    /// that was never recorded, so ``commit(_:epoch:)`` refuses it.
    public var epoch: Int { failureEpoch.load(ordering: .acquiring) }

    /// Records `change` and returns once it is durable.
    public func commit(_ change: StoreChange, epoch: Int? = nil) async throws {
        try await enqueue(change, epoch: epoch).wait()
    }

    /// Queues `change` now, in the caller's order, and returns a ticket to wait for its
    /// durability. Callers that must keep an order between changes (the inputs of one session)
    /// enqueue while they hold their turn and wait after releasing it.
    public func enqueue(_ change: StoreChange, epoch: Int? = nil) -> CommitTicket {
        let ticket = CommitTicket()
        enqueue(Pending(change: change, epoch: epoch ?? self.epoch, ticket: ticket))
        return ticket
    }

    /// Queues `change` without waiting for it. If its batch fails, it is queued again (up to
    /// ``maxResubmits`` times), so a short store outage loses no delivery result.
    public func submit(_ change: StoreChange) {
        enqueue(Pending(change: change, epoch: epoch, ticket: nil))
    }

    /// Returns once everything queued before the call is durable (or throws why not).
    /// Used by the PostgreSQL outbox leases: a session is handed back only after the results
    /// of its deliveries are recorded, or the next holder would load them as pending again.
    public func flush() async throws {
        let ticket = CommitTicket()
        enqueue(Pending(change: nil, epoch: epoch, ticket: ticket))
        try await ticket.wait()
    }

    /// How often a fire-and-forget change is queued again after its batch failed.
    public static let maxResubmits = 30

    private func enqueue(_ pending: Pending) {
        let rejected: Pending? = state.withLock { state in
            if state.stopped { return pending }
            state.queue.append(pending)
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume()
            }
            return nil
        }
        if let rejected {
            rejected.ticket?.complete(.failure(ShutDown()))
            if rejected.ticket == nil { logger.warning("delivery result arrived after shutdown; the output will be retried on restart") }
        }
    }

    /// Writes until a graceful stop, then writes what is queued and returns. Cancelled (another
    /// service failed, such as a listener that could not bind), it stops the same way, so the
    /// process can exit instead of waiting for a writer nobody will stop.
    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.loop()
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    private func stop() {
        let waiter = state.withLock { state in
            state.stopping = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    private enum Take {
        case batch([Pending])
        case empty
        case finished
    }

    /// One batch at a time, or up to ``concurrency`` when the store orders concurrent
    /// transactions itself. Either way batches complete in the order they were taken: their
    /// outputs reach ``onCommitted`` and their callers learn the outcome one batch after the
    /// other, so a ``flush()`` still means everything queued before it. (A failed batch's
    /// delivery results go back in the queue after a later batch may have recorded newer ones
    /// of the same output; the worst that does is deliver that output again, as after a crash.)
    private func loop() async {
        guard concurrency > 1 else {
            while true {
                switch takeBatch() {
                case .batch(let batch): await write(batch, after: nil, then: nil)
                case .empty: await waitForWork()
                case .finished: return
                }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var previous: BatchDone?
            while true {
                if inFlight >= concurrency {
                    await group.next()
                    inFlight -= 1
                }
                switch takeBatch() {
                case .batch(let batch):
                    let done = BatchDone()
                    let before = previous
                    previous = done
                    inFlight += 1
                    group.addTask { await self.write(batch, after: before, then: done) }
                case .empty: await waitForWork()
                case .finished:
                    await group.waitForAll()
                    return
                }
            }
        }
    }

    private func takeBatch() -> Take {
        state.withLock { state in
            if state.queue.count > maxBatch {
                let batch = Array(state.queue.prefix(maxBatch))
                state.queue.removeFirst(maxBatch)
                return .batch(batch)
            }
            if !state.queue.isEmpty {
                // The usual case: take everything queued without copying, and leave room for
                // as many again.
                var batch: [Pending] = []
                batch.reserveCapacity(state.queue.count)
                swap(&batch, &state.queue)
                return .batch(batch)
            }
            if state.stopping {
                state.stopped = true
                return .finished
            }
            return .empty
        }
    }

    private func waitForWork() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if !state.queue.isEmpty || state.stopping { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Writes `batch`; once the batch before it (`previous`) has completed, hands on its
    /// outputs, answers its callers and marks `done`.
    private func write(_ batch: [Pending], after previous: BatchDone?, then done: BatchDone?) async {
        defer { done?.finish() }
        let currentEpoch = epoch
        func isStale(_ pending: Pending) -> Bool {
            if case .session = pending.change { pending.epoch != currentEpoch } else { false }
        }
        var accepted = batch
        if batch.contains(where: isStale) {
            accepted.removeAll()
            for pending in batch {
                if isStale(pending) {
                    pending.ticket?.complete(.failure(CommitFailed(underlying: StaleState())))
                } else {
                    accepted.append(pending)
                }
            }
        }
        guard !accepted.isEmpty else {
            await previous?.wait()
            return
        }
        do {
            try await store.apply(accepted.compactMap(\.change))
        } catch {
            await previous?.wait()
            await failed(accepted, error)
            return
        }
        await previous?.wait()
        state.withLock { $0.failedBatches = 0 }
        var outputs: [Output] = []
        outputs.reserveCapacity(accepted.count)
        for pending in accepted {
            switch pending.change {
            case .session(let commit): outputs += commit.outputs
            case .turn(let turn): outputs += turn.commit?.outputs ?? []
            default: break
            }
        }
        if !outputs.isEmpty, let handler = committedHandler.withLock({ $0 }) {
            handler.call(outputs)
        }
        for pending in accepted {
            if case .turn(let turn) = pending.change, case .rejected(let error) = turn.outcome {
                pending.ticket?.complete(.failure(error))
            } else {
                pending.ticket?.complete(.success(()))
            }
        }
    }

    /// A batch failed: waiting callers learn why; fire-and-forget changes (delivery results)
    /// go back to the front of the queue, in order, unless Herald is stopping.
    private func failed(_ accepted: [Pending], _ error: any Error) async {
        failureEpoch.add(1, ordering: .releasing)
        logger.error("store write failed; \(accepted.count) changes not recorded", metadata: ["error": "\(error)"])
        var again: [Pending] = []
        for var pending in accepted {
            if let ticket = pending.ticket {
                ticket.complete(.failure(error is StoreConflict ? error : CommitFailed(underlying: error)))
            } else if pending.change != nil {
                pending.failures += 1
                if pending.failures <= Self.maxResubmits {
                    again.append(pending)
                } else {
                    logger.error("a delivery result could not be recorded; the output will be delivered again after a restart")
                }
            }
        }
        let failures = state.withLock { state in
            if !state.stopping { state.queue.insert(contentsOf: again, at: 0) }
            state.failedBatches += 1
            return state.failedBatches
        }
        // 50 ms, 100 ms, … at most 2 s between failed batches.
        let pause = min(2000, 50 << min(failures - 1, 6))
        try? await Task.sleep(for: .milliseconds(pause))
    }

    private struct StaleState: Error, CustomStringConvertible {
        var description: String { "an earlier change of this session failed to record; retry the request" }
    }
}

/// Marks that a batch has completed, for the batch after it to wait on.
final class BatchDone: Sendable {
    private struct State {
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                if !state.finished { state.waiters.append(continuation) }
                return state.finished
            }
            if finished { continuation.resume() }
        }
    }
}

/// The promise of one queued change: ``wait()`` returns when it is durable, or throws why not.
public final class CommitTicket: Sendable {
    private struct State {
        var result: Result<Void, any Error>?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let state = Mutex(State())

    init() {}

    public func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result = state.withLock { state -> Result<Void, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let result { continuation.resume(with: result) }
        }
    }

    func complete(_ result: Result<Void, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }
}

/// A callback kept in a `Mutex`. Wrapped in a struct because a bare closure stored in a `Mutex`
/// is re-thunked on every `withLock { $0 }` and the thunks pile up, one per read: a profile
/// showed calls through ever deeper chains of reabstraction thunks, growing with uptime.
struct Callback<Argument>: Sendable {
    var call: @Sendable (Argument) -> Void
}
