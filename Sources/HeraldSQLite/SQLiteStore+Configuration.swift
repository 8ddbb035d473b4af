import Foundation
import GRDB
import HeraldCore

// Configuration made at runtime (SPEC §14): flow versions, flow names, endpoints made through
// the admin API. Written outside the writer's batches (rarely, by an operator), each in a
// transaction of its own; `revision` is one counter over flow names and endpoints.
extension SQLiteStore {
    public func saveFlows(_ flows: [StoredFlow]) async throws {
        guard !flows.isEmpty else { return }
        try await pool.write { db in
            for flow in flows {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO flows (version, yaml, file, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [flow.version, flow.yaml.blob, flow.file, flow.createdAt.milliseconds])
            }
        }
    }

    public func storedFlow(version: String) async throws -> StoredFlow? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM flows WHERE version = ?", arguments: [version]).map { try StoredFlow(stored: SQLiteRow($0)) }
        }
    }

    public func nameFlow(_ name: FlowName) async throws -> FlowName {
        try await pool.write { db in
            var named = name
            named.revision = try Self.nextRevision(db)
            try db.execute(
                sql: "INSERT OR REPLACE INTO flow_names (name, version, updated_at, revision) VALUES (?, ?, ?, ?)",
                arguments: [named.name, named.version, named.updatedAt.milliseconds, named.revision])
            return named
        }
    }

    public func flowNames() async throws -> [FlowName] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM flow_names ORDER BY name").map { try FlowName(stored: SQLiteRow($0)) }
        }
    }

    public func endpointDefinitions() async throws -> [EndpointDefinition] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM endpoints ORDER BY url_token").map { try EndpointDefinition(stored: SQLiteRow($0)) }
        }
    }

    public func saveEndpoint(_ definition: EndpointDefinition) async throws -> EndpointDefinition {
        try await pool.write { db in
            var saved = definition
            saved.revision = try Self.nextRevision(db)
            let flow = saved.storedFlowColumns
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO endpoints (url_token, settings, flow_name, flow_version, updated_at, updated_by, revision, deleted)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    saved.urlToken, saved.settings.jsonString, flow.name, flow.version, saved.updatedAt.milliseconds, saved.updatedBy, saved.revision,
                    saved.deleted,
                ])
            return saved
        }
    }

    public func configurationRevision() async throws -> Int64 {
        try await pool.read { db in try Self.revision(db) }
    }

    private static func revision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT max(COALESCE((SELECT max(revision) FROM endpoints), 0), COALESCE((SELECT max(revision) FROM flow_names), 0))")
            ?? 0
    }

    private static func nextRevision(_ db: Database) throws -> Int64 {
        try revision(db) + 1
    }
}
