import Yams

/// What checking a flow file found: the flow when it loads, and every error and warning, each
/// as `file:line: reason`.
public struct FlowCheck: Sendable {
    /// The file checked, as given.
    public var file: String
    /// The loaded flow; `nil` when there are errors.
    public var flow: Flow?
    /// Problems that stop the flow from loading, in line order.
    public var errors: [FileError]
    /// Things that load but are probably mistakes, such as an unreachable node.
    public var warnings: [FileError]
}

extension Flow {
    /// Loads and checks a flow file. Errors name the file, the line and the reason; when there
    /// are several, this throws the first (``check(path:)`` returns them all).
    public static func load(path: String) throws(FileError) -> Flow {
        try check(path: path).loaded()
    }

    /// Loads a flow from YAML text; `file` is only used in messages.
    public static func load(yaml: String, file: String = "<flow>") throws(FileError) -> Flow {
        try check(yaml: yaml, file: file).loaded()
    }

    /// Checks a flow file and reports every problem it finds, not only the first.
    public static func check(path: String) -> FlowCheck {
        do {
            return check(yaml: try YAMLFile.text(path: path), file: path)
        } catch {
            return FlowCheck(file: path, flow: nil, errors: [error], warnings: [])
        }
    }

    /// Checks a flow given as YAML text; `file` is only used in messages. The flow's
    /// ``Flow/version`` is the hash of `yaml`.
    public static func check(yaml: String, file: String = "<flow>") -> FlowCheck {
        do {
            var loader = FlowLoader(file: try YAMLFile(path: file, text: yaml))
            var check = loader.check()
            check.flow?.version = Flow.version(of: yaml)
            check.flow?.source = yaml
            return check
        } catch {
            return FlowCheck(file: file, flow: nil, errors: [error], warnings: [])
        }
    }
}

extension FlowCheck {
    fileprivate func loaded() throws(FileError) -> Flow {
        if let flow { return flow }
        throw errors.first ?? FileError(file: file, line: nil, reason: "the flow did not load")
    }
}

/// Turns the YAML of a flow file into a ``Flow``: every node kind and its keys, every template
/// and expression compiled, every jump target resolved. Errors are collected per node, so one
/// check reports all broken nodes.
private struct FlowLoader {
    let file: YAMLFile
    private var errors: [FileError] = []

    init(file: YAMLFile) {
        self.file = file
    }

    static let kinds = ["say", "ask", "set", "if", "switch", "goto", "end", "schedule", "cancel", "call"]
    static let allowedKeys: [String: Set<String>] = [
        "say": ["id", "say"],
        "ask": ["id", "ask", "into", "validate", "retry", "timeout"],
        "set": ["id", "set"],
        "if": ["id", "if", "then", "else"],
        "switch": ["id", "switch", "cases", "default"],
        "goto": ["id", "goto"],
        "end": ["id", "end"],
        "schedule": ["id", "schedule"],
        "cancel": ["id", "cancel"],
        "call": ["id", "call", "into", "onError"],
    ]

    /// A jump found while loading, checked once every node id is known.
    private struct Jump {
        var target: String
        var node: Node
        var from: String
    }

    mutating func check() -> FlowCheck {
        let flow = load()
        let errors = self.errors.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
        guard errors.isEmpty, var flow else {
            return FlowCheck(file: file.path, flow: nil, errors: errors, warnings: [])
        }
        flow.warnings = unreachableWarnings(flow)
        return FlowCheck(file: file.path, flow: flow, errors: [], warnings: flow.warnings)
    }

