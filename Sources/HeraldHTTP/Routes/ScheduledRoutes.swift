import HeraldCore
import Hummingbird

/// Pending scheduled messages under `/admin/v1/scheduled` (SPEC §10): list them, cancel one.
/// They are set up by `POST /notify/{urlToken}` and `POST /inject/{urlToken}` with `sendAt`
/// or `delay`, and by flows (reminders, `ask` timeouts).
struct ScheduledRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let keys = herald.adminKeys
        routes.group("scheduled")
            .get(use: AdminScopes.scoped(.read, keys, list))
            .delete(":id", use: AdminScopes.scoped(.operate, keys, cancel))
        return routes
    }

    private var admin: AdminRoutes<Context> { AdminRoutes(herald: herald) }

    /// `?urlToken=&sessionId=&limit=` → `{"scheduled": [...]}`, earliest `dueAt` first.
    @Sendable func list(request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let urlToken = try admin.endpointFilter(request)
        let sessionId = query.get("sessionId")
        if sessionId != nil, urlToken == nil { throw APIError(.badRequest, "sessionId: only with urlToken (a session is named by both)") }
        let limit = try AdminRoutes<Context>.limit(query.get("limit"), default: 100)
        let entries = try await AdminRoutes<Context>.fromStore {
            try await herald.store.scheduled(ScheduleQuery(urlToken: urlToken, sessionId: sessionId, limit: limit))
        }
        return .json(.ok, ["scheduled": .array(entries.map(AdminJSON.scheduled))])
    }

    /// 204, or 404 when no pending schedule has the id (fired, cancelled, replaced, unknown).
    @Sendable func cancel(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let id = try context.parameters.require("id")
        let cancelled = try await herald.registry.cancelSchedule(id: id)
        await herald.audit(
            key, .cancelSchedule, AuditTarget(urlToken: cancelled.session.urlToken, sessionId: cancelled.session.sessionId, userId: cancelled.userId),
            detail: "\(cancelled.schedule.kind.name) \(id)")
        return Response(status: .noContent)
    }
}
