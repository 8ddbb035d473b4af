import Foundation
import HeraldCore
import Hummingbird
import NIOCore

/// The operators' routes under `/admin/v1` (SPEC §11): take over a session, reply, hand it back;
/// erase a user; read the audit log; and which key this is (`me`, for the console).
struct OperatorRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let keys = herald.adminKeys
        routes.get("me", use: AdminScopes.scoped(.read, keys, me))
        routes.group("sessions/:urlToken/:sessionId")
            .post("handover", use: AdminScopes.scoped(.operate, keys, handover))
            .post("reply", use: AdminScopes.scoped(.operate, keys, reply))
            .post("handback", use: AdminScopes.scoped(.operate, keys, handback))
        routes.delete("users/:urlToken/:userId", use: AdminScopes.scoped(.admin, keys, erase))
        routes.get("audit", use: AdminScopes.scoped(.admin, keys, audit))
        return routes
    }

    private var admin: AdminRoutes<Context> { AdminRoutes(herald: herald) }

    /// `{"name", "scopes"}` of the key the request carries: the console shows only what it may do.
    @Sendable func me(request: Request, context: Context, key: AdminKey) async throws -> Response {
        .json(.ok, ["name": .string(key.name), "scopes": .array(key.scopes.map { .string($0.rawValue) })])
    }

    // MARK: Handover

    /// `{"operator": "ada"}`: the session's user messages stop running the flow.
    @Sendable func handover(request: Request, context: Context, key adminKey: AdminKey) async throws -> Response {
        let key = try admin.sessionKey(context)
        let body = try await OperatorBody.parse(request, herald, requireOperator: true)
        let handover = try await herald.registry.handover(key, to: body.operatorName!)
        let userId = try? await herald.registry.session(key)?.userId
        await herald.audit(
            adminKey, .handover, AuditTarget(urlToken: key.urlToken, sessionId: key.sessionId, userId: userId ?? nil), detail: handover.operatorName)
        return .json(.ok, AdminJSON.mode(key, handover))
    }

    /// `{"operator", "text"?, "data"?}`: an output with `source: "operator"` to the user.
    @Sendable func reply(request: Request, context: Context, key adminKey: AdminKey) async throws -> Response {
        let key = try admin.sessionKey(context)
        let body = try await OperatorBody.parse(request, herald, requireOperator: true, requireMessage: true)
        let receipt = try await herald.registry.reply(key, OperatorReply(operatorName: body.operatorName!, text: body.text, data: body.data, rich: body.rich))
        let output = receipt.outputs.first
        await herald.audit(
            adminKey, .reply, AuditTarget(urlToken: key.urlToken, sessionId: key.sessionId, userId: output?.userId, outputId: output?.id),
            detail: body.operatorName)
        return .json(.accepted, ["sessionId": .string(key.sessionId), "outputId": output.map { .string($0.id) } ?? .null])
    }

    /// Optional `{"inject": {"text"?, "data"?}}`: the session goes back to its flow, and the
    /// inject (if any) runs through it at once.
    @Sendable func handback(request: Request, context: Context, key adminKey: AdminKey) async throws -> Response {
        let key = try admin.sessionKey(context)
        let body = try await OperatorBody.parse(request, herald)
        let receipt = try await herald.registry.handback(key, inject: body.inject)
        let userId = try? await herald.registry.session(key)?.userId
        await herald.audit(
            adminKey, .handback, AuditTarget(urlToken: key.urlToken, sessionId: key.sessionId, userId: userId ?? nil),
            detail: body.inject == nil ? nil : "with inject")
        var answer: JSONObject = ["urlToken": .string(key.urlToken), "sessionId": .string(key.sessionId), "mode": "flow"]
        if let inputId = receipt.inputId { answer["inputId"] = .string(inputId) }
        return .json(.ok, .object(answer))
    }

    // MARK: Erasure

    /// Everything of the user on the endpoint goes; the answer counts what went.
    @Sendable func erase(request: Request, context: Context, key: AdminKey) async throws -> Response {
        let endpoint = try admin.endpoint(context)
        let raw = try context.parameters.require("userId")
        let userId = raw.removingPercentEncoding ?? raw
        let counts = try await herald.registry.erase(urlToken: endpoint.urlToken, userId: userId, outbox: herald.outbox)
        let summary =
            "sessions \(counts.sessions), inputs \(counts.inputs), outputs \(counts.outputs) (\(counts.undelivered) undelivered), attempts \(counts.attempts)"
        await herald.audit(key, .erase, AuditTarget(urlToken: endpoint.urlToken, userId: userId), detail: summary)
        return .json(
            .ok,
            [
                "urlToken": .string(endpoint.urlToken), "userId": .string(userId),
                "erased": [
                    "sessions": .number(Double(counts.sessions)), "inputs": .number(Double(counts.inputs)),
                    "outputs": .number(Double(counts.outputs)), "undelivered": .number(Double(counts.undelivered)),
                    "attempts": .number(Double(counts.attempts)),
                ],
            ])
    }

    // MARK: Audit

    /// `?limit=&cursor=`: newest first; `nextCursor` while there is more.
    @Sendable func audit(request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try AdminRoutes<Context>.limit(query.get("limit"))
        var before: Int64?
        if let cursor = query.get("cursor") {
            guard let sequence = Int64(cursor), sequence > 0 else { throw APIError(.badRequest, "cursor: not a cursor this API returned") }
            before = sequence
        }
        let entries = try await AdminRoutes<Context>.fromStore { try await herald.store.auditEntries(before: before, limit: limit) }
        let next: JSON = entries.count == limit ? entries.last.map { .string(String($0.sequence)) } ?? .null : .null
        return .json(.ok, ["entries": .array(entries.map(AdminJSON.audit)), "nextCursor": next])
    }
}

