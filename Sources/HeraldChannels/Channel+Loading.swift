import Foundation
import HeraldCore
import Yams

extension Channel {
    /// Reads the channel file of an endpoint and binds its variables to the endpoint's
    /// `channelVars`. A problem in the file names the file and line; a missing, unknown or
    /// empty variable names the config file and the line of `channelVars` (or `channel:`).
    public static func load(_ reference: ChannelReference) throws(FileError) -> Channel {
        try ChannelLoader(file: YAMLFile(path: reference.path)).load(vars: reference, checkVars: true)
    }

    /// Reads and checks a channel file on its own, without variables (`herald channel check`).
    public static func check(path: String) throws(FileError) -> Channel {
        try ChannelLoader(file: YAMLFile(path: path)).load(vars: ChannelReference(path: path), checkVars: false)
    }

    /// Parses a channel file's text, as if read from `path` (tests); `callbackUrl` is
    /// `endpoint.url`.
    public static func load(path: String, text: String, vars: [String: String], callbackUrl: String? = nil) throws(FileError) -> Channel {
        var reference = ChannelReference(path: path, vars: vars.mapValues(Secret.init))
        reference.callbackUrl = callbackUrl
        return try ChannelLoader(file: YAMLFile(path: path, text: text)).load(vars: reference, checkVars: true)
    }
}

/// Turns a channel file's YAML into a ``Channel``, one `file:line: reason` per problem.
private struct ChannelLoader {
    let file: YAMLFile

    /// The roots channel expressions may start with, by where they appear.
    static let inputRoots: Set<String> = ["request", "vars", "endpoint"]
    static let outputRoots: Set<String> = ["output", "vars", "endpoint"]
    static let responseRoots: Set<String> = ["output", "vars", "endpoint", "response"]
    /// Names a loop or `let` value cannot take: the roots, and a flow's roots (a reader would
    /// take them for those).
    static let reservedNames: Set<String> = ["request", "vars", "endpoint", "output", "response", "input", "context", "session"]

    func load(vars reference: ChannelReference, checkVars: Bool) throws(FileError) -> Channel {
        var name: String?
        var variables: [Channel.Variable] = []
        var inputNode: Node?
        var outputNode: Node?
        let allowed = ["channel", "description", "vars", "input", "output"]
        for (key, keyNode, value) in try file.mapping(file.root, "a channel file") {
            switch key {
            case "channel": name = try file.string(value, "channel")
            case "description": _ = try file.string(value, "description")
            case "vars": variables = try self.variables(value)
            case "input": inputNode = value
            case "output": outputNode = value
            default: throw unknown(keyNode, key, allowed)
            }
        }
        guard let name, !name.isEmpty else { throw file.error(file.root, "channel: is required (the channel's name, e.g. telegram)") }
        guard let inputNode else { throw file.error(file.root, "input: is required (how the channel's requests become messages)") }
        guard let outputNode else { throw file.error(file.root, "output: is required (how outputs become requests to the channel)") }
        let input = try self.input(inputNode)
        let output = try self.output(outputNode)

        var values = JSONObject()
        for variable in variables {
            if let value = reference.vars[variable.name] {
                values[variable.name] = .string(value.value)
            } else if let fallback = variable.defaultValue {
                values[variable.name] = .string(fallback)
            }
        }
        if checkVars {
            let declared = Set(variables.map(\.name))
            for (varName, _) in reference.vars.sorted(by: { $0.key < $1.key }) where !declared.contains(varName) {
                throw FileError(
                    file: reference.configFile, line: reference.varLines[varName] ?? reference.line,
                    reason: "channelVars.\(varName): unknown variable (channel \(name) declares \(variables.map(\.name).joined(separator: ", ")))")
            }
            for variable in variables {
                guard let value = values[variable.name]?.stringValue else {
                    throw FileError(
                        file: reference.configFile, line: reference.line,
                        reason: "channelVars.\(variable.name): is required by channel \(name) (\(reference.path))")
                }
                if value.isEmpty {
                    throw FileError(
                        file: reference.configFile, line: reference.varLines[variable.name] ?? reference.line,
                        reason: "channelVars.\(variable.name): must not be empty")
                }
            }
        }
        // Values shorter than 4 characters are not hunted for in messages: replacing every "s"
        // would garble the text without hiding anything worth hiding.
        let secrets = variables.filter(\.secret).compactMap { values[$0.name]?.stringValue }.filter { $0.count >= 4 }
        var endpoint = JSONObject()
        endpoint["url"] = reference.callbackUrl.map(JSON.string) ?? .null
        return Channel(
            name: name, file: file.path, variables: variables, vars: values, endpoint: endpoint, secrets: secrets.sorted { $0.count > $1.count },
            input: input, output: output)
    }

