/// What an admin action did, in the audit log (SPEC §11). A new action is one line here.
public struct AuditAction: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let inject = AuditAction(rawValue: "inject")
    public static let notify = AuditAction(rawValue: "notify")
    public static let handover = AuditAction(rawValue: "handover")
    public static let reply = AuditAction(rawValue: "reply")
    public static let handback = AuditAction(rawValue: "handback")
    public static let retry = AuditAction(rawValue: "retry")
    public static let resume = AuditAction(rawValue: "resume")
    public static let deleteSession = AuditAction(rawValue: "deleteSession")
    public static let erase = AuditAction(rawValue: "erase")
    public static let broadcast = AuditAction(rawValue: "broadcast")
    /// A notify or inject for later (`sendAt`, `delay`).
    public static let schedule = AuditAction(rawValue: "schedule")
    public static let cancelSchedule = AuditAction(rawValue: "cancelSchedule")
    /// The config file reloaded (SPEC §14).
    public static let reload = AuditAction(rawValue: "reload")
    /// An endpoint made or changed, or deleted, through the admin API.
    public static let putEndpoint = AuditAction(rawValue: "putEndpoint")
    public static let deleteEndpoint = AuditAction(rawValue: "deleteEndpoint")
    /// A flow stored under a name through the admin API.
    public static let storeFlow = AuditAction(rawValue: "storeFlow")

    /// Every action, as the OpenAPI document lists them.
    public static let all: [AuditAction] = [
        .inject, .notify, .handover, .reply, .handback, .retry, .resume, .deleteSession, .erase, .broadcast, .schedule, .cancelSchedule,
        .reload, .putEndpoint, .deleteEndpoint, .storeFlow,
    ]
}

/// One line of the audit log: who (the key's name, never the key), did what, to what, when.
public struct AuditEntry: Sendable, Hashable {
    /// Assigned by the store when the entry is recorded, increasing; 0 before. The audit log
    /// pages by it, newest first.
    public var sequence: Int64
    public var at: Timestamp
    /// The admin key's name (`admin.keys[].name`, or `key-N` for a plain key), or `herald` for
    /// what Herald did by itself (a handover's idle timeout).
    public var keyName: String
    public var action: AuditAction
    public var urlToken: String?
    public var sessionId: String?
    public var userId: String?
    public var outputId: String?
    /// A few words more: the operator's name, a broadcast's count, an erasure's counts.
    public var detail: String?
    /// The user this entry named was erased since: its session, user and output ids are gone.
    public var targetErased: Bool

    public init(
        at: Timestamp = .now(), keyName: String, action: AuditAction, urlToken: String? = nil, sessionId: String? = nil,
        userId: String? = nil, outputId: String? = nil, detail: String? = nil
    ) {
        self.sequence = 0
        self.at = at
        self.keyName = keyName
        self.action = action
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.userId = userId
        self.outputId = outputId
        self.detail = detail
        self.targetErased = false
    }
}
