import Foundation
import HeraldCore
import HeraldWebhook

/// Runs playbooks against a running Herald (`herald test --url`), over HTTP with Herald's own
/// libcurl client:
///
/// - user messages: `POST /{urlToken}?wait=true`, whose answer lists the outputs;
/// - injects: `POST /inject/{urlToken}?wait=true` (admin key);
/// - notifies: `POST /notify/{urlToken}`, then the output from `GET /admin/v1/deliveries/{outputId}`;
/// - context: `GET /admin/v1/sessions/{urlToken}/{sessionId}`.
///
/// The outputs are delivered to the endpoint's webhook as usual; the playbook only reads them.
public struct RemoteDriver: PlaybookDriver {
    /// Where user messages go (`listen`).
    public let baseURL: String
    /// Where the admin routes are (`admin.listen`, or the same as ``baseURL``).
    public let adminURL: String
    private let apiKey: Secret?
    private let webhookKey: Secret?
    private let client: CurlWebhookClient

    /// Runs `body` with a driver for the Herald at `baseURL`. `apiKey` is an admin key, needed
    /// for inject, notify and context checks; `webhookKey` is sent as `X-Webhook-Key` with user
    /// messages, for endpoints that require one.
    public static func run<T>(
        baseURL: String, adminURL: String? = nil, apiKey: String?, webhookKey: String? = nil, _ body: (RemoteDriver) async throws -> T
    ) async throws -> T {
        let client = CurlWebhookClient()
        defer { client.stop() }
        let driver = RemoteDriver(
            baseURL: trimmed(baseURL), adminURL: trimmed(adminURL ?? baseURL), apiKey: apiKey.map(Secret.init),
            webhookKey: webhookKey.map(Secret.init), client: client)
        return try await body(driver)
    }

    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    public func checkEndpoint(_ urlToken: String) async throws(DriverError) {
        _ = try await call("GET", baseURL + "/healthz", what: "the health check")
        guard apiKey != nil else { return }
        let (status, json) = try await call("GET", adminURL + "/admin/v1/endpoints/" + escaped(urlToken), admin: true, allowing: [404])
        if status == 404 { throw DriverError("Herald at \(baseURL) has no endpoint '\(urlToken)' (\(errorMessage(json)))") }
    }

    public func send(_ message: PlaybookMessage, source: InputSource, to session: SessionAddress) async throws(DriverError)
        -> [ObservedOutput]
    {
        var body = self.body(message, session)
        let json: JSON
        switch source {
        case .user:
            var headers: [(name: String, value: String)] = []
            if let webhookKey { headers.append(("X-Webhook-Key", webhookKey.value)) }
            json = try await call("POST", baseURL + "/" + escaped(session.urlToken) + "?wait=true", body: body, headers: headers).json
        case .inject, .timeout, .operator, .call:  // playbooks send user messages and injects only
            body["createSession"] = true
            json = try await call("POST", adminURL + "/inject/" + escaped(session.urlToken) + "?wait=true", body: body, admin: true).json
        }
        guard let outputs = json["outputs"]?.arrayValue else {
            throw DriverError("Herald's answer has no 'outputs' list (does this server support ?wait=true?): \(json.jsonString)")
        }
        return try outputs.map { (output: JSON) throws(DriverError) -> ObservedOutput in try Self.output(output) }
    }

    /// A running server keeps its own time: a playbook cannot move it, and the runner skips
    /// conversations that would.
    public var letsTimePass: Bool { false }

    public func wait(_ duration: Duration, in session: SessionAddress) async throws(DriverError) -> [ObservedOutput] {
        throw DriverError(
            "'wait' needs a self-contained run (herald test --config FILE), where the playbook moves Herald's clock; a running server's time cannot be advanced")
    }

