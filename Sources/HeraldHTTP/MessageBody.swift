import Foundation
import HeraldCore
import Hummingbird
import NIOCore

/// A message body as SPEC §1 defines it (`userId`, `sessionId`, `text`, `data`), plus the
/// admin routes' extras (`createSession`, the rich fields of SPEC §12), validated field by field.
struct MessageBody: Sendable {
    var userId: String?
    var sessionId: String
    var text: String?
    var data: JSON?
    var createSession: Bool
    /// Notify: quick replies, buttons, attachments, a card, a template.
    var rich: RichContent
    /// Inject and notify: when to send (`sendAt` or `delay`), with `key` and
    /// `cancelOnUserMessage`; `nil` sends now.
    var timing: Timing?

    struct Rules {
        /// Notify may leave `userId` out when the session exists.
        var userIdRequired = true
        var allowsCreateSession = false
        /// Notify: the rich fields (SPEC §12), a template among them.
        var allowsRich = false
        var allowsScheduling = false
    }

    /// `sendAt` or `delay` as given, checked for syntax; ``dueAt(now:maxDelay:)`` checks it
    /// against the present.
    struct Timing {
        enum When {
            case at(Timestamp)
            case after(Duration)
        }

        var when: When
        var key: String?
        var cancelOnUserMessage: Bool

        /// A time more than a minute past, or further ahead than `maxDelay`, is a 400.
        func request(now: Timestamp, maxDelay: Duration) throws(APIError) -> ScheduleRequest {
            let dueAt: Timestamp
            switch when {
            case .at(let time):
                guard time >= now.adding(milliseconds: -60_000) else {
                    throw APIError(.badRequest, "sendAt: \(time.iso8601) is more than a minute in the past (now is \(now.iso8601))")
                }
                guard time <= now.adding(maxDelay) else {
                    throw APIError(.badRequest, "sendAt: \(time.iso8601) is more than \(maxDelay.configText) ahead (maxScheduleDelay)")
                }
                dueAt = time
            case .after(let delay):
                guard delay <= maxDelay else { throw APIError(.badRequest, "delay: \(delay.configText) is over the maximum of \(maxDelay.configText) (maxScheduleDelay)") }
                dueAt = now.adding(delay)
            }
            return ScheduleRequest(dueAt: dueAt, key: key, cancelOnUserMessage: cancelOnUserMessage)
        }
    }

    static let maxIdBytes = 256

    /// Parses and validates; every failure is a 400 naming the field.
    static func parse(_ bytes: ByteBuffer, rules: Rules) throws(APIError) -> MessageBody {
        let object = try JSONBody.object(bytes)
        let userId = try identifier(object, "userId", required: rules.userIdRequired)
        let sessionId = try identifier(object, "sessionId", required: true)!

        var text: String?
        switch object["text"] {
        case .none, .null?: break
        case .string(let value)?: text = value
        case let other?: throw APIError(.badRequest, "text: must be a string, not \(other.typeName)")
        }
        var data: JSON?
        switch object["data"] {
        case .none, .null?: break
        case .object?: data = object["data"]
        case let other?: throw APIError(.badRequest, "data: must be a JSON object, not \(other.typeName)")
        }
        var createSession = false
        if rules.allowsCreateSession {
            switch object["createSession"] {
            case .none, .null?: break
            case .bool(let value)?: createSession = value
            case let other?: throw APIError(.badRequest, "createSession: must be true or false, not \(other.typeName)")
            }
        }
        var rich = RichContent()
        if rules.allowsRich {
            do {
                rich = try RichContent.parse(object, allowTemplate: true)
            } catch {
                throw APIError(.badRequest, error.description)
            }
        }
        if (text ?? "").isEmpty, data == nil, rich.isEmpty {
            throw APIError(
                .badRequest, "text, data: at least one is required (a non-empty text or a data object\(rules.allowsRich ? ", or rich content" : ""))")
        }
        let timing = rules.allowsScheduling ? try self.timing(object) : nil
        return MessageBody(
            userId: userId, sessionId: sessionId, text: text, data: data, createSession: createSession, rich: rich, timing: timing)
    }

