/// What the store keeps of configuration made at runtime (SPEC §14): flow versions, names for
/// flows stored through the admin API, and endpoints made through it.

/// A name for stored flows (`POST /admin/v1/flows`): it stands for its newest version, and
/// endpoints that name it follow it.
public struct FlowName: Sendable, Hashable {
    public var name: String
    public var version: String
    public var updatedAt: Timestamp = .now()
    /// Assigned by the store (``HeraldStore/configurationRevision()``).
    public var revision: Int64 = 0
}

/// The flow of an endpoint made through the admin API.
public enum FlowReference: Sendable, Hashable, CustomStringConvertible {
    /// A stored flow's name: the endpoint follows its newest version.
    case name(String)
    /// One stored version (a flow given inline).
    case version(String)

    public var description: String {
        switch self {
        case .name(let name): "name \(name)"
        case .version(let version): "version \(version)"
        }
    }
}

/// An endpoint made through the admin API, as the store keeps it.
public struct EndpointDefinition: Sendable, Hashable {
    public var urlToken: String
    /// The endpoint's fields as given (those of a config file's endpoint, without `flow`),
    /// secrets included: kept to serve the endpoint, never shown.
    public var settings: JSON
    public var flow: FlowReference
    public var updatedAt: Timestamp = .now()
    /// The admin key's name that made the last change.
    public var updatedBy: String
    /// Assigned by the store when saved; increases with every change of any definition.
    public var revision: Int64 = 0
    /// Deleted: no new messages, but kept while its outputs may be queued.
    public var deleted = false
}

extension StoredFlow {
    /// A row of `flows`.
    public init(stored row: some StoredRow) throws {
        self.init(
            version: try row.string("version"), yaml: try row.utf8("yaml"), file: try row.string("file"), createdAt: try row.timestamp("created_at"))
    }
}

extension FlowName {
    /// A row of `flow_names`.
    public init(stored row: some StoredRow) throws {
        self.init(
            name: try row.string("name"), version: try row.string("version"), updatedAt: try row.timestamp("updated_at"),
            revision: try row.integer("revision"))
    }
}

extension EndpointDefinition {
    /// A row of `endpoints`.
    public init(stored row: some StoredRow) throws {
        let flow: FlowReference
        if let name = try row.optionalString("flow_name") {
            flow = .name(name)
        } else {
            flow = .version(try row.string("flow_version"))
        }
        self.init(
            urlToken: try row.string("url_token"), settings: try row.json("settings") ?? .object([:]), flow: flow,
            updatedAt: try row.timestamp("updated_at"), updatedBy: try row.string("updated_by"), revision: try row.integer("revision"),
            deleted: try row.bool("deleted"))
    }

    /// The `flow_name` and `flow_version` columns.
    public var storedFlowColumns: (name: String?, version: String?) {
        switch flow {
        case .name(let name): (name, nil)
        case .version(let version): (nil, version)
        }
    }
}
