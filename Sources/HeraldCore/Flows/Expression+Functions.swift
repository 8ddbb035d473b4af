import Synchronization

/// The functions of the flow language. Arguments are never an error: each function says what it
/// does with a value of another type (docs/flows.md lists them all).
enum FlowFunction: String, Sendable, Hashable, CaseIterable {
    case lower, upper, trim, contains, startsWith, endsWith, matches, len, number, string, `default`, now

    var arity: ClosedRange<Int> {
        switch self {
        case .now: 0...0
        case .lower, .upper, .trim, .len, .number, .string: 1...1
        case .contains, .startsWith, .endsWith, .matches, .default: 2...2
        }
    }

    func call(_ arguments: [JSON]) -> JSON {
        switch self {
        case .lower: return .string(arguments[0].text.lowercased())
        case .upper: return .string(arguments[0].text.uppercased())
        case .trim: return .string(arguments[0].text.trimmingWhitespace())
        case .contains:
            switch arguments[0] {
            case .string(let haystack): return .bool(haystack.contains(arguments[1].text))
            case .array(let elements): return .bool(elements.contains(arguments[1]))
            case .object(let object):
                guard case .string(let key) = arguments[1] else { return .bool(false) }
                return .bool(object[key] != nil)
            default: return .bool(false)
            }
        case .startsWith:
            guard case .string(let value) = arguments[0] else { return .bool(false) }
            return .bool(value.hasPrefix(arguments[1].text))
        case .endsWith:
            guard case .string(let value) = arguments[0] else { return .bool(false) }
            return .bool(value.hasSuffix(arguments[1].text))
        case .matches:
            guard case .string(let value) = arguments[0], case .string(let pattern) = arguments[1],
                let regex = RegexCache.shared.regex(pattern)
            else { return .bool(false) }
            return .bool(value.contains(regex))
        case .len:
            switch arguments[0] {
            case .string(let value): return .number(Double(value.count))
            case .array(let value): return .number(Double(value.count))
            case .object(let value): return .number(Double(value.count))
            default: return .number(0)
            }
        case .number:
            switch arguments[0] {
            case .number: return arguments[0]
            case .bool(let value): return .number(value ? 1 : 0)
            case .string(let value):
                guard let number = Double(value.trimmingWhitespace()), number.isFinite else { return .null }
                return .number(number)
            default: return .null
            }
        case .string: return .string(arguments[0].text)
        case .default:
            switch arguments[0] {
            case .null: return arguments[1]
            case .string(let value) where value.isEmpty: return arguments[1]
            default: return arguments[0]
            }
        case .now: return .string(Timestamp.now().iso8601)
        }
    }
}

/// Compiled regular expressions by pattern, so a `matches` in a hot flow compiles once.
final class RegexCache: Sendable {
    static let shared = RegexCache()

    private let cache = Mutex<[String: CompiledPattern]>([:])

    func regex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        if let cached = cache.withLock({ $0[pattern] }) { return cached.regex }
        guard let regex = try? CompiledPattern(pattern) else { return nil }
        cache.withLock { cache in
            if cache.count > 1000 { cache.removeAll() }
            cache[pattern] = regex
        }
        return regex.regex
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
