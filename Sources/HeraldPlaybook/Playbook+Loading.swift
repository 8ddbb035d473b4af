import Foundation
import HeraldCore
import Yams

/// The result of reading a playbook file: the playbook, or every problem found in it.
public struct PlaybookCheck: Sendable {
    /// The file read, as given.
    public var file: String
    /// `nil` when there are errors.
    public var playbook: Playbook?
    /// Each as `file:line: reason`, in file order.
    public var errors: [FileError]

    /// The playbook, or the first error.
    public func loaded() throws(FileError) -> Playbook {
        if let playbook, errors.isEmpty { return playbook }
        throw errors.first ?? FileError(file: file, line: nil, reason: "the playbook could not be read")
    }
}

extension Playbook {
    /// Reads a playbook file; the first problem is thrown as `file:line: reason`.
    public static func load(path: String) throws(FileError) -> Playbook {
        try check(path: path).loaded()
    }

    /// Reads a playbook from text, as if it were the file `file`.
    public static func load(yaml: String, file: String = "<playbook>") throws(FileError) -> Playbook {
        try check(yaml: yaml, file: file).loaded()
    }

    /// Reads a playbook file and reports every problem in it, not only the first.
    public static func check(path: String) -> PlaybookCheck {
        do {
            var loader = PlaybookLoader(file: try YAMLFile(path: path))
            return loader.check()
        } catch {
            return PlaybookCheck(file: path, playbook: nil, errors: [error])
        }
    }

    /// ``check(path:)`` for text.
    public static func check(yaml: String, file: String = "<playbook>") -> PlaybookCheck {
        do {
            var loader = PlaybookLoader(file: try YAMLFile(path: file, text: yaml))
            return loader.check()
        } catch {
            return PlaybookCheck(file: file, playbook: nil, errors: [error])
        }
    }
}

/// Reads the nodes of a playbook file. Problems in one conversation or step are collected and
/// reading goes on, so one run of `herald test` shows them all.
extension CallMocks {
    /// The `mock:` section of a YAML file (a playbook, say), for `herald flow run --mock`.
    public static func load(path: String) throws(FileError) -> CallMocks {
        let loader = PlaybookLoader(file: try YAMLFile(path: path))
        for (key, _, value) in try loader.file.mapping(loader.file.root, "a file with mock:") where key == "mock" {
            return try loader.mocks(value)
        }
        throw FileError(file: path, line: nil, reason: "no 'mock:' section (stand-ins for the flow's calls: URL-PATTERN: {json: ...})")
    }
}

private struct PlaybookLoader {
    let file: YAMLFile
    var errors: [FileError] = []

    static let playbookKeys = ["name", "description", "endpoint", "userId", "mock", "conversations"]
    static let conversationKeys = ["name", "description", "userId", "session", "continue", "steps"]
    static let stepKeys = ["user", "inject", "notify", "wait", "expect", "expectNothing", "context"]
    static let expectationKeys = ["text", "contains", "matches", "data", "type", "source"] + RichContent.fieldNames

    init(file: YAMLFile) {
        self.file = file
    }

    mutating func check() -> PlaybookCheck {
        let playbook = collect { loader throws(FileError) in try loader.read() }
        return PlaybookCheck(file: file.path, playbook: errors.isEmpty ? playbook : nil, errors: errors)
    }

    /// Records `error` and lets reading go on with the next conversation or step.
    mutating func collect<T>(_ read: (inout Self) throws(FileError) -> T) -> T? {
        do {
            return try read(&self)
        } catch {
            errors.append(error)
            return nil
        }
    }

    func unknownKey(_ keyNode: Node, _ key: String, in what: String, allowed: [String]) -> FileError {
        file.error(keyNode, "unknown key '\(key)' in \(what) (expected one of \(allowed.joined(separator: ", ")))")
    }

