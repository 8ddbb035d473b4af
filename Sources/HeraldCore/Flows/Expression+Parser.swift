/// Why an expression does not parse, with the 1-based column in its source.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public let column: Int

    public var description: String { "\(reason) (column \(column))" }
}

/// Recursive descent over the expression grammar, lowest precedence first:
/// `||`, `&&`, `== !=`, `< <= > >=`, `+ -`, `* / %`, unary `! -`, then paths, calls, literals
/// and parentheses.
struct ExpressionParser {
    private enum Token: Hashable {
        case number(Double)
        case string(String)
        case identifier(String)
        case symbol(String)
        case end
    }

    private let source: [Character]
    private var position = 0
    private var token: Token = .end
    private var tokenStart = 0

    init(source: String) {
        self.source = Array(source)
    }

    mutating func parseAll() throws(ExpressionError) -> Expression.Node {
        try advance()
        if token == .end { throw error("empty expression", at: 0) }
        let node = try parseBinary(level: 0)
        guard token == .end else { throw error("unexpected \(describe(token))") }
        return node
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

    // MARK: Tokens

    private mutating func advance() throws(ExpressionError) {
        while position < source.count, source[position].isWhitespace { position += 1 }
        tokenStart = position
        guard position < source.count else {
            token = .end
            return
        }
        let char = source[position]
        if char.isNumber, char.isASCII {
            var end = position
            while end < source.count, source[end].isASCII, source[end].isNumber { end += 1 }
            if end + 1 < source.count, source[end] == ".", source[end + 1].isASCII, source[end + 1].isNumber {
                end += 1
                while end < source.count, source[end].isASCII, source[end].isNumber { end += 1 }
            }
            let text = String(source[position..<end])
            position = end
            token = .number(Double(text)!)
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
                    switch escaped {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    default: value.append(escaped)
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

    private mutating func parseBinary(level: Int) throws(ExpressionError) -> Expression.Node {
        guard level < Self.levels.count else { return try parseUnary() }
        var lhs = try parseBinary(level: level + 1)
        while case .symbol(let symbol) = token, let op = Self.levels[level].first(where: { $0.rawValue == symbol }) {
            try advance()
            let rhs = try parseBinary(level: level + 1)
            lhs = .binary(op, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseUnary() throws(ExpressionError) -> Expression.Node {
        if token == .symbol("!") {
            try advance()
            return .unary(.not, try parseUnary())
        }
        if token == .symbol("-") {
            try advance()
            let operand = try parseUnary()
            if case .literal(.number(let value)) = operand { return .literal(.number(-value)) }
            return .unary(.negate, operand)
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Expression.Node {
        let start = tokenStart
        switch token {
        case .number(let value):
            try advance()
            return .literal(.number(value))
        case .string(let value):
            try advance()
            return .literal(.string(value))
        case .symbol("("):
            try advance()
            let inner = try parseBinary(level: 0)
            try expect(")")
            return inner
        case .identifier(let name):
            try advance()
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            default: break
            }
            if token == .symbol("(") {
                return try parseCall(name, start: start)
            }
            guard let root = Expression.Root(rawValue: name) else {
                throw error("unknown name '\(name)': paths start with input, context or session", at: start)
            }
            return try parsePath(root)
        case .end:
            throw error("expected a value but the expression ended")
        default:
            throw error("expected a value but found \(describe(token))")
        }
    }

    private mutating func parsePath(_ root: Expression.Root) throws(ExpressionError) -> Expression.Node {
        var steps: [Expression.PathStep] = []
        while true {
            if token == .symbol(".") {
                try advance()
                switch token {
                case .identifier(let key): steps.append(.key(key))
                case .number(let number) where number.rounded() == number: steps.append(.key(JSON.number(number).text))
                default: throw error("expected a name after '.'")
                }
                try advance()
            } else if token == .symbol("[") {
                try advance()
                steps.append(.index(try parseBinary(level: 0)))
                try expect("]")
            } else {
                return .path(root, steps)
            }
        }
    }

    private mutating func parseCall(_ name: String, start: Int) throws(ExpressionError) -> Expression.Node {
        guard let function = FlowFunction(rawValue: name) else {
            let known = FlowFunction.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("unknown function '\(name)' (known: \(known))", at: start)
        }
        try expect("(")
        var arguments: [Expression.Node] = []
        if token != .symbol(")") {
            while true {
                arguments.append(try parseBinary(level: 0))
                if token == .symbol(",") {
                    try advance()
                } else {
                    break
                }
            }
        }
        try expect(")")
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
        return .call(function, arguments)
    }
}
