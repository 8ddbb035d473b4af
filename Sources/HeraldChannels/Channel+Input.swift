import Crypto
import Foundation
import HeraldCore

/// A request to a channel endpoint as the HTTP layer received it, before anything is parsed.
public struct ChannelRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// The URL the caller used, as the channel signs it: `publicUrl` (or `http://{Host}`), the
    /// path, and `?query` when there is one.
    public var url: String
    /// The raw query string, without `?`.
    public var query: String
    /// Header names as sent; the channel compares them case-insensitively.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: String, query: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.url = url
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// One user message a channel request carried.
public struct ChannelMessage: Sendable, Hashable {
    /// The channel's id for it (Telegram's `update_id`, Twilio's `MessageSid`, …), when the
    /// channel file maps one: a redelivered request is then not processed twice.
    public var id: String?
    public var userId: String
    public var sessionId: String
    public var text: String?
    /// A JSON object.
    public var data: JSON?
}

/// The HTTP answer to a channel's request.
public struct ChannelReply: Sendable, Hashable {
    public var status: Int
    public var contentType: String?
    public var body: [UInt8]
}

/// A channel's receipt for one of its messages (a WhatsApp `statuses` entry, a Twilio status
/// callback), as the channel file's `input.statuses` maps it.
public struct ChannelStatus: Sendable, Hashable {
    /// The channel's id of the message (`wamid.…`, `SM…`), as ``Channel/messageId(from:for:)``
    /// gave it when the message was sent.
    public var messageId: String
    public var status: OutputStatus
    /// When the channel says it happened; the request's arrival when it does not say.
    public var at: Timestamp
    /// The channel's error, for `failed`.
    public var error: String?

    public init(messageId: String, status: OutputStatus, at: Timestamp, error: String? = nil) {
        self.messageId = messageId
        self.status = status
        self.at = at
        self.error = error
    }
}

/// What a channel request means: the messages to run (none for a handshake or a status
/// callback), the receipts it carries, and the answer to give once they are recorded.
public struct ChannelInbound: Sendable {
    public var messages: [ChannelMessage]
    /// Delivery receipts, in the request's order (repeats and order are the store's business).
    public var statuses: [ChannelStatus] = []
    public var reply: ChannelReply
}

extension Channel {
    /// At most this many messages come out of one request.
    static let maxMessages = 1000

    /// Checks a request from the channel and maps it to messages, or to an answer at once.
    ///
    /// A failed check (signature, secret, stale timestamp) is 401 — 403 for a `GET` handshake,
    /// as Meta expects — and a body or mapping that does not give valid messages is 400. `now`
    /// is the time the request arrived, for signatures with a time window.
    public func receive(_ request: ChannelRequest, now: Timestamp) throws(ChannelRejection) -> ChannelInbound {
        let method = request.method.uppercased()
        let (requestValue, bodyError) = Self.requestValue(request)
        let variables: JSONObject = ["vars": .object(vars), "endpoint": .object(endpoint), "request": requestValue]
        let scope = Scope(variables: variables, now: now)

        if method == "GET" {
            for handshake in input.handshakes where handshake.method == "GET" && handshake.when.evaluate(in: scope).isTruthy {
                try verify(handshake.verify, scope, now: now, status: 403)
                return ChannelInbound(messages: [], reply: reply(handshake.reply, scope))
            }
            throw ChannelRejection(status: 403, reason: "GET: not a handshake that channel \(name) answers")
        }
        try verify(input.verify, scope, now: now, status: 401)
        if let bodyError { throw ChannelRejection(status: 400, reason: bodyError) }
        for handshake in input.handshakes where handshake.method == method && handshake.when.evaluate(in: scope).isTruthy {
            try verify(handshake.verify, scope, now: now, status: 401)
            return ChannelInbound(messages: [], reply: reply(handshake.reply, scope))
        }
        var messages: [ChannelMessage] = []
        var messageReply: ChannelReply?
        for (index, rule) in input.messages.enumerated() {
            guard let bindings = bindings(rule.each, variables, now: now) else {
                throw ChannelRejection(status: 400, reason: "body: more than \(Self.maxMessages) messages in one request")
            }
            for binding in bindings {
                let itemScope = Self.scope(binding, rule.lets, now: now)
                if let when = rule.when, !when.evaluate(in: itemScope).isTruthy { continue }
                messages.append(try message(rule, itemScope, "input.messages[\(index)]"))
                if messageReply == nil, let rule = rule.reply { messageReply = reply(rule, itemScope) }
                if messages.count > Self.maxMessages {
                    throw ChannelRejection(status: 400, reason: "body: more than \(Self.maxMessages) messages in one request")
                }
            }
        }
        var statuses: [ChannelStatus] = []
        for rule in input.statuses {
            guard let bindings = bindings(rule.each, variables, now: now) else {
                throw ChannelRejection(status: 400, reason: "body: more than \(Self.maxMessages) statuses in one request")
            }
            for binding in bindings {
                let itemScope = Self.scope(binding, rule.lets, now: now)
                if let when = rule.when, !when.evaluate(in: itemScope).isTruthy { continue }
                if let status = Self.status(rule, itemScope, now: now) { statuses.append(status) }
                if statuses.count > Self.maxMessages {
                    throw ChannelRejection(status: 400, reason: "body: more than \(Self.maxMessages) statuses in one request")
                }
            }
        }
        return ChannelInbound(messages: messages, statuses: statuses, reply: messageReply ?? reply(input.reply, scope))
    }

