extension JSON {
    /// Compact UTF-8 JSON text.
    public func serialized() -> [UInt8] {
        var writer = JSONWriter()
        writer.write(self)
        return writer.bytes
    }

    /// Compact JSON text as a `String`.
    public var jsonString: String {
        String(decoding: serialized(), as: UTF8.self)
    }

    /// JSON text indented by two spaces per level, for people to read.
    public func prettyPrinted(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .array(let elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + $0.prettyPrinted(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.isEmpty:
            let members = object.map { inner + JSON.string($0.key).jsonString + ": " + $0.value.prettyPrinted(indent: inner) }
            return "{\n" + members.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return jsonString
        }
    }
}

/// Appends compact JSON to a byte buffer. Used for webhook bodies and API responses, where
/// building the bytes directly avoids an intermediate `Encodable` walk.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: JSON) {
        switch value {
        case .null: raw("null")
        case .bool(let bool): raw(bool ? "true" : "false")
        case .number(let number): write(number: number)
        case .string(let string): write(string: string)
        case .array(let array):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, element) in object {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(string: key)
                bytes.append(UInt8(ascii: ":"))
                write(element)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `{` — pair with ``field(_:)`` calls and ``endObject()`` for hand-built objects.
    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
    }

    public mutating func endObject() {
        if bytes.last == UInt8(ascii: ",") { bytes.removeLast() }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes `"key":` — the value follows with one of the `write` calls, then ``comma()``.
    public mutating func key(_ key: String) {
        write(string: key)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func comma() {
        bytes.append(UInt8(ascii: ","))
    }

    public mutating func field(_ name: String, _ value: String) {
        key(name)
        write(string: value)
        comma()
    }

    public mutating func field(_ name: String, _ value: Int64) {
        key(name)
        raw(String(value))
        comma()
    }

    public mutating func field(_ name: String, _ value: JSON) {
        key(name)
        write(value)
        comma()
    }

    /// Appends bytes that already are JSON (an output rendered once, say).
    public mutating func append(json bytes: [UInt8]) {
        self.bytes.append(contentsOf: bytes)
    }

    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func write(number: Double) {
        guard number.isFinite else {
            raw("null")
            return
        }
        if number.rounded() == number, abs(number) < 9_007_199_254_740_992 {
            raw(String(Int64(number)))
        } else {
            raw(String(number))
        }
    }

    public mutating func write(string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    raw("\\u00")
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0xF)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