    private mutating func load() -> Flow? {
        var name = FlowFileName(path: file.path).baseName
        var stepLimit = 1000
        var nodesNode: Node?
        let pairs: [(key: String, keyNode: Node, value: Node)]
        do {
            pairs = try file.mapping(file.root, "a flow file")
        } catch {
            errors.append(error)
            return nil
        }
        for (key, keyNode, value) in pairs {
            switch key {
            case "name":
                do {
                    name = try file.string(value, "name")
                } catch {
                    errors.append(error)
                }
            case "stepLimit":
                do throws(FileError) {
                    let limit = try file.int(value, "stepLimit")
                    guard limit > 0 else { throw file.error(value, "stepLimit must be at least 1") }
                    stepLimit = limit
                } catch {
                    errors.append(error)
                }
            case "nodes": nodesNode = value
            case "description": break
            default:
                errors.append(file.error(keyNode, "unknown key '\(key)' (a flow has name, description, stepLimit and nodes)"))
            }
        }
        guard let nodesNode else {
            errors.append(file.error(file.root, "a flow needs 'nodes:', the list of its steps"))
            return nil
        }
        let items: [Node]
        do {
            items = try file.sequence(nodesNode, "nodes")
        } catch {
            errors.append(error)
            return nil
        }
        guard !items.isEmpty else {
            errors.append(file.error(nodesNode, "'nodes' is empty; a flow needs at least one node"))
            return nil
        }

        var nodes: [FlowNode] = []
        var seen: [String: Int] = [:]
        var jumps: [Jump] = []
        for (position, item) in items.enumerated() {
            let id = declaredId(item) ?? "#\(position + 1)"
            let line = item.mark?.line ?? 0
            if let previous = seen[id] {
                errors.append(file.error(item, "duplicate node id '\(id)' (first used on line \(previous))"))
            } else {
                seen[id] = line
            }
            do {
                let (node, targets) = try loadNode(item, position: position)
                nodes.append(node)
                jumps += targets.map { Jump(target: $0.0, node: $0.1, from: node.id) }
            } catch {
                errors.append(error)
            }
        }
        // Targets are checked against every declared id, including nodes that failed to load,
        // so one broken node does not also report every jump to it.
        for jump in jumps where seen[jump.target] == nil {
            errors.append(file.error(jump.node, "node '\(jump.from)' jumps to '\(jump.target)', which is not a node id in this flow"))
        }
        guard errors.isEmpty else { return nil }
        return Flow(name: name, file: file.path, nodes: nodes, stepLimit: stepLimit)
    }

    /// The `id:` of a node when it has a usable one, read before the rest of the node.
    private func declaredId(_ item: Node) -> String? {
        guard case .mapping(let mapping) = item,
            let idNode = mapping.first(where: { $0.key.string == "id" })?.value, case .scalar(let scalar) = idNode
        else { return nil }
        return scalar.string.isEmpty || scalar.string.hasPrefix("#") ? nil : scalar.string
    }

    /// Nodes no path from the first node reaches: legal, but usually a forgotten `goto`.
    private func unreachableWarnings(_ flow: Flow) -> [FileError] {
        var reached = Set<Int>()
        var pending = [0]
        while let index = pending.popLast() {
            guard index < flow.nodes.count, reached.insert(index).inserted else { continue }
            let next = index + 1
            switch flow.nodes[index].kind {
            case .say, .set, .schedule, .cancel: pending.append(next)
            case .call(let call):
                pending.append(next)
                if let target = call.onError, let index = flow.index(of: target) { pending.append(index) }
            case .ask(let ask):
                pending.append(next)
                if let target = ask.timeout?.target, let index = flow.index(of: target) { pending.append(index) }
            case .goto(let target): pending += [flow.index(of: target)].compactMap { $0 }
            case .end: break
            case .if(_, let then, let otherwise):
                pending.append(then.flatMap(flow.index(of:)) ?? next)
                pending.append(otherwise.flatMap(flow.index(of:)) ?? next)
            case .switch(_, let cases, let fallback):
                pending += cases.compactMap { flow.index(of: $0.target) }
                pending.append(fallback.flatMap(flow.index(of:)) ?? next)
            }
        }
        return flow.nodes.indices.filter { !reached.contains($0) }.map {
            FileError(file: file.path, line: flow.nodes[$0].line, reason: "warning: node '\(flow.nodes[$0].id)' is never reached")
        }
    }

