import Foundation

/// A flow's HTTP call (SPEC §13): the node as written, the request a run renders from it, the
/// answer that comes back, and the endpoint's rules for calls.
///
/// A call is an output whose answer is an input. The run that reaches a `call` node ends there
/// with an output of type ``OutputType/call`` that holds the rendered ``CallRequest``; the
/// session waits at the node as at an `ask`. The outbox makes the request like any delivery
/// (recorded first, retried, leased to one instance on PostgreSQL), and its ``CallAnswer``
/// comes back into the session as an input with source ``InputSource/call``, which resumes the
/// flow after the node (or at `onError`).
extension FlowNode {
    /// `call: {url, method, headers, json | form, auth, timeout, retry}` with `into` and
    /// `onError` beside it.
    public struct Call: Sendable {
        public var url: Template
        /// `GET`, `POST` (the default), `PUT`, `PATCH` or `DELETE`.
        public var method = "POST"
        /// Templated values; a literal value may hold `${NAME}` references, resolved when the
        /// request is made (``CallRequest/secretHeaders``).
        public var headers: [(name: String, value: Template)] = []
        public var body: Body?
        public var auth: CallAuth?
        public var timeout = CallRequest.defaultTimeout
        public var retry = CallRetry()
        /// Where the answer's body goes: the steps of a `context.` path; `nil` keeps it only
        /// in `input.data.body` of the run that goes on.
        public var into: [Substring]?
        /// The node the flow goes on at when the call fails; `nil` stops the run with an error
        /// output.
        public var onError: String?

        public enum Body: Sendable {
            /// Sent as `application/json`.
            case json(ValueTemplate)
            /// Sent as `application/x-www-form-urlencoded`, in this order.
            case form([(name: String, value: Template)])
        }

        /// A POST to `url` with the defaults; the loader sets the rest.
        init(url: Template) {
            self.url = url
        }
    }
}

/// How a call authenticates. Values are `${NAME}` references, never the secret itself: they are
/// resolved when the request is made, from the endpoint's `calls.secrets` or else the
/// environment, so a secret is never in a flow file, the store, a log or the admin API.
public enum CallAuth: Sendable, Hashable {
    /// `Authorization: Bearer <token>`.
    case bearer(token: String)
    /// HTTP basic auth.
    case basic(user: String, password: String)
}

/// How often a call is tried: connection errors, 408, 425, 429 and 5xx are tried again after
/// `delays` (the last repeats), up to `maxAttempts` in all; a timeout or any other status goes
/// to `onError` at once.
public struct CallRetry: Sendable, Hashable {
    public var maxAttempts: Int
    public var delays: [Duration]

    /// Three attempts, 200 ms and 1 s apart: quick, as the user is waiting.
    public init(maxAttempts: Int = 3, delays: [Duration] = [.milliseconds(200), .seconds(1)]) {
        self.maxAttempts = maxAttempts
        self.delays = delays
    }

    /// The delay after failed attempt `attempt` (1-based).
    public func delay(after attempt: Int) -> Duration {
        delays.isEmpty ? .zero : delays[min(max(attempt - 1, 0), delays.count - 1)]
    }
}

/// The request a `call` node rendered, as its output carries it (``json``): everything but the
/// secrets, which stay `${NAME}` references until the request is made.
public struct CallRequest: Sendable, Hashable {
    public var node: String
    public var method: String
    public var url: String
    public var headers: [Header]
    /// Literal header values of the flow file that hold `${NAME}` references. Only these and
    /// ``auth`` are resolved, so a templated value (which may hold the user's text) can never
    /// pull a secret in.
    public var secretHeaders: [Header]
    public var body: Body?
    public var auth: CallAuth?
    public var timeout: Duration
    public var retry: CallRetry

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public enum Body: Sendable, Hashable {
        case json(JSON)
        case form([Header])
    }

    public static let defaultTimeout = Duration.seconds(10)
    /// Answers larger than this go to `onError`.
    public static let maxAnswerBytes = 1 << 20

    public init(
        node: String, method: String, url: String, headers: [Header] = [], secretHeaders: [Header] = [], body: Body? = nil,
        auth: CallAuth? = nil, timeout: Duration = CallRequest.defaultTimeout, retry: CallRetry = CallRetry()
    ) {
        self.node = node
        self.method = method
        self.url = url
        self.headers = headers
        self.secretHeaders = secretHeaders
        self.body = body
        self.auth = auth
        self.timeout = timeout
        self.retry = retry
    }

    /// What the call output shows as its text: `POST https://…`.
    public var summary: String { "\(method) \(url)" }

