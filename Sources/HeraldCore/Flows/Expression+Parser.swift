/// Why an expression does not parse, with the 1-based column in its source.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public let reason: String
    /// Where, counting characters from 1.
    public let column: Int

    public init(reason: String, column: Int) {
        self.reason = reason
        self.column = column
    }

    public var description: String { "\(reason) (column \(column))" }
}

/// Recursive descent over the expression grammar, lowest precedence first:
/// `||`, `&&`, `== !=`, `< <= > >=`, `+ -`, `* / %`, unary `! -`, then paths, calls, literals
/// (`[a, b]` lists among them) and parentheses.
///
/// Every node it builds carries its depth, and an expression deeper than ``maximumDepth`` is
/// rejected: evaluation recurses over the tree, so a bounded tree is what keeps a hostile or
/// generated flow file from overflowing the stack of the thread that runs it.
struct ExpressionParser {
    /// The deepest expression tree accepted (`a + b + c` is 3 deep, each `(` or call one more).
    static let maximumDepth = 200

    private enum Token: Hashable {
        case number(Double)
        case string(String)
        case identifier(String)
        case symbol(String)
        case end
    }

    /// A parsed subtree and its depth.
    private struct Parsed {
        var node: Expression.Node
        var depth: Int
    }

    private let source: [Character]
    private var position = 0
    private var token: Token = .end
    private var tokenStart = 0
    /// How many parentheses, calls and brackets enclose the current token; checked on the way
    /// down so deep nesting fails before the parser itself recurses deeply.
    private var nesting = 0

    /// Extra root names (``Expression/init(parsing:variables:)``).
    private let variables: Set<String>

    init(source: String, variables: Set<String> = []) {
        self.source = Array(source)
        self.variables = variables
    }

    mutating func parseAll() throws(ExpressionError) -> Expression.Node {
        try advance()
        if token == .end { throw error("empty expression", at: 0) }
        let parsed = try parseBinary(level: 0)
        guard token == .end else { throw error("unexpected \(describe(token))") }
        return parsed.node
    }