    private func loadNode(_ item: Node, position: Int) throws(FileError) -> (FlowNode, [(String, Node)]) {
        let pairs = try file.mapping(item, "a node")
        let line = item.mark?.line ?? 0
        let kindKeys = pairs.filter { Self.kinds.contains($0.key) }
        guard let kindPair = kindKeys.first else {
            let keys = pairs.map { "'\($0.key)'" }.joined(separator: ", ")
            throw file.error(item, "unknown node kind (keys \(keys)); a node is one of \(Self.kinds.joined(separator: ", "))")
        }
        guard kindKeys.count == 1 else {
            throw file.error(item, "a node has exactly one kind, this one has \(kindKeys.map { "'\($0.key)'" }.joined(separator: " and "))")
        }
        let kind = kindPair.key
        for pair in pairs where !Self.allowedKeys[kind, default: []].contains(pair.key) {
            let allowed = Self.allowedKeys[kind, default: []].sorted().joined(separator: ", ")
            throw file.error(pair.keyNode, "unknown key '\(pair.key)' in a \(kind) node (it takes \(allowed))")
        }
        func value(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }

        var id = "#\(position + 1)"
        if let idNode = value("id") {
            id = try file.string(idNode, "id")
            guard !id.isEmpty, !id.hasPrefix("#") else { throw file.error(idNode, "id must be non-empty and not start with '#'") }
        }
        var targets: [(String, Node)] = []
        func target(_ key: String) throws(FileError) -> String? {
            guard let node = value(key) else { return nil }
            let name = try file.string(node, "'\(key)' (a node id)")
            targets.append((name, node))
            return name
        }

        let body = kindPair.value
        let result: FlowNode.Kind
        switch kind {
        case "say":
            result = .say(try message(body, "say"))
        case "ask":
            let prompt = try message(body, "ask")
            guard let intoNode = value("into") else {
                throw file.error(item, "an ask node needs 'into:', the context path that stores the answer")
            }
            let into = try contextPath(intoNode, "into")
            var validation: FlowNode.Validation?
            if let validateNode = value("validate") { validation = try self.validation(validateNode) }
            var retry: FlowNode.Message?
            if let retryNode = value("retry") { retry = try message(retryNode, "retry") }
            var timeout: FlowNode.Timeout?
            if let timeoutNode = value("timeout") {
                timeout = try self.timeout(timeoutNode)
                targets.append((timeout!.target, timeoutNode))
            }
            result = .ask(FlowNode.Ask(prompt: prompt, into: into, validation: validation, retry: retry, timeout: timeout))
        case "set":
            var assignments: [FlowNode.Assignment] = []
            for (key, keyNode, valueNode) in try file.mapping(body, "set") {
                let path = try contextPath(keyNode, "set", text: key)
                assignments.append(FlowNode.Assignment(path: path, value: try valueTemplate(valueNode)))
            }
            guard !assignments.isEmpty else { throw file.error(body, "set needs at least one 'context.path: value'") }
            result = .set(assignments)
        case "if":
            let condition = try expression(body, "if")
            let then = try target("then")
            let otherwise = try target("else")
            guard then != nil || otherwise != nil else { throw file.error(item, "an if node needs 'then:' or 'else:' (a node id)") }
            result = .if(condition: condition, then: then, else: otherwise)
        case "switch":
            let subject = try expression(body, "switch")
            guard let casesNode = value("cases") else { throw file.error(item, "a switch node needs 'cases:' (value: node id)") }
            var cases: [(value: String, target: String)] = []
            for (key, _, targetNode) in try file.mapping(casesNode, "cases") {
                let name = try file.string(targetNode, "a case target (a node id)")
                targets.append((name, targetNode))
                cases.append((key, name))
            }
            guard !cases.isEmpty else { throw file.error(casesNode, "'cases' is empty; a switch needs at least one 'value: node id'") }
            result = .switch(subject: subject, cases: cases, default: try target("default"))
        case "goto":
            let name = try file.string(body, "goto (a node id)")
            targets.append((name, body))
            result = .goto(name)
        case "schedule":
            result = .schedule(try reminder(body))
        case "cancel":
            let key = try file.string(body, "cancel (the key of a schedule)")
            guard !key.isEmpty else { throw file.error(body, "cancel needs the key of a schedule") }
            result = .cancel(key: key)
        case "call":
            var call = try self.call(body)
            if let intoNode = value("into") { call.into = try contextPath(intoNode, "into") }
            call.onError = try target("onError")
            result = .call(call)
        default:  // end
            result = .end(reset: try endReset(body))
        }
        return (FlowNode(id: id, line: line, kind: result), targets)
    }

