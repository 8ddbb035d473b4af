import HTTPTypes
import HeraldCore
import Hummingbird
import Logging

/// Key scopes (SPEC §11): each admin route needs `read`, `operate` or `admin`, stated where the
/// route is added (`AdminScopes.scoped(.operate, …)`) and, for clients, as `x-herald-scope` in
/// the OpenAPI document. A valid key without the scope gets 403 naming the scope it lacks.
enum AdminScopes {
    /// The key `X-API-Key` names: 401 when it is missing or none of `keys`.
    static func key(of request: Request, _ keys: [AdminKey]) throws(APIError) -> AdminKey {
        guard let given = request.headers[.apiKey] else {
            throw APIError(.unauthorized, "X-API-Key: header is required for admin routes")
        }
        guard let key = keys.identify(given) else { throw APIError(.unauthorized, "X-API-Key: not a valid admin key") }
        return key
    }

    /// The request's key, when it has `scope`; 401 or 403 otherwise. The message names the key
    /// (by its name, never its value) and the missing scope.
    static func require(_ scope: AdminScope, _ request: Request, _ keys: [AdminKey]) throws(APIError) -> AdminKey {
        let key = try key(of: request, keys)
        guard key.allows(scope) else {
            throw APIError(
                .forbidden,
                "X-API-Key: key '\(key.name)' lacks scope '\(scope)', which \(request.method) \(request.uri.path) needs (it has: \(key.scopes.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        return key
    }

    /// A handler that runs only for keys with `scope`, and gets the key (for the audit log).
    static func scoped<Context: RequestContext>(
        _ scope: AdminScope, _ keys: AdminKeys, _ handler: @escaping @Sendable (Request, Context, AdminKey) async throws -> Response
    ) -> @Sendable (Request, Context) async throws -> Response {
        { request, context in
            let key = try require(scope, request, keys.current)
            return try await handler(request, context, key)
        }
    }

    /// The same, for handlers that do not need the key (reading routes).
    static func scoped<Context: RequestContext>(
        _ scope: AdminScope, _ keys: AdminKeys, _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> @Sendable (Request, Context) async throws -> Response {
        { request, context in
            _ = try require(scope, request, keys.current)
            return try await handler(request, context)
        }
    }
}

/// `admin.keys` as configured now: a reload may add, remove or change keys, and the next
/// request is checked against the new ones.
struct AdminKeys: Sendable {
    let live: LiveConfiguration

    var current: [AdminKey] { live.snapshot.configuration.adminKeys }
}

extension Herald {
    var adminKeys: AdminKeys { AdminKeys(live: live) }
}

extension Herald {
    /// Records an admin action in the audit log once it succeeded. The action happened either
    /// way: a failure to record it is logged, not answered.
    func audit(_ key: AdminKey, _ action: AuditAction, _ target: AuditTarget = AuditTarget(), detail: String? = nil) async {
        let entry = AuditEntry(
            keyName: key.name, action: action, urlToken: target.urlToken, sessionId: target.sessionId, userId: target.userId,
            outputId: target.outputId, detail: detail)
        do {
            try await writer.commit(.audit(entry))
        } catch {
            logger.error(
                "could not record an admin action in the audit log", metadata: ["action": "\(action)", "key": "\(key.name)", "error": "\(error)"])
        }
    }
}

/// What an audited action acted on.
struct AuditTarget {
    var urlToken: String?
    var sessionId: String?
    var userId: String?
    var outputId: String?
}