    private static func timing(_ object: JSONObject) throws(APIError) -> Timing? {
        func string(_ field: String) throws(APIError) -> String? {
            switch object[field] {
            case .none, .null?: return nil
            case .string(let value)?: return value
            case let other?: throw APIError(.badRequest, "\(field): must be a string, not \(other.typeName)")
            }
        }
        let sendAt = try string("sendAt")
        let delay = try string("delay")
        let key = try string("key")
        var cancelOnUserMessage = false
        switch object["cancelOnUserMessage"] {
        case .none, .null?: break
        case .bool(let value)?: cancelOnUserMessage = value
        case let other?: throw APIError(.badRequest, "cancelOnUserMessage: must be true or false, not \(other.typeName)")
        }
        let when: Timing.When
        switch (sendAt, delay) {
        case (nil, nil):
            if key != nil { throw APIError(.badRequest, "key: only with sendAt or delay (it names a scheduled message)") }
            if cancelOnUserMessage { throw APIError(.badRequest, "cancelOnUserMessage: only with sendAt or delay") }
            return nil
        case (_?, _?):
            throw APIError(.badRequest, "sendAt, delay: give one of them, not both")
        case (let sendAt?, nil):
            guard let time = Timestamp(rfc3339: sendAt) else {
                throw APIError(.badRequest, "sendAt: '\(sendAt)' is not an RFC 3339 time with an offset, such as 2026-12-24T09:00:00Z")
            }
            when = .at(time)
        case (nil, let delay?):
            guard delay.range(of: #"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$"#, options: .regularExpression) != nil,
                let duration = Duration(configText: delay), duration > .zero
            else {
                throw APIError(.badRequest, "delay: '\(delay)' is not a duration (write 90s, 10m, 2h or 1d)")
            }
            when = .after(duration)
        }
        if let key {
            if key.isEmpty { throw APIError(.badRequest, "key: must not be empty") }
            if key.utf8.count > maxIdBytes { throw APIError(.badRequest, "key: must be at most \(maxIdBytes) bytes") }
        }
        return Timing(when: when, key: key, cancelOnUserMessage: cancelOnUserMessage)
    }

    private static func identifier(_ object: JSONObject, _ field: String, required: Bool) throws(APIError) -> String? {
        switch object[field] {
        case .none, .null?:
            if required { throw APIError(.badRequest, "\(field): is required") }
            return nil
        case .string(let value)?:
            if value.isEmpty { throw APIError(.badRequest, "\(field): must not be empty") }
            if value.utf8.count > maxIdBytes { throw APIError(.badRequest, "\(field): must be at most \(maxIdBytes) bytes") }
            return value
        case let other?:
            throw APIError(.badRequest, "\(field): must be a string, not \(other.typeName)")
        }
    }
}

/// The one JSON-object reader of request bodies.
enum JSONBody {
    /// `bytes` as a JSON object; a 400 naming `body` otherwise.
    static func object(_ bytes: ByteBuffer) throws(APIError) -> JSONObject {
        let json: JSON
        do {
            json = try bytes.withUnsafeReadableBytes { buffer throws(JSONParseError) in try JSON.parse(buffer) }
        } catch {
            throw APIError(.badRequest, "body: not valid JSON (\(error))")
        }
        guard case .object(let object) = json else {
            throw APIError(
                .badRequest,
                "body: must be a JSON object, not \(json.isNull ? "null" : "a" + (json.typeName == "array" ? "n " : " ") + json.typeName)")
        }
        return object
    }
}

extension Request {
    /// The body, at most `limit` bytes (413 beyond), after checking it is declared as JSON.
    func messageBytes(limit: Int) async throws(APIError) -> ByteBuffer {
        if let contentType = headers[.contentType], contentType != "application/json" {
            let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard mediaType == "application/json" || mediaType.hasSuffix("+json") else {
                throw APIError(.unsupportedMediaType, "Content-Type: must be application/json, not \(contentType)")
            }
        }
        return try await bodyBytes(limit: limit)
    }

    /// The body as sent, at most `limit` bytes (413 beyond): the one place the size limit is
    /// checked (channel requests come in the channel's own content type).
    func bodyBytes(limit: Int) async throws(APIError) -> ByteBuffer {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "body: \(length) bytes is over the limit of \(limit) bytes")
        }
        do {
            return try await body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "body: over the limit of \(limit) bytes")
        }
    }
}
