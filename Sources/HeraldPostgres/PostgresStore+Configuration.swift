import HeraldCore
import Logging
import PostgresNIO

// Configuration made at runtime (SPEC §14): flow versions, flow names, endpoints made through
// the admin API, shared by every instance. One sequence numbers every change of flow names and
// endpoints; each instance polls its highest value (``configurationRevision()``) and reloads
// them when it moves.
extension PostgresStore {
    public func saveFlows(_ flows: [StoredFlow]) async throws {
        guard !flows.isEmpty else { return }
        try await bounded { [self] in
            try await client.query(
                """
                INSERT INTO flows (version, yaml, file, created_at)
                SELECT * FROM unnest(\(flows.map(\.version))::text[], \(flows.map(\.yaml.bytea))::bytea[], \(flows.map(\.file.storableText))::text[],
                  \(flows.map(\.createdAt.milliseconds))::int8[])
                ON CONFLICT (version) DO NOTHING
                """, logger: logger)
        }
    }

    public func storedFlow(version: String) async throws -> StoredFlow? {
        try await bounded { [self] in
            for try await row in try await client.query("SELECT * FROM flows WHERE version = \(version)", logger: logger) {
                return try StoredFlow(stored: Reader(row))
            }
            return nil
        }
    }

    public func nameFlow(_ name: FlowName) async throws -> FlowName {
        try await bounded { [self] in
            var named = name
            let rows = try await client.query(
                """
                INSERT INTO flow_names (name, version, updated_at, revision)
                VALUES (\(name.name), \(name.version), \(name.updatedAt.milliseconds), nextval('configuration_revision'))
                ON CONFLICT (name) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, revision = excluded.revision
                RETURNING revision
                """, logger: logger)
            for try await revision in rows.decode(Int64.self) { named.revision = revision }
            return named
        }
    }

    public func flowNames() async throws -> [FlowName] {
        try await all("SELECT * FROM flow_names ORDER BY name") { try FlowName(stored: $0) }
    }

    public func endpointDefinitions() async throws -> [EndpointDefinition] {
        try await all("SELECT * FROM endpoints ORDER BY url_token") { try EndpointDefinition(stored: $0) }
    }

    /// Every row `query` answers, each made into a value by `read`.
    private func all<Value: Sendable>(_ query: PostgresQuery, _ read: @escaping @Sendable (Reader) throws -> Value) async throws -> [Value] {
        try await bounded { [self] in
            var values: [Value] = []
            for try await row in try await client.query(query, logger: logger) { values.append(try read(Reader(row))) }
            return values
        }
    }

    public func saveEndpoint(_ definition: EndpointDefinition) async throws -> EndpointDefinition {
        try await bounded { [self] in
            var saved = definition
            let flow = definition.storedFlowColumns
            let rows = try await client.query(
                """
                INSERT INTO endpoints (url_token, settings, flow_name, flow_version, updated_at, updated_by, revision, deleted)
                VALUES (\(definition.urlToken), \(definition.settings.jsonString), \(flow.name), \(flow.version), \(definition.updatedAt.milliseconds),
                  \(definition.updatedBy), nextval('configuration_revision'), \(definition.deleted))
                ON CONFLICT (url_token) DO UPDATE SET settings = excluded.settings, flow_name = excluded.flow_name,
                  flow_version = excluded.flow_version, updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                  revision = excluded.revision, deleted = excluded.deleted
                RETURNING revision
                """, logger: logger)
            for try await revision in rows.decode(Int64.self) { saved.revision = revision }
            return saved
        }
    }

    public func configurationRevision() async throws -> Int64 {
        try await bounded { [self] in
            let rows = try await client.query(
                """
                SELECT GREATEST(COALESCE((SELECT max(revision) FROM endpoints), 0), COALESCE((SELECT max(revision) FROM flow_names), 0))::int8
                """, logger: logger)
            for try await revision in rows.decode(Int64.self) { return revision }
            return 0
        }
    }
}
