/// A row of one of the SQL stores' tables, read by column name. The SQLite and the PostgreSQL
/// store give their tables the same columns, and each reads its rows through this, so every
/// stored type is decoded from its columns in one place (``Session/init(stored:)`` and the
/// others below).
public protocol StoredRow {
    /// A text column; `nil` when NULL.
    func optionalString(_ column: String) throws -> String?
    /// An integer column; `nil` when NULL.
    func optionalInteger(_ column: String) throws -> Int64?
    /// A boolean column; `nil` when NULL.
    func optionalBool(_ column: String) throws -> Bool?
    /// A column that holds UTF-8 bytes, as a string: ids, user ids and texts are stored as
    /// bytes because they may hold U+0000, which a store's text type cuts or refuses.
    func optionalUTF8(_ column: String) throws -> String?
}

/// A column read as a value was NULL.
struct StoredColumnIsNull: Error, CustomStringConvertible {
    var column: String
    var description: String { "column '\(column)' is NULL" }
}

extension StoredRow {
    public func string(_ column: String) throws -> String { try required(column, optionalString(column)) }
    public func integer(_ column: String) throws -> Int64 { try required(column, optionalInteger(column)) }
    public func bool(_ column: String) throws -> Bool { try required(column, optionalBool(column)) }
    public func utf8(_ column: String) throws -> String { try required(column, optionalUTF8(column)) }

    public func timestamp(_ column: String) throws -> Timestamp { Timestamp(milliseconds: try integer(column)) }
    public func optionalTimestamp(_ column: String) throws -> Timestamp? { try optionalInteger(column).map(Timestamp.init(milliseconds:)) }

    /// A text column that holds a JSON document; `nil` when NULL.
    func json(_ column: String) throws -> JSON? {
        guard let text = try optionalString(column) else { return nil }
        return try JSON.parse(text)
    }

    private func required<Value>(_ column: String, _ value: Value?) throws -> Value {
        guard let value else { throw StoredColumnIsNull(column: column) }
        return value
    }
}

extension SessionKey {
    /// The `url_token` and `session_id` columns.
    public init(stored row: some StoredRow) throws {
        self.init(urlToken: try row.string("url_token"), sessionId: try row.utf8("session_id"))
    }
}

extension Session {
    /// A row of `sessions`.
    public init(stored row: some StoredRow) throws {
        self.init(key: try SessionKey(stored: row), userId: try row.utf8("user_id"), now: try row.timestamp("created_at"))
        context = try row.json("context")?.objectValue ?? JSONObject()
        if let node = try row.optionalString("waiting_node") {
            waiting = FlowWait(
                nodeId: node, retries: Int(try row.integer("waiting_retries")),
                call: try CallWait.load(stored: try row.optionalString("waiting_call"), session: key))
        }
        nextSeq = try row.integer("next_seq")
        updatedAt = try row.timestamp("updated_at")
        version = try row.integer("version")
        schedules = try Schedule.load(stored: try row.optionalString("schedules"))
        if let name = try row.optionalString("operator") {
            handover = Handover(operatorName: name, since: try row.timestamp("operator_since"), lastActivity: try row.timestamp("operator_active_at"))
        }
        flowVersion = try row.optionalString("flow_version")
    }
}

extension Input {
    /// A row of `inputs`.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: try row.string("id"), session: try SessionKey(stored: row), userId: try row.utf8("user_id"), text: try row.optionalUTF8("text"),
            data: try row.json("data"), source: InputSource(rawValue: try row.string("source")) ?? .user,
            receivedAt: try row.timestamp("received_at"))
    }
}

extension Output {
    /// A row of `outputs`.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: try row.string("id"), session: try SessionKey(stored: row), userId: try row.utf8("user_id"), seq: try row.integer("seq"),
            type: OutputType(rawValue: try row.string("type")) ?? .output, text: try row.optionalUTF8("text"), data: try row.json("data"),
            rich: try Self.rich(stored: row), inputId: try row.optionalString("input_id"),
            source: try row.optionalString("source").flatMap(InputSource.init), timestamp: try row.timestamp("created_at"),
            scheduledId: try row.optionalString("scheduled_id"), late: try row.bool("late"))
        operatorName = try row.optionalString("operator")
        flowVersion = try row.optionalString("flow_version")
    }

    /// The rich content as stored beside the `attachments` column (which keeps them, as before
    /// rich content): everything else, `nil` when there is nothing else.
    public var storedRich: JSON? {
        var object = rich.json
        object["attachments"] = nil
        return object.isEmpty ? nil : .object(object)
    }

    /// An output's rich content from its `rich` column and its `attachments`; what older rows
    /// hold that the vocabulary does not know is left out.
    private static func rich(stored row: some StoredRow) throws -> RichContent {
        var object = try row.json("rich")?.objectValue ?? JSONObject()
        if let attachments = try row.json("attachments") { object["attachments"] = attachments }
        return RichContent.stored(.object(object))
    }
}

extension OutboxEntry {
    /// A row of `outputs`, as the outbox takes it.
    public init(stored row: some StoredRow) throws {
        self.init(
            output: try Output(stored: row), attempts: Int(try row.integer("attempts")), notBefore: try row.optionalTimestamp("next_attempt_at"))
    }
}

extension DeliveryRecord {
    /// A row of `outputs`, with its delivery state and receipt.
    public init(stored row: some StoredRow) throws {
        var receipt: OutputReceipt?
        if let status = try row.optionalString("receipt_status").flatMap(OutputStatus.init(rawValue:)) {
            receipt = OutputReceipt(status: status, at: try row.timestamp("receipt_at"), error: try row.optionalString("receipt_error"))
        }
        self.init(
            output: try Output(stored: row), status: DeliveryStatus(rawValue: try row.string("status")) ?? .pending,
            attempts: Int(try row.integer("attempts")), nextAttemptAt: try row.optionalTimestamp("next_attempt_at"),
            lastError: try row.optionalString("last_error"), deliveredAt: try row.optionalTimestamp("delivered_at"),
            channelMessageId: try row.optionalString("channel_message_id"), receipt: receipt)
    }
}

extension DeliveryAttempt {
    /// A row of `attempts`.
    public init(stored row: some StoredRow) throws {
        self.init(
            outputId: try row.string("output_id"), number: Int(try row.integer("number")), startedAt: try row.timestamp("started_at"),
            durationMilliseconds: try row.integer("duration_ms"), statusCode: try row.optionalInteger("status_code").map { Int($0) },
            error: try row.optionalString("error"), responseBody: try row.optionalString("response_body"))
    }
}

extension AuditEntry {
    /// A row of `audit`.
    public init(stored row: some StoredRow) throws {
        self.init(
            at: try row.timestamp("at"), keyName: try row.string("key_name"), action: AuditAction(rawValue: try row.string("action")),
            urlToken: try row.optionalString("url_token"), sessionId: try row.optionalUTF8("session_id"), userId: try row.optionalUTF8("user_id"),
            outputId: try row.optionalString("output_id"), detail: try row.optionalString("detail"))
        sequence = try row.integer("sequence")
        targetErased = try row.bool("target_erased")
    }
}