    /// `call: { url, method, headers, json | form, auth, timeout, retry }` (SPEC §13).
    private func call(_ node: Node) throws(FileError) -> FlowNode.Call {
        let keys = ["url", "method", "headers", "json", "form", "auth", "timeout", "retry"]
        var urlNode: Node?
        var call = FlowNode.Call(url: Self.noURL)
        var bodyKey: (name: String, node: Node)?
        for (key, keyNode, value) in try file.mapping(node, "call") {
            switch key {
            case "url":
                urlNode = value
                call.url = try template(value)
                if call.url.isConstant {
                    let url = try file.string(value, "call.url")
                    guard CallRequest.host(of: url) != nil else {
                        throw file.error(value, "call.url: '\(url)' is not an http:// or https:// URL with a host")
                    }
                }
            case "method":
                let method = try file.string(value, "call.method").uppercased()
                guard Self.callMethods.contains(method) else {
                    throw file.error(value, "call.method: '\(method)' is not one of \(Self.callMethods.joined(separator: ", "))")
                }
                call.method = method
            case "headers":
                for (name, nameNode, headerValue) in try file.mapping(value, "call.headers") {
                    guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) else {
                        throw file.error(nameNode, "call.headers: '\(name)' is not a header name (letters, digits, '-')")
                    }
                    guard name.lowercased() != "idempotency-key" else {
                        throw file.error(nameNode, "call.headers: Herald sends Idempotency-Key itself (the call's output id, the same on every attempt)")
                    }
                    let header = try template(headerValue)
                    if !header.isConstant, try file.string(headerValue, "call.headers.\(name)").contains("${") {
                        throw file.error(headerValue, "call.headers.\(name): a ${NAME} secret reference cannot be mixed with {{ }} in one value")
                    }
                    call.headers.append((name, header))
                }
            case "json", "form":
                guard call.body == nil else { throw file.error(keyNode, "call takes json or form, not both") }
                bodyKey = (key, keyNode)
                if key == "json" {
                    call.body = .json(try valueTemplate(value))
                } else {
                    var fields: [(name: String, value: Template)] = []
                    for (name, _, fieldValue) in try file.mapping(value, "call.form") { fields.append((name, try template(fieldValue))) }
                    call.body = .form(fields)
                }
            case "auth": call.auth = try callAuth(value)
            case "timeout":
                call.timeout = try duration(value, "call.timeout")
                guard call.timeout <= .seconds(120) else { throw file.error(value, "call.timeout: at most 2m (the user is waiting)") }
            case "retry": call.retry = try callRetry(value)
            default:
                throw file.error(keyNode, "unknown key '\(key)' in call (it takes \(keys.joined(separator: ", ")))")
            }
        }
        guard urlNode != nil else { throw file.error(node, "call needs 'url:' (http:// or https://)") }
        if call.method == "GET", let bodyKey {
            throw file.error(bodyKey.node, "call.\(bodyKey.name): a GET sends no body; put the values in the url, or use POST")
        }
        return call
    }

    static let callMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    // swift-format-ignore: NeverUseForceTry
    private static let noURL = try! Template(parsing: "")

    /// `auth: { bearer: "${TOKEN}" }` or `auth: { basic: { user: U, password: "${PASSWORD}" } }`.
    private func callAuth(_ node: Node) throws(FileError) -> CallAuth {
        let usage = "auth takes { bearer: \"${NAME}\" } or { basic: { user: NAME, password: \"${NAME}\" } }"
        func reference(_ node: Node, _ what: String) throws(FileError) -> String {
            let text = try file.string(node, what)
            guard text.contains("${"), text.contains("}") else {
                throw file.error(
                    node,
                    "\(what): write the secret as ${NAME} (an entry of the endpoint's calls.secrets or an environment variable), so it is never in a flow file, the store or a log"
                )
            }
            return text
        }
        let pairs = try file.mapping(node, "call.auth")
        guard pairs.count == 1, let (kind, kindNode, value) = pairs.first else { throw file.error(node, usage) }
        switch kind {
        case "bearer":
            return .bearer(token: try reference(value, "call.auth.bearer"))
        case "basic":
            var user: String?
            var password: String?
            for (key, keyNode, item) in try file.mapping(value, "call.auth.basic") {
                switch key {
                case "user": user = try file.string(item, "call.auth.basic.user")
                case "password": password = try reference(item, "call.auth.basic.password")
                default: throw file.error(keyNode, usage)
                }
            }
            guard let user, let password else { throw file.error(value, usage) }
            return .basic(user: user, password: password)
        default:
            throw file.error(kindNode, usage)
        }
    }

    /// `retry: { maxAttempts: N, delays: [200ms, 1s] }`, or `retry: false` for one attempt.
    private func callRetry(_ node: Node) throws(FileError) -> CallRetry {
        if case .scalar = node, node.bool == false { return CallRetry(maxAttempts: 1, delays: []) }
        var retry = CallRetry()
        for (key, keyNode, value) in try file.mapping(node, "call.retry") {
            switch key {
            case "maxAttempts":
                let attempts = try file.int(value, "call.retry.maxAttempts")
                guard (1...10).contains(attempts) else { throw file.error(value, "call.retry.maxAttempts: from 1 to 10") }
                retry.maxAttempts = attempts
            case "delays":
                guard case .sequence(let sequence) = value, !sequence.isEmpty else {
                    throw file.error(value, "call.retry.delays: a list of durations, e.g. [200ms, 1s]")
                }
                var delays: [Duration] = []
                for element in sequence { delays.append(try duration(element, "call.retry.delays")) }
                retry.delays = delays
            default:
                throw file.error(keyNode, "unknown key '\(key)' in call.retry (it takes maxAttempts and delays, or write retry: false)")
            }
        }
        return retry
    }

    /// `timeout: { after: 10m, goto: node-id }`.
    private func timeout(_ node: Node) throws(FileError) -> FlowNode.Timeout {
        let usage = "timeout takes { after: DURATION, goto: NODE-ID }"
        var after: Duration?
        var target: String?
        for (key, keyNode, value) in try file.mapping(node, "timeout") {
            switch key {
            case "after": after = try duration(value, "timeout.after")
            case "goto": target = try file.string(value, "timeout.goto (a node id)")
            default: throw file.error(keyNode, "unknown key '\(key)' in timeout (\(usage))")
            }
        }
        guard let after, let target else { throw file.error(node, usage) }
        return FlowNode.Timeout(after: after, target: target)
    }

    /// `schedule: { key: K, after: DURATION | at: "TEMPLATE", text: ..., data: ... }`.
    private func reminder(_ node: Node) throws(FileError) -> FlowNode.Reminder {
        var key: String?
        var when: FlowNode.Reminder.When?
        var message = FlowNode.Message(text: nil, data: nil)
        for (name, keyNode, value) in try file.mapping(node, "schedule") {
            switch name {
            case "key":
                key = try file.string(value, "schedule.key")
                guard key?.isEmpty == false else { throw file.error(value, "schedule.key must not be empty") }
            case "after", "at":
                guard when == nil else { throw file.error(keyNode, "schedule takes 'after' or 'at', not both") }
                when = name == "after" ? .after(try duration(value, "schedule.after")) : .at(try template(value))
            case "text": message.text = try template(value)
            case "data": message.data = try valueTemplate(value)
            default:
                throw file.error(keyNode, "unknown key '\(name)' in schedule (it takes key, after or at, text and data)")
            }
        }
        guard let when else { throw file.error(node, "schedule needs 'after: DURATION' (10m, 2h, 1d) or 'at: TIME' (RFC 3339)") }
        guard message.text != nil || message.data != nil else { throw file.error(node, "schedule needs text or data: what the inject carries") }
        return FlowNode.Reminder(key: key, when: when, message: message)
    }

    private func duration(_ node: Node, _ what: String) throws(FileError) -> Duration {
        let text = try file.string(node, what)
        guard let duration = Duration(configText: text), duration > .zero else {
            throw file.error(node, "\(what): '\(text)' is not a duration (write 90s, 10m, 2h or 1d)")
        }
        return duration
    }

    /// `end: true` (or nothing) ends the run; `end: reset` or `end: { reset: true }` also clears
    /// the context.
    private func endReset(_ body: Node) throws(FileError) -> Bool {
        let usage = "end takes true, reset, or { reset: true }"
        switch body {
        case .scalar(let scalar):
            if body.null != nil, scalar.style == .plain { return false }
            if scalar.string == "reset" { return true }
            guard let value = body.bool, scalar.style == .plain else { throw file.error(body, usage) }
            guard value else { throw file.error(body, "end: false does nothing; write end: true, or remove the node (\(usage))") }
            return false
        case .mapping:
            var reset = false
            for (key, keyNode, valueNode) in try file.mapping(body, "end") {
                guard key == "reset" else { throw file.error(keyNode, "unknown key '\(key)' in end (only 'reset')") }
                reset = try file.bool(valueNode, "reset")
            }
            return reset
        default:
            throw file.error(body, usage)
        }
    }

    /// `say: "text"` or `say: { text: ..., data: ... }`.
    private func message(_ node: Node, _ what: String) throws(FileError) -> FlowNode.Message {
        try rejectYAMLPitfalls(node, what)
        if case .scalar = node {
            guard node.null == nil else { throw file.error(node, "\(what) needs text or data") }
            return FlowNode.Message(text: try template(node), data: nil)
        }
        var message = FlowNode.Message(text: nil, data: nil)
        let richKeys = Self.richKeys
        for (key, keyNode, value) in try file.mapping(node, what) {
            switch key {
            case "text": message.text = try template(value)
            case "data": message.data = try valueTemplate(value)
            case _ where richKeys.contains(key):
                try checkRich(key, value, what: what)
                message.rich.append((key, try valueTemplate(value)))
            default:
                throw file.error(keyNode, "unknown key '\(key)' in \(what) (it takes text, data, \(richKeys.joined(separator: ", ")))")
            }
        }
        guard message.text != nil || message.data != nil || !message.rich.isEmpty else {
            throw file.error(node, "\(what) needs text, data, or rich content (\(richKeys.joined(separator: ", ")))")
        }
        return message
    }

    /// The rich fields a flow's message may have: everything but `template`, which only a
    /// notify sends.
    static let richKeys = RichContent.fieldNames.filter { $0 != "template" }

    /// Checks a rich field as far as it is written out: a template that computes the whole field
    /// (`"{{ context.options }}"`) is checked when the node runs. Literal parts must follow the
    /// vocabulary, so a typo is a file:line error here rather than an error output later.
    private func checkRich(_ key: String, _ node: Node, what: String) throws(FileError) {
        if case .scalar(let scalar) = node, scalar.string.contains("{{") { return }
        do {
            _ = try RichContent.parse([key: Self.sample(file.json(node))], allowTemplate: false, prefix: "\(what).")
        } catch {
            throw file.error(Self.node(at: error.field, under: node, key: key, what: what) ?? node, error.description)
        }
    }

    /// The node the error's field path points at (`say.buttons[1].title` → that item), for its line.
    private static func node(at field: String, under node: Node, key: String, what: String) -> Node? {
        var current = node
        var rest = Substring(field.dropFirst("\(what).\(key)".count))
        while !rest.isEmpty {
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]) {
                guard case .sequence(let items) = current, index < items.count else { return current }
                current = items[index]
                rest = rest[rest.index(after: close)...]
            } else if rest.hasPrefix(".") {
                let name = rest.dropFirst().prefix { $0 != "." && $0 != "[" }
                guard case .mapping(let mapping) = current, let value = mapping.first(where: { $0.key.string == String(name) })?.value else {
                    return current
                }
                current = value
                rest = rest.dropFirst(1 + name.count)
            } else {
                return current
            }
        }
        return current
    }

    /// The literal value with every templated string replaced by a stand-in of the right shape,
    /// so the structure can be checked before any template runs.
    private static func sample(_ value: JSON) -> JSON {
        switch value {
        case .string(let text) where text.contains("{{"): return .string("https://template.invalid/x")
        case .array(let items): return .array(items.map(sample))
        case .object(let object):
            var result = JSONObject()
            for (key, member) in object {
                if key == "type", case .string(let text) = member, text.contains("{{") {
                    result[key] = "image"
                } else {
                    result[key] = sample(member)
                }
            }
            return .object(result)
        default: return value
        }
    }

    private func template(_ node: Node) throws(FileError) -> Template {
        try rejectYAMLPitfalls(node, "a text")
        guard case .scalar(let scalar) = node else { throw file.error(node, "expected a text") }
        do {
            return try Template(parsing: scalar.string)
        } catch {
            throw file.error(node, "bad template \"\(scalar.string)\": \(error)")
        }
    }

    private func expression(_ node: Node, _ what: String) throws(FileError) -> Expression {
        try rejectYAMLPitfalls(node, what)
        guard case .scalar(let scalar) = node else { throw file.error(node, "\(what) needs an expression") }
        let trimmed = scalar.string.trimmingWhitespace()
        if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}") {
            let inner = String(trimmed.dropFirst(2).dropLast(2)).trimmingWhitespace()
            throw file.error(node, "\(what) takes an expression without {{ }}: write \(what): \(inner)")
        }
        do {
            return try Expression(parsing: scalar.string)
        } catch {
            throw file.error(node, "bad expression in \(what) \"\(scalar.string)\": \(error)")
        }
    }

    private func valueTemplate(_ node: Node) throws(FileError) -> ValueTemplate {
        try rejectYAMLPitfalls(node, "a value")
        switch node {
        case .scalar(let scalar):
            let literal = file.json(node)
            guard case .string = literal, scalar.string.contains("{{") else { return .literal(literal) }
            return .template(try template(node))
        case .mapping:
            var pairs: [(key: String, value: ValueTemplate)] = []
            for (key, _, value) in try file.mapping(node, "a value") { pairs.append((key, try valueTemplate(value))) }
            return .object(pairs)
        case .sequence(let sequence):
            var values: [ValueTemplate] = []
            for element in sequence { values.append(try valueTemplate(element)) }
            return .array(values)
        case .alias:
            throw file.error(node, "YAML aliases are not supported in flows")
        }
    }

    /// Two ways YAML reads flow text differently than its author meant, caught with a hint
    /// instead of a puzzling error further on.
    private func rejectYAMLPitfalls(_ node: Node, _ what: String) throws(FileError) {
        // `say: {{ input.text }}` unquoted is a YAML mapping whose key is a mapping.
        if case .mapping(let mapping) = node, mapping.count == 1, case .mapping = mapping.first?.key {
            throw file.error(node, "\(what): YAML reads an unquoted {{ ... }} as a mapping; put the template in quotes: \"{{ ... }}\"")
        }
        // `if: !context.done` is the YAML tag `!context.done` on an empty value.
        if case .scalar(let scalar) = node, scalar.style == .plain, node.tag.description.hasPrefix("!") {
            let tagged = "\(node.tag.description) \(scalar.string)".trimmingWhitespace()
            throw file.error(node, "\(what): YAML reads a leading '!' as a tag; put the expression in quotes: \"\(tagged)\"")
        }
    }

    private func contextPath(_ node: Node, _ what: String, text: String? = nil) throws(FileError) -> [Substring] {
        let path: String
        if let text { path = text } else { path = try file.string(node, what) }
        let steps = path.split(separator: ".", omittingEmptySubsequences: false)
        guard steps.count >= 2, steps[0] == "context", steps.dropFirst().allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) })
        else {
            throw file.error(node, "\(what): '\(path)' is not a context path (write context.name)")
        }
        return Array(steps.dropFirst())
    }

    private func validation(_ node: Node) throws(FileError) -> FlowNode.Validation {
        let usage = "validate is 'number', or { pattern: REGEX }, or { number: true, min: N, max: N }"
        if case .scalar(let scalar) = node {
            guard scalar.string == "number" else { throw file.error(node, usage) }
            return .number(min: nil, max: nil)
        }
        var pattern: String?
        var isNumber = false
        var min: Double?
        var max: Double?
        for (key, keyNode, value) in try file.mapping(node, "validate") {
            switch key {
            case "pattern", "regex": pattern = try file.string(value, key)
            case "number": isNumber = try file.bool(value, key)
            case "min":
                guard case .number(let bound) = file.json(value) else { throw file.error(value, "min must be a number") }
                min = bound
            case "max":
                guard case .number(let bound) = file.json(value) else { throw file.error(value, "max must be a number") }
                max = bound
            default: throw file.error(keyNode, "unknown key '\(key)' in validate (pattern, number, min, max)")
            }
        }
        if let pattern {
            guard !isNumber, min == nil, max == nil else { throw file.error(node, "validate takes a pattern or number bounds, not both") }
            do {
                return .pattern(try CompiledPattern(pattern))
            } catch {
                throw file.error(node, "invalid regular expression \"\(pattern)\": \(error)")
            }
        }
        guard isNumber || min != nil || max != nil else { throw file.error(node, usage) }
        if let min, let max, min > max { throw file.error(node, "validate: min \(JSON.number(min).text) is above max \(JSON.number(max).text)") }
        return .number(min: min, max: max)
    }
}

/// The last path component without its extension: the default flow name.
private struct FlowFileName {
    let path: String
    var baseName: String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        if let dot = last.lastIndex(of: "."), dot != last.startIndex { return String(last[..<dot]) }
        return last
    }
}
