import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Which instance delivers which session, when several share one PostgreSQL store.
///
/// Per-session order needs one deliverer per session, so sessions are leased
/// (`outbox_leases`). A lease is live while its owner's heartbeat (`outbox_owners`) is; an
/// instance that dies stops beating, and after `leaseDuration` its sessions are free.
///
/// - The batch that commits a session's outputs claims its lease for this instance (unless a
///   live instance holds it) and, in the same transaction, reads back the session's outputs
///   not yet queued here, which go straight to the local ``Outbox`` after the commit: in the
///   usual case delivery costs no round trip of its own.
/// - When another live instance holds the lease, the batch tells it with
///   `NOTIFY herald_outbox` (`owner urlToken hex(sessionId)`), and the holder loads the new
///   outputs.
/// - A session whose queue ran empty is handed back only after the results of its deliveries
///   are recorded (``StoreWriter/flush()``), and only if no output of it is pending:
///   otherwise the next holder would load an output already delivered as pending, and POST it
///   again (the cause of duplicate deliveries without any fault before this design).
/// - Every `leaseDuration / 3` the heartbeat is renewed and sessions with undelivered outputs
///   and no live lease (their instance died) are claimed, from the first undelivered output.
///
/// Lease rows change only while their session's advisory lock is held, as in the batches, so
/// claims, hand-backs and batches never deadlock. (At shutdown all of this instance's rows
/// are deleted at once; a deadlock there only leaves them to expire.)
public final class OutboxLeases: Service, OutboxFeed, Sendable {
    private struct Work {
        var announced: Set<SessionKey> = []
        /// Sessions to hand back now.
        var drained: Set<SessionKey> = []
        /// Sessions whose queue ran empty since the last hand-back round.
        var idle: Set<SessionKey> = []
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let store: PostgresStore
    private let outbox: Outbox
    private let writer: StoreWriter
    private let owner: String
    private let leaseDuration: Duration
    private let logger: Logger
    /// Sessions this instance holds, with the last outbox position queued here.
    private let held = Mutex<[SessionKey: Int64]>([:])
    private let work = Mutex(Work())
    /// Hand-backs refused though nothing new was queued for the session since: after three,
    /// its pending outputs are loaded from the start (their delivery result was lost).
    private let refusals = Mutex<[SessionKey: (position: Int64, count: Int)]>([:])
    /// Set by ``start()``: the schema exists and the first heartbeat is recorded.
    private let started = Atomic<Bool>(false)
    /// Set once the LISTEN connection is recorded as this instance's liveness.
    private let listening = Atomic<Bool>(false)

    public init(store: PostgresStore, outbox: Outbox, writer: StoreWriter, leaseDuration: Duration, logger: Logger) {
        self.store = store
        self.outbox = outbox
        self.writer = writer
        self.owner = store.owner
        self.leaseDuration = leaseDuration
        self.logger = logger
        store.onClaimedOutputs(queued: { [weak self] keys in
            guard let self else { return keys.map { _ in 0 } }
            return self.held.withLock { held in keys.map { held[$0] ?? 0 } }
        }) { [weak self] claimed in self?.claimed(claimed) }
        outbox.onDrained { [weak self] keys in self?.work.withLock { $0.idle.formUnion(keys) } }
    }

