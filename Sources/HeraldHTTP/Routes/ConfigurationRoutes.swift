import HTTPTypes
import HeraldCore
import Hummingbird

/// Change without a restart (SPEC §14): `POST /admin/v1/reload` re-reads the config file and
/// its flow and channel files, all or nothing.
struct ConfigurationRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let keys = herald.adminKeys
        let routes = RouteCollection(context: Context.self)
        routes.post("reload", use: AdminScopes.scoped(.admin, keys, reload))
        return routes
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
