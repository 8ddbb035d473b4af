/// A message due later in a session: a scheduled notify or inject, a reminder a flow set, or
/// the timeout of the `ask` the session waits at (SPEC §10, docs/delivery.md).
///
/// Schedules are stored with their session (``Session/schedules``), so the change that fires
/// one is the change that removes it: one transaction, under the session's turn (and, on
/// PostgreSQL, its lock across instances). That is what makes a schedule fire exactly once,
/// also across restarts, `kill -9` and several instances.
public struct Schedule: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Sent to the webhook as a notify output, bypassing the flow.
        case notify
        /// Run through the flow as an inject.
        case inject
        /// The user did not answer the `ask` with this node id in time: the flow goes on at the
        /// ask's `timeout` target.
        case timeout(nodeId: String)

        /// `notify`, `inject` or `timeout`, as the admin API shows it.
        public var name: String {
            switch self {
            case .notify: "notify"
            case .inject: "inject"
            case .timeout: "timeout"
            }
        }
    }

    /// `sch_…`, unique.
    public var id: String
    /// Another schedule with the same key in the same session replaces this one.
    public var key: String?
    public var kind: Kind
    public var dueAt: Timestamp
    public var createdAt: Timestamp
    /// Dropped when the user writes before it is due.
    public var cancelOnUserMessage: Bool
    public var text: String?
    public var data: JSON?
    /// Notify only: quick replies, buttons, attachments, a card, a template.
    public var rich: RichContent
    /// The W3C `traceparent` of the request that scheduled it, while tracing is on: the turn
    /// that fires it links to that trace (SPEC §15).
    public var traceparent: String?

    public init(
        id: String = Identifier.make(prefix: "sch_"), key: String?, kind: Kind, dueAt: Timestamp, createdAt: Timestamp,
        cancelOnUserMessage: Bool = false, text: String? = nil, data: JSON? = nil, rich: RichContent = RichContent()
    ) {
        self.id = id
        self.key = key
        self.kind = kind
        self.dueAt = dueAt
        self.createdAt = createdAt
        self.cancelOnUserMessage = cancelOnUserMessage
        self.text = text
        self.data = data
        self.rich = rich
    }

    /// A schedule fired more than this after its `dueAt` is marked `late` (Herald was down).
    public static let lateAfter: Duration = .seconds(60)
}

extension Session {
    /// The earliest `dueAt` of the session's schedules: stores index it, the ``Scheduler``
    /// asks for sessions whose time has come.
    public var nextDueAt: Timestamp? { schedules.lazy.map(\.dueAt).min() }

    /// Adds `schedule`, replacing a pending one with the same key; keeps `dueAt` order.
    public mutating func addSchedule(_ schedule: Schedule) {
        if let key = schedule.key { schedules.removeAll { $0.key == key } }
        let position = schedules.firstIndex { $0.dueAt > schedule.dueAt } ?? schedules.endIndex
        schedules.insert(schedule, at: position)
    }

    /// Applies what a flow run decided about schedules (``FlowEngine/Run/schedules``). A run
    /// replaces the timeout of the `ask` the session waited at: the user answered (or it fired).
    public mutating func apply(_ changes: [ScheduleChange]) {
        schedules.removeAll { if case .timeout = $0.kind { true } else { false } }
        for change in changes {
            switch change {
            case .add(let schedule): addSchedule(schedule)
            case .cancel(let key): schedules.removeAll { $0.key == key }
            }
        }
    }

    /// Removes and returns the schedule with this id.
    public mutating func removeSchedule(id: String) -> Schedule? {
        guard let index = schedules.firstIndex(where: { $0.id == id }) else { return nil }
        return schedules.remove(at: index)
    }
}

// MARK: Stored form

extension Schedule {
    /// The schedules of a session as one JSON array, as the stores keep them; `nil` when there
    /// are none.
    public static func stored(_ schedules: [Schedule]) -> String? {
        guard !schedules.isEmpty else { return nil }
        return JSON.array(schedules.map(\.json)).jsonString
    }

