import Synchronization

/// The turn machinery: one change of a session at a time, decided on its current state (the
/// cache, for a store only this process writes, or the store), recorded through the writer.
extension SessionRegistry {
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

    /// Takes the session's turn, lets `decide` compute the change from the current state (`nil`
    /// when the session does not exist or expired), records it, and returns the receipt.
    /// While tracing is on, the turn is a span (``traced(_:_:)``).
    func change(
        _ key: SessionKey, endpoint: Endpoint, idempotency: IdempotencyRequest?,
        _ decide: @escaping @Sendable (Session?, Timestamp) throws(HeraldError) -> Change
    ) async throws(HeraldError) -> Receipt {
        guard HeraldTracing.isEnabled else { return try await loadingVersions(key, endpoint, idempotency, trace: nil, decide) }
        return try await traced(key) { trace throws(HeraldError) in
            try await self.loadingVersions(key, endpoint, idempotency, trace: trace, decide)
        }
    }

    /// A session on a flow version not loaded here yet (another instance made it, or Herald
    /// restarted) rejects its turn; the version is loaded from the store and the turn taken again.
    private func loadingVersions(
        _ key: SessionKey, _ endpoint: Endpoint, _ idempotency: IdempotencyRequest?, trace: TurnTrace?,
        _ decide: @escaping @Sendable (Session?, Timestamp) throws(HeraldError) -> Change
    ) async throws(HeraldError) -> Receipt {
        var loaded: Set<String> = []
        while true {
            do {
                return try await turn(key, endpoint: endpoint, idempotency: idempotency, trace: trace, decide)
            } catch let error where error == .flowVersionNotLoaded && loaded.insert(error.message).inserted {
                try await loadFlowVersion(error.message)
            }
        }
    }

    private func turn(
        _ key: SessionKey, endpoint: Endpoint, idempotency: IdempotencyRequest?, trace: TurnTrace?,
        _ decide: @escaping @Sendable (Session?, Timestamp) throws(HeraldError) -> Change
    ) async throws(HeraldError) -> Receipt {
        do {
            if cachesSessions {
                let (commit, receipt, ticket) = try await mailbox.withTurn(key) {
                    let current = try await self.currentSession(key)
                    let (commit, receipt) = try self.makeCommit(key, current.session, endpoint, idempotency, trace, decide)
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
                try await trace.committing { try await ticket.wait() }
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
                let (commit, receipt) = try self.makeCommit(key, stored, endpoint, idempotency, trace, decide)
                decided.withLock { $0 = receipt }
                return commit
            }
            let ticket = await mailbox.withTurn(key) { self.writer.enqueue(.turn(turn)) }
            try await trace.committing { try await ticket.wait() }
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
        _ key: SessionKey, _ stored: Session?, _ endpoint: Endpoint, _ idempotency: IdempotencyRequest?, _ trace: TurnTrace?,
        _ decide: (Session?, Timestamp) throws(HeraldError) -> Change
    ) throws(HeraldError) -> (SessionCommit, Receipt) {
        let now = clock.now()
        let existing = stored.flatMap { live($0, endpoint, now) }
        var change = try TurnTrace.with(trace) { () throws(HeraldError) in try decide(existing, now) }
        if let traceparent = trace?.traceparent {
            for index in change.outputs.indices { change.outputs[index].traceparent = traceparent }
        }
        let storedVersion = stored?.version ?? 0
        change.session.version = storedVersion + 1
        let receipt = Receipt(
            sessionId: key.sessionId, inputId: change.input?.id, outputs: change.outputs, scheduled: change.scheduled, userId: change.session.userId)
        let response = idempotency.map { request in
            IdempotentResponse(
                urlToken: key.urlToken, key: request.key, status: request.answer.status, body: request.answer.body(for: receipt), createdAt: now)
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
}

extension Session {
    /// A new output of this session, made now: it takes the session's next `seq`.
    mutating func nextOutput(
        _ type: OutputType, text: String?, data: JSON?, rich: RichContent = RichContent(), inputId: String? = nil, source: InputSource? = nil,
        at now: Timestamp, scheduledId: String? = nil, late: Bool = false
    ) -> Output {
        defer { nextSeq += 1 }
        return Output(
            id: Identifier.output(at: now), session: key, userId: userId, seq: nextSeq, type: type, text: text, data: data, rich: rich,
            inputId: inputId, source: source, timestamp: now, scheduledId: scheduledId, late: late)
    }
}
