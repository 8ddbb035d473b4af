import HeraldCore
import Hummingbird

/// Cognigy-compatible `POST /inject/{urlToken}` and `POST /notify/{urlToken}` (SPEC §2).
/// Both address an existing session (404 otherwise, unless `createSession: true`) and share
/// its turn and `seq` with user messages.
struct InjectNotifyRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let keys = herald.adminKeys
        let routes = RouteCollection(context: Context.self)
        routes.post("inject/:urlToken", use: AdminScopes.scoped(.operate, keys, inject))
        routes.post("notify/:urlToken", use: AdminScopes.scoped(.operate, keys, notify))
        return routes
    }

    /// The message runs through the endpoint's flow with `input.source == "inject"`.
    @Sendable func inject(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let urlToken = try context.parameters.require("urlToken")
        _ = try herald.registry.endpoint(urlToken)
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        let body = try MessageBody.parse(bytes, rules: .init(allowsCreateSession: true, allowsScheduling: true))
        let message = InboundMessage(
            urlToken: urlToken, sessionId: body.sessionId, userId: body.userId!, text: body.text, data: body.data, source: .inject,
            createSession: body.createSession)
        let schedule = try scheduleRequest(body, request)
        let response = try await EndpointRoutes<Context>.accept(request, route: "inject", herald: herald) { idempotency throws(HeraldError) in
            if let schedule { return try await herald.registry.schedule(message, schedule, idempotency: idempotency) }
            return try await herald.registry.receive(message, idempotency: idempotency)
        }
        if response.headers[.idempotentReplayed] == nil {
            await herald.audit(
                key, schedule == nil ? .inject : .schedule, AuditTarget(urlToken: urlToken, sessionId: message.sessionId, userId: message.userId),
                detail: schedule.map { "inject due \($0.dueAt.iso8601)" })
        }
        return response
    }

    /// One `notify` output with this text/data and rich content goes to the webhook; the flow does
    /// not run.
    @Sendable func notify(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let urlToken = try context.parameters.require("urlToken")
        _ = try herald.registry.endpoint(urlToken)
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        let body = try MessageBody.parse(bytes, rules: .init(allowsCreateSession: true, allowsRich: true, allowsScheduling: true))
        let notification = Notification(
            urlToken: urlToken, sessionId: body.sessionId, userId: body.userId, text: body.text, data: body.data,
            rich: body.rich, createSession: body.createSession)
        let schedule = try scheduleRequest(body, request)
        let response = try await EndpointRoutes<Context>.accept(request, route: "notify", herald: herald) { idempotency throws(HeraldError) in
            if let schedule { return try await herald.registry.schedule(notification, schedule, idempotency: idempotency) }
            return try await herald.registry.notify(notification, idempotency: idempotency)
        }
        if response.headers[.idempotentReplayed] == nil {
            // The session's user, also when the body named none (so an erasure finds the entry).
            let session = SessionKey(urlToken: urlToken, sessionId: body.sessionId)
            var userId = body.userId
            if userId == nil { userId = try? await herald.registry.session(session)?.userId }
            await herald.audit(
                key, schedule == nil ? .notify : .schedule, AuditTarget(urlToken: urlToken, sessionId: body.sessionId, userId: userId),
                detail: schedule.map { "notify due \($0.dueAt.iso8601)" })
        }
        return response
    }

    /// With `sendAt` or `delay`: when the message is due, checked against Herald's clock.
    private func scheduleRequest(_ body: MessageBody, _ request: Request) throws(APIError) -> ScheduleRequest? {
        guard let timing = body.timing else { return nil }
        if let wait = request.uri.queryParameters.get("wait"), wait == "true" || wait == "1" {
            throw APIError(.badRequest, "wait: a scheduled message has no outputs yet; leave wait out with sendAt or delay")
        }
        return try timing.request(now: herald.registry.clock.now(), maxDelay: herald.configuration.maxScheduleDelay)
    }
}