    /// The call output's `data`.
    public var json: JSON {
        var object: JSONObject = ["node": .string(node), "method": .string(method), "url": .string(url)]
        if !headers.isEmpty { object["headers"] = Self.json(headers) }
        if !secretHeaders.isEmpty { object["secretHeaders"] = Self.json(secretHeaders) }
        switch body {
        case .json(let value): object["json"] = value
        case .form(let fields): object["form"] = Self.json(fields)
        case nil: break
        }
        switch auth {
        case .bearer(let token): object["auth"] = ["bearer": .string(token)]
        case .basic(let user, let password): object["auth"] = ["basic": ["user": .string(user), "password": .string(password)]]
        case nil: break
        }
        object["timeoutMs"] = .number(Double(timeout.milliseconds))
        object["retry"] = [
            "maxAttempts": .number(Double(retry.maxAttempts)), "delaysMs": .array(retry.delays.map { .number(Double($0.milliseconds)) }),
        ]
        return .object(object)
    }

    /// The request a call output holds; `nil` when `data` is not one.
    public init?(json: JSON?) {
        guard let object = json?.objectValue, let node = object["node"]?.stringValue, let method = object["method"]?.stringValue,
            let url = object["url"]?.stringValue
        else { return nil }
        self.init(node: node, method: method, url: url)
        headers = Self.headers(object["headers"])
        secretHeaders = Self.headers(object["secretHeaders"])
        if let value = object["json"] {
            body = .json(value)
        } else if object["form"] != nil {
            body = .form(Self.headers(object["form"]))
        }
        if let token = object["auth"]?["bearer"]?.stringValue {
            auth = .bearer(token: token)
        } else if let basic = object["auth"]?["basic"], let user = basic["user"]?.stringValue, let password = basic["password"]?.stringValue {
            auth = .basic(user: user, password: password)
        }
        if let milliseconds = object["timeoutMs"]?.numberValue { timeout = .milliseconds(Int64(milliseconds)) }
        if let retry = object["retry"]?.objectValue {
            self.retry = CallRetry(
                maxAttempts: retry["maxAttempts"]?.numberValue.map { Int($0) } ?? 1,
                delays: retry["delaysMs"]?.arrayValue?.compactMap(\.numberValue).map { .milliseconds(Int64($0)) } ?? [])
        }
    }

    private static func json(_ headers: [Header]) -> JSON {
        .array(headers.map { ["name": .string($0.name), "value": .string($0.value)] })
    }

    private static func headers(_ json: JSON?) -> [Header] {
        (json?.arrayValue ?? []).compactMap { item in
            guard let name = item["name"]?.stringValue, let value = item["value"]?.stringValue else { return nil }
            return Header(name: name, value: value)
        }
    }

    /// The host (and port, when the URL has one) of an `http(s)://` URL; `nil` for anything else.
    public static func host(of url: String) -> (host: String, port: Int?)? {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") {
            rest = lower.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            rest = lower.dropFirst(8)
        } else {
            return nil
        }
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // user:password@ would let a URL look like an allowed host to a reader; refused.
        guard !authority.contains("@"), !authority.isEmpty else { return nil }
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()) else { return nil }
                port = number
            }
            authority = authority[...close]
        } else if let colon = authority.lastIndex(of: ":") {
            guard let number = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = number
            authority = authority[..<colon]
        }
        guard !authority.isEmpty else { return nil }
        return (String(authority), port)
    }
}

/// The answer to a call, as it comes back into the session (``input`` and ``json``).
public struct CallAnswer: Sendable, Hashable {
    /// The HTTP status, when there was a response.
    public var status: Int?
    /// The answer's body: its JSON, or its text when it is not JSON; `nil` when empty.
    public var body: JSON?
    /// What failed; `nil` when the call succeeded (2xx).
    public var error: String?
    /// How many attempts were made.
    public var attempts: Int

    /// A call that was not made, or failed, for this reason.
    public static func failed(_ reason: String, status: Int? = nil, attempts: Int = 0) -> CallAnswer {
        CallAnswer(status: status, body: nil, error: reason, attempts: attempts)
    }

    /// The data of the input that carries the answer: `{node, status, body, error, attempts}`.
    public func json(node: String) -> JSON {
        var object: JSONObject = ["node": .string(node), "attempts": .number(Double(attempts))]
        if let status { object["status"] = .number(Double(status)) }
        if let body { object["body"] = body }
        if let error { object["error"] = .string(error) }
        return .object(object)
    }
}

extension CallAnswer {
    /// The answer as an input's data reads it back.
    public init?(json: JSON?) {
        guard let object = json?.objectValue, object["node"] != nil else { return nil }
        self.init(
            status: object["status"]?.numberValue.map { Int($0) }, body: object["body"], error: object["error"]?.stringValue,
            attempts: object["attempts"]?.numberValue.map { Int($0) } ?? 1)
    }

    /// The answer the API gave: 2xx answers the call; any other status fails it (3xx too:
    /// redirects are not followed), with the body kept for the flow's `onError`.
    public init(status: Int, body: JSON?, attempts: Int = 1) {
        let error: String? =
            switch status {
            case 200..<300: nil
            case 300..<400: "HTTP \(status): redirects are not followed"
            default: "HTTP \(status)"
            }
        self.init(status: status, body: body, error: error, attempts: attempts)
    }
}

