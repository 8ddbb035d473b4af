import Foundation
import HeraldCore

/// The request for one output, as the channel's API takes it.
public struct ChannelOutgoingRequest: Sendable {
    public var method: String
    public var url: String
    /// Includes `Content-Type` when there is a body, and `Authorization` for bearer auth.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// HTTP basic auth, when the channel uses it.
    public var user: String?
    public var password: Secret?
}

/// The channel API's answer to an output's request, as far as judging it needs.
public struct ChannelResponse: Sendable {
    public var status: Int
    /// The `Retry-After` header, as sent.
    public var retryAfter: String?
    public var body: [UInt8]

    public init(status: Int, retryAfter: String?, body: [UInt8]) {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
    }
}

/// What the channel makes of an answer to an output's request.
public enum ChannelVerdict: Sendable, Hashable {
    case delivered
    /// Try again, not sooner than `after` when the channel said how long to wait.
    case retry(after: Duration?, reason: String)
    case dead(reason: String)
    /// The channel has no rule for this answer: the delivery's own rules for the status apply
    /// (5xx and 429 retried, other 4xx dead, 410 pauses); `reason` adds the channel's words.
    case byStatus(reason: String)
}

extension Channel {
    /// Builds the request that sends `output` through the channel's API.
    ///
    /// The output's `let` values are computed first; then the first of `variants` whose `when`
    /// holds replaces the fields it gives (URL, method, headers, auth, body).
    public func request(for output: Output) throws(ChannelError) -> ChannelOutgoingRequest {
        let scope = outputScope(output)
        let variantIndex = self.output.variants.firstIndex { $0.when.evaluate(in: scope).isTruthy }
        let variant = variantIndex.map { self.output.variants[$0] }
        let url = (variant?.url ?? self.output.url).render(in: scope)
        let lower = url.lowercased()
        let urlField = variantIndex.map { "output.variants[\($0)].url" } ?? "output.url"
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw ChannelError(reason: "channel \(name): \(urlField) '\(redact(url))' is not an http:// or https:// URL")
        }
        var request = ChannelOutgoingRequest(method: variant?.method ?? self.output.method, url: url, headers: [], body: [])
        switch variant?.body ?? self.output.body {
        case .json(let template)?:
            request.headers.append(("Content-Type", "application/json"))
            request.body = Self.droppingNulls(template.evaluate(in: scope)).serialized()
        case .form(let template)?:
            guard case .object(let fields) = template.evaluate(in: scope) else {
                let field = variant?.body != nil ? "output.variants[\(variantIndex!)].form" : "output.form"
                throw ChannelError(reason: "channel \(name): \(field) must give an object")
            }
            request.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            request.body = Array(FormEncoding.encode(fields).utf8)
        case nil:
            break
        }
        switch variant?.auth ?? self.output.auth {
        case .basic(let user, let password)?:
            request.user = user.render(in: scope)
            request.password = Secret(password.render(in: scope))
        case .bearer(let token)?:
            request.headers.append(("Authorization", "Bearer " + token.render(in: scope)))
        case nil:
            break
        }
        for (header, value) in variant?.headers ?? self.output.headers {
            let text = value.render(in: scope)
            guard !text.contains("\r"), !text.contains("\n") else {
                throw ChannelError(reason: "channel \(name): output.headers.\(header) has a line break")
            }
            // A header the file names replaces the one the body or auth set (a charset, say).
            request.headers.removeAll { $0.name.lowercased() == header.lowercased() }
            request.headers.append((header, text))
        }
        return request
    }

    /// Decides what an answer from the channel's API means for the output: `success` (on a 2xx
    /// answer) delivers it; `dead` gives up; a `retryAfter` number retries after that many
    /// seconds, and `retry` retries on the usual schedule; any other 2xx answer is a failure
    /// worth retrying (Slack's `"ok": false`); anything else is judged by its status.
    public func judge(_ response: ChannelResponse, for output: Output) -> ChannelVerdict {
        let scope = responseScope(response, output)
        let is2xx = (200..<300).contains(response.status)
        if is2xx, self.output.success?.evaluate(in: scope).isTruthy ?? true { return .delivered }

        var reason = "HTTP \(response.status)"
        if let detail = self.output.error?.render(in: scope), !detail.isEmpty { reason += ": " + redact(String(detail.prefix(500))) }
        if self.output.dead?.evaluate(in: scope).isTruthy == true { return .dead(reason: reason) }
        if let delay = self.output.retryAfter.flatMap({ Self.seconds($0.evaluate(in: scope)) }) {
            return .retry(after: delay, reason: reason)
        }
        if self.output.retry?.evaluate(in: scope).isTruthy == true { return .retry(after: nil, reason: reason) }
        if is2xx { return .retry(after: nil, reason: reason + " (not a success for channel \(name))") }
        return .byStatus(reason: reason)
    }

    /// The channel's id for the message an output became, from the answer that accepted it
    /// (`output.messageId`: WhatsApp's `messages[0].id`, Twilio's `sid`), so the channel's
    /// receipts (``ChannelStatus/messageId``) can be matched to the output. `nil` when the file
    /// has no such rule or the answer does not give a text or number of at most 256 bytes.
    public func messageId(from response: ChannelResponse, for output: Output) -> String? {
        guard let rule = self.output.messageId else { return nil }
        let text: String
        switch rule.evaluate(in: responseScope(response, output)) {
        case .string(let value): text = value
        case .number(let number): text = JSON.number(number).text
        default: return nil
        }
        guard !text.isEmpty, text.utf8.count <= 256 else { return nil }
        return text
    }

    /// What output rules see: `vars`, `endpoint`, `output`, then the `let` values in order.
    func outputScope(_ output: Output) -> Scope {
        var scope = Scope(
            variables: ["vars": .object(vars), "endpoint": .object(endpoint), "output": Self.outputValue(output)], now: output.timestamp)
        for (name, value) in self.output.lets { scope.variables[name] = value.evaluate(in: scope) }
        return scope
    }

    /// The output scope with `response`: status, body (parsed as JSON when it is) and headers.
    func responseScope(_ response: ChannelResponse, _ output: Output) -> Scope {
        let body: JSON = response.body.isEmpty ? .null : ((try? JSON.parse(response.body)) ?? .string(String(decoding: response.body, as: UTF8.self)))
        var headers = JSONObject()
        if let retryAfter = response.retryAfter { headers["retry-after"] = .string(retryAfter) }
        var scope = outputScope(output)
        scope.variables["response"] = ["status": .number(Double(response.status)), "body": body, "headers": .object(headers)]
        return scope
    }

    /// `output.*`: the output's fields as a flow's webhook would see them, the rich fields
    /// (`null` when absent), and views of them for channels: `choices` (everything that
    /// answers when pressed, `[{title, payload}]`), `links` (`[{title, url}]`) and
    /// `fallbackText` (everything as plain text, `null` when that is empty).
    static func outputValue(_ output: Output) -> JSON {
        var object: JSONObject = [
            "id": .string(output.id),
            "type": .string(output.type.rawValue),
            "urlToken": .string(output.session.urlToken),
            "userId": .string(output.userId),
            "sessionId": .string(output.session.sessionId),
            "seq": .number(Double(output.seq)),
            "timestamp": .string(output.timestamp.iso8601),
        ]
        object["text"] = output.text.map(JSON.string) ?? .null
        object["data"] = output.data ?? .null
        object["inputId"] = output.inputId.map(JSON.string) ?? .null
        object["source"] = output.source.map { .string($0.rawValue) } ?? .null
        let rich = output.rich.json
        for field in RichContent.fieldNames { object[field] = rich[field] ?? .null }
        object["choices"] = .array(output.rich.choices.map { ["title": .string($0.title), "payload": .string($0.payload)] })
        object["links"] = .array(output.rich.links.map { ["title": .string($0.title), "url": .string($0.url)] })
        let fallback = output.rich.fallbackText(output.text)
        object["fallbackText"] = fallback.isEmpty ? .null : .string(fallback)
        return .object(object)
    }

    /// Object members whose value is `null` are left out, so optional fields of a channel's
    /// API can be mapped from values that may be missing.
    static func droppingNulls(_ value: JSON) -> JSON {
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, member) in object where !member.isNull { result[key] = droppingNulls(member) }
            return .object(result)
        case .array(let elements): return .array(elements.map(droppingNulls))
        default: return value
        }
    }

    /// A non-negative number of seconds, from a number or numeric text.
    static func seconds(_ value: JSON) -> Duration? {
        let number: Double? =
            switch value {
            case .number(let number): number
            case .string(let text): Double(text.trimmingCharacters(in: .whitespaces))
            default: nil
            }
        guard let number, number.isFinite, number >= 0, number < 86400 * 7 else { return nil }
        return .milliseconds(Int64(number * 1000))
    }
}