    /// Records the first heartbeat: before it, the leases this instance's batches claim would
    /// look abandoned to the others. Herald calls it after the schema is migrated.
    ///
    /// It returns once the LISTEN connection is recorded too (or 10 s have passed): an instance
    /// that died before that could only be known dead by its lease lapsing, so Herald takes no
    /// request until the others can see its connection close.
    public func start() async throws {
        try await beat()
        started.store(true, ordering: .releasing)
        let deadline = ContinuousClock.now + .seconds(10)
        while !listening.load(ordering: .acquiring), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if !listening.load(ordering: .acquiring) {
            logger.warning("the outbox LISTEN connection is not up yet; until it is, a crash is noticed only when the lease lapses")
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask { await self.heartbeatAndScan() }
                group.addTask { await self.serve() }
                group.addTask { await self.handBackRounds() }
            }
        }
        // Delivery has stopped starting attempts and waited for those in flight (it stops
        // first). Once their results are recorded, hand back every session held, so other
        // instances take them over at their next scan. (An attempt still in flight after
        // delivery's wait, a webhook slower than that, may be answered later; the next owner
        // may then send that output once more: at least once.)
        do {
            try await writer.flush()
            try await store.client.query("DELETE FROM outbox_leases WHERE owner = \(owner)", logger: logger)
            try await store.client.query("DELETE FROM outbox_owners WHERE owner = \(owner)", logger: logger)
        } catch {
            logger.warning("could not hand back outbox leases; they expire in \(leaseDuration)", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Announcements

    /// Outputs a batch of this instance committed, for sessions whose lease it claimed.
    private func claimed(_ sessions: [ClaimedOutputs]) {
        held.withLock { held in
            for session in sessions { queue(session.key, session.outputs, &held) }
        }
    }

    /// Queues the outputs of `key` past the position already queued, in order. Loads and
    /// claims race (a NOTIFY and this instance's own commit); the position makes each output
    /// queued once.
    private func queue(_ key: SessionKey, _ outputs: [(position: Int64, entry: OutboxEntry)], _ held: inout [SessionKey: Int64]) {
        var last = held[key] ?? 0
        var entries: [OutboxEntry] = []
        for (position, entry) in outputs where position > last {
            entries.append(entry)
            last = position
        }
        held[key] = last
        if !entries.isEmpty { outbox.add(entries) }
    }

    /// An operator retried a dead output: queue it here if this instance holds its session,
    /// else let whoever claims the session next load it with the rest.
    public func requeue(_ entry: OutboxEntry) async {
        let key = entry.output.session
        let isHeld = held.withLock { held in
            guard held[key] != nil else { return false }
            outbox.add([entry])
            return true
        }
        if !isHeld { signal { $0.announced.insert(key) } }
    }

    private func signal(_ change: (inout Work) -> Void) {
        let waiter = work.withLock { work in
            change(&work)
            defer { work.waiter = nil }
            return work.waiter
        }
        waiter?.resume()
    }

    /// Reacts to `NOTIFY herald_outbox` until cancelled, reconnecting if the connection drops.
    private func listen() async {
        // After ``start()``: the schema is migrated and the heartbeat's row exists.
        while !Task.isCancelled, !started.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    // This connection is this instance's liveness (``OutboxOwner``): recorded
                    // with the heartbeat's row, so the others see it close when we die.
                    let until = Timestamp.now().adding(self.leaseDuration).milliseconds
                    try await connection.query(
                        """
                        INSERT INTO outbox_owners (owner, alive_until, pid, backend_start)
                        SELECT \(self.owner), \(until), pid, (extract(epoch FROM backend_start) * 1000)::bigint
                        FROM pg_stat_activity WHERE pid = pg_backend_pid()
                        ON CONFLICT (owner) DO UPDATE SET pid = excluded.pid, backend_start = excluded.backend_start
                        """, logger: self.logger)
                    let notifications = try await connection.listen("herald_outbox")
                    self.listening.store(true, ordering: .releasing)
                    for try await notification in notifications {
                        let parts = notification.payload.split(separator: " ", omittingEmptySubsequences: false)
                        // An erasure on any instance: none of the user's outputs may go out.
                        if parts.count == 3, parts[0] == "erased", let userId = Self.fromHex(parts[2]) {
                            self.outbox.drop(urlToken: String(parts[1]), userId: userId)
                            continue
                        }
                        guard parts.count == 3, parts[0].isEmpty || parts[0] == self.owner, let sessionId = Self.fromHex(parts[2]) else { continue }
                        let key = SessionKey(urlToken: String(parts[1]), sessionId: sessionId)
                        self.signal { $0.announced.insert(key) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("outbox LISTEN connection lost; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private static func fromHex(_ hex: Substring) -> String? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Heartbeat and scan

    private func beat() async throws {
        let until = Timestamp.now().adding(leaseDuration).milliseconds
        try await store.client.query(
            """
            INSERT INTO outbox_owners (owner, alive_until) VALUES (\(owner), \(until))
            ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until
            """, logger: logger)
    }

    /// Every second (or `leaseDuration / 3`, if shorter): the heartbeat, and a claim on sessions
    /// with work whose lease is free or whose holder died (its connection closed) or stopped
    /// beating.
    private func heartbeatAndScan() async {
        let period = max(Duration.milliseconds(200), min(.seconds(1), leaseDuration / 3))
        while !Task.isCancelled {
            guard started.load(ordering: .acquiring) else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                try await beat()
                let now = Timestamp.now().milliseconds
                let orphans = try await PostgresBatch.sessionKeys(
                    store.client.query(
                    """
                        SELECT DISTINCT o.url_token, o.session_id FROM outputs o
                        WHERE o.status IN (\(unescaped: PostgresStore.undelivered)) AND NOT EXISTS (
                          SELECT 1 FROM outbox_leases l JOIN outbox_owners w ON w.owner = l.owner
                          WHERE l.url_token = o.url_token AND l.session_id = o.session_id AND \(unescaped: OutboxOwner.alive("w", now: now)))
                        LIMIT 1000
                        """, logger: logger))
                if !orphans.isEmpty { signal { $0.announced.formUnion(orphans) } }
                try await store.client.query("DELETE FROM outbox_owners WHERE alive_until < \(now - 86_400_000)", logger: logger)
            } catch {
                if Task.isCancelled { return }
                logger.warning("outbox heartbeat failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: period)
        }
    }

    // MARK: Claims, loads, hand-backs

    /// Serves announcements and hand-backs, one batch at a time, until cancelled.
    private func serve() async {
        while !Task.isCancelled {
            let (announced, drained) = await nextWork()
            if !announced.isEmpty { await acquire(announced) }
            if !drained.isEmpty { await handBack(drained) }
        }
    }

    /// Once a second, the sessions that went idle are handed back: a session keeps its holder
    /// through a short pause, so a conversation's next burst needs no new claim.
    private func handBackRounds() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            signal { work in
                work.drained.formUnion(work.idle)
                work.idle.removeAll()
            }
        }
    }

    private func nextWork() async -> (announced: Set<SessionKey>, drained: Set<SessionKey>) {
        while true {
            let ready = work.withLock { work -> (Set<SessionKey>, Set<SessionKey>)? in
                guard !work.announced.isEmpty || !work.drained.isEmpty else { return nil }
                defer {
                    work.announced.removeAll()
                    work.drained.removeAll()
                }
                return (work.announced, work.drained)
            }
            if let ready { return ready }
            if Task.isCancelled { return ([], []) }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = work.withLock { work -> Bool in
                        if !work.announced.isEmpty || !work.drained.isEmpty || Task.isCancelled { return true }
                        work.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                self.signal { _ in }
            }
        }
    }

    /// Sessions with new outputs: loads them where this instance holds the lease, claims the
    /// others (free or abandoned) and loads those it got.
    private func acquire(_ keys: Set<SessionKey>) async {
        let unheld = held.withLock { held in keys.filter { held[$0] == nil } }
        do {
            if !unheld.isEmpty {
                let got = try await store.transaction { connection in
                    try await PostgresBatch.lock(unheld, connection, logger)
                    return try await PostgresBatch.claim(unheld, for: owner, connection, logger)
                }
                held.withLock { held in
                    for key in got where held[key] == nil { held[key] = 0 }
                }
            }
            try await load(keys)
        } catch {
            logger.warning("outbox claim failed; the next scan tries again", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Queues the undelivered outputs of held sessions past what is queued here.
    private func load(_ keys: some Collection<SessionKey>) async throws {
        let from = held.withLock { held in keys.compactMap { key in held[key].map { (key: key, after: $0) } } }
        guard !from.isEmpty else { return }
        let rows = try await store.undeliveredOutputs(of: from)
        var bySession: [SessionKey: [(position: Int64, entry: OutboxEntry)]] = [:]
        for row in rows { bySession[row.entry.output.session, default: []].append(row) }
        held.withLock { held in
            for (key, outputs) in bySession where held[key] != nil { queue(key, outputs, &held) }
        }
    }

    /// Hands back sessions whose queue ran empty, once their delivery results are recorded.
    private func handBack(_ keys: Set<SessionKey>) async {
        let candidates = held.withLock { held in
            keys.compactMap { key in held[key].flatMap { outbox.holds(key) ? nil : (key: key, position: $0) } }
        }
        guard !candidates.isEmpty else { return }
        do {
            try await writer.flush()
            let released = try await store.transaction { connection in
                try await PostgresBatch.lock(candidates.map(\.key), connection, logger)
                return Set(
                    try await PostgresBatch.sessionKeys(
                        connection.query(
                    """
                            DELETE FROM outbox_leases l
                            USING unnest(\(candidates.map(\.key.urlToken))::text[], \(candidates.map(\.key.sessionId.bytea))::bytea[]) AS u(url_token, session_id)
                            WHERE l.url_token = u.url_token AND l.session_id = u.session_id AND l.owner = \(owner)
                              AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.url_token = u.url_token AND o.session_id = u.session_id
                                AND o.status IN (\(unescaped: PostgresStore.undelivered)))
                            RETURNING l.url_token, l.session_id
                            """, logger: logger)))
            }
            // A session that got new outputs meanwhile (its position moved) stays held.
            held.withLock { held in
                for candidate in candidates where released.contains(candidate.key) {
                    if held[candidate.key] == candidate.position, !outbox.holds(candidate.key) { held[candidate.key] = nil }
                }
            }
            let refused = candidates.filter { !released.contains($0.key) }
            if !refused.isEmpty { try await loadRefused(try await stillHeld(refused)) }
        } catch {
            logger.warning("outbox hand-back failed; trying again", metadata: ["error": "\(String(reflecting: error))"])
            work.withLock { $0.idle.formUnion(candidates.map(\.key)) }
        }
    }

    /// Of sessions not handed back, those whose lease is still this instance's. A lease another
    /// instance took (this one missed heartbeats and looked dead) is forgotten here: its new
    /// holder delivers the session now.
    private func stillHeld(_ refused: [(key: SessionKey, position: Int64)]) async throws -> [(key: SessionKey, position: Int64)] {
        let mine = Set(
            try await PostgresBatch.sessionKeys(
                store.client.query(
            """
                    SELECT l.url_token, l.session_id FROM outbox_leases l
                    JOIN unnest(\(refused.map(\.key.urlToken))::text[], \(refused.map(\.key.sessionId.bytea))::bytea[]) AS u(url_token, session_id)
                      ON l.url_token = u.url_token AND l.session_id = u.session_id
                    WHERE l.owner = \(owner)
                    """, logger: logger)))
        let lost = refused.filter { !mine.contains($0.key) }
        if !lost.isEmpty {
            logger.warning("outbox leases taken over by another instance", metadata: ["count": "\(lost.count)"])
            held.withLock { held in
                for session in lost where held[session.key] == session.position && !outbox.holds(session.key) { held[session.key] = nil }
            }
        }
        return refused.filter { mine.contains($0.key) }
    }

    /// Sessions not handed back because outputs of them are pending: usually outputs queued
    /// here since the round began, or new ones another instance committed (its NOTIFY may
    /// still be on its way), which are loaded now. If nothing new came three rounds running,
    /// a delivery result was lost (the store failed to record it): the session's pending
    /// outputs are loaded again from the start.
    private func loadRefused(_ refused: [(key: SessionKey, position: Int64)]) async throws {
        try await load(refused.map(\.key))
        var again: [SessionKey] = []
        for candidate in refused {
            let key = candidate.key
            let unchanged = held.withLock { $0[key] == candidate.position } && !outbox.holds(key)
            let count = refusals.withLock { refusals -> Int in
                guard unchanged else {
                    refusals[key] = nil
                    return 0
                }
                let count = refusals[key]?.position == candidate.position ? refusals[key]!.count + 1 : 1
                refusals[key] = (candidate.position, count)
                return count
            }
            if count >= 3 { again.append(key) }
            work.withLock { _ = $0.idle.insert(key) }
        }
        guard !again.isEmpty else { return }
        logger.warning("reloading sessions whose delivery results were not recorded", metadata: ["count": "\(again.count)"])
        held.withLock { held in
            for key in again where !outbox.holds(key) { held[key] = 0 }
        }
        refusals.withLock { refusals in for key in again { refusals[key] = nil } }
        try await load(again)
    }
}
