import Synchronization

/// What the admin API does to sessions besides the message path: read one, end one, forget the
/// ones the sweeper removed, notify them all.
extension SessionRegistry {
    /// The session as it is now, or `nil` when there is none or it expired.
    public func session(_ key: SessionKey) async throws(HeraldError) -> Session? {
        let endpoint = try endpoint(key.urlToken)
        if cachesSessions, let cached = cache.withLock({ $0[key] }), cached.epoch == writer.epoch {
            return live(cached.session, endpoint, clock.now())
        }
        return try await storeRead { try await store.session(key).flatMap { live($0, endpoint, self.clock.now()) } }
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
            let since = clock.now().adding(milliseconds: -endpoint.sessionTTL.milliseconds)
            let page = try await storeRead {
                try await store.sessions(SessionQuery(urlToken: urlToken, userId: userId, activeSince: since, limit: pageSize, after: after))
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
}
