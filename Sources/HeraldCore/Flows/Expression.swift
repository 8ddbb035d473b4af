/// A compiled expression of the flow language: conditions in `if` / `switch` and the inside of
/// `{{ ... }}` in templates. Parsed once when the flow loads (``Expression/init(parsing:)``), then
/// evaluated against a ``Scope`` for every input.
///
/// Semantics, in short (docs/flows.md has the full reference):
/// - a missing path is `null`, never an error;
/// - `==` / `!=` compare by value (numbers numerically, objects deeply), never across types;
/// - `<` `<=` `>` `>=` compare two numbers or two strings, else are `false`;
/// - `&&` `||` `!` work on truthiness (`null`, `false`, `0`, `""`, `[]`, `{}` are false);
/// - `+` adds numbers, or concatenates when either side is a string; other arithmetic on
///   non-numbers, division by zero and overflow give `null`;
/// - `[a, b]` is a list of the values of `a` and `b`.
public struct Expression: Sendable, Hashable, CustomStringConvertible {
    indirect enum Node: Sendable, Hashable {
        case literal(JSON)
        case path(Root, [PathStep])
        /// A path from a named variable of the scope (``Scope/variables``), for languages built
        /// on this one (channel files) that give expressions other roots than a flow's.
        case variable(String, [PathStep])
        case unary(UnaryOperator, Node)
        case binary(BinaryOperator, Node, Node)
        case call(FlowFunction, [Node])
        /// A list literal, `[a, b, c]`.
        case list([Node])
    }

    enum Root: String, Sendable, Hashable, CaseIterable {
        case input, context, session
    }

    enum PathStep: Sendable, Hashable {
        case key(String)
        case index(Node)
    }

    enum UnaryOperator: String, Sendable, Hashable {
        case not = "!"
        case negate = "-"
    }

    enum BinaryOperator: String, Sendable, Hashable {
        case or = "||", and = "&&"
        case equal = "==", notEqual = "!="
        case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    }

    let root: Node
    /// The source text, for messages and `description`.
    public let source: String

    /// Parses `source`; throws an ``ExpressionError`` naming the column of the problem.
    ///
    /// `variables` are extra root names a path may start with besides `input`, `context` and
    /// `session`; their values come from ``Scope/variables`` when the expression runs.
    public init(parsing source: String, variables: Set<String> = []) throws(ExpressionError) {
        var parser = ExpressionParser(source: source, variables: variables)
        self.root = try parser.parseAll()
        self.source = source
    }

    public var description: String { source }

    /// Evaluates the expression. Never throws: type mismatches and missing values give `null`.
    public func evaluate(in scope: Scope) -> JSON {
        evaluate(root, scope)
    }

    private func evaluate(_ node: Node, _ scope: Scope) -> JSON {
        switch node {
        case .literal(let value):
            return value
        case .path(let root, let steps):
            var current: JSON
            var remaining = steps[...]
            if case .key(let first)? = steps.first {
                current = scope.value(of: root, key: first)
                remaining = steps.dropFirst()
            } else {
                current = scope.value(of: root)
            }
            return follow(remaining, from: current, scope)
        case .variable(let name, let steps):
            return follow(steps[...], from: scope.variables[name] ?? .null, scope)
        case .unary(.not, let operand):
            return .bool(!evaluate(operand, scope).isTruthy)
        case .unary(.negate, let operand):
            if case .number(let value) = evaluate(operand, scope) { return .number(-value) }
            return .null
        case .binary(.and, let lhs, let rhs):
            return .bool(evaluate(lhs, scope).isTruthy && evaluate(rhs, scope).isTruthy)
        case .binary(.or, let lhs, let rhs):
            return .bool(evaluate(lhs, scope).isTruthy || evaluate(rhs, scope).isTruthy)
        case .binary(let op, let lhs, let rhs):
            return Self.apply(op, evaluate(lhs, scope), evaluate(rhs, scope))
        case .call(let function, let arguments):
            return function.call(arguments.map { evaluate($0, scope) }, in: scope)
        case .list(let elements):
            return .array(elements.map { evaluate($0, scope) })
        }
    }

    private func follow(_ steps: ArraySlice<PathStep>, from start: JSON, _ scope: Scope) -> JSON {
        var current = start
        for step in steps {
            switch step {
            case .key(let key):
                current = Self.member(of: current, key)
            case .index(let indexNode):
                let index = evaluate(indexNode, scope)
                switch index {
                case .number(let number): current = Self.element(of: current, number)
                case .string(let key): current = Self.member(of: current, key)
                default: current = .null
                }
            }
        }
        return current
    }

    private static func member(of value: JSON, _ key: String) -> JSON {
        switch value {
        case .object(let object): return object[key] ?? .null
        case .array(let array):
            if let index = Int(key), array.indices.contains(index) { return array[index] }
            return .null
        default: return .null
        }
    }

