/// A string with `{{ expression }}` holes, compiled once at load time.
///
/// A template that is exactly one hole (`"{{ input.data }}"`) keeps the value's type, so
/// `data: "{{ input.data }}"` passes an object through instead of its JSON text.
public struct Template: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case text(String)
        case expression(Expression)
    }

    let parts: [Part]

    /// Parses `source`; an error names the column within the string.
    ///
    /// A hole ends at the first `}}` outside a string literal, so `{{ "}}" }}` is the text `}}`
    /// and `{{ "{{" }}` writes a literal `{{`.
    ///
    /// `variables` are extra root names for the expressions in the holes
    /// (``Expression/init(parsing:variables:)``).
    public init(parsing source: String, variables: Set<String> = []) throws(ExpressionError) {
        var parts: [Part] = []
        var rest = Substring(source)
        var offset = 0
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            let afterOpen = rest[open.upperBound...]
            // Without a `}}` outside quotes, the first `}}` at all: the expression parser then
            // says what is wrong inside (an unterminated string, usually).
            guard let close = Self.closingBraces(in: afterOpen) ?? afterOpen.firstRange(of: "}}") else {
                throw ExpressionError(
                    reason: "'{{' without a closing '}}'", column: offset + rest.distance(from: rest.startIndex, to: open.lowerBound) + 1)
            }
            let inner = String(afterOpen[..<close.lowerBound])
            let innerColumn = offset + rest.distance(from: rest.startIndex, to: open.upperBound)
            do {
                parts.append(.expression(try Expression(parsing: inner, variables: variables)))
            } catch {
                throw ExpressionError(reason: error.reason, column: innerColumn + error.column)
            }
            offset += rest.distance(from: rest.startIndex, to: close.upperBound)
            rest = afterOpen[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// The range of the `}}` that closes a hole, skipping quoted strings.
    private static func closingBraces(in text: Substring) -> Range<Substring.Index>? {
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let char = text[index]
            if let open = quote {
                if char == "\\" {
                    index = text.index(after: index)
                    if index == text.endIndex { return nil }
                } else if char == open {
                    quote = nil
                }
            } else if char == "\"" || char == "'" {
                quote = char
            } else if char == "}" {
                let next = text.index(after: index)
                if next < text.endIndex, text[next] == "}" { return index..<text.index(after: next) }
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// The text before the first hole (all of it when there is none).
    var literalPrefix: String {
        var prefix = ""
        for part in parts {
            guard case .text(let text) = part else { break }
            prefix += text
        }
        return prefix
    }

    /// True when the template has no holes.
    public var isConstant: Bool {
        parts.allSatisfy { if case .text = $0 { true } else { false } }
    }

    /// The value: a single hole keeps its type; anything else is a string.
    public func evaluate(in scope: Scope) -> JSON {
        if parts.count == 1, case .expression(let expression) = parts[0] {
            return expression.evaluate(in: scope)
        }
        return .string(render(in: scope))
    }

    /// The text, each hole replaced by its value's text (`null` as nothing).
    public func render(in scope: Scope) -> String {
        var result = ""
        for part in parts {
            switch part {
            case .text(let text): result += text
            case .expression(let expression): result += expression.evaluate(in: scope).text
            }
        }
        return result
    }
}

/// A value in a flow file: a YAML scalar, mapping or list whose strings may be templates.
///
/// Channel files add two constructs (docs/channels.md): ``each(_:)``, a list mapped from other
/// lists (`$each`), and ``when(_:_:)``, a value present only when a condition holds (`$when`).
/// Inside a list, the values of an `each` are spliced in place, and a `when` whose condition does
/// not hold is left out, so fixed and computed elements mix in one list.
public indirect enum ValueTemplate: Sendable, Hashable {
    case literal(JSON)
    case template(Template)
    case object([(key: String, value: ValueTemplate)])
    case array([ValueTemplate])
    /// A list with one value per element (or combination of elements) of the loop's lists.
    case each(ValueLoop)
    /// The value when the condition is truthy; `null` (or, in a list, nothing) otherwise.
    case when(Expression, ValueTemplate)

    /// The JSON value, every template in it evaluated.
    public func evaluate(in scope: Scope) -> JSON {
        switch self {
        case .literal(let value): return value
        case .template(let template): return template.evaluate(in: scope)
        case .object(let pairs):
            var object = JSONObject()
            for (key, value) in pairs { object[key] = value.evaluate(in: scope) }
            return .object(object)
        case .array(let values):
            var result: [JSON] = []
            for value in values {
                switch value {
                case .each(let loop): result += loop.values(in: scope)
                case .when(let condition, let inner):
                    if condition.evaluate(in: scope).isTruthy { result.append(inner.evaluate(in: scope)) }
                default: result.append(value.evaluate(in: scope))
                }
            }
            return .array(result)
        case .each(let loop): return .array(loop.values(in: scope))
        case .when(let condition, let inner): return condition.evaluate(in: scope).isTruthy ? inner.evaluate(in: scope) : .null
        }
    }

    public static func == (lhs: ValueTemplate, rhs: ValueTemplate) -> Bool {
        switch (lhs, rhs) {
        case (.literal(let a), .literal(let b)): a == b
        case (.template(let a), .template(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        case (.each(let a), .each(let b)): a == b
        case (.when(let a, let x), .when(let b, let y)): a == b && x == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .literal(let value): hasher.combine(value)
        case .template(let template): hasher.combine(template)
        case .object(let pairs): for (key, value) in pairs { hasher.combine(key); hasher.combine(value) }
        case .array(let values): hasher.combine(values)
        case .each(let loop): hasher.combine(loop)
        case .when(let condition, let value): hasher.combine(condition); hasher.combine(value)
        }
    }
}

/// A list mapped from other lists: for every element of the first list, every element of the
/// second (which may use the first's name), and so on, the `value` — when `filter` holds for
/// that combination. A list expression that gives `null` has no elements; any other non-list
/// value is a list of one.
public struct ValueLoop: Sendable, Hashable {
    /// A loop variable and the list it walks; later lists may use earlier names.
    public struct Binding: Sendable, Hashable {
        public var name: String
        public var list: Expression

        public init(name: String, list: Expression) {
            self.name = name
            self.list = list
        }
    }

    /// At most this many values come out of one loop; the rest are left out.
    public static let maximumValues = 10_000

    public var bindings: [Binding]
    /// Which combinations give a value (`$when`).
    public var filter: Expression?
    /// A name bound to the position (from 0) of the value in the resulting list (`$index`).
    public var index: String?
    public var value: ValueTemplate

    public init(bindings: [Binding], filter: Expression? = nil, index: String? = nil, value: ValueTemplate) {
        self.bindings = bindings
        self.filter = filter
        self.index = index
        self.value = value
    }

    /// The loop's values in order.
    public func values(in scope: Scope) -> [JSON] {
        var result: [JSON] = []
        func walk(_ level: Int, _ scope: Scope) {
            guard result.count < Self.maximumValues else { return }
            guard level < bindings.count else {
                var inner = scope
                if let index { inner.variables[index] = .number(Double(result.count)) }
                if let filter, !filter.evaluate(in: inner).isTruthy { return }
                result.append(value.evaluate(in: inner))
                return
            }
            let binding = bindings[level]
            let items: [JSON]
            switch binding.list.evaluate(in: scope) {
            case .null: items = []
            case .array(let elements): items = elements
            case let single: items = [single]
            }
            for item in items {
                var inner = scope
                inner.variables[binding.name] = item
                walk(level + 1, inner)
            }
        }
        walk(0, scope)
        return result
    }
}
