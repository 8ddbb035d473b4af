import Foundation
import HeraldCore

/// A messaging channel's protocol, compiled from a channel file (SPEC §9, docs/channels.md):
/// how a request from the channel becomes messages (``receive(_:now:)``), and how an output
/// becomes a request to the channel's API (``request(for:)``, ``judge(_:for:)``).
///
/// A channel file is read and checked once, with `file:line: reason` errors like a flow
/// (``load(_:)``, ``check(path:)``); the HTTP and webhook layers then run the compiled value
/// without knowing which channel it is.
public struct Channel: Sendable {
    /// The file's `channel:` name, e.g. `telegram`.
    public let name: String
    /// The channel file it was read from.
    public let file: String
    /// The variables the file declares, with whether each is a secret.
    public let variables: [Variable]
    /// `vars.*`: the endpoint's `channelVars` over the file's defaults.
    let vars: JSONObject
    /// `endpoint.*`: `url`, the address the channel reaches this endpoint at (`publicUrl` +
    /// `/` + urlToken), `null` without a `publicUrl`.
    let endpoint: JSONObject
    /// The values of the secret variables, which ``redact(_:)`` hides.
    let secrets: [String]
    let input: InputRules
    let output: OutputRules

    /// A variable a channel file declares (`vars:`).
    public struct Variable: Sendable, Hashable {
        public var name: String
        /// Never shown: admin responses give `"***"`, errors and logs leave it out.
        public var secret: Bool
        /// The file's default, when it has one (never for a secret).
        public var defaultValue: String?
    }

    /// The value of a variable as the admin API may show it: secrets as `"***"`.
    public func shownValue(of variable: String) -> JSON {
        guard let declared = variables.first(where: { $0.name == variable }) else { return .null }
        if declared.secret { return vars[variable] == nil ? .null : "***" }
        return vars[variable] ?? .null
    }

    /// `text` with every secret variable's value replaced by `***`, for attempt logs and
    /// messages that might quote a URL or a header.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result
    }
}

/// Why a channel request is not accepted: the HTTP status to answer (400, 401, 403) and a
/// reason that names what was wrong (never a secret).
public struct ChannelRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { reason }
}

/// Why an output cannot be turned into a request for its channel; the output is then dead with
/// this reason in its attempt log.
public struct ChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

// MARK: - The compiled rules

/// One check of an inbound request; all of a list must pass.
struct Check: Sendable {
    enum Kind: Sendable {
        /// A shared secret (a header, a query parameter) equal to the expected value, compared
        /// in constant time. An empty expected value never matches.
        case equals(given: Template, expected: Template)
        /// An HMAC over `content`, encoded, after `prefix`, equal to `signature`; with
        /// `freshness`, the request must be at most `maxAge` old (or ahead).
        case hmac(HMACCheck)
    }

    var name: String
    var kind: Kind
}

struct HMACCheck: Sendable {
    enum Algorithm: String, Sendable, CaseIterable {
        case sha1, sha256
    }

    enum Encoding: String, Sendable, CaseIterable {
        case hex, base64
    }

    var algorithm: Algorithm
    var key: Template
    var content: Template
    var signature: Template
    var prefix: String
    var encoding: Encoding
    /// The request's time (Unix seconds) and how far from now it may be; replays of an older
    /// request fail.
    var freshness: (timestamp: Template, maxAge: Duration)?
}

/// The answer to a channel's request.
struct ReplyRule: Sendable {
    var status: Int = 200
    var contentType: String?
    /// The body as text, or (`json:`) a value sent as JSON.
    var body: Template?
    var json: ValueTemplate?
}

/// A request answered at once, without messages: a `GET` verification challenge, Slack's
/// `url_verification`.
struct Handshake: Sendable {
    var method: String
    var when: Expression
    var verify: [Check]
    var reply: ReplyRule
}

/// Named values computed in order (`let:`), each visible to the later ones and to the rest of
/// its rule by name.
typealias LetValues = [(name: String, value: ValueTemplate)]

/// How part of a request becomes messages.
struct MessageRule: Sendable {
    /// Nested loops: each name is bound in turn to every element of its expression's list.
    var each: [(name: String, list: Expression)]
    /// Computed for every combination of the loops, before `when`.
    var lets: LetValues = []
    var when: Expression?
    var id: Template?
    var userId: Template
    var sessionId: Template
    var text: Template?
    var data: ValueTemplate?
    /// The answer to the request when this rule gives its first message (Telegram's
    /// `answerCallbackQuery` in the webhook answer), instead of `input.reply`.
    var reply: ReplyRule?
}

/// How part of a request becomes delivery receipts (WhatsApp `statuses`, Twilio status
/// callbacks).
struct StatusRule: Sendable {
    var each: [(name: String, list: Expression)]
    var lets: LetValues = []
    var when: Expression?
    /// The channel's id of the message the receipt is about.
    var messageId: Template
    /// The channel's word (`sent`, `delivered`, `read`, `failed`, `undelivered`, ...).
    var status: Template
    /// Unix seconds (a number or its text) or an RFC 3339 time; the request's arrival without.
    var at: Template?
    var error: Template?
}

struct InputRules: Sendable {
    var verify: [Check] = []
    var handshakes: [Handshake] = []
    var messages: [MessageRule] = []
    var statuses: [StatusRule] = []
    var reply = ReplyRule()
}

struct OutputRules: Sendable {
    enum Auth: Sendable {
        case basic(user: Template, password: Template)
        case bearer(Template)
    }

    enum Body: Sendable {
        case json(ValueTemplate)
        case form(ValueTemplate)
    }

    /// Another request for the outputs `when` holds for: each field it gives replaces the
    /// base's (`url`, `method`, `headers`, `auth`, the body); the first that holds wins.
    struct Variant: Sendable {
        var when: Expression
        var method: String?
        var url: Template?
        var headers: [(name: String, value: Template)]?
        var auth: Auth?
        var body: Body?
    }

    /// Computed first, for everything below.
    var lets: LetValues = []
    var method = "POST"
    var url: Template
    var headers: [(name: String, value: Template)] = []
    var auth: Auth?
    var body: Body?
    var variants: [Variant] = []
    var success: Expression?
    var retryAfter: Expression?
    var retry: Expression?
    var dead: Expression?
    var error: Template?
    /// The channel's id of the sent message, from a successful answer (receipts name it).
    var messageId: Expression?
}

/// The flow language's expression (Foundation has a type of the same name).
typealias Expression = HeraldCore.Expression