/// An endpoint's `calls:` section: which hosts its flow may call, how many calls one input may
/// set off, and the secrets its calls' `${NAME}` references may use.
public struct CallSettings: Sendable {
    /// `host`, `host:port` or `*.domain`; empty (the default): no call may be made.
    public var allow: [String]
    public var maxCallsPerTurn: Int
    /// Looked up before the environment when a call's `${NAME}` is resolved.
    public var secrets: [String: Secret]

    public init(allow: [String] = [], maxCallsPerTurn: Int = 5, secrets: [String: Secret] = [:]) {
        self.allow = allow
        self.maxCallsPerTurn = maxCallsPerTurn
        self.secrets = secrets
    }

    /// Any host, any number of calls: `herald flow run` and playbooks, whose calls go to
    /// stand-ins unless a real server makes them.
    public static let unrestricted = CallSettings(allow: ["*"], maxCallsPerTurn: 5)

    /// Why the flow may not call `url`, or `nil` when it may.
    public func refusal(_ url: String) -> String? {
        guard let (host, port) = CallRequest.host(of: url) else { return "'\(url)' is not an http:// or https:// URL" }
        // An entry with a port matches a URL without one by the scheme's default port.
        let effectivePort = port ?? (url.lowercased().hasPrefix("https://") ? 443 : 80)
        for entry in allow {
            let entry = entry.lowercased()
            if entry == "*" { return nil }
            var pattern = entry
            var wantedPort: Int?
            // `host:port`, or `[v6]:port`: the port follows the last colon outside brackets.
            let hostEnd = entry.hasPrefix("[") ? entry.firstIndex(of: "]").map(entry.index(after:)) ?? entry.endIndex : entry.startIndex
            if let colon = entry[hostEnd...].lastIndex(of: ":"), let number = Int(entry[entry.index(after: colon)...]) {
                pattern = String(entry[..<colon])
                wantedPort = number
            }
            if let wantedPort, wantedPort != effectivePort { continue }
            if pattern.hasPrefix("*.") {
                if host.hasSuffix(pattern.dropFirst(1)) { return nil }
            } else if pattern == host {
                return nil
            }
        }
        return allow.isEmpty
            ? "host '\(host)' is not allowed: the endpoint's calls.allow is empty"
            : "host '\(host)\(port.map { ":\($0)" } ?? "")' is not in the endpoint's calls.allow"
    }

    /// `text` with each `${NAME}` replaced by the secret or environment variable; throws the
    /// name of the first one that is not set.
    public func resolve(_ text: String, environment: [String: String]) throws(UnsetSecret) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            result += rest[..<start.lowerBound]
            let name = String(rest[start.upperBound..<end])
            guard let value = secrets[name]?.value ?? environment[name] else { throw UnsetSecret(name: name) }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    /// A `${NAME}` that neither `calls.secrets` nor the environment has.
    public struct UnsetSecret: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "\(name) is set neither in the endpoint's calls.secrets nor in the environment" }
    }
}

extension CallWait {
    /// The `waiting_call` column of a session waiting for a call: `nil` otherwise.
    public static func stored(_ wait: FlowWait?) -> String? {
        guard let call = wait?.call else { return nil }
        let queued: [JSON] = call.queued.map { input in
            var object: JSONObject = [
                "id": .string(input.id), "userId": .string(input.userId), "source": .string(input.source.rawValue),
                "receivedAt": .number(Double(input.receivedAt.milliseconds)),
            ]
            if let text = input.text { object["text"] = .string(text) }
            if let data = input.data { object["data"] = data }
            return .object(object)
        }
        let object: JSONObject = ["outputId": .string(call.outputId), "count": .number(Double(call.count)), "queued": .array(queued)]
        return JSON.object(object).jsonString
    }

    /// Reads what ``stored(_:)`` wrote, for the session `key`.
    public static func load(stored text: String?, session key: SessionKey) throws -> CallWait? {
        guard let text, !text.isEmpty else { return nil }
        let json = try JSON.parse(text)
        guard let outputId = json["outputId"]?.stringValue else { throw JSONParseError(reason: "a stored call wait is malformed", offset: 0) }
        let queued = (json["queued"]?.arrayValue ?? []).compactMap { item -> Input? in
            guard let id = item["id"]?.stringValue, let userId = item["userId"]?.stringValue else { return nil }
            return Input(
                id: id, session: key, userId: userId, text: item["text"]?.stringValue, data: item["data"],
                source: item["source"]?.stringValue.flatMap(InputSource.init(rawValue:)) ?? .user,
                receivedAt: Timestamp(milliseconds: Int64(item["receivedAt"]?.numberValue ?? 0)))
        }
        return CallWait(outputId: outputId, count: json["count"]?.numberValue.map { Int($0) } ?? 1, queued: queued)
    }
}
