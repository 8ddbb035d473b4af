import Synchronization

/// The functions of the flow language. Arguments are never an error: each function says what it
/// does with a value of another type (docs/flows.md lists them all).
///
/// Two families, two rules:
/// - functions that *read text* (`lower`, `upper`, `trim`, `string`, `len` of a scalar) take any
///   value's text, `null` being the empty string;
/// - functions that *test strings* (`contains`, `startsWith`, `endsWith`, `matches`) are `false`
///   unless the first argument is a string (or, for `contains`, an array or object), and `false`
///   when the thing looked for is `null`.
///
/// `clip`, `clipBytes`, `join`, `slice`, `parseJson` and `if` exist for channel files (which turn
/// outputs into a channel's limits and shapes) but work in flows as well.
enum FlowFunction: String, Sendable, Hashable, CaseIterable {
    case lower, upper, trim, contains, startsWith, endsWith, matches, len, number, string, `default`, now
    case clip, clipBytes, join, slice, parseJson, `if`
    /// For flows that call APIs (SPEC §13): a list with one more element (a conversation's
    /// messages), and a text made safe for a URL's path or query.
    case append, urlEncode

    var arity: ClosedRange<Int> {
        switch self {
        case .now: 0...0
        case .lower, .upper, .trim, .len, .number, .string, .parseJson, .urlEncode: 1...1
        case .contains, .startsWith, .endsWith, .matches, .default, .clipBytes, .join, .append: 2...2
        case .clip, .slice, .if: 2...3
        }
    }

    func call(_ arguments: [JSON], in scope: Scope) -> JSON {
        switch self {
        case .lower: return .string(arguments[0].text.lowercased())
        case .upper: return .string(arguments[0].text.uppercased())
        case .trim: return .string(arguments[0].text.trimmingWhitespace())
        case .contains:
            switch arguments[0] {
            case .string(let haystack):
                if arguments[1].isNull { return .bool(false) }
                return .bool(haystack.contains(arguments[1].text))
            case .array(let elements): return .bool(elements.contains(arguments[1]))
            case .object(let object):
                guard case .string(let key) = arguments[1] else { return .bool(false) }
                return .bool(object[key] != nil)
            default: return .bool(false)
            }
        case .startsWith:
            guard case .string(let value) = arguments[0], !arguments[1].isNull else { return .bool(false) }
            return .bool(value.hasPrefix(arguments[1].text))
        case .endsWith:
            guard case .string(let value) = arguments[0], !arguments[1].isNull else { return .bool(false) }
            return .bool(value.hasSuffix(arguments[1].text))
        case .matches:
            guard case .string(let value) = arguments[0], case .string(let pattern) = arguments[1],
                let regex = RegexCache.shared.regex(pattern)
            else { return .bool(false) }
            return .bool(value.contains(regex))
        case .len:
            switch arguments[0] {
            case .array(let value): return .number(Double(value.count))
            case .object(let value): return .number(Double(value.count))
            default: return .number(Double(arguments[0].text.count))
            }
        case .number:
            switch arguments[0] {
            case .number: return arguments[0]
            case .bool(let value): return .number(value ? 1 : 0)
            case .string(let value): return Double(decimal: value).map(JSON.number) ?? .null
            default: return .null
            }
        case .string: return .string(arguments[0].text)
        case .default:
            switch arguments[0] {
            case .null: return arguments[1]
            case .string(let value) where value.isEmpty: return arguments[1]
            default: return arguments[0]
            }
        case .now:
            // The input's arrival time, not the clock: one run sees one "now", and a replayed
            // input computes the same values.
            return .string(scope.input.receivedAt.iso8601)
        case .clip:
            let text = arguments[0].text
            guard let limit = Self.count(arguments[1]) else { return .string(text) }
            guard text.count > limit else { return .string(text) }
            let suffix = arguments.count > 2 ? arguments[2].text : ""
            guard suffix.count < limit else { return .string(String(text.prefix(limit))) }
            return .string(String(text.prefix(limit - suffix.count)) + suffix)
        case .clipBytes:
            let text = arguments[0].text
            guard let limit = Self.count(arguments[1]), text.utf8.count > limit else { return .string(text) }
            // Whole characters only: the cut never splits a character's bytes.
            var result = ""
            var used = 0
            for character in text {
                let size = character.utf8.count
                if used + size > limit { break }
                result.append(character)
                used += size
            }
            return .string(result)
        case .join:
            var parts: [String] = []
            func collect(_ value: JSON) {
                switch value {
                case .null: break
                case .array(let elements): elements.forEach(collect)
                default:
                    let text = value.text
                    if !text.isEmpty { parts.append(text) }
                }
            }
            collect(arguments[0])
            return .string(parts.joined(separator: arguments[1].text))
        case .slice:
            func bounds(_ count: Int) -> Range<Int>? {
                func position(_ value: JSON, _ fallback: Int) -> Int? {
                    if value.isNull { return fallback }
                    guard case .number(let number) = value, let index = Int(exactly: number.rounded(.towardZero)) else { return nil }
                    return index < 0 ? max(0, count + index) : min(count, index)
                }
                guard let start = position(arguments[1], 0), let end = position(arguments.count > 2 ? arguments[2] : .null, count) else {
                    return nil
                }
                return start < end ? start..<end : start..<start
            }
            switch arguments[0] {
            case .array(let elements):
                guard let range = bounds(elements.count) else { return .null }
                return .array(Array(elements[range]))
            case .string(let text):
                let characters = Array(text)
                guard let range = bounds(characters.count) else { return .null }
                return .string(String(characters[range]))
            default: return .null
            }
        case .parseJson:
            guard case .string(let text) = arguments[0] else { return .null }
            return (try? JSON.parse(text)) ?? .null
        case .if:
            return arguments[0].isTruthy ? arguments[1] : (arguments.count > 2 ? arguments[2] : .null)
        case .append:
            // A list that is not there yet (null) starts empty; any other value is a one-element list.
            let list: [JSON] =
                switch arguments[0] {
                case .array(let elements): elements
                case .null: []
                default: [arguments[0]]
                }
            return .array(list + [arguments[1]])
        case .urlEncode:
            var allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".utf8)
            allowed.reserveCapacity(66)
            var result = ""
            for byte in arguments[0].text.utf8 {
                if allowed.contains(byte) {
                    result.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                }
            }
            return .string(result)
        }
    }

    /// A count argument (`clip`'s length): a whole non-negative number, or `nil`.
    private static func count(_ value: JSON) -> Int? {
        guard case .number(let number) = value, number >= 0, number < 1e15 else { return nil }
        return Int(number.rounded(.down))
    }
}

/// Compiled regular expressions by pattern, so a `matches` with a computed pattern compiles
/// once per pattern rather than once per input.
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

extension Double {
    /// A decimal number as people type it: surrounding whitespace, an optional sign, digits with
    /// an optional fraction, an optional exponent (`12`, `-3.5`, `.5`, `1e3`). Unlike
    /// `Double(_:)` it refuses hexadecimal (`0x1A`), `inf` and `nan`, which no user means as a
    /// number.
    init?(decimal text: String) {
        let trimmed = text.trimmingWhitespace()
        var bytes = trimmed.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        var mantissa = digits()
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            mantissa += digits()
        }
        guard mantissa > 0 else { return nil }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return nil }
        }
        guard bytes.isEmpty, let value = Double(trimmed), value.isFinite else { return nil }
        self = value
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
