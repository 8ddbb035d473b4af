import HeraldCore
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Reads columns by name: as Core decodes stored rows (``StoredRow``), or as any type
    /// postgres-nio decodes.
    struct Reader: StoredRow {
        let row: PostgresRandomAccessRow

        init(_ row: PostgresRow) {
            self.row = row.makeRandomAccess()
        }

        func callAsFunction<T: PostgresDecodable>(_ column: String) throws -> T {
            try row[column].decode(T.self)
        }

        func optionalString(_ column: String) throws -> String? { try row[column].decode(String?.self) }
        func optionalInteger(_ column: String) throws -> Int64? { try row[column].decode(Int64?.self) }
        func optionalBool(_ column: String) throws -> Bool? { try row[column].decode(Bool?.self) }

        /// A `bytea` column that holds UTF-8 text.
        func optionalUTF8(_ column: String) throws -> String? {
            try row[column].decode(ByteBuffer?.self).map { String(buffer: $0) }
        }
    }
}
