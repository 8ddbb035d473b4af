import Synchronization

/// How much an erasure removed.
public struct ErasureCounts: Sendable, Hashable {
    public var sessions = 0
    public var inputs = 0
    public var outputs = 0
    /// Of `outputs`, those not delivered yet: dropped, never sent.
    public var undelivered = 0
    public var attempts = 0

    public init(sessions: Int = 0, inputs: Int = 0, outputs: Int = 0, undelivered: Int = 0, attempts: Int = 0) {
        self.sessions = sessions
        self.inputs = inputs
        self.outputs = outputs
        self.undelivered = undelivered
        self.attempts = attempts
    }
}

/// Erasing one user of one endpoint (SPEC §11), as a ``StoreChange``: in one transaction the
/// store deletes the user's sessions, their inputs, every output to the user (delivered or
/// not) with its attempts, and the user's inputs in other sessions; audit entries naming the
/// user lose their targets (``AuditEntry/targetErased``). The store records the counts here.
public final class Erasure: Sendable {
    public let urlToken: String
    public let userId: String
    /// The user's sessions when the erasure was queued: a store that locks sessions (PostgreSQL)
    /// locks these first. Sessions of the user not listed are deleted all the same.
    public let sessions: [SessionKey]
    private let result = Mutex<ErasureCounts?>(nil)

    public init(urlToken: String, userId: String, sessions: [SessionKey]) {
        self.urlToken = urlToken
        self.userId = userId
        self.sessions = sessions
    }

    /// Set by the store inside its transaction.
    public func record(_ counts: ErasureCounts) {
        result.withLock { $0 = counts }
    }

    /// `nil` until a store ran the erasure.
    public var counts: ErasureCounts? { result.withLock { $0 } }
}

// MARK: The audit log's redaction

extension Erasure {
    /// Whether the erasure redacts `entry` (``AuditEntry/redactForErasure()``): the entry names
    /// the erased user of this endpoint.
    public func redacts(_ entry: AuditEntry) -> Bool {
        entry.urlToken == urlToken && entry.userId == userId
    }
}

extension AuditEntry {
    /// What an erasure clears in an entry that named the user, with the column of the SQL
    /// stores' `audit` table that holds it. The entry keeps who did what, when, on which
    /// endpoint, and its detail.
    public static var erasedFields: [(field: WritableKeyPath<AuditEntry, String?>, column: String)] {
        [(\.sessionId, "session_id"), (\.userId, "user_id"), (\.outputId, "output_id")]
    }

    /// An entry that named an erased user (``Erasure/redacts(_:)``) loses its targets
    /// (``erasedFields``) and says so (``targetErased``).
    public mutating func redactForErasure() {
        for (field, _) in Self.erasedFields { self[keyPath: field] = nil }
        targetErased = true
    }

    /// ``redactForErasure()`` as the `SET` list of an SQL `UPDATE audit`, for the SQL stores:
    /// `session_id = NULL, user_id = NULL, output_id = NULL, target_erased = TRUE`.
    public static let sqlRedactionForErasure: String =
        (erasedFields.map { "\($0.column) = NULL" } + ["target_erased = TRUE"]).joined(separator: ", ")
}