    /// How a schedule's id appears in its stored form: stores find the sessions that may hold
    /// a schedule by searching for it, then check (``Session/schedules``) which one does.
    public static func storedIdField(_ id: String) -> String {
        "\"id\":" + JSON.string(id).jsonString
    }

    /// Reads what ``stored(_:)`` wrote.
    public static func load(stored text: String?) throws -> [Schedule] {
        guard let text, !text.isEmpty else { return [] }
        guard case .array(let elements) = try JSON.parse(text) else { throw JSONParseError(reason: "schedules are not a JSON array", offset: 0) }
        return try elements.map { element in
            guard let schedule = Schedule(json: element) else { throw JSONParseError(reason: "a stored schedule is malformed", offset: 0) }
            return schedule
        }
    }

    var json: JSON {
        var object: JSONObject = [
            "id": .string(id), "kind": .string(kind.name), "dueAt": .number(Double(dueAt.milliseconds)),
            "createdAt": .number(Double(createdAt.milliseconds)),
        ]
        if let key { object["key"] = .string(key) }
        if case .timeout(let nodeId) = kind { object["nodeId"] = .string(nodeId) }
        if cancelOnUserMessage { object["cancelOnUserMessage"] = .bool(true) }
        if let text { object["text"] = .string(text) }
        if let data { object["data"] = data }
        if !rich.isEmpty { object["rich"] = .object(rich.json) }
        if let traceparent { object["traceparent"] = .string(traceparent) }
        return .object(object)
    }

    init?(json: JSON) {
        guard let id = json["id"]?.stringValue, let dueAt = json["dueAt"]?.numberValue, let createdAt = json["createdAt"]?.numberValue else {
            return nil
        }
        let kind: Kind
        switch json["kind"]?.stringValue {
        case "notify": kind = .notify
        case "inject": kind = .inject
        case "timeout":
            guard let nodeId = json["nodeId"]?.stringValue else { return nil }
            kind = .timeout(nodeId: nodeId)
        default: return nil
        }
        self.init(
            id: id, key: json["key"]?.stringValue, kind: kind, dueAt: Timestamp(milliseconds: Int64(dueAt)),
            createdAt: Timestamp(milliseconds: Int64(createdAt)), cancelOnUserMessage: json["cancelOnUserMessage"]?.boolValue ?? false,
            text: json["text"]?.stringValue, data: json["data"],
            // Before rich content had its own member, a notify's attachments were stored as `attachments`.
            rich: RichContent.stored(json["rich"] ?? json["attachments"].map { ["attachments": $0] }))
        traceparent = json["traceparent"]?.stringValue
    }
}

/// A pending schedule and the session it belongs to, as the admin API lists it.
public struct ScheduledEntry: Sendable, Hashable {
    public var session: SessionKey
    public var userId: String
    public var schedule: Schedule

    public init(session: SessionKey, userId: String, schedule: Schedule) {
        self.session = session
        self.userId = userId
        self.schedule = schedule
    }
}

extension ScheduledEntry {
    /// The first `limit` schedules of `sessions`, earliest `dueAt` first.
    public static func earliest(_ sessions: [Session], limit: Int) -> [ScheduledEntry] {
        let entries = sessions.flatMap { session in session.schedules.map { ScheduledEntry(session: session.key, userId: session.userId, schedule: $0) } }
        return Array(entries.sorted { ($0.schedule.dueAt, $0.schedule.id) < ($1.schedule.dueAt, $1.schedule.id) }.prefix(limit))
    }
}

public struct ScheduleQuery: Sendable, Hashable {
    public var urlToken: String?
    public var sessionId: String?
    public var limit: Int

    public init(urlToken: String? = nil, sessionId: String? = nil, limit: Int = 100) {
        self.urlToken = urlToken
        self.sessionId = sessionId
        self.limit = limit
    }
}
