import Foundation
import HeraldCore

/// `application/x-www-form-urlencoded`, as channels send it (Twilio) and take it (Twilio's
/// Messages API): `+` for space, percent-escapes for the rest, repeated names for lists.
public enum FormEncoding {
    /// The name/value pairs in order; `nil` when an escape is malformed.
    static func decode(_ text: String) -> [(name: String, value: String)]? {
        var pairs: [(name: String, value: String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(pieces[0]) else { return nil }
            guard let value = pieces.count > 1 ? unescape(pieces[1]) : "" else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    private static func unescape(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The fields as an object: one value as a string, a repeated name as a list of strings.
    static func object(_ pairs: [(name: String, value: String)]) -> JSONObject {
        var object = JSONObject()
        for (name, value) in pairs {
            switch object[name] {
            case nil: object[name] = .string(value)
            case .array(let values)?: object[name] = .array(values + [.string(value)])
            case let first?: object[name] = .array([first, .string(value)])
            }
        }
        return object
    }

    /// Names in sorted order, each followed by its values (sorted, each once), all
    /// concatenated: the string Twilio appends to the URL before signing.
    static func sortedForSigning(_ pairs: [(name: String, value: String)]) -> String {
        var values: [String: Set<String>] = [:]
        for (name, value) in pairs { values[name, default: []].insert(value) }
        var result = ""
        for name in values.keys.sorted() {
            for value in values[name]!.sorted() { result += name + value }
        }
        return result
    }

    /// Encodes an object's fields: a list repeats the name, `null` leaves the field out, an
    /// object is sent as its JSON text.
    public static func encode(_ object: JSONObject) -> String {
        var parts: [String] = []
        for (name, value) in object {
            let values: [JSON] = if case .array(let list) = value { list } else { [value] }
            for element in values where !element.isNull {
                parts.append(escape(name) + "=" + escape(element.text))
            }
        }
        return parts.joined(separator: "&")
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~ ")

    private static func escape(_ text: String) -> String {
        (text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "").replacingOccurrences(of: " ", with: "+")
    }
}
