import Foundation
import GRDB
import HeraldCore

/// A row of the SQLite store as Core decodes stored rows (``StoredRow``): ids and texts were
/// bound as BLOBs of their UTF-8 bytes (``Swift/String/blob``) and are read back as such.
struct SQLiteRow: StoredRow {
    let row: Row

    init(_ row: Row) {
        self.row = row
    }

    func optionalString(_ column: String) -> String? { row[column] }
    func optionalInteger(_ column: String) -> Int64? { row[column] }
    func optionalBool(_ column: String) -> Bool? { row[column] }

    /// Read as bytes, so the value is not cut at U+0000.
    func optionalUTF8(_ column: String) -> String? {
        (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension String {
    /// The string's UTF-8 bytes, bound as a BLOB. Ids and texts are stored as bytes: SQLite's C
    /// API (and GRDB's `String` binding) would cut a TEXT value at U+0000, which any JSON
    /// string may contain; the other stores keep it.
    var blob: Data { Data(utf8) }
}
