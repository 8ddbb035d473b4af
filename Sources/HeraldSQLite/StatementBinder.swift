import GRDB
import GRDBSQLite

/// Binds one execution of a prepared statement through SQLite's C API, then runs it.
///
/// The statements a batch runs for every message (the session, the input, the outputs) and for
/// every delivery result go through this instead of GRDB's `StatementArguments`: building
/// those arrays of existential values, converting each to a `DatabaseValue` and binding them
/// one nested closure at a time cost more CPU than SQLite's own work on the row
/// (docs/performance.md). Everything else keeps GRDB's API.
///
/// Values are bound in the order of the statement's `?` parameters. Texts and blobs are copied
/// by SQLite (`SQLITE_TRANSIENT`), so nothing has to outlive the call that binds it. Ids and
/// user texts are bound as BLOBs of their UTF-8 bytes, as ``Swift/String/blob`` does.
struct StatementBinder: ~Copyable {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }
    private var index: Int32 = 0

    init(_ statement: Statement) {
        self.statement = statement
    }

    /// A TEXT value (names, ids of Herald's own making, enum raw values), or NULL.
    mutating func text(_ value: String?) {
        index += 1
        guard var value else { return null() }
        value.withUTF8 { bytes in
            _ = sqlite3_bind_text(handle, index, address(bytes.baseAddress).assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
        }
    }

    /// A serialized JSON document as TEXT, or NULL.
    mutating func json(_ bytes: [UInt8]?) {
        index += 1
        guard let bytes else { return null() }
        bytes.withUnsafeBufferPointer { buffer in
            _ = sqlite3_bind_text(handle, index, address(buffer.baseAddress).assumingMemoryBound(to: CChar.self), Int32(buffer.count), transient)
        }
    }

    /// A string as a BLOB of its UTF-8 bytes (it may hold U+0000), or NULL.
    mutating func blob(_ value: String?) {
        index += 1
        guard var value else { return null() }
        value.withUTF8 { bytes in
            _ = sqlite3_bind_blob(handle, index, address(bytes.baseAddress), Int32(bytes.count), transient)
        }
    }

    mutating func int<Integer: BinaryInteger>(_ value: Integer?) {
        index += 1
        guard let value else { return null() }
        _ = sqlite3_bind_int64(handle, index, Int64(value))
    }

    mutating func bool(_ value: Bool) {
        int(value ? 1 : 0)
    }

    private func null() {
        _ = sqlite3_bind_null(handle, index)
    }

    /// Runs the statement to its end, then resets it and clears its bindings for the next use.
    /// Returns how many rows it inserted, updated or deleted.
    @discardableResult
    consuming func execute() throws -> Int {
        let code = sqlite3_step(handle)
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        guard code == SQLITE_DONE else {
            let connection = sqlite3_db_handle(handle)
            throw DatabaseError(
                resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)), message: String(cString: sqlite3_errmsg(connection)),
                sql: statement.sql)
        }
        return Int(sqlite3_changes(sqlite3_db_handle(handle)))
    }
}

/// SQLite copies the value before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// An empty value's bytes may have no address; SQLite would bind a null pointer as NULL, so an
/// empty string gets the address of a static byte instead.
private func address(_ pointer: UnsafeRawPointer?) -> UnsafeRawPointer {
    pointer ?? UnsafeRawPointer(emptyValue)
}

nonisolated(unsafe) private let emptyValue = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
