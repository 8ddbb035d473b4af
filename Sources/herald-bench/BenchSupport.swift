#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wall-clock time in microseconds since the Unix epoch. The load tool writes it into each
/// message (`data.sentAt`) and the sink compares it with the arrival time; both run on this
/// machine, so their clocks agree.
func nowMicros() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
}

/// Just enough JSON reading for the benchmark's hot paths: finds `"key":` in a body and reads
/// the number or string after it. It does not validate the document and does not handle
/// escapes; the bodies it reads are the ones the benchmark itself produces (and Herald's
/// webhook payloads built from them).
enum ScanJSON {
    /// The integer after `"key":`, if there is one.
    static func integer(_ key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int64? {
        guard var index = valueStart(key, in: bytes) else { return nil }
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            value = value &* 10 &+ Int64(bytes[index] &- UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        guard digits > 0 else { return nil }
        return negative ? -value : value
    }

    /// The string after `"key":`, if there is one (without unescaping).
    static func string(_ key: StaticString, in bytes: UnsafeRawBufferPointer) -> String? {
        guard let index = valueStart(key, in: bytes), index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        var end = index + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
        guard end < bytes.count else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(index + 1)..<end]), as: UTF8.self)
    }

    /// The offset of the first byte of the value of `"key"`, past the colon and any spaces.
    private static func valueStart(_ key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
        let keyBytes = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        let needle = keyBytes.count + 2  // the quotes around the key
        guard bytes.count > needle else { return nil }
        var start = 0
        while start + needle <= bytes.count {
            if bytes[start] == UInt8(ascii: "\""), bytes[start + needle - 1] == UInt8(ascii: "\""),
                keyBytes.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(start + needle - 1)]))
            {
                var index = start + needle
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ":") { index += 1 }
                return index
            }
            start += 1
        }
        return nil
    }
}

/// Latency percentiles of a set of samples in microseconds, reported in milliseconds.
struct Percentiles: Sendable {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    init(micros samples: [Int64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ quantile: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Swift.min(sorted.count - 1, Int(Double(sorted.count) * quantile))
            return Double(sorted[index]) / 1000
        }
        p50 = at(0.50)
        p90 = at(0.90)
        p99 = at(0.99)
        max = sorted.last.map { Double($0) / 1000 } ?? 0
    }

    /// `{"p50":..,"p90":..,"p99":..,"max":..}`, milliseconds with microsecond precision.
    var json: String {
        #"{"p50":\#(Self.format(p50)),"p90":\#(Self.format(p90)),"p99":\#(Self.format(p99)),"max":\#(Self.format(max))}"#
    }

    static func format(_ value: Double) -> String {
        String(Double((value * 1000).rounded()) / 1000)
    }
}
