import Foundation
import HTTPTypes
import HeraldChannels
import HeraldCore
import Hummingbird
import NIOCore

/// The REST admin API under `/admin/v1` (SPEC §2): endpoints, sessions, broadcast, deliveries.
/// Every route needs `X-API-Key` (the admin group's middleware), and the scope it is added
/// with (SPEC §11); the operators' routes (handover, erasure, audit) are in ``OperatorRoutes``.
struct AdminRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let keys = herald.adminKeys
        let routes = RouteCollection(context: Context.self)
        routes.group("endpoints")
            .get(use: AdminScopes.scoped(.read, keys, listEndpoints))
            .get(":urlToken", use: AdminScopes.scoped(.read, keys, showEndpoint))
            .post(":urlToken/resume", use: AdminScopes.scoped(.admin, keys, resumeEndpoint))
        routes.group("sessions")
            .get(use: AdminScopes.scoped(.read, keys, listSessions))
            .get(":urlToken/:sessionId", use: AdminScopes.scoped(.read, keys, showSession))
            .delete(":urlToken/:sessionId", use: AdminScopes.scoped(.admin, keys, deleteSession))
        routes.post("notify", use: AdminScopes.scoped(.admin, keys, broadcast))
        routes.group("deliveries")
            .get(use: AdminScopes.scoped(.read, keys, listDeliveries))
            .get(":outputId", use: AdminScopes.scoped(.read, keys, showDelivery))
            .post(":outputId/retry", use: AdminScopes.scoped(.admin, keys, retryDelivery))
        return routes
    }

    // MARK: Endpoints

    /// Every endpoint served: the config file's in its order, then those made through the
    /// admin API by `urlToken`.
    @Sendable func listEndpoints(request: Request, context: Context) async throws -> Response {
        let backlog = herald.outbox.backlog()
        let snapshot = herald.live.snapshot
        let endpoints = snapshot.configuration.endpoints.compactMap { snapshot.endpoint($0.urlToken) }.map {
            AdminJSON.endpoint($0, paused: herald.outbox.isPaused($0.endpoint.urlToken), backlog: backlog[$0.endpoint.urlToken] ?? 0)
        }
        return .json(.ok, ["endpoints": .array(endpoints)])
    }

    @Sendable func showEndpoint(request: Request, context: Context) async throws -> Response {
        let urlToken = try context.parameters.require("urlToken")
        guard let served = herald.live.snapshot.endpoint(urlToken) else { throw HeraldError.unknownEndpoint(urlToken) }
        let backlog = herald.outbox.backlog()[urlToken] ?? 0
        return .json(.ok, AdminJSON.endpoint(served, paused: herald.outbox.isPaused(urlToken), backlog: backlog))
    }

    @Sendable func resumeEndpoint(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let endpoint = try self.endpoint(context)
        try await herald.deliveries.resume(urlToken: endpoint.urlToken)
        await herald.audit(key, .resume, AuditTarget(urlToken: endpoint.urlToken))
        return .json(.ok, ["urlToken": .string(endpoint.urlToken), "paused": false])
    }

    // MARK: Sessions

    @Sendable func listSessions(request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let urlToken = try endpointFilter(request)
        let limit = try Self.limit(query.get("limit"))
        let after = try query.get("cursor").map(Self.decodeCursor)
        let userId = query.get("userId")
        let page = try await Self.fromStore {
            try await herald.store.sessions(SessionQuery(urlToken: urlToken, userId: userId, limit: limit, after: after))
        }
        var body: JSONObject = ["sessions": .array(page.map(AdminJSON.sessionSummary))]
        body["nextCursor"] = page.count == limit ? page.last.map { .string(Self.encodeCursor($0.key)) } ?? .null : .null
        return .json(.ok, .object(body))
    }

    @Sendable func showSession(request: Request, context: Context) async throws -> Response {
        let key = try sessionKey(context)
        let limit = try Self.limit(request.uri.queryParameters.get("limit"), default: 100)
        guard let session = try await herald.registry.session(key) else { throw HeraldError.unknownSession(key) }
        let transcript = try await Self.fromStore { try await herald.store.transcript(key, limit: limit) }
        return .json(.ok, AdminJSON.session(session, transcript: transcript))
    }

    @Sendable func deleteSession(request: Request, context: Context, adminKey: AdminKey) async throws -> Response {
        let key = try sessionKey(context)
        let userId = try await herald.registry.session(key)?.userId
        guard try await herald.registry.endSession(key) else { throw HeraldError.unknownSession(key) }
        await herald.audit(adminKey, .deleteSession, AuditTarget(urlToken: key.urlToken, sessionId: key.sessionId, userId: userId))
        return Response(status: .noContent)
    }

    // MARK: Broadcast

    /// `{"urlToken", "userId"?, "text"?, "data"?, rich fields?}` → `{"notified": N}`.
    @Sendable func broadcast(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        let body = try Broadcast.parse(bytes)
        let count = try await herald.registry.broadcast(
            urlToken: body.urlToken, userId: body.userId, text: body.text, data: body.data, rich: body.rich)
        await herald.audit(key, .broadcast, AuditTarget(urlToken: body.urlToken, userId: body.userId), detail: "notified \(count)")
        return .json(.ok, ["urlToken": .string(body.urlToken), "notified": .number(Double(count))])
    }

    // MARK: Deliveries

    @Sendable func listDeliveries(request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var status: DeliveryStatus?
        if let text = query.get("status") {
            guard let parsed = DeliveryStatus(rawValue: text) else {
                throw APIError(.badRequest, "status: '\(text)' is not one of pending, failed, dead, delivered")
            }
            status = parsed
        }
        let limit = try Self.limit(query.get("limit"), default: 100)
        let records = try await Self.fromStore {
            try await herald.store.deliveries(
                DeliveryQuery(status: status, urlToken: query.get("urlToken"), sessionId: query.get("sessionId"), limit: limit))
        }
        return .json(.ok, ["deliveries": .array(records.map { AdminJSON.delivery($0) })])
    }

    @Sendable func showDelivery(request: Request, context: Context) async throws -> Response {
        let outputId = try context.parameters.require("outputId")
        let (record, attempts) = try await Self.fromStore {
            (try await herald.store.delivery(outputId: outputId), try await herald.store.attempts(outputId: outputId))
        }
        guard let record else { throw HeraldError.unknownOutput(outputId) }
        return .json(.ok, AdminJSON.delivery(record, attempts: attempts))
    }

    @Sendable func retryDelivery(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let outputId = try context.parameters.require("outputId")
        let record = try await herald.deliveries.retry(outputId: outputId)
        let output = record.output
        await herald.audit(
            key, .retry, AuditTarget(urlToken: output.session.urlToken, sessionId: output.session.sessionId, userId: output.userId, outputId: output.id))
        return .json(.accepted, AdminJSON.delivery(record))
    }

    // MARK: Parameters

    func endpoint(_ context: Context) throws -> Endpoint {
        let urlToken = try context.parameters.require("urlToken")
        guard let endpoint = herald.configuration.endpoint(urlToken) else { throw HeraldError.unknownEndpoint(urlToken) }
        return endpoint
    }

    /// The `urlToken` a list is filtered by, if any: 404 when no endpoint has it.
    func endpointFilter(_ request: Request) throws(APIError) -> String? {
        guard let urlToken = request.uri.queryParameters.get("urlToken") else { return nil }
        guard herald.configuration.endpoint(urlToken) != nil else { throw APIError(.notFound, "urlToken: no endpoint '\(urlToken)'") }
        return urlToken
    }

    func sessionKey(_ context: Context) throws -> SessionKey {
        let endpoint = try endpoint(context)
        // The path carries the id percent-encoded (any JSON string is a valid id: spaces,
        // slashes, U+0000); the router hands the parameter over as it is in the path.
        let raw = try context.parameters.require("sessionId")
        return SessionKey(urlToken: endpoint.urlToken, sessionId: raw.removingPercentEncoding ?? raw)
    }

    /// What `read` gets from the store; a store that cannot answer is a 503.
    static func fromStore<Value>(_ read: () async throws -> Value) async throws(APIError) -> Value {
        do {
            return try await read()
        } catch {
            throw APIError(.serviceUnavailable, "store: not available")
        }
    }

    static func limit(_ text: String?, default value: Int = 50) throws(APIError) -> Int {
        guard let text else { return value }
        guard let limit = Int(text), (1...1000).contains(limit) else {
            throw APIError(.badRequest, "limit: must be a whole number from 1 to 1000")
        }
        return limit
    }

    /// Cursors are opaque to clients: base64url of `urlToken NUL sessionId`.
    static func encodeCursor(_ key: SessionKey) -> String {
        Data((key.urlToken + "\u{0}" + key.sessionId).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decodeCursor(_ text: String) throws(APIError) -> SessionKey {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8),
            let separator = decoded.firstIndex(of: "\u{0}")
        else { throw APIError(.badRequest, "cursor: not a cursor this API returned") }
        return SessionKey(urlToken: String(decoded[..<separator]), sessionId: String(decoded[decoded.index(after: separator)...]))
    }
}

/// The body of `POST /admin/v1/notify`.
struct Broadcast {
    var urlToken: String
    var userId: String?
    var text: String?
    var data: JSON?
    var rich = RichContent()

    static func parse(_ bytes: ByteBuffer) throws(APIError) -> Broadcast {
        let object = try JSONBody.object(bytes)
        guard case .string(let urlToken)? = object["urlToken"], !urlToken.isEmpty else {
            throw APIError(.badRequest, "urlToken: is required (a string)")
        }
        var broadcast = Broadcast(urlToken: urlToken)
        switch object["userId"] {
        case .none, .null?: break
        case .string(let value)? where !value.isEmpty: broadcast.userId = value
        default: throw APIError(.badRequest, "userId: must be a non-empty string")
        }
        (broadcast.text, broadcast.data) = try OperatorBody.message(object, prefix: "")
        do {
            broadcast.rich = try RichContent.parse(object, allowTemplate: true)
        } catch {
            throw APIError(.badRequest, error.description)
        }
        if (broadcast.text ?? "").isEmpty, broadcast.data == nil, broadcast.rich.isEmpty {
            throw APIError(.badRequest, "text, data: at least one is required (a non-empty text, a data object, or rich content)")
        }
        return broadcast
    }
}
