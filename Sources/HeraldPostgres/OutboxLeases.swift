import Foundation
import HeraldCore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Which instance delivers which session, when several share one PostgreSQL store.
///
/// Per-session order needs one deliverer per session, so sessions are leased: an instance
/// claims a session with undelivered outputs (`outbox_leases`), loads them into its local
/// ``Outbox`` and delivers them in order, renewing the lease while it has work, and hands the
/// session back once its queue runs empty. New outputs announce themselves with
/// `NOTIFY herald_outbox` (sent by the committing transaction): the lease holder loads them,
/// or, if nobody holds the session, the first instance to claim it does. A lease not renewed
/// within `leaseDuration` (the instance died) is claimed by another instance's periodic scan,
/// which then delivers what is left, from the first undelivered output on.
public final class OutboxLeases: Service, Sendable {
    private let store: PostgresStore
    private let outbox: Outbox
    private let owner: String
    private let leaseDuration: Duration
    private let logger: Logger
    /// Sessions this instance holds, with the last outbox position loaded.
    private let held = Mutex<[SessionKey: Int64]>([:])
    private let turns = Mutex<[SessionKey: [CheckedContinuation<Void, Never>]]>([:])

    public init(store: PostgresStore, outbox: Outbox, leaseDuration: Duration, logger: Logger) {
        self.store = store
        self.outbox = outbox
        self.owner = "herald-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))"
        self.leaseDuration = leaseDuration
        self.logger = logger
        outbox.onDrained { [weak self] keys in
            self?.drained(keys)
        }
    }

    private let pendingRelease = Mutex<Set<SessionKey>>([])

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask { await self.scanAndRenew() }
            }
        }
        // Hand back every session held, so another instance takes them over at once.
        try? await store.client.query("DELETE FROM outbox_leases WHERE owner = \(owner)", logger: logger)
    }

    /// Reacts to `NOTIFY herald_outbox` (payload `urlToken/sessionId`) until cancelled,
    /// reconnecting if the listening connection drops.
    private func listen() async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    let notifications = try await connection.listen("herald_outbox")
                    for try await notification in notifications {
                        guard let slash = notification.payload.firstIndex(of: "/") else { continue }
                        let key = SessionKey(
                            urlToken: String(notification.payload[..<slash]),
                            sessionId: String(notification.payload[notification.payload.index(after: slash)...]))
                        await self.announce(key)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("outbox LISTEN connection lost; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Every `leaseDuration / 3`: renew what is held, retry handing back drained sessions,
    /// and claim sessions with work whose lease is free or expired.
    private func scanAndRenew() async {
        let period = max(Duration.milliseconds(200), leaseDuration / 3)
        while !Task.isCancelled {
            do {
                let until = Timestamp.now().adding(leaseDuration).milliseconds
                try await store.client.query("UPDATE outbox_leases SET lease_until = \(until) WHERE owner = \(owner)", logger: logger)
                let toRelease = pendingRelease.withLock { pending in
                    defer { pending.removeAll() }
                    return pending
                }
                for key in toRelease where !outbox.holds(key) { await release(key) }
                let now = Timestamp.now().milliseconds
                var orphans: [SessionKey] = []
                for try await (urlToken, sessionId) in try await store.client.query(
                    """
                    SELECT DISTINCT o.url_token, o.session_id FROM outputs o
                    WHERE o.status IN ('pending', 'failed') AND NOT EXISTS (
                      SELECT 1 FROM outbox_leases l WHERE l.url_token = o.url_token AND l.session_id = o.session_id AND l.lease_until >= \(now))
                    LIMIT 1000
                    """, logger: logger
                ).decode((String, String).self) {
                    orphans.append(SessionKey(urlToken: urlToken, sessionId: sessionId))
                }
                for key in orphans { await announce(key) }
            } catch {
                if Task.isCancelled { return }
                logger.warning("outbox lease scan failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: period)
        }
    }

    /// A session has new outputs: load them if this instance holds it, else try to claim it.
    func announce(_ key: SessionKey) async {
        await withTurn(key) {
            do {
                if let position = held.withLock({ $0[key] }) {
                    try await load(key, after: position)
                    return
                }
                let until = Timestamp.now().adding(leaseDuration).milliseconds
                let now = Timestamp.now().milliseconds
                var claimed = false
                for try await _ in try await store.client.query(
                    """
                    INSERT INTO outbox_leases (url_token, session_id, owner, lease_until) VALUES (\(key.urlToken), \(key.sessionId), \(owner), \(until))
                    ON CONFLICT (url_token, session_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
                      WHERE outbox_leases.lease_until < \(now) OR outbox_leases.owner = excluded.owner
                    RETURNING 1
                    """, logger: logger)
                {
                    claimed = true
                }
                guard claimed else { return }
                held.withLock { $0[key] = 0 }
                try await load(key, after: 0)
            } catch {
                logger.warning("outbox claim failed", metadata: ["session": "\(key)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    /// An operator retried a dead output: queue it here if this instance holds its session,
    /// else let whoever claims the session next load it with the rest.
    public func requeue(_ entry: OutboxEntry) async {
        let key = entry.output.session
        if held.withLock({ $0[key] != nil }) {
            outbox.add([entry])
        } else {
            await announce(key)
        }
    }

    private func load(_ key: SessionKey, after position: Int64) async throws {
        let (entries, last) = try await store.undeliveredOutputs(of: key, after: position)
        held.withLock { $0[key] = last }
        if !entries.isEmpty { outbox.add(entries) }
    }

    private func drained(_ keys: [SessionKey]) {
        pendingRelease.withLock { $0.formUnion(keys) }
    }

    /// Hands a drained session back, unless outputs arrived meanwhile (then they are loaded).
    private func release(_ key: SessionKey) async {
        await withTurn(key) {
            guard let position = held.withLock({ $0[key] }), !outbox.holds(key) else { return }
            do {
                var released = false
                for try await _ in try await store.client.query(
                    """
                    DELETE FROM outbox_leases WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId) AND owner = \(owner)
                      AND NOT EXISTS (SELECT 1 FROM outputs WHERE url_token = \(key.urlToken) AND session_id = \(key.sessionId)
                        AND status IN ('pending', 'failed') AND position > \(position))
                    RETURNING 1
                    """, logger: logger)
                {
                    released = true
                }
                if released {
                    held.withLock { $0[key] = nil }
                } else {
                    try await load(key, after: position)
                }
            } catch {
                logger.warning("outbox lease release failed", metadata: ["session": "\(key)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    /// One claim/load/release at a time per session.
    private func withTurn(_ key: SessionKey, _ body: () async -> Void) async {
        let mine = turns.withLock { turns -> Bool in
            if turns[key] == nil {
                turns[key] = []
                return true
            }
            return false
        }
        if !mine {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let free = turns.withLock { turns -> Bool in
                    if turns[key] == nil {
                        turns[key] = []
                        return true
                    }
                    turns[key]!.append(continuation)
                    return false
                }
                if free { continuation.resume() }
            }
        }
        await body()
        let next = turns.withLock { turns -> CheckedContinuation<Void, Never>? in
            if var waiting = turns[key], !waiting.isEmpty {
                let next = waiting.removeFirst()
                turns[key] = waiting
                return next
            }
            turns[key] = nil
            return nil
        }
        next?.resume()
    }
}
