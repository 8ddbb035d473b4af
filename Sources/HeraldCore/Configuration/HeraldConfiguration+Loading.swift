import Foundation
import Yams

extension HeraldConfiguration {
    /// Reads a config file (SPEC §6): `${NAME}` (or `${NAME:-default}`) in any value is replaced
    /// by the environment variable; flows are loaded relative to the file. Every problem is one
    /// ``FileError`` naming the file, the line, the key and the reason.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(FileError)
        -> HeraldConfiguration
    {
        try ConfigurationLoader(file: YAMLFile(path: path), environment: environment).load()
    }

    /// Reads a config file like ``load(path:environment:)``, but reports every problem it
    /// finds: each endpoint is checked on its own, and a broken flow file gives all its errors.
    public static func check(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<
        HeraldConfiguration, ConfigurationErrors
    > {
        var errors: [FileError] = []
        do throws(FileError) {
            let loader = ConfigurationLoader(file: try YAMLFile(path: path), environment: environment)
            let configuration = try loader.load(collecting: &errors)
            if errors.isEmpty { return .success(configuration) }
        } catch {
            if !errors.contains(error) { errors.append(error) }
        }
        return .failure(ConfigurationErrors(errors: errors))
    }

    /// An endpoint made through the admin API (SPEC §14): `settings` has the fields of a config
    /// file's endpoint, without `flow` (given here, already loaded). Values are taken as they are
    /// (no `${NAME}`: an API caller must not read Herald's environment); channel files are
    /// relative to the config file. Errors name the field, as `endpoint.webhook.url: …`.
    public func endpoint(settings: JSON, flow: Flow) throws(FileError) -> Endpoint {
        let file = try YAMLFile(path: "endpoint", text: settings.jsonString)
        var loader = ConfigurationLoader(file: file, environment: [:], configFile: self.file)
        loader.substitutes = false
        loader.givenFlow = flow
        var endpoint = try loader.endpoint(file.root, "endpoint")
        if let publicUrl, endpoint.channel != nil {
            let urlToken = endpoint.urlToken
            endpoint.channel?.callbackUrl = publicUrl + "/" + urlToken
        }
        return endpoint
    }

    /// Names the routes use, which cannot be a `urlToken`.
    public static let reservedTokens: Set<String> = ["inject", "notify", "admin", "healthz", "readyz", "metrics", "openapi.yaml", "console"]
}

/// Every problem a config file has, each as `file:line: reason`.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [FileError]

