import DequeModule
import HeapModule
import Synchronization

/// One delivery attempt to make: the output and how many attempts it had.
public struct DeliveryJob: Sendable {
    public var entry: OutboxEntry
    public var output: Output { entry.output }
}

/// What a delivery attempt means for the outbox.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Accepted (2xx): the session's next output may go.
    case delivered
    /// Failed, try again then; the session waits (per-session order).
    case retry(at: Timestamp)
    /// Given up; the session's next output may go.
    case dead
    /// 410 Gone: the endpoint stops until an operator resumes it; the output stays queued.
    case pauseEndpoint
}

/// The undelivered outputs, scheduled for delivery.
///
/// Order: each session is a FIFO, and only its head is ever in flight, so output n+1 is not
/// sent before n was accepted or given up. Sessions are independent, and each endpoint has its
/// own concurrency limit and ready queue, so one slow or failing webhook never holds up
/// another endpoint. A failed head waits for its retry time and holds its session, not others.
///
/// The outbox only schedules; the `DeliveryService` (HeraldWebhook) takes jobs with
/// ``take(now:)``, POSTs them, and reports back with ``finish(_:_:now:)``.
public final class Outbox: Sendable {
    private let state: Mutex<OutboxState>
    private let drainedHandler = Mutex<Callback<[SessionKey]>?>(nil)

    /// - Parameter limits: per endpoint, how many POSTs may be in flight at once.
    public init(limits: [String: Int], defaultLimit: Int = 64) {
        self.state = Mutex(OutboxState(limits: limits, defaultLimit: defaultLimit))
    }

    /// Queues outputs after they are recorded, in commit order.
    public func add(_ outputs: [Output]) {
        add(outputs.map { OutboxEntry(output: $0) })
    }

    /// Queues entries (recorded outputs, or outputs resumed at start-up with their attempts).
    public func add(_ entries: [OutboxEntry], now: Timestamp = .now()) {
        let waiter = state.withLock { state in
            for entry in entries { state.append(entry, now: now) }
            return state.signal()
        }
        waiter?.resume()
    }

    /// Jobs that may start now, and when the next scheduled retry falls due.
    public func take(now: Timestamp = .now(), max: Int = .max) -> (jobs: [DeliveryJob], nextWake: Timestamp?) {
        state.withLock { $0.take(now: now, max: max) }
    }

    /// Reports how an attempt went.
    public func finish(_ job: DeliveryJob, _ outcome: DeliveryOutcome, now: Timestamp = .now()) {
        let (waiter, drained) = state.withLock { state in
            state.finish(job, outcome, now: now)
            let drained = state.drained
            state.drained.removeAll()
            return (state.signal(), drained)
        }
        waiter?.resume()
        if !drained.isEmpty, let handler = drainedHandler.withLock({ $0 }) { handler.call(drained) }
    }

    /// Called with sessions whose last queued output was delivered or given up (used by the
    /// PostgreSQL outbox leases to hand a session back).
    public func onDrained(_ handler: @escaping @Sendable ([SessionKey]) -> Void) {
        drainedHandler.withLock { $0 = Callback(call: handler) }
    }

    /// Whether outputs of this session are queued here.
    public func holds(_ key: SessionKey) -> Bool {
        state.withLock { $0.sessions[key] != nil }
    }

    /// Takes every queued output of one user of an endpoint out of the outbox (an erasure): none
    /// of them is attempted again. One in flight still finishes; its result changes nothing
    /// here. Returns what was dropped.
    @discardableResult
    public func drop(urlToken: String, userId: String) -> [OutboxEntry] {
        let (dropped, drained, waiter) = state.withLock { state in
            let dropped = state.drop { $0.session.urlToken == urlToken && $0.userId == userId }
            let drained = state.drained
            state.drained.removeAll()
            return (dropped, drained, state.signal())
        }
        waiter?.resume()
        if !drained.isEmpty, let handler = drainedHandler.withLock({ $0 }) { handler.call(drained) }
        return dropped
    }