    func unknown(_ keyNode: Node, _ key: String, _ allowed: [String], in section: String = "") -> FileError {
        file.error(keyNode, "\(section.isEmpty ? "" : section + ".")\(key): unknown key (expected one of \(allowed.joined(separator: ", ")))")
    }

    // MARK: vars

    func variables(_ node: Node) throws(FileError) -> [Channel.Variable] {
        var variables: [Channel.Variable] = []
        for (name, keyNode, value) in try file.mapping(node, "vars") {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw file.error(keyNode, "vars.\(name): a variable name is letters, digits and '_'")
            }
            var variable = Channel.Variable(name: name, secret: false, defaultValue: nil)
            if value.null == nil {
                for (key, optionNode, option) in try file.mapping(value, "vars.\(name)") {
                    switch key {
                    case "secret": variable.secret = try file.bool(option, "vars.\(name).secret")
                    case "default": variable.defaultValue = try file.string(option, "vars.\(name).default")
                    case "description": _ = try file.string(option, "vars.\(name).description")
                    default: throw unknown(optionNode, key, ["secret", "default", "description"], in: "vars.\(name)")
                    }
                }
            }
            if variable.secret, variable.defaultValue != nil {
                throw file.error(value, "vars.\(name): a secret has no default (it belongs in the config's channelVars)")
            }
            variables.append(variable)
        }
        return variables
    }

    // MARK: input

    func input(_ node: Node) throws(FileError) -> InputRules {
        var rules = InputRules()
        for (key, keyNode, value) in try file.mapping(node, "input") {
            switch key {
            case "verify": rules.verify = try checks(value, "input.verify")
            case "handshakes":
                for (index, item) in try file.sequence(value, "input.handshakes").enumerated() {
                    rules.handshakes.append(try handshake(item, "input.handshakes[\(index)]"))
                }
            case "messages":
                for (index, item) in try file.sequence(value, "input.messages").enumerated() {
                    rules.messages.append(try message(item, "input.messages[\(index)]"))
                }
            case "statuses":
                for (index, item) in try file.sequence(value, "input.statuses").enumerated() {
                    rules.statuses.append(try status(item, "input.statuses[\(index)]"))
                }
            case "reply": rules.reply = try reply(value, "input.reply", roots: Self.inputRoots)
            default: throw unknown(keyNode, key, ["verify", "handshakes", "messages", "statuses", "reply"], in: "input")
            }
        }
        if rules.messages.isEmpty { throw file.error(node, "input.messages: at least one message mapping is required") }
        return rules
    }

    func checks(_ node: Node, _ what: String) throws(FileError) -> [Check] {
        var checks: [Check] = []
        for (index, item) in try file.sequence(node, what).enumerated() {
            let where_ = "\(what)[\(index)]"
            let pairs = try file.mapping(item, where_)
            guard pairs.count == 1, let (kind, keyNode, body) = pairs.first else {
                throw file.error(item, "\(where_): one check, either equals: or hmac:")
            }
            switch kind {
            case "equals": checks.append(try equals(body, "\(where_).equals"))
            case "hmac": checks.append(try hmac(body, "\(where_).hmac"))
            default: throw unknown(keyNode, kind, ["equals", "hmac"], in: where_)
            }
        }
        return checks
    }

    func equals(_ node: Node, _ what: String) throws(FileError) -> Check {
        var name = "secret"
        var given: Template?
        var expected: Template?
        for (key, keyNode, value) in try file.mapping(node, what) {
            switch key {
            case "name": name = try file.string(value, "\(what).name")
            case "given": given = try template(value, "\(what).given", roots: Self.inputRoots)
            case "expected": expected = try template(value, "\(what).expected", roots: Self.inputRoots)
            default: throw unknown(keyNode, key, ["name", "given", "expected"], in: what)
            }
        }
        guard let given else { throw file.error(node, "\(what).given: is required (the value the request carries)") }
        guard let expected else { throw file.error(node, "\(what).expected: is required (usually a secret variable)") }
        return Check(name: name, kind: .equals(given: given, expected: expected))
    }

    func hmac(_ node: Node, _ what: String) throws(FileError) -> Check {
        var name = "signature"
        var algorithm: HMACCheck.Algorithm?
        var key: Template?
        var content: Template?
        var signature: Template?
        var prefix = ""
        var encoding = HMACCheck.Encoding.hex
        var timestamp: Template?
        var maxAge: Duration?
        let allowed = ["name", "algorithm", "key", "content", "signature", "prefix", "encoding", "timestamp", "maxAge"]
        for (optionKey, keyNode, value) in try file.mapping(node, what) {
            let field = "\(what).\(optionKey)"
            switch optionKey {
            case "name": name = try file.string(value, field)
            case "algorithm": algorithm = try oneOf(value, field)
            case "key": key = try template(value, field, roots: Self.inputRoots)
            case "content": content = try template(value, field, roots: Self.inputRoots)
            case "signature": signature = try template(value, field, roots: Self.inputRoots)
            case "prefix": prefix = try file.string(value, field)
            case "encoding": encoding = try oneOf(value, field)
            case "timestamp": timestamp = try template(value, field, roots: Self.inputRoots)
            case "maxAge":
                let text = try file.string(value, field)
                guard let duration = Duration(configText: text), duration > .zero else {
                    throw file.error(value, "\(field): '\(text)' is not a duration (write 300s or 5m)")
                }
                maxAge = duration
            default: throw unknown(keyNode, optionKey, allowed, in: what)
            }
        }
        guard let algorithm else { throw file.error(node, "\(what).algorithm: is required (sha1 or sha256)") }
        guard let key else { throw file.error(node, "\(what).key: is required (usually a secret variable)") }
        guard let content else { throw file.error(node, "\(what).content: is required (what the channel signs)") }
        guard let signature else { throw file.error(node, "\(what).signature: is required (where the request carries it)") }
        var freshness: (timestamp: Template, maxAge: Duration)?
        switch (timestamp, maxAge) {
        case (let timestamp?, let maxAge?): freshness = (timestamp, maxAge)
        case (nil, nil): freshness = nil
        default: throw file.error(node, "\(what): timestamp and maxAge go together")
        }
        return Check(
            name: name,
            kind: .hmac(
                HMACCheck(
                    algorithm: algorithm, key: key, content: content, signature: signature, prefix: prefix, encoding: encoding,
                    freshness: freshness)))
    }

    /// A word that must be one of `Word`'s cases (`sha256`, `base64`); the error lists them.
    func oneOf<Word: RawRepresentable & CaseIterable>(_ node: Node, _ what: String) throws(FileError) -> Word where Word.RawValue == String {
        let text = try file.string(node, what)
        guard let word = Word(rawValue: text) else {
            throw file.error(node, "\(what): '\(text)' is not \(Word.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        return word
    }

    func handshake(_ node: Node, _ what: String) throws(FileError) -> Handshake {
        var method = "POST"
        var when: Expression?
        var verify: [Check] = []
        var reply: ReplyRule?
        for (key, keyNode, value) in try file.mapping(node, what) {
            switch key {
            case "method":
                let text = try file.string(value, "\(what).method").uppercased()
                guard text == "GET" || text == "POST" else { throw file.error(value, "\(what).method: '\(text)' is not GET or POST") }
                method = text
            case "when": when = try expression(value, "\(what).when", roots: Self.inputRoots)
            case "verify": verify = try checks(value, "\(what).verify")
            case "reply": reply = try self.reply(value, "\(what).reply", roots: Self.inputRoots)
            default: throw unknown(keyNode, key, ["method", "when", "verify", "reply"], in: what)
            }
        }
        guard let when else { throw file.error(node, "\(what).when: is required (which requests this handshake answers)") }
        guard let reply else { throw file.error(node, "\(what).reply: is required (the answer)") }
        return Handshake(method: method, when: when, verify: verify, reply: reply)
    }

    func reply(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> ReplyRule {
        var rule = ReplyRule()
        for (key, keyNode, value) in try file.mapping(node, what) {
            switch key {
            case "status":
                let status = try file.int(value, "\(what).status")
                guard (200..<600).contains(status) else { throw file.error(value, "\(what).status: \(status) is not an HTTP status") }
                rule.status = status
            case "contentType": rule.contentType = try file.string(value, "\(what).contentType")
            case "body": rule.body = try template(value, "\(what).body", roots: roots)
            case "json": rule.json = try valueTemplate(value, "\(what).json", roots: roots)
            default: throw unknown(keyNode, key, ["status", "contentType", "body", "json"], in: what)
            }
        }
        if rule.body != nil, rule.json != nil { throw file.error(node, "\(what): one body, body or json") }
        if rule.json != nil, rule.contentType == nil { rule.contentType = "application/json" }
        return rule
    }

    /// `each:` (nested loops, in order; later lists may use earlier names) and `let:` (values
    /// in order) of a rule, and the names they add to `roots`.
    func loopsAndLets(
        _ pairs: [(key: String, keyNode: Node, value: Node)], _ what: String, roots: Set<String>
    ) throws(FileError) -> (each: [(name: String, list: Expression)], lets: LetValues, roots: Set<String>) {
        var roots = roots
        var each: [(name: String, list: Expression)] = []
        if let (_, _, eachNode) = pairs.first(where: { $0.key == "each" }) {
            for (name, keyNode, value) in try file.mapping(eachNode, "\(what).each") {
                try freeName(name, keyNode, "\(what).each", roots: roots)
                each.append((name, try expression(value, "\(what).each.\(name)", roots: roots)))
                roots.insert(name)
            }
        }
        var lets: LetValues = []
        if let (_, _, letNode) = pairs.first(where: { $0.key == "let" }) {
            (lets, roots) = try self.lets(letNode, "\(what).let", roots: roots)
        }
        return (each, lets, roots)
    }

    /// `let: {name: value, ...}`: each value may use the names before it.
    func lets(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> (LetValues, Set<String>) {
        var roots = roots
        var lets: LetValues = []
        for (name, keyNode, value) in try file.mapping(node, what) {
            try freeName(name, keyNode, what, roots: roots)
            lets.append((name, try valueTemplate(value, "\(what).\(name)", roots: roots)))
            roots.insert(name)
        }
        return (lets, roots)
    }

    /// A name for a loop variable or a `let` value: letters, digits and `_`, not a root.
    func freeName(_ name: String, _ keyNode: Node, _ what: String, roots: Set<String>) throws(FileError) {
        guard let first = name.first, first.isLetter || first == "_", name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
            !roots.contains(name), !Self.reservedNames.contains(name),
            !["true", "false", "null"].contains(name)
        else { throw file.error(keyNode, "\(what).\(name): not a free name (letters, digits and _, not a root or a name already used)") }
    }

    func message(_ node: Node, _ what: String) throws(FileError) -> MessageRule {
        var data: ValueTemplate?
        var reply: ReplyRule?
        let rule = try inputRule(node, what, templates: ["id", "userId", "sessionId", "text"], others: ["data", "reply"]) {
            (key, value, field, roots) throws(FileError) in
            switch key {
            case "data": data = try valueTemplate(value, field, roots: roots)
            default: reply = try self.reply(value, field, roots: roots)  // "reply", the other of `others`
            }
        }
        guard let userId = rule.templates["userId"] else { throw file.error(node, "\(what).userId: is required") }
        guard let sessionId = rule.templates["sessionId"] else { throw file.error(node, "\(what).sessionId: is required") }
        let text = rule.templates["text"]
        guard text != nil || data != nil else { throw file.error(node, "\(what): needs text or data") }
        return MessageRule(
            each: rule.each, lets: rule.lets, when: rule.when, id: rule.templates["id"], userId: userId, sessionId: sessionId, text: text, data: data,
            reply: reply)
    }

    func status(_ node: Node, _ what: String) throws(FileError) -> StatusRule {
        let rule = try inputRule(node, what, templates: ["messageId", "status", "at", "error"])
        guard let messageId = rule.templates["messageId"] else {
            throw file.error(node, "\(what).messageId: is required (the channel's id of the message)")
        }
        guard let status = rule.templates["status"] else {
            throw file.error(node, "\(what).status: is required (sent, delivered, read, failed, ...)")
        }
        return StatusRule(
            each: rule.each, lets: rule.lets, when: rule.when, messageId: messageId, status: status, at: rule.templates["at"],
            error: rule.templates["error"])
    }

    /// What every rule of `input` (a message, a status) has in common: `each` and `let`, whose
    /// names are roots for everything else in it; `when`; and the keys whose value is a
    /// template, by name.
    struct InputRuleKeys {
        var each: [(name: String, list: Expression)]
        var lets: LetValues
        var when: Expression?
        var templates: [String: Template] = [:]
    }

    /// Reads an input rule's mapping: `each`, `let`, `when`, the `templates` keys, and the
    /// `others`, which `read` gets with their field path and the rule's roots. Any other key
    /// is an error naming them all, in that order.
    func inputRule(
        _ node: Node, _ what: String, templates: [String], others: [String] = [],
        read: (_ key: String, _ value: Node, _ field: String, _ roots: Set<String>) throws(FileError) -> Void = { _, _, _, _ in }
    ) throws(FileError) -> InputRuleKeys {
        let pairs = try file.mapping(node, what)
        let (each, lets, roots) = try loopsAndLets(pairs, what, roots: Self.inputRoots)
        var rule = InputRuleKeys(each: each, lets: lets)
        let allowed = ["each", "let", "when"] + templates + others
        for (key, keyNode, value) in pairs {
            let field = "\(what).\(key)"
            switch key {
            case "each", "let": break
            case "when": rule.when = try expression(value, field, roots: roots)
            case _ where templates.contains(key): rule.templates[key] = try template(value, field, roots: roots)
            case _ where others.contains(key): try read(key, value, field, roots)
            default: throw unknown(keyNode, key, allowed, in: what)
            }
        }
        return rule
    }

    // MARK: output

    func output(_ node: Node) throws(FileError) -> OutputRules {
        var rules = OutputRules(url: Template.empty)
        // The base request's fields, read as a variant's are; `when` stays unused.
        var request = OutputRules.Variant(when: Self.never)
        let pairs = try file.mapping(node, "output")
        // `let` first: its names are roots for everything else.
        var roots = Self.outputRoots
        if let (_, _, letNode) = pairs.first(where: { $0.key == "let" }) {
            (rules.lets, roots) = try lets(letNode, "output.let", roots: roots)
        }
        let responseRoots = roots.union(Self.responseRoots)
        let allowed = ["let"] + Self.requestKeys + ["variants", "success", "retryAfter", "retry", "dead", "error", "messageId"]
        for (key, keyNode, value) in pairs {
            let field = "output.\(key)"
            switch key {
            case "let": break
            case _ where Self.requestKeys.contains(key):
                try requestField(key, keyNode, value, field, roots: roots, into: &request, owner: "output")
            case "variants":
                for (index, item) in try file.sequence(value, field).enumerated() {
                    rules.variants.append(try variant(item, "\(field)[\(index)]", roots: roots))
                }
            case "success": rules.success = try expression(value, field, roots: responseRoots)
            case "retryAfter": rules.retryAfter = try expression(value, field, roots: responseRoots)
            case "retry": rules.retry = try expression(value, field, roots: responseRoots)
            case "dead": rules.dead = try expression(value, field, roots: responseRoots)
            case "error": rules.error = try template(value, field, roots: responseRoots)
            case "messageId": rules.messageId = try expression(value, field, roots: responseRoots)
            default: throw unknown(keyNode, key, allowed, in: "output")
            }
        }
        guard let url = request.url else { throw file.error(node, "output.url: is required (where to send each output)") }
        rules.url = url
        rules.method = request.method ?? rules.method
        rules.headers = request.headers ?? rules.headers
        rules.auth = request.auth
        rules.body = request.body
        return rules
    }

    /// The fields of the request to send, in `output` and in each of its variants (whose
    /// fields replace the base's).
    static let requestKeys = ["method", "url", "headers", "auth", "json", "form"]

    /// Reads one of ``requestKeys`` into `request`; `owner` names what has only one body
    /// (`output`, `a variant`).
    func requestField(
        _ key: String, _ keyNode: Node, _ value: Node, _ field: String, roots: Set<String>, into request: inout OutputRules.Variant, owner: String
    ) throws(FileError) {
        switch key {
        case "method": request.method = try method(value, field)
        case "url": request.url = try template(value, field, roots: roots)
        case "headers": request.headers = try headers(value, field, roots: roots)
        case "auth": request.auth = try auth(value, field, roots: roots)
        default:
            guard request.body == nil else { throw file.error(keyNode, "\(field): \(owner) has one body, json or form") }
            let body = try valueTemplate(value, field, roots: roots)
            request.body = key == "json" ? .json(body) : .form(body)
        }
    }

    func method(_ node: Node, _ what: String) throws(FileError) -> String {
        let method = try file.string(node, what).uppercased()
        guard ["POST", "PUT", "PATCH", "GET", "DELETE"].contains(method) else {
            throw file.error(node, "\(what): '\(method)' is not POST, PUT, PATCH, GET or DELETE")
        }
        return method
    }

    func headers(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> [(name: String, value: Template)] {
        var headers: [(name: String, value: Template)] = []
        for (name, headerKey, headerValue) in try file.mapping(node, what) {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw file.error(headerKey, "\(what).\(name): not a header name")
            }
            headers.append((name, try template(headerValue, "\(what).\(name)", roots: roots)))
        }
        return headers
    }

    /// One of `output.variants`: `when`, and the request fields it replaces.
    func variant(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> OutputRules.Variant {
        var variant = OutputRules.Variant(when: Self.never)
        var when: Expression?
        for (key, keyNode, value) in try file.mapping(node, what) {
            let field = "\(what).\(key)"
            switch key {
            case "when": when = try expression(value, field, roots: roots)
            case _ where Self.requestKeys.contains(key):
                try requestField(key, keyNode, value, field, roots: roots, into: &variant, owner: "a variant")
            default: throw unknown(keyNode, key, ["when"] + Self.requestKeys, in: what)
            }
        }
        guard let when else { throw file.error(node, "\(what).when: is required (which outputs this variant is for)") }
        variant.when = when
        return variant
    }

    func auth(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> OutputRules.Auth {
        let pairs = try file.mapping(node, what)
        guard pairs.count == 1, let (kind, keyNode, value) = pairs.first else { throw file.error(node, "\(what): one of basic or bearer") }
        switch kind {
        case "bearer": return .bearer(try template(value, "\(what).bearer", roots: roots))
        case "basic":
            var user: Template?
            var password: Template?
            for (key, fieldKey, fieldValue) in try file.mapping(value, "\(what).basic") {
                switch key {
                case "user": user = try template(fieldValue, "\(what).basic.user", roots: roots)
                case "password": password = try template(fieldValue, "\(what).basic.password", roots: roots)
                default: throw unknown(fieldKey, key, ["user", "password"], in: "\(what).basic")
                }
            }
            guard let user, let password else { throw file.error(value, "\(what).basic: needs user and password") }
            return .basic(user: user, password: password)
        default: throw unknown(keyNode, kind, ["basic", "bearer"], in: what)
        }
    }

    // MARK: values

    func template(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> Template {
        guard case .scalar(let scalar) = node else { throw file.error(node, "\(what): must be a text") }
        do {
            return try Template(parsing: scalar.string, variables: roots)
        } catch {
            throw file.error(node, "\(what): bad template \"\(scalar.string)\": \(error)")
        }
    }

    func expression(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> Expression {
        guard case .scalar(let scalar) = node else { throw file.error(node, "\(what): needs an expression") }
        let trimmed = scalar.string.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}") {
            throw file.error(node, "\(what): takes an expression without {{ }}")
        }
        do {
            return try Expression(parsing: scalar.string, variables: roots)
        } catch {
            throw file.error(node, "\(what): bad expression \"\(scalar.string)\": \(error)")
        }
    }

    func valueTemplate(_ node: Node, _ what: String, roots: Set<String>) throws(FileError) -> ValueTemplate {
        switch node {
        case .scalar(let scalar):
            let literal = file.json(node)
            guard case .string = literal, scalar.string.contains("{{") else { return .literal(literal) }
            return .template(try template(node, what, roots: roots))
        case .mapping:
            let members = try file.mapping(node, what)
            if members.contains(where: { $0.key.hasPrefix("$") }) { return try construct(node, members, what, roots: roots) }
            var pairs: [(key: String, value: ValueTemplate)] = []
            for (key, _, value) in members {
                pairs.append((key, try valueTemplate(value, "\(what).\(key)", roots: roots)))
            }
            return .object(pairs)
        case .sequence(let sequence):
            var values: [ValueTemplate] = []
            for (index, element) in sequence.enumerated() { values.append(try valueTemplate(element, "\(what)[\(index)]", roots: roots)) }
            return .array(values)
        case .alias:
            throw file.error(node, "\(what): YAML aliases are not supported here")
        }
    }
}

extension ChannelLoader {
    /// A mapping with `$` keys: `$each` (a list mapped from lists, with `$when`, `$index` and
    /// `$value`), or `$when` (the mapping's other keys, or `$value`, only when it holds).
    func construct(
        _ node: Node, _ members: [(key: String, keyNode: Node, value: Node)], _ what: String, roots: Set<String>
    ) throws(FileError) -> ValueTemplate {
        let constructs = ["$each", "$when", "$index", "$value"]
        var special: [String: (keyNode: Node, value: Node)] = [:]
        var plain: [(key: String, keyNode: Node, value: Node)] = []
        for member in members {
            if member.key.hasPrefix("$") {
                guard constructs.contains(member.key) else { throw unknown(member.keyNode, member.key, constructs, in: what) }
                special[member.key] = (member.keyNode, member.value)
            } else {
                plain.append(member)
            }
        }
        var inner = roots
        if let (eachKey, eachNode) = special["$each"] {
            var bindings: [ValueLoop.Binding] = []
            for (name, keyNode, value) in try file.mapping(eachNode, "\(what).$each") {
                try freeName(name, keyNode, "\(what).$each", roots: inner)
                bindings.append(ValueLoop.Binding(name: name, list: try expression(value, "\(what).$each.\(name)", roots: inner)))
                inner.insert(name)
            }
            guard !bindings.isEmpty else { throw file.error(eachKey, "\(what).$each: names at least one list ({name: expression})") }
            var index: String?
            if let (indexKey, indexNode) = special["$index"] {
                let name = try file.string(indexNode, "\(what).$index")
                try freeName(name, indexKey, "\(what).$index", roots: inner)
                index = name
                inner.insert(name)
            }
            if let extra = plain.first {
                throw file.error(extra.keyNode, "\(what).\(extra.key): a $each mapping takes only $each, $when, $index and $value")
            }
            guard let (_, valueNode) = special["$value"] else {
                throw file.error(node, "\(what).$value: is required with $each (the value per element)")
            }
            let filter = try special["$when"].map { (_, whenNode) throws(FileError) in try expression(whenNode, "\(what).$when", roots: inner) }
            let value = try valueTemplate(valueNode, "\(what).$value", roots: inner)
            return .each(ValueLoop(bindings: bindings, filter: filter, index: index, value: value))
        }
        if let (indexKey, _) = special["$index"] { throw file.error(indexKey, "\(what).$index: goes with $each") }
        guard let (_, whenNode) = special["$when"] else { throw file.error(node, "\(what): $value goes with $each or $when") }
        let condition = try expression(whenNode, "\(what).$when", roots: roots)
        if let (_, valueNode) = special["$value"] {
            if let extra = plain.first {
                throw file.error(extra.keyNode, "\(what).\(extra.key): with $value, a $when mapping takes no other keys")
            }
            return .when(condition, try valueTemplate(valueNode, "\(what).$value", roots: roots))
        }
        var pairs: [(key: String, value: ValueTemplate)] = []
        for (key, _, value) in plain { pairs.append((key, try valueTemplate(value, "\(what).\(key)", roots: roots))) }
        return .when(condition, .object(pairs))
    }
}

extension ChannelLoader {
    /// A placeholder condition until a variant's `when` is read.
    // A literal parses.
    static let never: Expression = try! Expression(parsing: "false")
}

extension Template {
    /// A template with no text at all (a placeholder until `output.url` is read).
    // An empty string has no `{{`, so parsing it cannot fail.
    static let empty: Template = try! Template(parsing: "")
}
