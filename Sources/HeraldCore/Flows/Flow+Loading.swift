import Yams

extension Flow {
    /// Loads and checks a flow file. Errors name the file, the line and the reason.
    public static func load(path: String) throws(FileError) -> Flow {
        try FlowLoader(file: YAMLFile(path: path)).load()
    }

    /// Loads a flow from YAML text; `file` is only used in messages.
    public static func load(yaml: String, file: String = "<flow>") throws(FileError) -> Flow {
        try FlowLoader(file: YAMLFile(path: file, text: yaml)).load()
    }
}

private struct FlowLoader {
    let file: YAMLFile

    static let kinds = ["say", "ask", "set", "if", "switch", "goto", "end"]
    static let allowedKeys: [String: Set<String>] = [
        "say": ["id", "say"],
        "ask": ["id", "ask", "into", "validate", "retry"],
        "set": ["id", "set"],
        "if": ["id", "if", "then", "else"],
        "switch": ["id", "switch", "cases", "default"],
        "goto": ["id", "goto"],
        "end": ["id", "end"],
    ]

    func load() throws(FileError) -> Flow {
        var name = FlowFileName(path: file.path).baseName
        var stepLimit = 1000
        var nodesNode: Node?
        for (key, keyNode, value) in try file.mapping(file.root, "a flow file") {
            switch key {
            case "name": name = try file.string(value, "name")
            case "stepLimit":
                stepLimit = try file.int(value, "stepLimit")
                guard stepLimit > 0 else { throw file.error(value, "stepLimit must be at least 1") }
            case "nodes": nodesNode = value
            case "description": break
            default: throw file.error(keyNode, "unknown key '\(key)' (a flow has name, description, stepLimit and nodes)")
            }
        }
        guard let nodesNode else { throw file.error(file.root, "a flow needs 'nodes:', the list of its steps") }
        let items = try file.sequence(nodesNode, "nodes")
        guard !items.isEmpty else { throw file.error(nodesNode, "'nodes' is empty; a flow needs at least one node") }

        var nodes: [FlowNode] = []
        var seen: [String: Int] = [:]
        var jumps: [(target: String, node: Node, from: String)] = []
        for (position, item) in items.enumerated() {
            let (node, targets) = try loadNode(item, position: position)
            if let previous = seen[node.id] {
                throw file.error(item, "duplicate node id '\(node.id)' (first used on line \(previous))")
            }
            seen[node.id] = node.line
            nodes.append(node)
            jumps += targets.map { ($0.0, $0.1, node.id) }
        }
        for jump in jumps where seen[jump.target] == nil {
            throw file.error(jump.node, "node '\(jump.from)' jumps to '\(jump.target)', which is not a node id in this flow")
        }
        var flow = Flow(name: name, file: file.path, nodes: nodes, stepLimit: stepLimit)
        flow.warnings = unreachableWarnings(flow)
        return flow
    }

    /// Nodes no path from the first node reaches: legal, but usually a forgotten `goto`.
    func unreachableWarnings(_ flow: Flow) -> [FileError] {
        var reached = Set<Int>()
        var pending = [0]
        while let index = pending.popLast() {
            guard index < flow.nodes.count, reached.insert(index).inserted else { continue }
            let next = index + 1
            switch flow.nodes[index].kind {
            case .say, .set, .ask: pending.append(next)
            case .goto(let target): pending.append(flow.index(of: target)!)
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

    func loadNode(_ item: Node, position: Int) throws(FileError) -> (FlowNode, [(String, Node)]) {
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
        for pair in pairs where !Self.allowedKeys[kind]!.contains(pair.key) {
            throw file.error(pair.keyNode, "unknown key '\(pair.key)' in a \(kind) node")
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
            guard let intoNode = value("into") else {
                throw file.error(item, "an ask node needs 'into:', the context path that stores the answer")
            }
            let into = try contextPath(intoNode, "into")
            var retry: FlowNode.Message?
            if let retryNode = value("retry") { retry = try message(retryNode, "retry") }
            var validation: FlowNode.Validation?
            if let validateNode = value("validate") { validation = try self.validation(validateNode) }
            result = .ask(FlowNode.Ask(prompt: try message(body, "ask"), into: into, validation: validation, retry: retry))
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
            result = .switch(subject: subject, cases: cases, default: try target("default"))
        case "goto":
            let name = try file.string(body, "goto (a node id)")
            targets.append((name, body))
            result = .goto(name)
        default:  // end
            if let reset = body.bool {
                result = .end(reset: reset)
            } else if case .mapping = body {
                var reset = false
                for (key, keyNode, valueNode) in try file.mapping(body, "end") {
                    guard key == "reset" else { throw file.error(keyNode, "unknown key '\(key)' in end (only 'reset')") }
                    reset = try file.bool(valueNode, "reset")
                }
                result = .end(reset: reset)
            } else if body.null != nil {
                result = .end(reset: false)
            } else {
                throw file.error(body, "end takes true, or { reset: true }")
            }
        }
        return (FlowNode(id: id, line: line, kind: result), targets)
    }

    /// `say: "text"` or `say: { text: ..., data: ... }`.
    func message(_ node: Node, _ what: String) throws(FileError) -> FlowNode.Message {
        if case .scalar = node {
            return FlowNode.Message(text: try template(node), data: nil)
        }
        var message = FlowNode.Message(text: nil, data: nil)
        for (key, keyNode, value) in try file.mapping(node, what) {
            switch key {
            case "text": message.text = try template(value)
            case "data": message.data = try valueTemplate(value)
            default: throw file.error(keyNode, "unknown key '\(key)' in \(what) (it takes text and data)")
            }
        }
        guard message.text != nil || message.data != nil else { throw file.error(node, "\(what) needs text or data") }
        return message
    }

    func template(_ node: Node) throws(FileError) -> Template {
        guard case .scalar(let scalar) = node else { throw file.error(node, "expected a text") }
        do {
            return try Template(parsing: scalar.string)
        } catch {
            throw file.error(node, "bad template \"\(scalar.string)\": \(error)")
        }
    }

    func expression(_ node: Node, _ what: String) throws(FileError) -> Expression {
        guard case .scalar(let scalar) = node else { throw file.error(node, "\(what) needs an expression") }
        do {
            return try Expression(parsing: scalar.string)
        } catch {
            throw file.error(node, "bad expression in \(what) \"\(scalar.string)\": \(error)")
        }
    }

    func valueTemplate(_ node: Node) throws(FileError) -> ValueTemplate {
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

    func contextPath(_ node: Node, _ what: String, text: String? = nil) throws(FileError) -> [Substring] {
        let path: String
        if let text { path = text } else { path = try file.string(node, what) }
        let steps = path.split(separator: ".", omittingEmptySubsequences: false)
        guard steps.count >= 2, steps[0] == "context", steps.dropFirst().allSatisfy({ !$0.isEmpty }) else {
            throw file.error(node, "\(what): '\(path)' is not a context path (write context.name)")
        }
        return Array(steps.dropFirst())
    }

    func validation(_ node: Node) throws(FileError) -> FlowNode.Validation {
        if case .scalar(let scalar) = node {
            guard scalar.string == "number" else {
                throw file.error(node, "validate is 'number', or { pattern: REGEX }, or { number: true, min: N, max: N }")
            }
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
                guard let bound = value.float else { throw file.error(value, "min must be a number") }
                min = bound
            case "max":
                guard let bound = value.float else { throw file.error(value, "max must be a number") }
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
        guard isNumber || min != nil || max != nil else { throw file.error(node, "validate needs pattern or number") }
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