    /// Changes endpoints' concurrency limits (a reload, an endpoint changed through the admin
    /// API); POSTs in flight finish, and no new one starts while an endpoint is at its new limit.
    public func setLimits(_ limits: [String: Int]) {
        let waiter = state.withLock { state in
            for (urlToken, limit) in limits {
                state.limits[urlToken] = limit
                state.endpoints[urlToken]?.limit = limit
            }
            return state.signal()
        }
        waiter?.resume()
    }

    public func pause(_ urlToken: String) {
        state.withLock { $0[endpoint: urlToken].paused = true }
    }

    /// Resumes an endpoint paused by a 410.
    public func resume(_ urlToken: String) {
        let waiter = state.withLock { state in
            state[endpoint: urlToken].paused = false
            return state.signal()
        }
        waiter?.resume()
    }

    public func isPaused(_ urlToken: String) -> Bool {
        state.withLock { $0.endpoints[urlToken]?.paused ?? false }
    }

    /// Makes a queued output's session attempt it now instead of at its retry time. Returns
    /// false when the output is not queued here (delivered, dead, or unknown).
    public func retryNow(outputId: String, now: Timestamp = .now()) -> Bool {
        let (found, waiter) = state.withLock { state in
            let found = state.retryNow(outputId: outputId, now: now)
            return (found, state.signal())
        }
        waiter?.resume()
        return found
    }

    /// Outputs queued per endpoint (including in flight and waiting for a retry).
    public func backlog() -> [String: Int] {
        state.withLock { $0.endpoints.mapValues(\.backlog) }
    }

    /// Waits until something changes (outputs added, an attempt finished, an endpoint
    /// resumed). Returns at once if something changed since the last call. Cancellable.
    public func waitForChange() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.changed || Task.isCancelled {
                        state.changed = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}

/// The outbox's state, changed only under its lock.
struct OutboxState {
    struct SessionQueue {
        var entries: Deque<OutboxEntry> = []
        /// The head is in flight, or waiting for its retry time (`waitingUntil`).
        var busy = false
        var waitingUntil: Timestamp?
    }

    struct EndpointState {
        var ready: Deque<SessionKey> = []
        var inFlight = 0
        var limit: Int
        var paused = false
        var backlog = 0
    }

    struct Timer: Comparable {
        var time: Timestamp
        var session: SessionKey
        static func < (lhs: Timer, rhs: Timer) -> Bool { lhs.time < rhs.time }
    }

    var sessions: [SessionKey: SessionQueue] = [:]
    var endpoints: [String: EndpointState] = [:]
    var endpointOrder: [String] = []
    var nextEndpoint = 0
    var timers = Heap<Timer>()
    var waiter: CheckedContinuation<Void, Never>?
    var changed = false
    /// Sessions that ran empty since the last `finish` report.
    var drained: [SessionKey] = []
    var limits: [String: Int]
    let defaultLimit: Int

    init(limits: [String: Int], defaultLimit: Int) {
        self.limits = limits
        self.defaultLimit = defaultLimit
    }

    mutating func signal() -> CheckedContinuation<Void, Never>? {
        changed = true
        defer { waiter = nil }
        return waiter
    }

    subscript(endpoint urlToken: String) -> EndpointState {
        get { endpoints[urlToken] ?? EndpointState(limit: limits[urlToken] ?? defaultLimit) }
        _modify {
            if endpoints[urlToken] == nil {
                endpoints[urlToken] = EndpointState(limit: limits[urlToken] ?? defaultLimit)
                endpointOrder.append(urlToken)
            }
            yield &endpoints[urlToken]!
        }
    }

    mutating func append(_ entry: OutboxEntry, now: Timestamp) {
        let key = entry.output.session
        self[endpoint: key.urlToken].backlog += 1
        var queue = sessions.removeValue(forKey: key) ?? SessionQueue()
        let wasIdle = queue.entries.isEmpty && !queue.busy
        queue.entries.append(entry)
        sessions[key] = queue
        if wasIdle { schedule(key, now: now) }
    }

