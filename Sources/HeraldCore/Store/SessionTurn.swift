import Synchronization

/// One input's or notify's turn on a session, decided inside the store's transaction.
///
/// With a store several instances share (PostgreSQL), session state cannot be carried in
/// memory between inputs: another instance may have changed it. The registry therefore hands
/// the writer a turn instead of a finished ``SessionCommit``. The store, inside the batch's
/// transaction and while it holds the lock of every session in the batch, reads each session,
/// runs the turns in queue order (later turns of a session see the earlier ones' result) and
/// writes what they decided. Many requests' turns thus share one transaction and one commit
/// (group commit), and no two instances ever run one session's flow at once.
///
/// `decide` must be free of side effects: a store may run it again when it retries the
/// transaction.
public final class SessionTurn: Sendable {
    /// What the turn decided, once the store ran it.
    public enum Outcome: Sendable {
        case committed(SessionCommit)
        /// `decide` refused (unknown session, another user's session, …), or the store excluded
        /// the turn (its `Idempotency-Key` was recorded first by another instance).
        case rejected(any Error)
    }

    public let key: SessionKey
    private let decide: @Sendable (Session?) throws -> SessionCommit
    private let result = Mutex<Outcome?>(nil)

    /// - Parameter decide: computes the change from the session's current state (`nil` when
    ///   there is none).
    public init(_ key: SessionKey, decide: @escaping @Sendable (Session?) throws -> SessionCommit) {
        self.key = key
        self.decide = decide
    }

    /// Runs `decide` on `session` and keeps the outcome. Returns the commit to write, or `nil`
    /// when the turn was rejected (the session stays as it was).
    public func run(on session: Session?) -> SessionCommit? {
        let outcome: Outcome
        do {
            outcome = .committed(try decide(session))
        } catch {
            outcome = .rejected(error)
        }
        result.withLock { $0 = outcome }
        if case .committed(let commit) = outcome { return commit }
        return nil
    }

    /// Excludes the turn from the batch with `error`.
    public func reject(_ error: any Error) {
        result.withLock { $0 = .rejected(error) }
    }

    /// The outcome; `nil` until a store ran the turn.
    public var outcome: Outcome? { result.withLock { $0 } }

    /// The commit, when the turn was committed.
    public var commit: SessionCommit? {
        if case .committed(let commit) = outcome { return commit }
        return nil
    }
}
