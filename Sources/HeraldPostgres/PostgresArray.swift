import Foundation
import HeraldCore
import NIOCore
import PostgresNIO

/// A one-dimensional PostgreSQL array whose elements may be NULL, in the binary format.
/// postgres-nio encodes `[T]` but not `[T?]`; batched statements pass one such array per
/// column to `unnest(...)`, so a batch of any size is one statement with a few parameters.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) { self.elements = elements }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // Header: dimensions, has-nulls flag, element type; then length and lower bound.
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            if let element {
                // Each element: its length in bytes, then its value.
                let lengthIndex = buffer.writerIndex
                buffer.writeInteger(0, as: Int32.self)
                let start = buffer.writerIndex
                element.encode(into: &buffer, context: context)
                buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex, as: Int32.self)
            } else {
                buffer.writeInteger(-1, as: Int32.self)
            }
        }
    }
}

extension String {
    /// The string's UTF-8 bytes, for a `bytea` column. Ids and texts are stored as bytes
    /// because PostgreSQL's `text` cannot hold U+0000, which any JSON string may contain.
    var bytea: ByteBuffer { ByteBuffer(string: self) }

    /// For `text` columns that hold what Herald did not validate (a webhook's answer, an
    /// error): U+0000 becomes U+FFFD, so such a value can never fail a batch.
    var storableText: String {
        contains("\u{0}") ? replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : self
    }
}

extension SessionKey {
    /// The key of the session's advisory lock: FNV-1a over `urlToken`, a zero byte (which no
    /// `urlToken` contains) and `sessionId`. Every instance computes the same key, and a batch
    /// takes its locks in ascending order, so two instances' batches never deadlock.
    var lockKey: Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in urlToken.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ 0) &* 0x100_0000_01b3
        for byte in sessionId.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }
}
