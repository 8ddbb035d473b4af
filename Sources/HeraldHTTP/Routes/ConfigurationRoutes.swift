import HTTPTypes
import HeraldCore
import Hummingbird
import NIOCore

/// Change without a restart (SPEC §14): `POST /admin/v1/reload` re-reads the config file and
/// its flow and channel files, all or nothing; `PUT`/`DELETE /admin/v1/endpoints/{urlToken}`
/// and `POST /admin/v1/flows` manage endpoints and flows in the store. (`GET` of endpoints is in
/// ``AdminRoutes``.)
struct ConfigurationRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let keys = herald.adminKeys
        let routes = RouteCollection(context: Context.self)
        routes.post("reload", use: AdminScopes.scoped(.admin, keys, reload))
        routes.group("endpoints/:urlToken")
            .put(use: AdminScopes.scoped(.admin, keys, putEndpoint))
            .delete(use: AdminScopes.scoped(.admin, keys, deleteEndpoint))
        routes.group("flows")
            .get(use: AdminScopes.scoped(.read, keys, listFlows))
            .post(use: AdminScopes.scoped(.admin, keys, storeFlow))
        return routes
    }

    // MARK: Endpoints

    /// `PUT /admin/v1/endpoints/{urlToken}`: the fields of a config file's endpoint, with `flow`
    /// the name of a stored flow (`"greet"` or `{"name": "greet"}`) or its YAML text
    /// (`{"yaml": "..."}`). 201 when new, 200 when changed; the endpoint as `GET` shows it.
    @Sendable func putEndpoint(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let urlToken = try context.parameters.require("urlToken")
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        var settings = try JSONBody.object(bytes)
        let flow = try Self.flowSource(settings["flow"])
        settings["flow"] = nil
        switch settings["urlToken"] {
        case .none, .null?: break
        case .string(let given)? where given == urlToken: break
        case let other?: throw APIError(.badRequest, "urlToken: \(other.jsonString) differs from the path's '\(urlToken)'")
        }
        let (served, created) = try await Self.answer { () async throws(EndpointChangeError) in
            try await herald.reloader.putEndpoint(urlToken, settings: settings, flow: flow, by: key.name)
        }
        await herald.audit(
            key, .putEndpoint, AuditTarget(urlToken: urlToken),
            detail: "\(created ? "created" : "changed"), flow \(served.definition.map { "\($0.flow)" } ?? served.endpoint.flow.version)")
        return .json(
            created ? .created : .ok,
            AdminJSON.endpoint(served, paused: herald.outbox.isPaused(urlToken), backlog: herald.outbox.backlog()[urlToken] ?? 0))
    }

    /// `DELETE /admin/v1/endpoints/{urlToken}`: new messages get 404; queued outputs are still
    /// delivered. 204; 404 when there is no such endpoint made through the API; 409 for one of
    /// the config file.
    @Sendable func deleteEndpoint(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let urlToken = try context.parameters.require("urlToken")
        try await Self.answer { () async throws(EndpointChangeError) in
            try await herald.reloader.deleteEndpoint(urlToken, by: key.name)
        }
        await herald.audit(key, .deleteEndpoint, AuditTarget(urlToken: urlToken))
        return Response(status: .noContent)
    }

    /// `flow` of a `PUT`: a stored flow's name, or an object with `name` or `yaml`.
    static func flowSource(_ value: JSON?) throws(APIError) -> ConfigurationReloader.FlowSource {
        let expected = #"the name of a stored flow, {"name": NAME}, {"yaml": "the flow's YAML text"} or {"version": VERSION}"#
        switch value {
        case .string(let name)? where !name.isEmpty:
            return .name(name)
        case .object(let object)? where object.count == 1:
            switch (object["name"], object["yaml"], object["version"]) {
            case (.string(let name)?, nil, nil) where !name.isEmpty: return .name(name)
            case (nil, .string(let yaml)?, nil) where !yaml.isEmpty:
                guard !yaml.contains("\u{0}") else { throw APIError(.badRequest, "flow.yaml: must not contain U+0000") }
                return .yaml(yaml)
            case (nil, nil, .string(let version)?) where !version.isEmpty: return .version(version)
            default: throw APIError(.badRequest, "flow: must be \(expected)")
            }
        case .none, .null?: throw APIError(.badRequest, "flow: is required: \(expected)")
        default: throw APIError(.badRequest, "flow: must be \(expected)")
        }
    }

    // MARK: Flows

    /// `GET /admin/v1/flows`: `{"flows": [{"name", "flowVersion", "updatedAt"}]}`.
    @Sendable func listFlows(request: Request, context: Context) async throws -> Response {
        let names = try await Self.answer { () async throws(EndpointChangeError) in try await herald.reloader.flowNames() }
        let flows = names.map { name -> JSON in
            ["name": .string(name.name), "flowVersion": .string(name.version), "updatedAt": .string(name.updatedAt.iso8601)]
        }
        return .json(.ok, ["flows": .array(flows)])
    }

    /// `POST /admin/v1/flows` `{"name", "yaml"}`: checks the flow and stores it under the name;
    /// endpoints that name it start new sessions on it. 201 `{"name", "flowVersion", "nodes",
    /// "warnings", "endpoints"}`; 400 naming every problem with its line.
    @Sendable func storeFlow(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        let body = try JSONBody.object(bytes)
        guard case .string(let name)? = body["name"] else { throw APIError(.badRequest, "name: is required (a string)") }
        guard !name.isEmpty, name.utf8.count <= 128, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw APIError(.badRequest, "name: '\(name)' must be 1 to 128 letters, digits, '-', '_' or '.'")
        }
        guard case .string(let yaml)? = body["yaml"], !yaml.isEmpty else {
            throw APIError(.badRequest, "yaml: is required (the flow's YAML text, as in a flow file)")
        }
        guard !yaml.contains("\u{0}") else { throw APIError(.badRequest, "yaml: must not contain U+0000") }
        let (named, flow, following) = try await Self.answer { () async throws(EndpointChangeError) in
            try await herald.reloader.storeFlow(name: name, yaml: yaml)
        }
        await herald.audit(key, .storeFlow, detail: "flow \(name) version \(named.version)")
        return .json(
            .created,
            [
                "name": .string(named.name), "flowVersion": .string(named.version), "nodes": .number(Double(flow.nodes.count)),
                "warnings": .array(flow.warnings.map { .string(ConfigurationReloader.describe($0)) }),
                "endpoints": .array(following.map(JSON.string)),
            ])
    }

    /// Runs a change and turns its refusal into the answer: 400, 404, 409 or 503.
    static func answer<T>(_ change: () async throws(EndpointChangeError) -> T) async throws(APIError) -> T {
        do {
            return try await change()
        } catch {
            switch error.kind {
            case .invalid: throw APIError(.badRequest, error.message)
            case .conflict: throw APIError(.conflict, error.message)
            case .notFound: throw APIError(.notFound, error.message)
            case .unavailable: throw APIError(.serviceUnavailable, error.message, headers: [.retryAfter: "1"])
            }
        }
    }

    /// 200 with what changed; 422 with every problem (`file:line: reason`) when anything is
    /// wrong, and then nothing changed; 409 when Herald runs without a config file.
    @Sendable func reload(request: Request, context: Context, key: AdminKey) async throws -> Response {
        guard herald.reloader.configFile != nil else {
            throw APIError(.conflict, "reload: Herald was started without a config file, there is nothing to reload")
        }
        do throws(ReloadRejected) {
            let report = try await herald.reloader.reload()
            await herald.audit(key, .reload, detail: "generation \(report.generation)")
            return .json(.ok, Self.json(report))
        } catch {
            return .json(.unprocessableContent, Self.json(error))
        }
    }

    static func json(_ report: ReloadReport) -> JSON {
        [
            "reloaded": true,
            "generation": .number(Double(report.generation)),
            "endpoints": [
                "added": .array(report.added.map(JSON.string)),
                "removed": .array(report.removed.map(JSON.string)),
                "reloaded": .array(report.reloaded.map(JSON.string)),
            ],
            "flows": .array(
                report.flows.map { ["urlToken": .string($0.urlToken), "flowVersion": .string($0.version), "changed": .bool($0.changed)] }),
            "needsRestart": .array(report.needsRestart.map(JSON.string)),
            "warnings": .array(report.warnings.map(JSON.string)),
        ]
    }

    /// `{"error": {"message", "errors": [{"file", "line", "reason", "text"}]}}`.
    static func json(_ rejected: ReloadRejected) -> JSON {
        let count = rejected.errors.count
        let errors = rejected.errors.map { error -> JSON in
            [
                "file": .string(error.file), "line": error.line.map { .number(Double($0)) } ?? .null, "reason": .string(error.reason),
                "text": .string(error.description),
            ]
        }
        return [
            "error": [
                "message": .string(
                    "reload rejected, the configuration in use is unchanged: \(count) problem\(count == 1 ? "" : "s"): "
                        + rejected.errors.map(\.description).joined(separator: "; ")),
                "errors": .array(errors),
            ]
        ]
    }
}
