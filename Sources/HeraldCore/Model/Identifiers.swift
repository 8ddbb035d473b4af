/// A session is addressed by the endpoint it belongs to and the id the client chose.
public struct SessionKey: Sendable, Hashable, CustomStringConvertible {
    public var urlToken: String
    public var sessionId: String

    public init(urlToken: String, sessionId: String) {
        self.urlToken = urlToken
        self.sessionId = sessionId
    }

    public var description: String { "\(urlToken)/\(sessionId)" }
}

/// Sortable unique ids (ULID layout: 48 bits of milliseconds, 80 random bits, Crockford
/// base32), with a prefix saying what they name: `in_…` inputs, `out_…` outputs.
public enum Identifier {
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func input(at time: Timestamp = .now()) -> String { make(prefix: "in_", time: time) }
    public static func output(at time: Timestamp = .now()) -> String { make(prefix: "out_", time: time) }

    public static func make(prefix: String, time: Timestamp = .now()) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let random2 = generator.next() as UInt64
        var chars = [UInt8](repeating: 0, count: 26)
        var millis = UInt64(max(0, time.milliseconds))
        for index in stride(from: 9, through: 0, by: -1) {
            chars[index] = alphabet[Int(millis & 31)]
            millis >>= 5
        }
        // 80 random bits: 64 from `random`, 16 from `random2`.
        var bits = random
        for index in 10..<22 {
            chars[index] = alphabet[Int(bits & 31)]
            bits >>= 5
        }
        var more = random2
        for index in 22..<26 {
            chars[index] = alphabet[Int(more & 31)]
            more >>= 5
        }
        return prefix + String(decoding: chars, as: UTF8.self)
    }
}
