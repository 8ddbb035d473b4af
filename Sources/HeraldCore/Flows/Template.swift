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
public indirect enum ValueTemplate: Sendable, Hashable {
    case literal(JSON)
    case template(Template)
    case object([(key: String, value: ValueTemplate)])
    case array([ValueTemplate])

    /// The JSON value, every template in it evaluated.
    public func evaluate(in scope: Scope) -> JSON {
        switch self {
        case .literal(let value): return value
        case .template(let template): return template.evaluate(in: scope)
        case .object(let pairs):
            var object = JSONObject()
            for (key, value) in pairs { object[key] = value.evaluate(in: scope) }
            return .object(object)
        case .array(let values): return .array(values.map { $0.evaluate(in: scope) })
        }
    }

    public static func == (lhs: ValueTemplate, rhs: ValueTemplate) -> Bool {
        switch (lhs, rhs) {
        case (.literal(let a), .literal(let b)): a == b
        case (.template(let a), .template(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .literal(let value): hasher.combine(value)
        case .template(let template): hasher.combine(template)
        case .object(let pairs): for (key, value) in pairs { hasher.combine(key); hasher.combine(value) }
        case .array(let values): hasher.combine(values)
        }
    }
}