    /// A rule's scope: its loop variables, then its `let` values in order.
    static func scope(_ variables: JSONObject, _ lets: LetValues, now: Timestamp) -> Scope {
        var scope = Scope(variables: variables, now: now)
        for (name, value) in lets { scope.variables[name] = value.evaluate(in: scope) }
        return scope
    }

    /// One receipt; `nil` (skipped) without a message id or for a word that is no status Herald
    /// tracks (Twilio's `receiving`, `scheduled`, ...).
    static func status(_ rule: StatusRule, _ scope: Scope, now: Timestamp) -> ChannelStatus? {
        let messageId = rule.messageId.render(in: scope)
        guard !messageId.isEmpty, messageId.utf8.count <= 256, let status = OutputStatus(channelWord: rule.status.render(in: scope)) else {
            return nil
        }
        let at = rule.at.flatMap { time(of: $0.evaluate(in: scope)) } ?? now
        let error = rule.error.map { $0.render(in: scope).trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : String($0.prefix(500)) }
        return ChannelStatus(messageId: messageId, status: status, at: at, error: error)
    }

    /// Unix seconds (a number or its text, fractions kept to the millisecond) or an RFC 3339
    /// time.
    static func time(of value: JSON) -> Timestamp? {
        switch value {
        case .number(let seconds):
            guard seconds.isFinite, seconds >= 0, seconds < 1e11 else { return nil }
            return Timestamp(milliseconds: Int64((seconds * 1000).rounded()))
        case .string(let text):
            if let seconds = Double(text.trimmingCharacters(in: .whitespaces)) { return time(of: .number(seconds)) }
            return Timestamp(rfc3339: text)
        default: return nil
        }
    }

    /// `request.*`: method, url, query, headers (lowercased names), rawBody, body (JSON, or the
    /// form's fields) and, for a form, `sortedForm` (name+value pairs sorted by name, the text
    /// Twilio signs after the URL). A body that does not parse is `null`, with the reason.
    static func requestValue(_ request: ChannelRequest) -> (JSON, String?) {
        var headers = JSONObject()
        var contentType = ""
        for (name, value) in request.headers {
            let lower = name.lowercased()
            headers[lower] = .string(value)
            if lower == "content-type" { contentType = value }
        }
        var query = JSONObject()
        for (name, value) in FormEncoding.decode(request.query) ?? [] where query[name] == nil { query[name] = .string(value) }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var object: JSONObject = [
            "method": .string(request.method.uppercased()),
            "url": .string(request.url),
            "query": .object(query),
            "headers": .object(headers),
            "rawBody": .string(String(decoding: request.body, as: UTF8.self)),
            "body": .null,
        ]
        var bodyError: String?
        if mediaType == "application/x-www-form-urlencoded" {
            if let pairs = FormEncoding.decode(String(decoding: request.body, as: UTF8.self)) {
                object["body"] = .object(FormEncoding.object(pairs))
                object["sortedForm"] = .string(FormEncoding.sortedForSigning(pairs))
            } else {
                bodyError = "body: not valid application/x-www-form-urlencoded"
            }
        } else if !request.body.isEmpty, mediaType.isEmpty || mediaType == "application/json" || mediaType.hasSuffix("+json") {
            do {
                object["body"] = try JSON.parse(request.body)
            } catch {
                bodyError = "body: not valid JSON (\(error))"
            }
        } else if !request.body.isEmpty, !mediaType.hasPrefix("text/") {
            bodyError = "Content-Type: \(contentType) is not JSON or a form"
        }
        return (.object(object), bodyError)
    }

    /// Every combination of the rule's loop variables, each with the base variables; `nil` when
    /// there are more than ``maxMessages``.
    private func bindings(_ each: [(name: String, list: Expression)], _ base: JSONObject, now: Timestamp) -> [JSONObject]? {
        var current = [base]
        for (name, list) in each {
            var next: [JSONObject] = []
            for binding in current {
                let items: [JSON]
                switch list.evaluate(in: Scope(variables: binding, now: now)) {
                case .null: items = []
                case .array(let elements): items = elements
                case let single: items = [single]
                }
                for item in items {
                    var extended = binding
                    extended[name] = item
                    next.append(extended)
                }
                if next.count > Self.maxMessages { return nil }
            }
            current = next
        }
        return current
    }