    /// Makes an idle session with a head ready, or waiting for the head's retry time.
    mutating func schedule(_ key: SessionKey, now: Timestamp) {
        guard let head = sessions[key]?.entries.first else {
            if sessions.removeValue(forKey: key) != nil { drained.append(key) }
            return
        }
        if let notBefore = head.notBefore, notBefore > now {
            sessions[key]!.busy = true
            sessions[key]!.waitingUntil = notBefore
            timers.insert(Timer(time: notBefore, session: key))
        } else {
            sessions[key]!.busy = false
            sessions[key]!.waitingUntil = nil
            self[endpoint: key.urlToken].ready.append(key)
        }
    }

    mutating func take(now: Timestamp, max: Int) -> (jobs: [DeliveryJob], nextWake: Timestamp?) {
        while let timer = timers.min, timer.time <= now {
            timers.removeMin()
            guard sessions[timer.session]?.waitingUntil == timer.time else { continue }  // superseded
            sessions[timer.session]!.busy = false
            sessions[timer.session]!.waitingUntil = nil
            self[endpoint: timer.session.urlToken].ready.append(timer.session)
        }
        var jobs: [DeliveryJob] = []
        // Round-robin over endpoints, one job each per pass, so a large backlog of one
        // endpoint does not starve the others.
        var progress = true
        while progress, jobs.count < max {
            progress = false
            for offset in 0..<endpointOrder.count {
                let urlToken = endpointOrder[(nextEndpoint + offset) % endpointOrder.count]
                // Queues change in place: a copy held across a change would copy the whole
                // queue (copy-on-write), once per job.
                guard canStart(urlToken), let key = endpoints[urlToken]!.ready.popFirst() else { continue }
                progress = true
                guard sessions[key]?.busy == false, let head = sessions[key]!.entries.first else { continue }
                sessions[key]!.busy = true
                endpoints[urlToken]!.inFlight += 1
                jobs.append(DeliveryJob(entry: head))
                if jobs.count >= max { break }
            }
            if !endpointOrder.isEmpty { nextEndpoint = (nextEndpoint + 1) % endpointOrder.count }
        }
        return (jobs, timers.min?.time)
    }

    private func canStart(_ urlToken: String) -> Bool {
        guard let state = endpoints[urlToken] else { return false }
        return !state.paused && state.inFlight < state.limit && !state.ready.isEmpty
    }

    mutating func finish(_ job: DeliveryJob, _ outcome: DeliveryOutcome, now: Timestamp) {
        let key = job.output.session
        self[endpoint: key.urlToken].inFlight -= 1
        guard sessions[key]?.entries.first?.output.id == job.output.id else { return }
        // In place, as in `take`: a hot session's queue is long.
        sessions[key]!.busy = false
        switch outcome {
        case .delivered, .dead:
            sessions[key]!.entries.removeFirst()
            self[endpoint: key.urlToken].backlog -= 1
            schedule(key, now: now)
        case .retry(let time):
            sessions[key]!.entries[0].attempts += 1
            sessions[key]!.entries[0].notBefore = time
            schedule(key, now: now)
        case .pauseEndpoint:
            sessions[key]!.entries[0].attempts += 1
            self[endpoint: key.urlToken].paused = true
            self[endpoint: key.urlToken].ready.append(key)
        }
    }

    /// Removes the queues of sessions whose outputs match (all outputs of a session are to one
    /// user, so a session's queue matches as a whole). A dropped head in flight is ignored by
    /// ``finish(_:_:now:)``, and its timers by ``take(now:max:)``.
    mutating func drop(_ matches: (Output) -> Bool) -> [OutboxEntry] {
        var dropped: [OutboxEntry] = []
        for (key, queue) in sessions where queue.entries.contains(where: { matches($0.output) }) {
            dropped += queue.entries
            self[endpoint: key.urlToken].backlog -= queue.entries.count
            sessions[key] = nil
            drained.append(key)
        }
        return dropped
    }

    mutating func retryNow(outputId: String, now: Timestamp) -> Bool {
        for (key, queue) in sessions {
            guard let index = queue.entries.firstIndex(where: { $0.output.id == outputId }) else { continue }
            sessions[key]!.entries[index].notBefore = nil
            if index == 0, queue.waitingUntil != nil {
                sessions[key]!.waitingUntil = nil
                sessions[key]!.busy = false
                self[endpoint: key.urlToken].ready.append(key)
            }
            return true
        }
        return false
    }
}
