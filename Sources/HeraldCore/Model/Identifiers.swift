import Synchronization

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
///
/// The random part comes from SplitMix64 over a process-wide counter seeded from the system's
/// generator: unique within the process by construction, spread like random bits, and without
/// a `getrandom` call per id (two per id showed in the profile).
public enum Identifier {
    private static let alphabet: StaticString = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    private static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    public static func input(at time: Timestamp = .now()) -> String { make(prefix: "in_", time: time) }
    public static func output(at time: Timestamp = .now()) -> String { make(prefix: "out_", time: time) }

    public static func make(prefix: String, time: Timestamp = .now()) -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let random = splitMix(seed &+ count)
        let random2 = splitMix(random ^ seed)
        var id = prefix
        id.reserveCapacity(prefix.utf8.count + 26)
        alphabet.withUTF8Buffer { alphabet in
            var chars: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 26 bytes of room, on the stack
            withUnsafeMutableBytes(of: &chars) { chars in
                var millis = UInt64(max(0, time.milliseconds))
                for index in stride(from: 9, through: 0, by: -1) {
                    chars[index] = alphabet[Int(millis & 31)]
                    millis >>= 5
                }
                // 80 random bits: 60 from `random`, 20 from `random2`.
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
                id += String(decoding: UnsafeRawBufferPointer(rebasing: chars[..<26]), as: UTF8.self)
            }
        }
        return id
    }

    private static func splitMix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