    public init(errors: [FileError]) {
        self.errors = errors
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

private struct ConfigurationLoader {
    let file: YAMLFile
    let environment: [String: String]
    /// Paths are relative to this file's folder (the config file; `file` itself unless an
    /// endpoint comes from the admin API).
    var configFile: String?
    /// `${NAME}` is replaced by the environment variable (not in what the admin API is given).
    var substitutes = true
    /// The flow of an endpoint made through the admin API, instead of a flow file.
    var givenFlow: Flow?

    init(file: YAMLFile, environment: [String: String], configFile: String? = nil) {
        self.file = file
        self.environment = environment
        self.configFile = configFile
    }

    func error(_ node: Node?, _ key: String, _ reason: String) -> FileError {
        file.error(node, "\(key): \(reason)")
    }

    /// A scalar's text with `${NAME}` substituted.
    func string(_ node: Node, _ key: String) throws(FileError) -> String {
        guard case .scalar(let scalar) = node else { throw error(node, key, "must be a text value") }
        return try substitute(scalar.string, node, key)
    }

    func substitute(_ text: String, _ node: Node, _ key: String) throws(FileError) -> String {
        guard substitutes, text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw error(node, key, "'${' without a closing '}'")
            }
            let reference = rest[start.upperBound..<end]
            var name = String(reference)
            var fallback: String?
            if let separator = reference.range(of: ":-") {
                name = String(reference[..<separator.lowerBound])
                fallback = String(reference[separator.upperBound...])
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw error(node, key, "'${\(reference)}' is not a variable name")
            }
            if let value = environment[name] {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                throw error(node, key, "environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    func secret(_ node: Node, _ key: String) throws(FileError) -> Secret {
        Secret(try string(node, key))
    }

    func duration(_ node: Node, _ key: String) throws(FileError) -> Duration {
        let text = try string(node, key)
        guard let duration = Duration(configText: text), duration > .zero else {
            throw error(node, key, "'\(text)' is not a duration (write 500ms, 15s, 30m, 2h or 1d)")
        }
        return duration
    }

    func positiveInt(_ node: Node, _ key: String) throws(FileError) -> Int {
        let text = try string(node, key)
        guard let value = Int(text), value > 0 else { throw error(node, key, "must be a whole number above 0") }
        return value
    }

    func listen(_ node: Node, _ key: String) throws(FileError) -> ListenAddress {
        let text = try string(node, key)
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw error(node, key, "'\(text)' is not host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw error(node, key, "'\(text)' has no host (write 127.0.0.1:\(port) or 0.0.0.0:\(port))") }
        return ListenAddress(host: host, port: port)
    }

    func keys(_ node: Node, _ key: String) throws(FileError) -> [(key: String, keyNode: Node, value: Node)] {
        do {
            return try file.mapping(node, key)
        } catch {
            throw self.error(node, key, "must be a mapping")
        }
    }

    func unknown(_ keyNode: Node, _ key: String, in section: String, allowed: [String]) -> FileError {
        error(keyNode, section.isEmpty ? key : "\(section).\(key)", "unknown key (expected one of \(allowed.joined(separator: ", ")))")
    }

    func load() throws(FileError) -> HeraldConfiguration {
        var errors: [FileError] = []
        let configuration = try load(collecting: &errors)
        if let first = errors.first { throw first }
        return configuration
    }

    /// Reads the file; a problem with one endpoint is added to `errors` and the others are still
    /// read (a flow file's problems all of them), so a reload can name every problem at once.
    /// A problem outside the endpoints is thrown.
    func load(collecting errors: inout [FileError]) throws(FileError) -> HeraldConfiguration {
        var configuration = HeraldConfiguration(file: file.path, storage: .sqlite(path: "./herald.sqlite"), endpoints: [])
        var endpointsNode: Node?
        let topKeys = ["listen", "admin", "storage", "endpoints", "maxBodySize", "outboxLease", "history", "maxScheduleDelay", "publicUrl", "log", "tracing"]
        for (key, keyNode, value) in try keys(file.root, "the config") {
            switch key {
            case "listen": configuration.listen = try listen(value, key)
            case "maxBodySize": configuration.maxBodySize = try byteSize(value, key)
            case "outboxLease": configuration.outboxLease = try duration(value, key)
            case "history": configuration.history = try duration(value, key)
            case "maxScheduleDelay": configuration.maxScheduleDelay = try duration(value, key)
            case "storage": configuration.storage = try storage(value, key)
            case "endpoints": endpointsNode = value
            case "log":
                try eachKey(value, "log", allowed: ["format", "level"]) { logKey, logValue, _ throws(FileError) in
                    switch logKey {
                    case "format":
                        let text = try string(logValue, "log.format")
                        guard let format = LogSettings.Format(rawValue: text) else {
                            throw error(logValue, "log.format", "'\(text)' is not text or json")
                        }
                        configuration.log.format = format
                    case "level":
                        let text = try string(logValue, "log.level")
                        guard LogSettings.levels.contains(text) else {
                            throw error(logValue, "log.level", "'\(text)' is not one of \(LogSettings.levels.joined(separator: ", "))")
                        }
                        configuration.log.level = text
                    default: break
                    }
                }
            case "tracing": configuration.tracing = try tracing(value, key)
            case "publicUrl":
                let url = try string(value, key)
                let lower = url.lowercased()
                guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.count > 8 else {
                    throw error(value, key, "'\(url)' is not an http:// or https:// URL")
                }
                configuration.publicUrl = url.hasSuffix("/") ? String(url.dropLast()) : url
            case "admin":
                for (adminKey, adminKeyNode, adminValue) in try keys(value, "admin") {
                    switch adminKey {
                    case "keys":
                        guard case .sequence(let sequence) = adminValue else { throw error(adminValue, "admin.keys", "must be a list") }
                        configuration.adminKeys = []
                        for (index, element) in sequence.enumerated() {
                            let key = try adminKeyEntry(element, "admin.keys[\(index)]", position: index)
                            if let other = configuration.adminKeys.first(where: { $0.name == key.name }) {
                                throw error(element, "admin.keys[\(index)].name", "'\(key.name)' is already the name of another key (\(other.name))")
                            }
                            configuration.adminKeys.append(key)
                        }
                    case "listen": configuration.adminListen = try listen(adminValue, "admin.listen")
                    default: throw unknown(adminKeyNode, adminKey, in: "admin", allowed: ["keys", "listen"])
                    }
                }
            default: throw unknown(keyNode, key, in: "", allowed: topKeys)
            }
        }
        guard let endpointsNode, case .sequence(let items) = endpointsNode, !items.isEmpty else {
            throw error(endpointsNode ?? file.root, "endpoints", "at least one endpoint is required")
        }
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let endpoint: Endpoint
            do throws(FileError) {
                endpoint = try self.endpoint(item, "endpoints[\(index)]")
            } catch {
                // A flow file's error: report all of that file's errors.
                let flowErrors = error.file != file.path ? Flow.check(path: error.file).errors : []
                errors += flowErrors.isEmpty ? [error] : flowErrors
                continue
            }
            if let line = seen[endpoint.urlToken] {
                errors.append(error(item, "endpoints[\(index)].urlToken", "'\(endpoint.urlToken)' is already used on line \(line)"))
                continue
            }
            seen[endpoint.urlToken] = item.mark?.line ?? 0
            configuration.endpoints.append(endpoint)
        }
        if let publicUrl = configuration.publicUrl {
            for index in configuration.endpoints.indices where configuration.endpoints[index].channel != nil {
                let urlToken = configuration.endpoints[index].urlToken
                configuration.endpoints[index].channel?.callbackUrl = publicUrl + "/" + urlToken
            }
        }
        if configuration.adminKeys.isEmpty {
            throw error(file.root, "admin.keys", "at least one admin key is required (the admin API is never open)")
        }
        return configuration
    }

    /// A plain key (every scope), or `{name, key, scopes: [read | operate | admin]}`.
    func adminKeyEntry(_ node: Node, _ section: String, position: Int) throws(FileError) -> AdminKey {
        guard case .mapping = node else {
            let secret = try secret(node, section)
            guard !secret.value.isEmpty else { throw error(node, section, "is empty") }
            return AdminKey(plain: secret, position: position)
        }
        var name: String?
        var secret: Secret?
        var scopes: [AdminScope]?
        for (key, keyNode, value) in try keys(node, section) {
            let field = "\(section).\(key)"
            switch key {
            case "name":
                let text = try string(value, field)
                guard !text.isEmpty, text.utf8.count <= 64, !text.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                    throw error(value, field, "must be 1 to 64 characters without spaces")
                }
                name = text
            case "key":
                secret = try self.secret(value, field)
                guard !(secret?.value.isEmpty ?? true) else { throw error(value, field, "is empty") }
            case "scopes":
                guard case .sequence(let sequence) = value, !sequence.isEmpty else {
                    throw error(value, field, "must be a list of read, operate, admin")
                }
                scopes = []
                for (index, element) in sequence.enumerated() {
                    let text = try string(element, "\(field)[\(index)]")
                    guard let scope = AdminScope(rawValue: text) else {
                        throw error(element, "\(field)[\(index)]", "'\(text)' is not one of read, operate, admin")
                    }
                    scopes?.append(scope)
                }
            default: throw unknown(keyNode, key, in: section, allowed: ["name", "key", "scopes"])
            }
        }
        guard let name else { throw error(node, "\(section).name", "is required (it names the key in the audit log)") }
        guard let secret else { throw error(node, "\(section).key", "is required") }
        guard let scopes else { throw error(node, "\(section).scopes", "is required (read, operate and/or admin)") }
        return AdminKey(name: name, key: secret, scope: scopes.max()!)
    }

    /// `tracing: {otlp: {endpoint, headers, protocol}, sampleRatio, exportInterval}`.
    func tracing(_ node: Node, _ section: String) throws(FileError) -> TracingSettings {
        var settings = TracingSettings(endpoint: "")
        var otlpNode: Node?
        try eachKey(node, section, allowed: ["otlp", "sampleRatio", "exportInterval"]) { key, value, name throws(FileError) in
            switch key {
            case "otlp":
                otlpNode = value
                try eachKey(value, name, allowed: ["endpoint", "headers", "protocol"]) { otlpKey, otlpValue, otlpName throws(FileError) in
                    switch otlpKey {
                    case "endpoint":
                        settings.endpoint = try string(otlpValue, otlpName)
                        let lower = settings.endpoint.lowercased()
                        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                            throw error(otlpValue, otlpName, "'\(settings.endpoint)' is not an http:// or https:// URL (OTLP/HTTP, e.g. http://127.0.0.1:4318)")
                        }
                    case "headers":
                        for (header, _, headerValue) in try keys(otlpValue, otlpName) {
                            settings.headers.append((header, try secret(headerValue, "\(otlpName).\(header)")))
                        }
                    default:
                        let text = try string(otlpValue, otlpName)
                        guard let value = TracingSettings.OTLPProtocol(rawValue: text) else {
                            throw error(otlpValue, otlpName, "'\(text)' is not http/protobuf or http/json")
                        }
                        settings.otlpProtocol = value
                    }
                }
            case "sampleRatio":
                guard let ratio = value.float, (0...1).contains(ratio) else { throw error(value, name, "must be a number from 0 to 1") }
                settings.sampleRatio = ratio
            default: settings.exportInterval = try duration(value, name)
            }
        }
        guard let otlpNode, !settings.endpoint.isEmpty else {
            throw error(otlpNode ?? node, "\(section).otlp.endpoint", "is required (the collector's OTLP/HTTP URL, e.g. http://127.0.0.1:4318)")
        }
        return settings
    }

    /// Reads a section's keys in file order: `read` gets each allowed key with its value and
    /// full name (`section.key`); any other key is an error naming the allowed ones.
    func eachKey(
        _ node: Node, _ section: String, allowed: [String], _ read: (String, Node, String) throws(FileError) -> Void
    ) throws(FileError) {
        for (key, keyNode, value) in try keys(node, section) {
            guard allowed.contains(key) else { throw unknown(keyNode, key, in: section, allowed: allowed) }
            try read(key, value, "\(section).\(key)")
        }
    }

    /// An endpoint's `handover: {webhook: {...}, idleTimeout: 10m}`.
    func handover(_ node: Node, _ section: String) throws(FileError) -> HandoverSettings {
        var settings = HandoverSettings()
        try eachKey(node, section, allowed: ["webhook", "idleTimeout"]) { key, value, name throws(FileError) in
            switch key {
            case "webhook": settings.webhook = try webhook(value, name)
            case "idleTimeout": settings.idleTimeout = try duration(value, name)
            default: break
            }
        }
        return settings
    }

    func byteSize(_ node: Node, _ key: String) throws(FileError) -> Int {
        let text = try string(node, key).replacingOccurrences(of: " ", with: "")
        let units: [(String, Int)] = [("KiB", 1024), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000), ("B", 1), ("", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let number = Int(text.dropLast(suffix.count)), number > 0 { return number * factor }
        }
        throw error(node, key, "'\(text)' is not a size (write 1048576, 512KiB or 1MiB)")
    }

    func storage(_ node: Node, _ key: String) throws(FileError) -> StorageLocation {
        let text = try string(node, key)
        if text == "memory" { return .memory }
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw error(node, key, "sqlite: needs a file path, e.g. sqlite:./herald.sqlite") }
            return .sqlite(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") { return .postgres(url: Secret(text)) }
        throw error(node, key, "'\(StorageLocation.redacted(text))' is not a store (memory, sqlite:PATH or postgres://user:pass@host/db)")
    }

    func endpoint(_ node: Node, _ section: String) throws(FileError) -> Endpoint {
        let allowed = ["urlToken", "flow", "webhook", "apiKeys", "sessionTTL", "channel", "channelVars", "handover", "statusWebhook", "calls"]
        var urlToken: String?
        var flowPath: (String, Node)?
        var webhook: WebhookSettings?
        var webhookNode: Node?
        var channelPath: (String, Node)?
        var channelVars: (vars: [String: Secret], lines: [String: Int], node: Node)?
        var apiKeys: [Secret] = []
        var ttl = Duration.seconds(1800)
        var handover = HandoverSettings()
        var statusWebhook: WebhookSettings?
        var calls = CallSettings()
        for (key, keyNode, value) in try keys(node, section) {
            let name = "\(section).\(key)"
            switch key {
            case "urlToken":
                let token = try string(value, name)
                guard !token.isEmpty, token.utf8.count <= 128,
                    token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) })
                else { throw error(value, name, "'\(token)' must be 1 to 128 letters, digits, '-', '_', '.' or '~'") }
                guard !HeraldConfiguration.reservedTokens.contains(token) else {
                    throw error(value, name, "'\(token)' is a reserved route name")
                }
                urlToken = token
            case "flow": flowPath = (try string(value, name), value)
            case "webhook":
                webhook = try self.webhook(value, name, urlRequired: !endpointHasChannel(node))
                webhookNode = value
            case "apiKeys":
                guard case .sequence(let sequence) = value else { throw error(value, name, "must be a list") }
                apiKeys = []
                for (index, element) in sequence.enumerated() {
                    let secret = try secret(element, "\(name)[\(index)]")
                    guard !secret.value.isEmpty else { throw error(element, "\(name)[\(index)]", "is empty") }
                    apiKeys.append(secret)
                }
            case "sessionTTL": ttl = try duration(value, name)
            case "handover": handover = try self.handover(value, name)
            case "statusWebhook": statusWebhook = try self.webhook(value, name)
            case "calls": calls = try self.calls(value, name)
            case "channel": channelPath = (try string(value, name), value)
            case "channelVars":
                var vars: [String: Secret] = [:]
                var lines: [String: Int] = [:]
                for (varName, varKeyNode, varValue) in try keys(value, name) {
                    vars[varName] = try secret(varValue, "\(name).\(varName)")
                    lines[varName] = varKeyNode.mark?.line
                }
                channelVars = (vars, lines, value)
            default: throw unknown(keyNode, key, in: section, allowed: allowed)
            }
        }
        guard let urlToken else { throw error(node, "\(section).urlToken", "is required") }
        guard givenFlow != nil || flowPath != nil else { throw error(node, "\(section).flow", "is required (a flow file)") }
        var channel: ChannelReference?
        if let (channelFile, channelNode) = channelPath {
            let resolved = resolve(channelFile)
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw error(channelNode, "\(section).channel", "channel file '\(resolved)' does not exist")
            }
            channel = ChannelReference(
                path: resolved, vars: channelVars?.vars ?? [:], varLines: channelVars?.lines ?? [:], configFile: file.path,
                line: channelNode.mark?.line)
        } else if let channelVars {
            throw error(channelVars.node, "\(section).channelVars", "needs a channel (channel: FILE)")
        }
        // A channel endpoint's output says where to send; its webhook section only tunes
        // timeouts and retries, so it may be left out, and what it cannot apply is an error
        // rather than silently unused.
        if channel != nil, let webhookNode = webhookNode {
            for (key, keyNode, _) in try keys(webhookNode, "\(section).webhook")
            where ["url", "user", "password", "signingSecret", "format"].contains(key) {
                throw error(
                    keyNode, "\(section).webhook.\(key)", "does not apply to a channel endpoint (its channel file says where and how to send)")
            }
        }
        guard let webhook = webhook ?? (channel != nil ? WebhookSettings(url: "") : nil) else {
            throw error(node, "\(section).webhook", "is required (at least webhook.url)")
        }
        let flow: Flow
        if let givenFlow {
            flow = givenFlow
        } else if let (path, pathNode) = flowPath {
            let resolved = resolve(path)
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw error(pathNode, "\(section).flow", "flow file '\(resolved)' does not exist")
            }
            flow = try Flow.load(path: resolved)
        } else {
            throw error(node, "\(section).flow", "is required (a flow file)")
        }
        try checkCalls(flow, calls, urlToken: urlToken)
        var endpoint = Endpoint(urlToken: urlToken, flow: flow, webhook: webhook, apiKeys: apiKeys, sessionTTL: ttl, channel: channel)
        endpoint.handover = handover
        endpoint.statusWebhook = statusWebhook
        endpoint.calls = calls
        return endpoint
    }

    /// The url when it is written out, or its scheme and host when only its path or query has
    /// `{{ }}`; `nil` when the host itself may be computed.
    static func literalOrigin(_ url: Template) -> String? {
        if url.isConstant { return url.literalPrefix }
        let prefix = url.literalPrefix
        guard let scheme = prefix.range(of: "://") else { return nil }
        let rest = prefix[scheme.upperBound...]
        guard let end = rest.firstIndex(where: { "/?#".contains($0) }) else { return nil }
        return String(prefix[..<end])
    }

    /// An endpoint's `calls: {allow: [hosts], maxCallsPerTurn: 5, secrets: {NAME: value}}`.
    func calls(_ node: Node, _ section: String) throws(FileError) -> CallSettings {
        var settings = CallSettings()
        try eachKey(node, section, allowed: ["allow", "maxCallsPerTurn", "secrets"]) { key, value, name throws(FileError) in
            switch key {
            case "allow":
                guard case .sequence(let sequence) = value else { throw error(value, name, "must be a list of hosts (host, host:port or *.domain)") }
                settings.allow = []
                for (index, element) in sequence.enumerated() {
                    let host = try string(element, "\(name)[\(index)]")
                    guard !host.isEmpty, !host.contains("/"), !host.contains("@") else {
                        throw error(element, "\(name)[\(index)]", "'\(host)' is not a host (write api.example.com, localhost:8080 or *.example.com)")
                    }
                    settings.allow.append(host)
                }
            case "maxCallsPerTurn": settings.maxCallsPerTurn = try positiveInt(value, name)
            case "secrets":
                for (secretName, _, secretValue) in try keys(value, name) {
                    settings.secrets[secretName] = try secret(secretValue, "\(name).\(secretName)")
                }
            default: break
            }
        }
        return settings
    }

    /// A call whose url's host is written out must go to an allowed host: a load error naming
    /// the flow file's line, rather than an `onError` on every run. (A url whose host is
    /// templated is checked when the call is made.)
    func checkCalls(_ flow: Flow, _ calls: CallSettings, urlToken: String) throws(FileError) {
        for node in flow.nodes {
            guard case .call(let call) = node.kind, let url = Self.literalOrigin(call.url) else { continue }
            if let refusal = calls.refusal(url) {
                throw FileError(
                    file: flow.file, line: node.line, reason: "call.url: \(refusal) (endpoint '\(urlToken)' in \(file.path))")
            }
        }
    }

    /// A path relative to the config file's folder.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : ((configFile ?? file.path) as NSString).deletingLastPathComponent.appendingPathComponentIfRelative(path)
    }

    /// Whether an endpoint's mapping has a `channel:` key (then `webhook.url` is optional).
    func endpointHasChannel(_ node: Node) -> Bool {
        guard case .mapping(let mapping) = node else { return false }
        return mapping.contains { $0.key.string == "channel" }
    }

    func webhook(_ node: Node, _ section: String, urlRequired: Bool = true) throws(FileError) -> WebhookSettings {
        let allowed = ["url", "user", "password", "signingSecret", "format", "timeout", "connectTimeout", "caBundle", "retry", "concurrency"]
        var settings = WebhookSettings(url: "")
        var urlNode: Node?
        try eachKey(node, section, allowed: allowed) { key, value, name throws(FileError) in
            switch key {
            case "url":
                settings.url = try string(value, name)
                urlNode = value
            case "user": settings.user = try string(value, name)
            case "password": settings.password = try secret(value, name)
            case "signingSecret":
                let secret = try secret(value, name)
                guard WebhookSigningKey(secret: secret) != nil else {
                    throw error(value, name, "must be 'whsec_' followed by the base64 of 24 to 64 random bytes")
                }
                settings.signingSecret = secret
            case "format":
                let text = try string(value, name)
                guard let format = WebhookFormat(rawValue: text) else { throw error(value, name, "'\(text)' is not herald or cognigy") }
                settings.format = format
            case "timeout": settings.timeout = try duration(value, name)
            case "connectTimeout": settings.connectTimeout = try duration(value, name)
            case "caBundle":
                let path = try string(value, name)
                guard FileManager.default.fileExists(atPath: path) else { throw error(value, name, "file '\(path)' does not exist") }
                settings.caBundle = path
            case "concurrency": settings.concurrency = try positiveInt(value, name)
            case "retry": settings.retry = try retry(value, name)
            default: break
            }
        }
        guard let urlNode else {
            if !urlRequired { return settings }
            throw error(node, "\(section).url", "is required")
        }
        let lower = settings.url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), settings.url.count > 8 else {
            throw error(urlNode, "\(section).url", "'\(settings.url)' is not an http:// or https:// URL")
        }
        if settings.password != nil, settings.user == nil {
            throw error(node, "\(section).user", "is required when a password is set")
        }
        return settings
    }

    func retry(_ node: Node, _ section: String) throws(FileError) -> RetryPolicy {
        var policy = RetryPolicy()
        try eachKey(node, section, allowed: ["schedule", "maxAttempts", "maxAge", "throttleDelay", "jitter"]) { key, value, name throws(FileError) in
            switch key {
            case "schedule":
                guard case .sequence(let sequence) = value, !sequence.isEmpty else { throw error(value, name, "must be a list of durations") }
                var schedule: [Duration] = []
                for (index, element) in sequence.enumerated() { schedule.append(try duration(element, "\(name)[\(index)]")) }
                policy.schedule = schedule
            case "maxAttempts": policy.maxAttempts = try positiveInt(value, name)
            case "maxAge": policy.maxAge = try duration(value, name)
            case "throttleDelay": policy.throttleDelay = try duration(value, name)
            case "jitter":
                guard let jitter = value.float, (0...1).contains(jitter) else { throw error(value, name, "must be a number from 0 to 1") }
                policy.jitter = jitter
            default: break
            }
        }
        return policy
    }
}

extension String {
    fileprivate func appendingPathComponentIfRelative(_ path: String) -> String {
        if isEmpty { return path }
        return (self as NSString).appendingPathComponent(path)
    }
}

extension Duration {
    /// `500ms`, `15s`, `30m`, `2h`, `1d`, or a bare number of seconds.
    public init?(configText text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            // Beyond about 292 million years the milliseconds no longer fit an Int64.
            guard let number = Double(text.dropLast(suffix.count)), number.isFinite, number >= 0, number * factor < 9e15 else { continue }
            self = .milliseconds(Int64((number * factor * 1000).rounded()))
            return
        }
        return nil
    }

    /// The largest whole unit: `1d`, `90s` as `90s`, `10m`, `500ms`.
    public var configText: String {
        let ms = milliseconds
        if ms % 86_400_000 == 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

/// A Standard Webhooks signing secret: `whsec_` + base64 of 24 to 64 bytes.
public struct WebhookSigningKey: Sendable {
    public let bytes: [UInt8]

    public init?(secret: Secret) {
        guard secret.value.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.value.dropFirst(6))),
            (24...64).contains(data.count)
        else { return nil }
        self.bytes = Array(data)
    }
}
