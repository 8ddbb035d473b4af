import Logging
import Synchronization

/// A user message or an inject, validated, on its way into a session.
public struct InboundMessage: Sendable {
    public var urlToken: String
    public var sessionId: String
    public var userId: String
    public var text: String?
    public var data: JSON?
    public var source: InputSource
    /// For inject: create the session when it does not exist (user messages always may).
    public var createSession: Bool
    /// Any user may write in the session, not only the one who started it: a channel's
    /// conversation (a Telegram group, a Slack channel) is one session whoever writes.
    public var sharedSession = false

    public init(
        urlToken: String, sessionId: String, userId: String, text: String?, data: JSON?, source: InputSource = .user,
        createSession: Bool = false
    ) {
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.userId = userId
        self.text = text
        self.data = data
        self.source = source
        self.createSession = createSession
    }
}

/// Text and data for a user, bypassing the flow.
public struct Notification: Sendable {
    public var urlToken: String
    public var sessionId: String
    public var userId: String?
    public var text: String?
    public var data: JSON?
    /// Quick replies, buttons, attachments, a card, a template (SPEC §12).
    public var rich: RichContent
    public var createSession: Bool

    public init(
        urlToken: String, sessionId: String, userId: String?, text: String?, data: JSON?, rich: RichContent = RichContent(),
        createSession: Bool = false
    ) {
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.userId = userId
        self.text = text
        self.data = data
        self.rich = rich
        self.createSession = createSession
    }
}

/// What an accepted message produced, once recorded.
public struct Receipt: Sendable {
    public var sessionId: String
    /// The input's id; `nil` for a notify.
    public var inputId: String?
    public var outputs: [Output]
    /// The schedule a scheduled notify or inject set up (or a cancel removed, or that fired).
    public var scheduled: Schedule?
    /// The session's user.
    public var userId: String?
}

/// When a scheduled notify or inject is due, and how it may be replaced or dropped.
public struct ScheduleRequest: Sendable {
    public var dueAt: Timestamp
    /// A pending schedule with the same key in the session is replaced.
    public var key: String?
    /// Dropped when the user writes before it is due.
    public var cancelOnUserMessage: Bool

    public init(dueAt: Timestamp, key: String? = nil, cancelOnUserMessage: Bool = false) {
        self.dueAt = dueAt
        self.key = key
        self.cancelOnUserMessage = cancelOnUserMessage
    }
}

/// Makes the answer an `Idempotency-Key` replays: the HTTP layer renders it from the receipt.
public struct IdempotencyRequest: Sendable {
    public var key: String
    public var render: @Sendable (Receipt) -> (status: Int, body: [UInt8])

    public init(key: String, render: @escaping @Sendable (Receipt) -> (status: Int, body: [UInt8])) {
        self.key = key
        self.render = render
    }
}

/// The outcome of a request: processed now, or the first answer to the same `Idempotency-Key`.
public enum Accepted: Sendable {
    case processed(Receipt)
    case replayed(IdempotentResponse)
}

/// The one session registry. User messages, injects and notifies all enter here; each takes the
/// session's turn (``SessionMailbox``), runs the flow (``FlowEngine``) or builds the notify
/// output, gives the outputs their `seq`, and is recorded by the ``StoreWriter``, which then
/// hands the outputs to the ``Outbox``. A call returns once its record is durable.
public final class SessionRegistry: Sendable {
    struct CachedSession {
        var session: Session
        var epoch: Int
        var touched: Timestamp
    }

    /// What one turn decided: the session's next state, the input, the outputs.
    struct Change {
        var session: Session
        var input: Input?
        var outputs: [Output]
        var scheduled: Schedule?
    }

