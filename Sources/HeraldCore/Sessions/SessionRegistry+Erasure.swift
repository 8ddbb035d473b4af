import Synchronization

extension SessionRegistry {
    /// Erases one user of one endpoint (SPEC §11): their sessions, inputs, outputs and attempts,
    /// in every store; outputs not yet delivered are taken out of `outbox` first, so none is sent
    /// (one already in flight finishes; its result is not recorded, its output being gone).
    ///
    /// Holds the turn of each of the user's sessions (in key order, so two erasures never wait
    /// for each other) until the erasure is durable: no message of those sessions runs on the
    /// state being erased.
    public func erase(urlToken: String, userId: String, outbox: Outbox) async throws(HeraldError) -> ErasureCounts {
        _ = try endpoint(urlToken)
        let keys = try await storeRead {
            var keys: [SessionKey] = []
            var after: SessionKey?
            while true {
                let page = try await store.sessions(SessionQuery(urlToken: urlToken, userId: userId, limit: 1000, after: after))
                keys += page.map(\.key)
                guard page.count == 1000 else { return keys }
                after = page.last?.key
            }
        }
        do {
            return try await withTurns(keys[...]) {
                let erasure = Erasure(urlToken: urlToken, userId: userId, sessions: keys)
                // Changes of these sessions queued before their turns were taken are recorded,
                // and their outputs queued in the outbox, before the drop.
                try await self.writer.flush()
                let dropped = outbox.drop(urlToken: urlToken, userId: userId)
                do {
                    try await self.writer.commit(.erase(erasure))
                } catch {
                    // Nothing was erased: what was queued goes out as before.
                    outbox.add(dropped)
                    throw error
                }
                // Outputs of a session of the user that started meanwhile (not among `keys`).
                outbox.drop(urlToken: urlToken, userId: userId)
                self.cache.withLock { cache in
                    for key in keys { cache[key] = nil }
                }
                return erasure.counts ?? ErasureCounts()
            }
        } catch {
            throw .unavailable("the store could not erase the user, nothing was erased; retry the request (\(error))")
        }
    }

    private func withTurns<T>(_ keys: ArraySlice<SessionKey>, _ body: () async throws -> T) async throws -> T {
        guard let first = keys.first else { return try await body() }
        return try await mailbox.withTurn(first) { try await withTurns(keys.dropFirst(), body) }
    }
}
