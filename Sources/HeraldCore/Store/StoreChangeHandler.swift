/// How a store writes one batch of ``StoreChange``s inside its transaction: a method for each
/// kind of change, called in queue order by ``apply(_:)``, the one walk over a batch.
///
/// The memory and SQLite stores write each change as it comes. The PostgreSQL store's batch
/// does not conform: it locks every session the batch touches before anything else, groups the
/// changes into a few array statements, and writes asynchronously.
public protocol StoreChangeHandler {
    /// The session as the transaction has it now, with what the batch changed so far; `nil`
    /// when there is none.
    func session(_ key: SessionKey) throws -> Session?
    /// Records a session's new state, its input, outputs and idempotency record.
    mutating func write(_ commit: SessionCommit) throws
    /// Deletes a session and its inputs, and its finished outputs with their attempts
    /// (``DeliveryStatus/finished``); undelivered outputs stay.
    mutating func deleteSession(_ key: SessionKey) throws
    /// Records a delivery's new state and the attempt that led to it.
    mutating func write(_ update: DeliveryUpdate) throws
    mutating func setEndpoint(_ urlToken: String, paused: Bool) throws
    mutating func write(_ entry: AuditEntry) throws
    /// Deletes everything of the user and redacts the audit entries naming them
    /// (``AuditEntry/redactForErasure()``), then records the counts in `erasure`.
    mutating func erase(_ erasure: Erasure) throws
    /// Moves the output a channel's receipt names forward, or keeps the receipt for later.
    mutating func write(_ report: StatusReport) throws
}

extension StoreChangeHandler {
    /// Writes `changes` in queue order. A ``SessionTurn`` runs on its session as the changes
    /// before it left it, and what it decided is written; a turn that rejects writes nothing.
    public mutating func apply(_ changes: [StoreChange]) throws {
        for change in changes {
            switch change {
            case .session(let commit): try write(commit)
            case .turn(let turn): if let commit = turn.run(on: try session(turn.key)) { try write(commit) }
            case .deleteSession(let key): try deleteSession(key)
            case .delivery(let update): try write(update)
            case .endpointPaused(let urlToken, let paused): try setEndpoint(urlToken, paused: paused)
            case .audit(let entry): try write(entry)
            case .erase(let erasure): try erase(erasure)
            case .status(let report): try write(report)
            }
        }
    }
}
