/// Messages for later: a scheduled notify or inject waits in its session until it is due, then
/// ``SessionRegistry/fireDue(_:)`` fires it (as a flow's reminder or `ask` timeout is fired) in
/// the session's turn; ``SessionRegistry/cancelSchedule(id:)`` drops one.
extension SessionRegistry {
    /// Sets up a notify for later: nothing is sent until `request.dueAt`, then it goes out like
    /// ``notify(_:idempotency:)``, with the output's `scheduledId`.
    public func schedule(
        _ notification: Notification, _ request: ScheduleRequest, idempotency: IdempotencyRequest? = nil
    ) async throws(HeraldError) -> Accepted {
        var schedule = Schedule(
            key: request.key, kind: .notify, dueAt: request.dueAt, createdAt: clock.now(), cancelOnUserMessage: request.cancelOnUserMessage,
            text: notification.text, data: notification.data, rich: notification.rich)
        schedule.traceparent = HeraldTracing.currentTraceparent()
        let key = SessionKey(urlToken: notification.urlToken, sessionId: notification.sessionId)
        return try await add(schedule, to: key, userId: notification.userId, creates: notification.createSession, idempotency)
    }

    /// Sets up an inject for later: at `request.dueAt` it runs through the flow like
    /// ``receive(_:idempotency:)`` with `input.source == "inject"`.
    public func schedule(
        _ message: InboundMessage, _ request: ScheduleRequest, idempotency: IdempotencyRequest? = nil
    ) async throws(HeraldError) -> Accepted {
        var schedule = Schedule(
            key: request.key, kind: .inject, dueAt: request.dueAt, createdAt: clock.now(), cancelOnUserMessage: request.cancelOnUserMessage,
            text: message.text, data: message.data)
        schedule.traceparent = HeraldTracing.currentTraceparent()
        let key = SessionKey(urlToken: message.urlToken, sessionId: message.sessionId)
        return try await add(
            schedule, to: key, userId: message.userId, anyUser: message.sharedSession, creates: message.createSession, idempotency)
    }

    private func add(
        _ schedule: Schedule, to key: SessionKey, userId: String?, anyUser: Bool = false, creates: Bool, _ idempotency: IdempotencyRequest?
    ) async throws(HeraldError) -> Accepted {
        try await accept(key, idempotency) { existing, now, _ throws(HeraldError) -> Change in
            var session = try self.addressed(key, existing, userId: userId, anyUser: anyUser, creates: creates, now: now)
            session.addSchedule(schedule)
            return Change(session: session, input: nil, outputs: [], scheduled: schedule)
        }
    }

    /// Cancels a pending schedule. Throws ``HeraldError/unknownSchedule`` when there is none
    /// with this id (it fired, was cancelled or replaced, or never existed).
    public func cancelSchedule(id: String) async throws(HeraldError) -> ScheduledEntry {
        let found = try await storeRead { try await store.scheduledSession(id: id) }
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
                        return try self.fire(schedule, in: &session, endpoint, now)
                    })
            } catch .nothingDue {
                return fired
            }
        }
    }

    private func fire(_ schedule: Schedule, in session: inout Session, _ endpoint: Endpoint, _ now: Timestamp) throws(HeraldError) -> Change {
        switch schedule.kind {
        case .notify:
            let output = session.nextOutput(
                .notify, text: schedule.text, data: schedule.data, rich: schedule.rich, at: now, scheduledId: schedule.id,
                late: now > schedule.dueAt.adding(Schedule.lateAfter))
            return Change(session: session, input: nil, outputs: [output], scheduled: schedule)
        case .inject:
            let input = Input(
                session: session.key, userId: session.userId, text: schedule.text, data: schedule.data, source: .inject, receivedAt: now)
            return try runFlow(input, session, endpoint, from: schedule)
        case .timeout(let nodeId):
            // Stale (the user answered), or an operator has the session: the flow stays quiet.
            guard session.waiting?.nodeId == nodeId, session.handover == nil else {
                return Change(session: session, input: nil, outputs: [], scheduled: schedule)
            }
            let input = Input(
                session: session.key, userId: session.userId, text: nil, data: ["node": .string(nodeId)], source: .timeout, receivedAt: now)
            let outputs = try run(endpoint.flow, &session, input, from: schedule) {
                FlowEngine.timeout($0, session: $1, nodeId: nodeId, input: input, calls: endpoint.calls)
            }
            return Change(session: session, input: input, outputs: outputs, scheduled: schedule)
        }
    }
}