    private static func element(of value: JSON, _ number: Double) -> JSON {
        guard case .array(let array) = value, let index = Int(exactly: number), array.indices.contains(index) else { return .null }
        return array[index]
    }

    static func apply(_ op: BinaryOperator, _ lhs: JSON, _ rhs: JSON) -> JSON {
        switch op {
        case .equal: return .bool(lhs == rhs)
        case .notEqual: return .bool(lhs != rhs)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Int
            switch (lhs, rhs) {
            case (.number(let a), .number(let b)): order = a < b ? -1 : (a == b ? 0 : 1)
            case (.string(let a), .string(let b)): order = a < b ? -1 : (a == b ? 0 : 1)
            default: return .bool(false)
            }
            switch op {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .add:
            if case .number(let a) = lhs, case .number(let b) = rhs { return (a + b).isFinite ? .number(a + b) : .null }
            if case .string = lhs { return .string(lhs.text + rhs.text) }
            if case .string = rhs { return .string(lhs.text + rhs.text) }
            return .null
        case .subtract, .multiply, .divide, .remainder:
            guard case .number(let a) = lhs, case .number(let b) = rhs else { return .null }
            let result: Double
            switch op {
            case .subtract: result = a - b
            case .multiply: result = a * b
            case .divide: result = b == 0 ? .nan : a / b
            default: result = b == 0 ? .nan : a.truncatingRemainder(dividingBy: b)
            }
            // Overflow and division by zero have no JSON value.
            return result.isFinite ? .number(result) : .null
        case .and, .or:
            preconditionFailure("short-circuit operators are evaluated in evaluate(_:_:)")
        }
    }
}

/// What an expression can see while a flow runs.
public struct Scope: Sendable {
    /// `input.*`: the message being handled.
    public var input: Input
    /// `context.*`: the session's memory, as the run has changed it so far.
    public var context: JSONObject
    /// `session.id` and `session.urlToken`.
    public var session: SessionKey
    /// `session.userId`.
    public var userId: String
    /// The values of the extra roots an expression was parsed with (`Expression(parsing:variables:)`).
    public var variables: JSONObject = [:]

    public init(input: Input, context: JSONObject, session: SessionKey, userId: String) {
        self.input = input
        self.context = context
        self.session = session
        self.userId = userId
    }

    /// A scope outside any flow run: only `variables` have values (a channel file's
    /// expressions); `input`, `context` and `session` are empty, and `now()` is `now`.
    public init(variables: JSONObject, now: Timestamp = Timestamp(milliseconds: 0)) {
        let session = SessionKey(urlToken: "", sessionId: "")
        self.input = Input(id: "", session: session, userId: "", text: nil, data: nil, source: .user, receivedAt: now)
        self.context = [:]
        self.session = session
        self.userId = ""
        self.variables = variables
    }

    /// `root.key` without building the whole root object (the common case: `input.text`).
    func value(of root: Expression.Root, key: String) -> JSON {
        switch root {
        case .context:
            return context[key] ?? .null
        case .input:
            switch key {
            case "text": return input.text.map(JSON.string) ?? .null
            case "data": return input.data ?? .null
            case "source": return .string(input.source.rawValue)
            case "id": return .string(input.id)
            case "userId": return .string(input.userId)
            case "error": return input.error
            default: return .null
            }
        case .session:
            switch key {
            case "id": return .string(session.sessionId)
            case "userId": return .string(userId)
            case "urlToken": return .string(session.urlToken)
            default: return .null
            }
        }
    }

    func value(of root: Expression.Root) -> JSON {
        switch root {
        case .context:
            return .object(context)
        case .input:
            var object = JSONObject()
            object["text"] = input.text.map(JSON.string) ?? .null
            object["data"] = input.data ?? .null
            object["source"] = .string(input.source.rawValue)
            object["id"] = .string(input.id)
            object["userId"] = .string(input.userId)
            if input.source == .call { object["error"] = input.error }
            return .object(object)
        case .session:
            return [
                "id": .string(session.sessionId),
                "userId": .string(userId),
                "urlToken": .string(session.urlToken),
            ]
        }
    }
}

extension JSON {
    /// `null`, `false`, `0`, `""`, `[]` and `{}` are false; everything else is true.
    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let value): value
        case .number(let value): value != 0
        case .string(let value): !value.isEmpty
        case .array(let value): !value.isEmpty
        case .object(let value): !value.isEmpty
        }
    }

    /// The value as text in a template: strings as they are, `null` as nothing, numbers without
    /// a trailing `.0`, arrays and objects as JSON.
    public var text: String {
        switch self {
        case .null: ""
        case .bool(let value): value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 9_007_199_254_740_992 { String(Int64(value)) } else { String(value) }
        case .string(let value): value
        case .array, .object: jsonString
        }
    }
}

extension Input {
    /// `input.error`: what made a call fail, for the flow at its `onError` node; `null` for any
    /// other input.
    var error: JSON {
        guard source == .call, let error = data?["error"], case .string = error else { return .null }
        return error
    }
}