    mutating func read() throws(FileError) -> Playbook {
        var name = ((file.path as NSString).lastPathComponent as NSString).deletingPathExtension
        var description: String?
        var urlToken: String?
        var userId = Playbook.defaultUserId
        var conversationsNode: Node?
        var mocks = CallMocks()
        for (key, keyNode, value) in try file.mapping(file.root, "a playbook") {
            switch key {
            case "mock": mocks = try self.mocks(value)
            case "name": name = try file.string(value, "name")
            case "description": description = try file.string(value, "description")
            case "endpoint": urlToken = try nonEmpty(value, "endpoint (the endpoint's urlToken)")
            case "userId": userId = try self.userId(value)
            case "conversations": conversationsNode = value
            default: throw unknownKey(keyNode, key, in: "the playbook", allowed: Self.playbookKeys)
            }
        }
        guard let urlToken else {
            throw file.error(file.root, "a playbook needs 'endpoint:', the urlToken of the endpoint it talks to")
        }
        guard let conversationsNode else {
            throw file.error(file.root, "a playbook needs 'conversations:', a list of conversations")
        }
        let items = try file.sequence(conversationsNode, "conversations")
        guard !items.isEmpty else { throw file.error(conversationsNode, "conversations: the list is empty") }
        var conversations: [Conversation] = []
        var names: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let conversation = collect { loader throws(FileError) in
                try loader.conversation(item, number: index + 1, isFirst: index == 0)
            }
            guard let conversation else { continue }
            if let first = names[conversation.name] {
                errors.append(file.error(item, "duplicate conversation name '\(conversation.name)' (first on line \(first))"))
            }
            names[conversation.name] = names[conversation.name] ?? conversation.line
            conversations.append(conversation)
        }
        return Playbook(
            file: file.path, name: name, description: description, urlToken: urlToken, userId: userId, conversations: conversations, mocks: mocks)
    }

    /// `mock: {"[METHOD ]URL-PATTERN": {status?, json? | text?, error?}}`.
    func mocks(_ node: Node) throws(FileError) -> CallMocks {
        let usage = "a mock answers with { status: 200, json: VALUE } or { text: TEXT }, { status: 503 }, or { error: timeout }"
        var mocks = CallMocks()
        for (key, keyNode, value) in try file.mapping(node, "mock") {
            var pattern = key.trimmingCharacters(in: .whitespaces)
            var method: String?
            if let space = pattern.firstIndex(of: " ") {
                method = pattern[..<space].uppercased()
                pattern = pattern[pattern.index(after: space)...].trimmingCharacters(in: .whitespaces)
                let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                guard methods.contains(method!) else {
                    throw file.error(keyNode, "mock: '\(method!)' is not a method a call makes (\(methods.joined(separator: ", ")))")
                }
            }
            guard pattern.hasPrefix("http://") || pattern.hasPrefix("https://") || pattern.hasPrefix("*") else {
                throw file.error(keyNode, "mock: '\(key)' is not a URL pattern (write https://api.example.com/orders/*, optionally after a method)")
            }
            var status = 200
            var body: JSON?
            var error: String?
            for (field, fieldNode, fieldValue) in try file.mapping(value, "mock '\(key)'") {
                switch field {
                case "status":
                    status = try file.int(fieldValue, "mock status")
                    guard (100...599).contains(status) else { throw file.error(fieldValue, "mock status: \(status) is not an HTTP status") }
                case "json": body = file.json(fieldValue)
                case "text": body = .string(try file.string(fieldValue, "mock text"))
                case "error":
                    let kind = try file.string(fieldValue, "mock error")
                    error = kind == "timeout" ? "no answer within the call's timeout (a stand-in's timeout)" : kind
                default: throw file.error(fieldNode, "unknown key '\(field)' in mock '\(key)' (\(usage))")
                }
            }
            let answer: CallAnswer
            if let error {
                answer = .failed(error, attempts: 1)
            } else {
                answer = CallAnswer(status: status, body: body)
            }
            mocks.mocks.append(CallMocks.Mock(pattern: pattern, method: method, answer: answer, line: keyNode.mark?.line))
        }
        return mocks
    }

    // MARK: Conversations

    mutating func conversation(_ node: Node, number: Int, isFirst: Bool) throws(FileError) -> Conversation {
        let line = node.mark?.line ?? 0
        var name = "conversation \(number)"
        var userId: String?
        var sessionId: String?
        var continues = false
        var stepsNode: Node?
        for (key, keyNode, value) in try file.mapping(node, "a conversation") {
            switch key {
            case "name": name = try nonEmpty(value, "name")
            case "description": _ = try file.string(value, "description")
            case "userId": userId = try self.userId(value)
            case "session": sessionId = try nonEmpty(value, "session", maxBytes: 256)
            case "continue":
                continues = try file.bool(value, "continue")
                if continues, isFirst {
                    throw file.error(value, "continue: true carries on the previous conversation's session, but this is the first one")
                }
            case "steps": stepsNode = value
            default: throw unknownKey(keyNode, key, in: "a conversation", allowed: Self.conversationKeys)
            }
        }
        if sessionId != nil, continues {
            throw file.error(node, "a conversation either names its session (session:) or continues the previous one (continue: true), not both")
        }
        guard let stepsNode else { throw file.error(node, "conversation '\(name)' needs 'steps:', a list of steps") }
        let items = try file.sequence(stepsNode, "steps")
        guard !items.isEmpty else { throw file.error(stepsNode, "steps: the list is empty") }
        var steps: [Step] = []
        var sent = false
        for item in items {
            let step = collect { loader throws(FileError) in try loader.step(item, afterMessage: sent) }
            guard let step else { continue }
            sent = sent || step.action != nil
            steps.append(step)
        }
        let session: SessionChoice = continues ? .continuePrevious : sessionId.map(SessionChoice.named) ?? .fresh
        return Conversation(name: name, line: line, userId: userId, session: session, steps: steps)
    }

    // MARK: Steps

    func step(_ node: Node, afterMessage: Bool) throws(FileError) -> Step {
        var step = Step(line: node.mark?.line ?? 0)
        var actionKey: String?
        var outputsKey: String?
        for (key, keyNode, value) in try file.mapping(node, "a step") {
            switch key {
            case "user", "inject", "notify":
                if let actionKey {
                    throw file.error(keyNode, "a step sends one message, but '\(actionKey)' and '\(key)' are both here; make them two steps")
                }
                actionKey = key
                let message = try message(value, key, rich: key == "notify")
                step.action = key == "user" ? .user(message) : key == "inject" ? .inject(message) : .notify(message)
            case "wait":
                if let actionKey {
                    throw file.error(keyNode, "a step does one thing, but '\(actionKey)' and 'wait' are both here; make them two steps")
                }
                actionKey = key
                let text = try file.string(value, "wait")
                guard let duration = Duration(configText: text), duration > .zero else {
                    throw file.error(value, "wait: '\(text)' is not a duration (write 90s, 10m, 2h or 1d)")
                }
                step.action = .wait(duration)
            case "expect", "expectNothing":
                if let outputsKey {
                    throw file.error(keyNode, "'\(outputsKey)' and '\(key)' are both here; a step has one of them")
                }
                outputsKey = key
                if key == "expect" {
                    step.outputs = try expectation(value)
                } else {
                    guard try file.bool(value, "expectNothing") else {
                        throw file.error(value, "expectNothing: write 'expectNothing: true', or leave it out")
                    }
                    step.outputs = .nothing
                }
            case "context": step.context = try context(value)
            default: throw unknownKey(keyNode, key, in: "a step", allowed: Self.stepKeys)
            }
        }
        if step.action == nil, step.outputs == nil, step.context.isEmpty {
            throw file.error(node, "a step needs a message (user, inject or notify), a wait, or a check (expect, expectNothing, context)")
        }
        if let outputsKey, step.action == nil, !afterMessage {
            throw file.error(node, "\(outputsKey) checks the outputs of a message, but no user, inject or notify step comes before it")
        }
        return step
    }

    /// `TEXT`, or `{text, data}` (and the rich fields of SPEC §12 for notify).
    func message(_ node: Node, _ kind: String, rich allowsRich: Bool) throws(FileError) -> PlaybookMessage {
        var message = PlaybookMessage()
        if case .scalar = node {
            message.text = try file.string(node, kind)
        } else {
            guard case .mapping = node else {
                throw file.error(node, "\(kind): write the text, or {text: ..., data: {...}}")
            }
            let allowed = allowsRich ? ["text", "data"] + RichContent.fieldNames : ["text", "data"]
            for (key, keyNode, value) in try file.mapping(node, kind) {
                switch key {
                case "text": message.text = try file.string(value, "\(kind).text")
                case "data":
                    guard case .mapping = value else { throw file.error(value, "\(kind).data must be a mapping (a JSON object)") }
                    message.data = file.json(value)
                case _ where allowsRich && RichContent.fieldNames.contains(key):
                    do {
                        _ = try RichContent.parse([key: file.json(value)], prefix: "\(kind).")
                    } catch {
                        throw file.error(value, error.description)
                    }
                    message.rich[key] = file.json(value)
                default: throw unknownKey(keyNode, key, in: kind, allowed: allowed)
                }
            }
        }
        if (message.text ?? "").isEmpty, message.data == nil, message.rich.isEmpty {
            throw file.error(node, "\(kind): needs a non-empty text or data")
        }
        return message
    }

    // MARK: Expectations

    func expectation(_ node: Node) throws(FileError) -> OutputsExpectation {
        if case .sequence(let items) = node {
            return .exactly(try items.map { (item: Node) throws(FileError) -> OutputExpectation in try output(item) })
        }
        return .some(try output(node))
    }

    /// `TEXT` (the exact text) or a mapping of checks.
    func output(_ node: Node) throws(FileError) -> OutputExpectation {
        let line = node.mark?.line ?? 0
        if case .scalar = node {
            if isNull(node) { return OutputExpectation(checks: [.text(nil)], line: line) }
            return OutputExpectation(checks: [.text(try file.string(node, "expect"))], line: line)
        }
        guard case .mapping = node else {
            throw file.error(
                node, "expect: write an output's text, a mapping of checks (\(Self.expectationKeys.joined(separator: ", "))), or a list of them")
        }
        var checks: [OutputCheck] = []
        for (key, keyNode, value) in try file.mapping(node, "expect") {
            switch key {
            case "text": checks.append(.text(isNull(value) ? nil : try file.string(value, "expect.text")))
            case "contains":
                if case .sequence(let parts) = value {
                    for part in parts { checks.append(.contains(try file.string(part, "expect.contains"))) }
                } else {
                    checks.append(.contains(try file.string(value, "expect.contains")))
                }
            case "matches":
                let pattern = try file.string(value, "expect.matches")
                do {
                    checks.append(.matches(try CompiledPattern(pattern)))
                } catch {
                    throw file.error(value, "expect.matches: '\(pattern)' is not a valid regular expression (\(error))")
                }
            case "data": checks.append(.data(file.json(value)))
            case _ where RichContent.fieldNames.contains(key): checks.append(.rich(key: key, file.json(value)))
            case "type":
                let text = try file.string(value, "expect.type")
                guard let type = OutputType(rawValue: text) else {
                    throw file.error(value, "expect.type: '\(text)' is not one of output, notify, error")
                }
                checks.append(.type(type))
            case "source":
                let text = try file.string(value, "expect.source")
                guard let source = InputSource(rawValue: text) else {
                    throw file.error(value, "expect.source: '\(text)' is not one of user, inject")
                }
                checks.append(.source(source))
            default: throw unknownKey(keyNode, key, in: "an expected output", allowed: Self.expectationKeys)
            }
        }
        return OutputExpectation(checks: checks, line: line)
    }

    /// `context:` a mapping of paths (`survey.rating`, or nested mappings) to values.
    func context(_ node: Node) throws(FileError) -> [ContextExpectation] {
        guard case .mapping = node else {
            throw file.error(node, "context: write a mapping of context paths to values, like {survey.rating: 4}")
        }
        var expectations: [ContextExpectation] = []
        for (key, keyNode, value) in try file.mapping(node, "context") {
            var path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if path.first == "context", path.count > 1 { path.removeFirst() }
            guard !path.contains(where: \.isEmpty) else {
                throw file.error(keyNode, "context: '\(key)' is not a path (names separated by single dots, like survey.rating)")
            }
            expectations.append(ContextExpectation(path: path, value: file.json(value), line: keyNode.mark?.line ?? 0))
        }
        guard !expectations.isEmpty else { throw file.error(node, "context: the mapping is empty") }
        return expectations
    }

    // MARK: Values

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, node.tag == Tag(.null), scalar.style == .plain { return true }
        return false
    }

    func nonEmpty(_ node: Node, _ what: String, maxBytes: Int? = nil) throws(FileError) -> String {
        let text = try file.string(node, what)
        guard !text.isEmpty else { throw file.error(node, "\(what) must not be empty") }
        if let maxBytes, text.utf8.count > maxBytes { throw file.error(node, "\(what) must be at most \(maxBytes) bytes") }
        return text
    }

    func userId(_ node: Node) throws(FileError) -> String {
        try nonEmpty(node, "userId", maxBytes: 256)
    }
}