/// The bodies of handover, reply and handback.
struct OperatorBody {
    var operatorName: String?
    var text: String?
    var data: JSON?
    /// A reply's quick replies, buttons, attachments and card.
    var rich = RichContent()
    var inject: (text: String?, data: JSON?)?

    static func parse(_ request: Request, _ herald: Herald, requireOperator: Bool = false, requireMessage: Bool = false) async throws -> OperatorBody
    {
        let bytes = try await request.messageBytes(limit: herald.configuration.maxBodySize)
        var body = OperatorBody()
        let object: JSONObject
        if bytes.readableBytes == 0, !requireOperator {
            object = [:]
        } else {
            object = try JSONBody.object(bytes)
        }
        switch object["operator"] {
        case .none, .null?:
            if requireOperator { throw APIError(.badRequest, "operator: is required (the operator's name, a string)") }
        case .string(let name)?:
            guard !name.isEmpty, name.utf8.count <= 128, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw APIError(.badRequest, "operator: must be 1 to 128 bytes without control characters")
            }
            body.operatorName = name
        case let other?: throw APIError(.badRequest, "operator: must be a string, not \(other.typeName)")
        }
        (body.text, body.data) = try message(object, prefix: "")
        if requireMessage {
            do {
                body.rich = try RichContent.parse(object, allowTemplate: false)
            } catch {
                throw APIError(.badRequest, error.description)
            }
        }
        if requireMessage, (body.text ?? "").isEmpty, body.data == nil, body.rich.isEmpty {
            throw APIError(.badRequest, "text, data: at least one is required (a non-empty text, a data object, or rich content)")
        }
        switch object["inject"] {
        case .none, .null?: break
        case .object(let inject)?:
            let (text, data) = try message(inject, prefix: "inject.")
            guard !(text ?? "").isEmpty || data != nil else {
                throw APIError(.badRequest, "inject.text, inject.data: at least one is required (a non-empty text or a data object)")
            }
            body.inject = (text, data)
        case let other?: throw APIError(.badRequest, "inject: must be a JSON object, not \(other.typeName)")
        }
        return body
    }

    /// `text` (a string) and `data` (an object) of a message body, both optional; `prefix` names
    /// where the object is in the body (`"inject."`) in errors. Broadcast bodies read theirs here too.
    static func message(_ object: JSONObject, prefix: String) throws(APIError) -> (String?, JSON?) {
        var text: String?
        var data: JSON?
        switch object["text"] {
        case .none, .null?: break
        case .string(let value)?: text = value
        case let other?: throw APIError(.badRequest, "\(prefix)text: must be a string, not \(other.typeName)")
        }
        switch object["data"] {
        case .none, .null?: break
        case .object?: data = object["data"]
        case let other?: throw APIError(.badRequest, "\(prefix)data: must be a JSON object, not \(other.typeName)")
        }
        return (text, data)
    }
}