    public func notify(_ message: PlaybookMessage, to session: SessionAddress) async throws(DriverError) -> [ObservedOutput] {
        var body = self.body(message, session)
        for (key, value) in message.rich { body[key] = value }
        body["createSession"] = true
        let answer = try await call("POST", adminURL + "/notify/" + escaped(session.urlToken), body: body, admin: true).json
        guard let outputId = answer["outputId"]?.stringValue else {
            throw DriverError("Herald's answer to notify has no outputId: \(answer.jsonString)")
        }
        let delivery = try await call("GET", adminURL + "/admin/v1/deliveries/" + escaped(outputId), admin: true).json
        return [try Self.output(delivery)]
    }

    public func context(of session: SessionAddress) async throws(DriverError) -> JSONObject? {
        let (status, json) = try await call("GET", sessionURL(session) + "?limit=1", admin: true, allowing: [404])
        guard status != 404 else { return nil }
        guard let context = json["context"]?.objectValue else {
            throw DriverError("Herald's session answer has no context object: \(json.jsonString)")
        }
        return context
    }

    public func endSession(_ session: SessionAddress) async throws(DriverError) {
        _ = try await call("DELETE", sessionURL(session), admin: true, allowing: [404])
    }

    // MARK: HTTP

    private func sessionURL(_ session: SessionAddress) -> String {
        adminURL + "/admin/v1/sessions/" + escaped(session.urlToken) + "/" + escaped(session.sessionId)
    }

    private func body(_ message: PlaybookMessage, _ session: SessionAddress) -> JSONObject {
        var body: JSONObject = ["userId": .string(session.userId), "sessionId": .string(session.sessionId)]
        if let text = message.text { body["text"] = .string(text) }
        if let data = message.data { body["data"] = data }
        return body
    }

    /// One request; an answer outside 2xx (and `allowing`) is an error with Herald's message.
    private func call(
        _ method: String, _ url: String, body: JSONObject? = nil, headers: [(name: String, value: String)] = [], admin: Bool = false,
        allowing allowed: Set<Int> = [], what: String? = nil
    ) async throws(DriverError) -> (status: Int, json: JSON) {
        var headers = headers
        if admin {
            guard let apiKey else {
                throw DriverError("this step needs Herald's admin API: give an admin key with --api-key KEY or HERALD_ADMIN_KEY")
            }
            headers.append(("X-API-Key", apiKey.value))
        }
        var request = WebhookRequest(url: url, headers: headers, body: body.map { JSON.object($0).serialized() } ?? [], timeout: .seconds(60))
        request.method = method
        request.maxResponseBytes = 16 << 20
        let response: WebhookResponse
        do {
            response = try await client.send(request)
        } catch {
            throw DriverError("cannot reach Herald at \(url): \(error)")
        }
        let json = response.json
        guard (200..<300).contains(response.status) || allowed.contains(response.status) else {
            let path = URL(string: url).map { $0.path + ($0.query.map { "?" + $0 } ?? "") } ?? url
            let request = what ?? "\(method) \(path)"
            throw DriverError("Herald answered \(response.status) to \(request): \(errorMessage(json))")
        }
        return (response.status, json)
    }

    private func errorMessage(_ json: JSON) -> String {
        json["error"]?["message"]?.stringValue ?? json.stringValue ?? json.jsonString
    }

    /// An output as `?wait=true` and the deliveries route show it.
    static func output(_ json: JSON) throws(DriverError) -> ObservedOutput {
        guard let typeName = json["type"]?.stringValue, let type = OutputType(rawValue: typeName) else {
            throw DriverError("Herald sent an output without a known type: \(json.jsonString)")
        }
        func present(_ value: JSON?) -> JSON? { value?.isNull == false ? value : nil }
        var rich = JSONObject()
        for key in RichContent.fieldNames { if let value = present(json[key]) { rich[key] = value } }
        return ObservedOutput(
            type: type, text: json["text"]?.stringValue, data: present(json["data"]), rich: rich,
            source: json["source"]?.stringValue.flatMap(InputSource.init(rawValue:)))
    }

    private func escaped(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }
}