    private func error(_ reason: String, at column: Int? = nil) -> ExpressionError {
        ExpressionError(reason: reason, column: (column ?? tokenStart) + 1)
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .number(let value): "number \(JSON.number(value).text)"
        case .string(let value): "string \"\(value)\""
        case .identifier(let name): "'\(name)'"
        case .symbol(let symbol): "'\(symbol)'"
        case .end: "end of expression"
        }
    }

    private func checked(_ node: Expression.Node, depth: Int, start: Int) throws(ExpressionError) -> Parsed {
        guard depth <= Self.maximumDepth else {
            throw error("expression is nested too deeply (more than \(Self.maximumDepth) levels)", at: start)
        }
        return Parsed(node: node, depth: depth)
    }

    private mutating func enter(_ start: Int) throws(ExpressionError) {
        nesting += 1
        guard nesting <= Self.maximumDepth else {
            throw error("expression is nested too deeply (more than \(Self.maximumDepth) levels)", at: start)
        }
    }

    // MARK: Tokens

    private static func isDigit(_ char: Character) -> Bool {
        char.isASCII && char.isNumber
    }

    /// Reads the next token. After a `.` only whole numbers are read, so `items.0.1` is two
    /// steps rather than the number `0.1`.
    private mutating func advance() throws(ExpressionError) {
        let afterDot = token == .symbol(".")
        while position < source.count, source[position].isWhitespace { position += 1 }
        tokenStart = position
        guard position < source.count else {
            token = .end
            return
        }
        let char = source[position]
        if Self.isDigit(char) {
            var end = position
            while end < source.count, Self.isDigit(source[end]) { end += 1 }
            if !afterDot, end + 1 < source.count, source[end] == ".", Self.isDigit(source[end + 1]) {
                end += 1
                while end < source.count, Self.isDigit(source[end]) { end += 1 }
            }
            let text = String(source[position..<end])
            guard let value = Double(text), value.isFinite else { throw error("number \(text) is too large") }
            position = end
            token = .number(value)
        } else if char == "\"" || char == "'" {
            position += 1
            var value = ""
            while true {
                guard position < source.count else { throw error("unterminated string") }
                let next = source[position]
                position += 1
                if next == char { break }
                if next == "\\" {
                    guard position < source.count else { throw error("unterminated string") }
                    let escaped = source[position]
                    position += 1
                    // Only these are escapes; any other backslash stays, so a regular
                    // expression such as '^\d+$' means what it says.
                    switch escaped {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "\\", "'", "\"": value.append(escaped)
                    default: value += "\\\(escaped)"
                    }
                } else {
                    value.append(next)
                }
            }
            token = .string(value)
        } else if char.isLetter || char == "_" {
            var end = position
            while end < source.count, source[end].isLetter || source[end].isNumber || source[end] == "_" { end += 1 }
            token = .identifier(String(source[position..<end]))
            position = end
        } else {
            let two = position + 1 < source.count ? String(source[position...position + 1]) : ""
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                token = .symbol(two)
                position += 2
            } else if "!<>+-*/%().,[]".contains(char) {
                token = .symbol(String(char))
                position += 1
            } else if char == "=" {
                throw error("'=' is not an operator; use '==' to compare")
            } else if char == "&" || char == "|" {
                throw error("'\(char)' is not an operator; use '\(char)\(char)'")
            } else {
                throw error("unexpected character '\(char)'")
            }
        }
    }

    private mutating func expect(_ symbol: String) throws(ExpressionError) {
        guard token == .symbol(symbol) else { throw error("expected '\(symbol)' but found \(describe(token))") }
        try advance()
    }

    // MARK: Grammar

    private static let levels: [[Expression.BinaryOperator]] = [
        [.or], [.and], [.equal, .notEqual], [.less, .lessOrEqual, .greater, .greaterOrEqual],
        [.add, .subtract], [.multiply, .divide, .remainder],
    ]

    private mutating func parseBinary(level: Int) throws(ExpressionError) -> Parsed {
        guard level < Self.levels.count else { return try parseUnary() }
        let start = tokenStart
        var lhs = try parseBinary(level: level + 1)
        while case .symbol(let symbol) = token, let op = Self.levels[level].first(where: { $0.rawValue == symbol }) {
            try advance()
            let rhs = try parseBinary(level: level + 1)
            lhs = try checked(.binary(op, lhs.node, rhs.node), depth: max(lhs.depth, rhs.depth) + 1, start: start)
        }
        return lhs
    }

    /// Prefix operators are read in a loop, not by recursion, so `!!!!…` cannot run deep.
    private mutating func parseUnary() throws(ExpressionError) -> Parsed {
        var operators: [(Expression.UnaryOperator, Int)] = []
        while token == .symbol("!") || token == .symbol("-") {
            operators.append((token == .symbol("!") ? .not : .negate, tokenStart))
            try advance()
        }
        var operand = try parsePrimary()
        for (op, start) in operators.reversed() {
            if op == .negate, case .literal(.number(let value)) = operand.node {
                operand.node = .literal(.number(-value))
            } else {
                operand = try checked(.unary(op, operand.node), depth: operand.depth + 1, start: start)
            }
        }
        return operand
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Parsed {
        let start = tokenStart
        switch token {
        case .number(let value):
            try advance()
            return Parsed(node: .literal(.number(value)), depth: 1)
        case .string(let value):
            try advance()
            return Parsed(node: .literal(.string(value)), depth: 1)
        case .symbol("["):
            return try parseList(start: start)
        case .symbol("("):
            try enter(start)
            try advance()
            let inner = try parseBinary(level: 0)
            try expect(")")
            nesting -= 1
            return try checked(inner.node, depth: inner.depth + 1, start: start)
        case .identifier(let name):
            try advance()
            switch name {
            case "true": return Parsed(node: .literal(.bool(true)), depth: 1)
            case "false": return Parsed(node: .literal(.bool(false)), depth: 1)
            case "null": return Parsed(node: .literal(.null), depth: 1)
            default: break
            }
            if token == .symbol("(") {
                return try parseCall(name, start: start)
            }
            // With variables, they are the only roots: a flow's input/context/session have no
            // values there, so naming them is a mistake to report, not a silent null.
            if !variables.isEmpty {
                guard variables.contains(name) else {
                    throw error("unknown name '\(name)': paths start with \(variables.sorted().joined(separator: ", "))", at: start)
                }
                return try parsePath(start: start) { .variable(name, $0) }
            }
            guard let root = Expression.Root(rawValue: name) else {
                throw error("unknown name '\(name)': paths start with input, context or session", at: start)
            }
            return try parsePath(start: start) { .path(root, $0) }
        case .end:
            throw error("expected a value but the expression ended")
        default:
            throw error("expected a value but found \(describe(token))")
        }
    }

    private mutating func parsePath(start: Int, _ make: ([Expression.PathStep]) -> Expression.Node) throws(ExpressionError) -> Parsed {
        var steps: [Expression.PathStep] = []
        var depth = 1
        while true {
            if token == .symbol(".") {
                try advance()
                switch token {
                case .identifier(let key): steps.append(.key(key))
                case .number(let number): steps.append(.key(JSON.number(number).text))
                default: throw error("expected a name after '.' but found \(describe(token))")
                }
                try advance()
            } else if token == .symbol("[") {
                try enter(tokenStart)
                try advance()
                let index = try parseBinary(level: 0)
                depth = max(depth, index.depth + 1)
                steps.append(.index(index.node))
                try expect("]")
                nesting -= 1
            } else {
                return try checked(make(steps), depth: depth, start: start)
            }
        }
    }

    /// `[a, b, c]`, `[]`; a trailing comma is allowed.
    private mutating func parseList(start: Int) throws(ExpressionError) -> Parsed {
        try enter(start)
        try expect("[")
        var elements: [Expression.Node] = []
        var depth = 1
        while token != .symbol("]") {
            let element = try parseBinary(level: 0)
            elements.append(element.node)
            depth = max(depth, element.depth + 1)
            guard token == .symbol(",") else { break }
            try advance()
        }
        try expect("]")
        nesting -= 1
        return try checked(.list(elements), depth: depth, start: start)
    }

    private mutating func parseCall(_ name: String, start: Int) throws(ExpressionError) -> Parsed {
        guard let function = FlowFunction(rawValue: name) else {
            let known = FlowFunction.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("unknown function '\(name)' (known: \(known))", at: start)
        }
        try enter(start)
        try expect("(")
        var arguments: [Expression.Node] = []
        var depth = 1
        if token != .symbol(")") {
            while true {
                let argument = try parseBinary(level: 0)
                arguments.append(argument.node)
                depth = max(depth, argument.depth + 1)
                if token == .symbol(",") {
                    try advance()
                } else {
                    break
                }
            }
        }
        try expect(")")
        nesting -= 1
        guard function.arity.contains(arguments.count) else {
            let expected =
                function.arity.count == 1
                ? "\(function.arity.lowerBound)" : "\(function.arity.lowerBound) to \(function.arity.upperBound)"
            throw error("\(name)() takes \(expected) argument\(function.arity.upperBound == 1 ? "" : "s"), got \(arguments.count)", at: start)
        }
        if function == .matches, case .literal(.string(let pattern)) = arguments[1] {
            do {
                _ = try Regex(pattern)
            } catch {
                throw self.error("invalid regular expression \"\(pattern)\": \(error)", at: start)
            }
        }
        return try checked(.call(function, arguments), depth: depth, start: start)
    }
}