    private func message(_ rule: MessageRule, _ scope: Scope, _ what: String) throws(ChannelRejection) -> ChannelMessage {
        func identifier(_ template: Template, _ field: String) throws(ChannelRejection) -> String {
            let value = template.evaluate(in: scope).text
            if value.isEmpty { throw ChannelRejection(status: 400, reason: "\(what).\(field): is empty for this request") }
            if value.utf8.count > 256 { throw ChannelRejection(status: 400, reason: "\(what).\(field): is over 256 bytes") }
            return value
        }
        let userId = try identifier(rule.userId, "userId")
        let sessionId = try identifier(rule.sessionId, "sessionId")
        var text: String?
        if let template = rule.text {
            let value = template.evaluate(in: scope)
            if !value.isNull, !value.text.isEmpty { text = value.text }
        }
        var data: JSON?
        if let template = rule.data {
            switch template.evaluate(in: scope) {
            case .null: break
            // Members that come out null are left out, as in an output's json.
            case .object(let object): data = Self.droppingNulls(.object(object))
            case let other: throw ChannelRejection(status: 400, reason: "\(what).data: must be an object, not \(other.typeName)")
            }
        }
        if text == nil, data == nil {
            throw ChannelRejection(status: 400, reason: "\(what): the request gives neither text nor data")
        }
        let id = rule.id.map { $0.evaluate(in: scope).text }.flatMap { $0.isEmpty ? nil : $0 }
        return ChannelMessage(id: id, userId: userId, sessionId: sessionId, text: text, data: data)
    }

    private func reply(_ rule: ReplyRule, _ scope: Scope) -> ChannelReply {
        let body: [UInt8] =
            if let json = rule.json { Self.droppingNulls(json.evaluate(in: scope)).serialized() } else {
                rule.body.map { Array($0.render(in: scope).utf8) } ?? []
            }
        return ChannelReply(status: rule.status, contentType: rule.contentType, body: body)
    }

    // MARK: checks

    private func verify(_ checks: [Check], _ scope: Scope, now: Timestamp, status: Int) throws(ChannelRejection) {
        for check in checks {
            switch check.kind {
            case .equals(let given, let expected):
                let givenValue = given.render(in: scope)
                let expectedValue = expected.render(in: scope)
                guard !givenValue.isEmpty else { throw ChannelRejection(status: status, reason: "\(check.name): missing") }
                guard !expectedValue.isEmpty, constantTimeEqual(Array(givenValue.utf8), Array(expectedValue.utf8)) else {
                    throw ChannelRejection(status: status, reason: "\(check.name): does not match")
                }
            case .hmac(let hmac):
                try verify(hmac, name: check.name, scope, now: now, status: status)
            }
        }
    }

    private func verify(_ check: HMACCheck, name: String, _ scope: Scope, now: Timestamp, status: Int) throws(ChannelRejection) {
        var given = check.signature.render(in: scope)
        guard !given.isEmpty else { throw ChannelRejection(status: status, reason: "\(name): missing") }
        if let (timestamp, maxAge) = check.freshness {
            let text = timestamp.render(in: scope)
            guard let seconds = Double(text), seconds.isFinite else {
                throw ChannelRejection(status: status, reason: "\(name): the timestamp '\(text.prefix(32))' is not a number of seconds")
            }
            let age = abs(Double(now.milliseconds) / 1000 - seconds)
            guard age <= Double(maxAge.components.seconds) else {
                throw ChannelRejection(status: status, reason: "\(name): the timestamp is \(Int(age)) s away from now (at most \(maxAge) allowed)")
            }
        }
        guard given.hasPrefix(check.prefix) else { throw ChannelRejection(status: status, reason: "\(name): does not match") }
        given.removeFirst(check.prefix.count)
        let key = check.key.render(in: scope)
        guard !key.isEmpty else { throw ChannelRejection(status: status, reason: "\(name): no key is configured") }
        let content = Array(check.content.render(in: scope).utf8)
        let symmetricKey = SymmetricKey(data: Array(key.utf8))
        let mac: [UInt8]
        switch check.algorithm {
        case .sha1: mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: content, using: symmetricKey))
        case .sha256: mac = Array(HMAC<SHA256>.authenticationCode(for: content, using: symmetricKey))
        }
        let expected: String
        switch check.encoding {
        case .hex:
            expected = mac.map { String(format: "%02x", $0) }.joined()
            given = given.lowercased()
        case .base64:
            expected = Data(mac).base64EncodedString()
        }
        guard constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else {
            throw ChannelRejection(status: status, reason: "\(name): does not match")
        }
    }
}