    public let endpoints: [String: Endpoint]
    let store: any HeraldStore
    let writer: StoreWriter
    let mailbox = SessionMailbox()
    /// Status events of a session are made one at a time (``announce(_:)``).
    let announcements = SessionMailbox()
    let logger: Logger
    /// With a store only this process writes (memory, SQLite), session state is carried in
    /// memory from one input to the next, and an input does not wait for the previous input's
    /// commit before running. With a shared store (PostgreSQL) each input is a ``SessionTurn``
    /// that the store runs on the session as stored, inside the batch's transaction.
    let cachesSessions: Bool
    let cache = Mutex<[SessionKey: CachedSession]>([:])
    private let cacheLimit: Int
    private let idempotencyInFlight = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])
    private let metrics: RegistryMetrics
    let statusMetrics: OutputStatusMetrics
    /// "Now" for every turn: when schedules are due, whether they are late, whether a session
    /// expired.
    public let clock: HeraldClock

    public init(
        endpoints: [Endpoint], store: any HeraldStore, writer: StoreWriter, cachesSessions: Bool = true, cacheLimit: Int = 200_000,
        clock: HeraldClock = .system, logger: Logger
    ) {
        self.endpoints = Dictionary(endpoints.map { ($0.urlToken, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.writer = writer
        self.cachesSessions = cachesSessions
        self.cacheLimit = cacheLimit
        self.clock = clock
        self.logger = logger
        self.metrics = RegistryMetrics(urlTokens: endpoints.map(\.urlToken))
        self.statusMetrics = OutputStatusMetrics(urlTokens: endpoints.map(\.urlToken))
    }

    public func endpoint(_ urlToken: String) throws(HeraldError) -> Endpoint {
        guard let endpoint = endpoints[urlToken] else { throw .unknownEndpoint(urlToken) }
        return endpoint
    }

    // MARK: The path of a message

    /// Runs a user message or an inject through the endpoint's flow for its session.
    public func receive(_ message: InboundMessage, idempotency: IdempotencyRequest? = nil) async throws(HeraldError) -> Accepted {
        let endpoint = try endpoint(message.urlToken)
        let key = SessionKey(urlToken: message.urlToken, sessionId: message.sessionId)
        return try await idempotent(message.urlToken, idempotency) { () async throws(HeraldError) -> Receipt in
            try await self.change(key, endpoint: endpoint, idempotency: idempotency) { existing, now throws(HeraldError) -> Change in
                var session: Session
                if let existing {
                    guard existing.userId == message.userId || message.sharedSession else {
                        throw .userMismatch(key, owner: existing.userId, given: message.userId)
                    }
                    session = existing
                } else {
                    guard message.source == .user || message.createSession else { throw .unknownSession(key) }
                    session = Session(key: key, userId: message.userId, now: now)
                }
                if message.source == .user { session.schedules.removeAll(where: \.cancelOnUserMessage) }
                let input = Input(
                    session: key, userId: message.userId, text: message.text, data: message.data, source: message.source, receivedAt: now)
                // While an operator has the session, the user's message is recorded, not run.
                if session.handover != nil, message.source == .user { return self.heldForOperator(input, session, endpoint, now) }
                return self.runFlow(input, session, endpoint)
            }
        }
    }

    /// Runs the endpoint's flow for `input`: the change it makes to the session.
    func runFlow(_ input: Input, _ session: Session, _ endpoint: Endpoint) -> Change {
        var session = session
        let outputs = run(endpoint.flow, &session, input) { FlowEngine.run($0, session: $1, input: input) }
        return Change(session: session, input: input, outputs: outputs)
    }

    /// Runs a flow (``FlowEngine/run(_:session:input:)`` or a timeout) on `session` and applies
    /// what it decided: the outputs get their ids and `seq`, the context, the waiting point
    /// and the schedules change.
    func run(
        _ flow: Flow, _ session: inout Session, _ input: Input, from schedule: Schedule? = nil,
        _ engine: (Flow, Session) -> FlowEngine.Run
    ) -> [Output] {
        let run = engine(flow, session)
        if let error = run.error {
            logger.error("flow run stopped", metadata: ["session": "\(session.key)", "input": "\(input.id)", "error": "\(error)"])
        }
        let now = input.receivedAt
        let late = schedule.map { now > $0.dueAt.adding(Schedule.lateAfter) } ?? false
        var outputs: [Output] = []
        outputs.reserveCapacity(run.outputs.count)
        for draft in run.outputs {
            outputs.append(
                Output(
                    id: Identifier.output(at: now), session: session.key, userId: session.userId, seq: session.nextSeq, type: draft.type,
                    text: draft.text, data: draft.data, rich: draft.rich, inputId: input.id, source: input.source, timestamp: now, scheduledId: schedule?.id,
                    late: late))
            session.nextSeq += 1
        }
        session.context = run.context
        session.waiting = run.waiting
        session.updatedAt = now
        session.apply(run.schedules)
        return outputs
    }

    /// Sends one output straight to the session's webhook; the flow does not run and the
    /// context is untouched, but the output takes the session's next `seq`.
    public func notify(_ notification: Notification, idempotency: IdempotencyRequest? = nil) async throws(HeraldError) -> Accepted {
        let endpoint = try endpoint(notification.urlToken)
        let key = SessionKey(urlToken: notification.urlToken, sessionId: notification.sessionId)
        return try await idempotent(notification.urlToken, idempotency) { () async throws(HeraldError) -> Receipt in
            try await self.change(key, endpoint: endpoint, idempotency: idempotency) { existing, now throws(HeraldError) -> Change in
                var session: Session
                if let existing {
                    if let userId = notification.userId, userId != existing.userId {
                        throw .userMismatch(key, owner: existing.userId, given: userId)
                    }
                    session = existing
                } else {
                    guard notification.createSession, let userId = notification.userId else { throw .unknownSession(key) }
                    session = Session(key: key, userId: userId, now: now)
                }
                let output = Output(
                    id: Identifier.output(at: now), session: key, userId: session.userId, seq: session.nextSeq, type: .notify,
                    text: notification.text, data: notification.data, rich: notification.rich, inputId: nil, source: nil,
                    timestamp: now)
                session.nextSeq += 1
                return Change(session: session, input: nil, outputs: [output])
            }
        }
    }

    // MARK: Time

    /// Sets up a notify for later: nothing is sent until `request.dueAt`, then it goes out like
    /// ``notify(_:idempotency:)``, with the output's `scheduledId`.
    public func schedule(
        _ notification: Notification, _ request: ScheduleRequest, idempotency: IdempotencyRequest? = nil
    ) async throws(HeraldError) -> Accepted {
        let schedule = Schedule(
            key: request.key, kind: .notify, dueAt: request.dueAt, createdAt: clock.now(), cancelOnUserMessage: request.cancelOnUserMessage,
            text: notification.text, data: notification.data, rich: notification.rich)
        let key = SessionKey(urlToken: notification.urlToken, sessionId: notification.sessionId)
        return try await add(schedule, to: key, userId: notification.userId, mustMatch: true, createSession: notification.createSession, idempotency)
    }

    /// Sets up an inject for later: at `request.dueAt` it runs through the flow like
    /// ``receive(_:idempotency:)`` with `input.source == "inject"`.
    public func schedule(
        _ message: InboundMessage, _ request: ScheduleRequest, idempotency: IdempotencyRequest? = nil
    ) async throws(HeraldError) -> Accepted {
        let schedule = Schedule(
            key: request.key, kind: .inject, dueAt: request.dueAt, createdAt: clock.now(), cancelOnUserMessage: request.cancelOnUserMessage,
            text: message.text, data: message.data)
        let key = SessionKey(urlToken: message.urlToken, sessionId: message.sessionId)
        return try await add(
            schedule, to: key, userId: message.userId, mustMatch: !message.sharedSession, createSession: message.createSession, idempotency)
    }

    private func add(
        _ schedule: Schedule, to key: SessionKey, userId: String?, mustMatch: Bool, createSession: Bool, _ idempotency: IdempotencyRequest?
    ) async throws(HeraldError) -> Accepted {
        let endpoint = try endpoint(key.urlToken)
        return try await idempotent(key.urlToken, idempotency) { () async throws(HeraldError) -> Receipt in
            try await self.change(key, endpoint: endpoint, idempotency: idempotency) { existing, now throws(HeraldError) -> Change in
                var session: Session
                if let existing {
                    if mustMatch, let userId, userId != existing.userId { throw .userMismatch(key, owner: existing.userId, given: userId) }
                    session = existing
                } else {
                    guard createSession, let userId else { throw .unknownSession(key) }
                    session = Session(key: key, userId: userId, now: now)
                }
                session.addSchedule(schedule)
                return Change(session: session, input: nil, outputs: [], scheduled: schedule)
            }
        }
    }

    /// Cancels a pending schedule. Throws ``HeraldError/unknownSchedule`` when there is none
    /// with this id (it fired, was cancelled or replaced, or never existed).
    public func cancelSchedule(id: String) async throws(HeraldError) -> ScheduledEntry {
        let found: SessionKey?
        do {
            found = try await store.scheduledSession(id: id)
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
        guard let key = found, let endpoint = endpoints[key.urlToken] else { throw .unknownSchedule(id) }
        let receipt = try await change(key, endpoint: endpoint, idempotency: nil) { existing, _ throws(HeraldError) -> Change in
            guard var session = existing, let schedule = session.removeSchedule(id: id) else { throw .unknownSchedule(id) }
            return Change(session: session, input: nil, outputs: [], scheduled: schedule)
        }
        return ScheduledEntry(session: key, userId: receipt.userId ?? "", schedule: receipt.scheduled!)
    }

    /// Fires the session's schedules that are due, one change each, earliest first: a notify
    /// goes out, an inject or a timeout runs the flow. Each is removed in the same change that
    /// records what it produced, so it fires once even when several instances try at the same
    /// moment (the others find nothing due). Returns one receipt per schedule fired.
    @discardableResult
    public func fireDue(_ key: SessionKey) async throws(HeraldError) -> [Receipt] {
        let endpoint = try endpoint(key.urlToken)
        var fired: [Receipt] = []
        while true {
            do {
                fired.append(
                    try await change(key, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
                        guard var session = existing, let schedule = session.schedules.first, schedule.dueAt <= now else { throw .nothingDue }
                        session.schedules.removeFirst()
                        return self.fire(schedule, in: &session, endpoint, now)
                    })
            } catch .nothingDue {
                return fired
            }
        }
    }

    private func fire(_ schedule: Schedule, in session: inout Session, _ endpoint: Endpoint, _ now: Timestamp) -> Change {
        switch schedule.kind {
        case .notify:
            let output = Output(
                id: Identifier.output(at: now), session: session.key, userId: session.userId, seq: session.nextSeq, type: .notify,
                text: schedule.text, data: schedule.data, rich: schedule.rich, inputId: nil, source: nil, timestamp: now,
                scheduledId: schedule.id, late: now > schedule.dueAt.adding(Schedule.lateAfter))
            session.nextSeq += 1
            return Change(session: session, input: nil, outputs: [output], scheduled: schedule)
        case .inject:
            let input = Input(
                session: session.key, userId: session.userId, text: schedule.text, data: schedule.data, source: .inject, receivedAt: now)
            let outputs = run(endpoint.flow, &session, input, from: schedule) { FlowEngine.run($0, session: $1, input: input) }
            return Change(session: session, input: input, outputs: outputs, scheduled: schedule)
        case .timeout(let nodeId):
            // Stale (the user answered), or an operator has the session: the flow stays quiet.
            guard session.waiting?.nodeId == nodeId, session.handover == nil else {
                return Change(session: session, input: nil, outputs: [], scheduled: schedule)
            }
            let input = Input(
                session: session.key, userId: session.userId, text: nil, data: ["node": .string(nodeId)], source: .timeout, receivedAt: now)
            let outputs = run(endpoint.flow, &session, input, from: schedule) {
                FlowEngine.timeout($0, session: $1, nodeId: nodeId, input: input)
            }
            return Change(session: session, input: input, outputs: outputs, scheduled: schedule)
        }
    }

    /// The session as it is now, or `nil` when there is none or it expired.
    public func session(_ key: SessionKey) async throws(HeraldError) -> Session? {
        let endpoint = try endpoint(key.urlToken)
        if cachesSessions, let cached = cache.withLock({ $0[key] }), cached.epoch == writer.epoch {
            return live(cached.session, endpoint, clock.now())
        }
        do {
            return try await store.session(key).flatMap { live($0, endpoint, self.clock.now()) }
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
    }

    /// Ends a session: its state and history go; outputs not yet delivered still are.
    /// Returns false when there was no such session.
    @discardableResult
    public func endSession(_ key: SessionKey) async throws(HeraldError) -> Bool {
        _ = try endpoint(key.urlToken)
        do {
            return try await mailbox.withTurn(key) {
                // Wait for earlier pipelined commits of this session, then delete.
                let existing = try await self.currentSession(key).session
                try await self.writer.commit(.deleteSession(key))
                self.cache.withLock { $0[key] = nil }
                return existing != nil
            }
        } catch let error as HeraldError {
            throw error
        } catch {
            throw .unavailable("the store could not end the session: \(error)")
        }
    }

    /// Forgets cached state of sessions the sweeper removed.
    public func expire(_ keys: [SessionKey]) async throws(HeraldError) {
        for key in keys {
            do {
                try await mailbox.withTurn(key) {
                    let current = try await self.currentSession(key)
                    guard let session = current.session, let endpoint = self.endpoints[key.urlToken],
                        self.live(session, endpoint, self.clock.now()) == nil
                    else { return }
                    try await self.writer.commit(.deleteSession(key))
                    self.cache.withLock { $0[key] = nil }
                }
            } catch {
                throw .unavailable("the store could not expire sessions: \(error)")
            }
        }
    }

    /// Notifies every active session of the endpoint (of one user, when `userId` is given).
    /// Returns how many sessions were notified; sessions that expire or end meanwhile are
    /// skipped.
    public func broadcast(
        urlToken: String, userId: String?, text: String?, data: JSON?, rich: RichContent = RichContent()
    ) async throws(HeraldError) -> Int {
        let endpoint = try endpoint(urlToken)
        let pageSize = 1000
        var after: SessionKey?
        var notified = 0
        while true {
            let page: [SessionSummary]
            do {
                let since = clock.now().adding(milliseconds: -endpoint.sessionTTL.milliseconds)
                page = try await store.sessions(SessionQuery(urlToken: urlToken, userId: userId, activeSince: since, limit: pageSize, after: after))
            } catch {
                throw .unavailable("the store is not available: \(error)")
            }
            notified += await withTaskGroup(of: Int.self) { group in
                // At most 128 notifies in flight: enough to fill group commits, bounded memory.
                var pending = page[...]
                var total = 0
                for _ in 0..<128 {
                    guard let summary = pending.popFirst() else { break }
                    group.addTask { await self.broadcastOne(summary, text: text, data: data, rich: rich) }
                }
                for await result in group {
                    total += result
                    if let summary = pending.popFirst() {
                        group.addTask { await self.broadcastOne(summary, text: text, data: data, rich: rich) }
                    }
                }
                return total
            }
            guard page.count == pageSize else { return notified }
            after = page.last?.key
        }
    }

    private func broadcastOne(_ summary: SessionSummary, text: String?, data: JSON?, rich: RichContent) async -> Int {
        let notification = Notification(
            urlToken: summary.key.urlToken, sessionId: summary.key.sessionId, userId: nil, text: text, data: data, rich: rich)
        do {
            _ = try await notify(notification)
            return 1
        } catch {
            return 0
        }
    }

    // MARK: Turns and commits

    /// Takes the session's turn, lets `decide` compute the change from the current state (`nil`
    /// when the session does not exist or expired), records it, and returns the receipt.
    func change(
        _ key: SessionKey, endpoint: Endpoint, idempotency: IdempotencyRequest?,
        _ decide: @escaping @Sendable (Session?, Timestamp) throws(HeraldError) -> Change
    ) async throws(HeraldError) -> Receipt {
        do {
            if cachesSessions {
                let (commit, receipt, ticket) = try await mailbox.withTurn(key) {
                    let current = try await self.currentSession(key)
                    let (commit, receipt) = try self.makeCommit(key, current.session, endpoint, idempotency, decide)
                    self.cache.withLock { cache in
                        cache[key] = CachedSession(session: commit.session, epoch: current.epoch, touched: .now())
                        if cache.count > self.cacheLimit { Self.evict(&cache) }
                    }
                    // Queued while holding the turn, so the writer sees this session's changes
                    // in turn order.
                    return (commit, receipt, self.writer.enqueue(.session(commit), epoch: current.epoch))
                }
                // The turn is released before the commit is durable: the next input of this
                // session runs on the cached state while this one is written in the same or
                // the next batch. The writer keeps queue order, so `seq` order holds.
                try await ticket.wait()
                metrics.record(commit)
                return receipt
            }
            // A store several instances share (PostgreSQL): the turn is decided inside the
            // writer's transaction, on the session as stored, while the store holds the
            // session's lock across instances. Queued while holding the turn, so this
            // instance's inputs of a session run in arrival order; many sessions' turns share
            // one transaction (group commit).
            let decided = Mutex<Receipt?>(nil)
            let turn = SessionTurn(key) { stored in
                let (commit, receipt) = try self.makeCommit(key, stored, endpoint, idempotency, decide)
                decided.withLock { $0 = receipt }
                return commit
            }
            let ticket = await mailbox.withTurn(key) { self.writer.enqueue(.turn(turn)) }
            try await ticket.wait()
            guard let commit = turn.commit, let receipt = decided.withLock({ $0 }) else {
                throw HeraldError.unavailable("the store did not run the message; retry the request")
            }
            metrics.record(commit)
            return receipt
        } catch let error as HeraldError {
            throw error
        } catch is IdempotencyConflict {
            throw .idempotencyRace
        } catch is StoreWriter.ShutDown {
            throw .unavailable("Herald is shutting down; nothing was recorded, retry the request")
        } catch {
            throw .unavailable("the store could not record the message, nothing was processed; retry the request (\(error))")
        }
    }

    private func makeCommit(
        _ key: SessionKey, _ stored: Session?, _ endpoint: Endpoint, _ idempotency: IdempotencyRequest?,
        _ decide: (Session?, Timestamp) throws(HeraldError) -> Change
    ) throws(HeraldError) -> (SessionCommit, Receipt) {
        let now = clock.now()
        let existing = stored.flatMap { live($0, endpoint, now) }
        var change = try decide(existing, now)
        let storedVersion = stored?.version ?? 0
        change.session.version = storedVersion + 1
        let receipt = Receipt(
            sessionId: key.sessionId, inputId: change.input?.id, outputs: change.outputs, scheduled: change.scheduled, userId: change.session.userId)
        let response = idempotency.map { request in
            let (status, body) = request.render(receipt)
            return IdempotentResponse(urlToken: key.urlToken, key: request.key, status: status, body: body, createdAt: now)
        }
        let commit = SessionCommit(
            session: change.session, expectedVersion: storedVersion, startsSession: existing == nil, input: change.input, outputs: change.outputs,
            idempotency: response)
        return (commit, receipt)
    }

    /// The session's latest state: the cache when it is valid, else the store.
    func currentSession(_ key: SessionKey) async throws -> (session: Session?, epoch: Int) {
        let epoch = writer.epoch
        if cachesSessions, let cached = cache.withLock({ $0[key] }), cached.epoch == epoch {
            return (cached.session, epoch)
        }
        return (try await store.session(key), epoch)
    }

    /// `nil` when the session has been idle for longer than the endpoint's TTL and has no
    /// pending schedule.
    func live(_ session: Session, _ endpoint: Endpoint, _ now: Timestamp) -> Session? {
        session.updatedAt.adding(endpoint.sessionTTL) < now && session.schedules.isEmpty ? nil : session
    }

    /// Drops cache entries untouched for 10 s. Younger ones may belong to commits still in the
    /// writer's queue, whose state the store does not have yet, so they stay.
    private static func evict(_ cache: inout [SessionKey: CachedSession]) {
        let cutoff = Timestamp.now().adding(milliseconds: -10_000)
        var removed = 0
        for (key, entry) in cache where entry.touched < cutoff {
            cache[key] = nil
            removed += 1
            if removed >= cache.count / 4 { break }
        }
    }

    // MARK: Idempotency

    /// Runs `work` once per (endpoint, key) within 24 h; repeats, and concurrent duplicates,
    /// get the first answer.
    private func idempotent(
        _ urlToken: String, _ request: IdempotencyRequest?, _ work: () async throws(HeraldError) -> Receipt
    ) async throws(HeraldError) -> Accepted {
        guard let request else { return .processed(try await work()) }
        let slot = urlToken + "\u{0}" + request.key
        while true {
            let mine = idempotencyInFlight.withLock { inFlight in
                if inFlight[slot] == nil {
                    inFlight[slot] = []
                    return true
                }
                return false
            }
            if mine { break }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let free = idempotencyInFlight.withLock { inFlight in
                    if inFlight[slot] == nil { return true }
                    inFlight[slot]!.append(continuation)
                    return false
                }
                if free { continuation.resume() }
            }
        }
        defer {
            let waiters = idempotencyInFlight.withLock { $0.removeValue(forKey: slot) ?? [] }
            for waiter in waiters { waiter.resume() }
        }
        let since = Timestamp.now().adding(milliseconds: -24 * 3600 * 1000)
        let stored: IdempotentResponse?
        do {
            stored = try await store.idempotentResponse(urlToken: urlToken, key: request.key, since: since)
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
        if let stored { return .replayed(stored) }
        do {
            return .processed(try await work())
        } catch .idempotencyRace {
            // Another instance recorded this key between our check and our commit.
            if let first = try? await store.idempotentResponse(urlToken: urlToken, key: request.key, since: since) { return .replayed(first) }
            throw .unavailable("the store is not available; retry the request")
        }
    }
}
