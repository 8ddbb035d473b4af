import Synchronization

/// The `Idempotency-Key` gate: a request with a key runs once; a repeat gets the first answer,
/// as it was recorded with the change (``IdempotencyRequest/Answer``).
extension SessionRegistry {
    /// Runs `work` once per (endpoint, key) within 24 h; repeats, and concurrent duplicates,
    /// get the first answer.
    func idempotent(
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
        let stored = try await storeRead { try await store.idempotentResponse(urlToken: urlToken, key: request.key, since: since) }
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
