import Logging
import Synchronization

/// The one session registry. User messages, injects and notifies all enter here; each takes the
/// session's turn (``SessionMailbox``), runs the flow (``FlowEngine``) or builds the notify
/// output, gives the outputs their `seq`, and is recorded by the ``StoreWriter``, which then
/// hands the outputs to the ``Outbox``. A call returns once its record is durable.
public final class SessionRegistry: Sendable {
    /// The configuration served now: endpoints, and the flow versions sessions run on.
    public let live: LiveConfiguration
    /// Every endpoint served now (the current snapshot's).
    public var endpoints: [String: Endpoint] { live.snapshot.plainEndpoints }
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
    let cacheLimit: Int
    let idempotencyInFlight = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])
    let metrics: RegistryMetrics
    let statusMetrics: OutputStatusMetrics
    /// "Now" for every turn: when schedules are due, whether they are late, whether a session
    /// expired.
    public let clock: HeraldClock

    /// A registry for a fixed set of endpoints.
    public convenience init(
        endpoints: [Endpoint], store: any HeraldStore, writer: StoreWriter, cachesSessions: Bool = true, cacheLimit: Int = 200_000,
        clock: HeraldClock = .system, logger: Logger
    ) {
        self.init(
            live: LiveConfiguration(HeraldConfiguration(endpoints: endpoints)), store: store, writer: writer, cachesSessions: cachesSessions,
            cacheLimit: cacheLimit, clock: clock, logger: logger)
    }

    /// A registry serving what `live` holds at the time of each message.
    public init(
        live: LiveConfiguration, store: any HeraldStore, writer: StoreWriter, cachesSessions: Bool = true, cacheLimit: Int = 200_000,
        clock: HeraldClock = .system, logger: Logger
    ) {
        let endpoints = live.snapshot.configuration.endpoints
        self.live = live
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
        guard let endpoint = live.snapshot.endpoint(urlToken)?.endpoint else { throw .unknownEndpoint(urlToken) }
        return endpoint
    }

    // MARK: The path of a message

    /// Runs a user message or an inject through the endpoint's flow for its session. `endpoint`
    /// is the endpoint as the request found it (it keeps it, whatever a reload does meanwhile);
    /// by default the one served now.
    public func receive(
        _ message: InboundMessage, idempotency: IdempotencyRequest? = nil, endpoint: Endpoint? = nil
    ) async throws(HeraldError) -> Accepted {
        let key = SessionKey(urlToken: message.urlToken, sessionId: message.sessionId)
        return try await accept(key, idempotency, endpoint: endpoint) { existing, now, endpoint throws(HeraldError) -> Change in
            var session = try self.addressed(
                key, existing, userId: message.userId, anyUser: message.sharedSession, creates: message.source == .user || message.createSession,
                now: now)
            if message.source == .user { session.schedules.removeAll(where: \.cancelOnUserMessage) }
            let input = Input(
                session: key, userId: message.userId, text: message.text, data: message.data, source: message.source, receivedAt: now)
            // While an operator has the session, the user's message is recorded, not run.
            if session.handover != nil, message.source == .user { return self.heldForOperator(input, session, endpoint, now) }
            return try self.runFlow(input, session, endpoint)
        }
    }

    /// Runs the endpoint's flow for `input`: the change it makes to the session. While the
    /// session waits for a call's answer, the input is recorded and queued; it runs once the
    /// flow has gone on (``answer(_:with:)``).
    func runFlow(_ input: Input, _ session: Session, _ endpoint: Endpoint, from schedule: Schedule? = nil) throws(HeraldError) -> Change {
        var session = session
        if session.waiting?.call != nil {
            session.waiting!.call!.queued.append(input)
            session.updatedAt = input.receivedAt
            return Change(session: session, input: input, outputs: [], scheduled: schedule)
        }
        let outputs = try run(endpoint.flow, &session, input, from: schedule) {
            FlowEngine.run($0, session: $1, input: input, calls: endpoint.calls)
        }
        return Change(session: session, input: input, outputs: outputs, scheduled: schedule)
    }

    /// Runs a flow (``FlowEngine/run(_:session:input:)`` or a timeout) on `session` and applies
    /// what it decided: the outputs get their ids and `seq`, the context, the waiting point
    /// and the schedules change. `current` is the endpoint's flow; a session in the middle of
    /// an earlier version goes on with that one (``flow(for:current:from:)``).
    func run(
        _ current: Flow, _ session: inout Session, _ input: Input, from schedule: Schedule? = nil,
        _ engine: (Flow, Session) -> FlowEngine.Run
    ) throws(HeraldError) -> [Output] {
        let flow = try self.flow(for: session, current: current, from: schedule)
        let run = engine(flow, session)
        TurnTrace.current?.record(run.path)
        if let error = run.error {
            logger.error("flow run stopped", metadata: ["session": "\(session.key)", "input": "\(input.id)", "error": "\(error)"])
        }
        let now = input.receivedAt
        let late = schedule.map { now > $0.dueAt.adding(Schedule.lateAfter) } ?? false
        var outputs: [Output] = []
        outputs.reserveCapacity(run.outputs.count)
        let version = flow.version.isEmpty ? nil : flow.version
        for draft in run.outputs {
            var output = session.nextOutput(
                draft.type, text: draft.text, data: draft.data, rich: draft.rich, inputId: input.id, source: input.source, at: now,
                scheduledId: schedule?.id, late: late)
            output.flowVersion = version
            outputs.append(output)
        }
        session.flowVersion = version
        session.context = run.context
        session.waiting = run.waiting
        // The run ended at a call: its output (the last) is the one whose answer resumes it.
        if run.waiting?.call != nil, let call = outputs.last, call.type == .call { session.waiting!.call!.outputId = call.id }
        session.updatedAt = now
        session.apply(run.schedules)
        return outputs
    }

    /// Sends one output straight to the session's webhook; the flow does not run and the
    /// context is untouched, but the output takes the session's next `seq`.
    public func notify(_ notification: Notification, idempotency: IdempotencyRequest? = nil) async throws(HeraldError) -> Accepted {
        let key = SessionKey(urlToken: notification.urlToken, sessionId: notification.sessionId)
        return try await accept(key, idempotency) { existing, now, _ throws(HeraldError) -> Change in
            var session = try self.addressed(key, existing, userId: notification.userId, creates: notification.createSession, now: now)
            let output = session.nextOutput(.notify, text: notification.text, data: notification.data, rich: notification.rich, at: now)
            return Change(session: session, input: nil, outputs: [output])
        }
    }

    /// Runs one accepting request (message, inject, notify, a schedule's set-up) in its
    /// session's turn, once per `Idempotency-Key`: `decide` gets the session (`nil` when there is
    /// none or it expired), the time and the endpoint.
    func accept(
        _ key: SessionKey, _ idempotency: IdempotencyRequest?, endpoint given: Endpoint? = nil,
        _ decide: @escaping @Sendable (Session?, Timestamp, Endpoint) throws(HeraldError) -> Change
    ) async throws(HeraldError) -> Accepted {
        let endpoint: Endpoint
        if let given { endpoint = given } else { endpoint = try self.endpoint(key.urlToken) }
        return try await idempotent(key.urlToken, idempotency) { () async throws(HeraldError) -> Receipt in
            try await self.change(key, endpoint: endpoint, idempotency: idempotency) { existing, now throws(HeraldError) -> Change in
                try decide(existing, now, endpoint)
            }
        }
    }

    /// A read of the store; when the store fails, ``HeraldError/unavailable(_:)`` says so.
    func storeRead<T>(_ read: () async throws -> T) async throws(HeraldError) -> T {
        do {
            return try await read()
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
    }

    /// The session a request addresses: the existing one, which must be `userId`'s unless any
    /// user may write in it (`anyUser`, or no user given); else a new one of `userId`, when the
    /// request `creates` sessions and names a user.
    func addressed(
        _ key: SessionKey, _ existing: Session?, userId: String?, anyUser: Bool = false, creates: Bool, now: Timestamp
    ) throws(HeraldError) -> Session {
        if let existing {
            if !anyUser, let userId, userId != existing.userId { throw .userMismatch(key, owner: existing.userId, given: userId) }
            return existing
        }
        guard creates, let userId else { throw .unknownSession(key) }
        return Session(key: key, userId: userId, now: now)
    }
}
