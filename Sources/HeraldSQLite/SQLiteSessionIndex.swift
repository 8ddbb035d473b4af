import GRDB

/// Which inputs and outputs belong to which session, indexed in bulk.
///
/// An index by session gets each message's entry at a place of its own (the messages of many
/// sessions interleave), so every commit rewrote a page of it per message: with one for inputs
/// and one for outputs, two 4 kB WAL frames per message and the checkpoint's copies of them,
/// about 40 µs of the store's CPU per message (docs/performance.md). Here `session_index` lists
/// each session's rows by `position`, and ``catchUp(_:)`` adds every row past the marks in
/// `session_index_upto` once ``SQLiteStore/sessionIndexBatch`` rows wait, inside a batch's
/// transaction: a session's entries of thousands of messages land together, a page per session
/// rather than per message.
///
/// A read of a session's rows (``rows(_:urlToken:sessions:)``) takes the positions the index
/// lists and those past the mark (at most a batch's worth of the newest rows, a scan of the
/// position range): together exactly the session's rows, in one snapshot, whatever the
/// indexing has reached. Triggers drop the entries of deleted rows and keep each mark at or
/// below its table's largest position, so a position SQLite hands out again after the newest
/// rows were deleted is past the mark, never lost behind it.
enum SQLiteSessionIndex {
    /// The two tables indexed, with their `kind` in `session_index`.
    enum Kind: Int, CaseIterable {
        case input = 0
        case output = 1

        var table: String {
            switch self {
            case .input: "inputs"
            case .output: "outputs"
            }
        }

        /// Its column in `session_index_upto`: every row at or below it is in the index.
        var mark: String { table }
    }

    /// The positions of `kind`'s rows in the sessions of endpoint `urlToken` whose ids
    /// `sessions` gives (SQL: a parameter such as `?2`, or a `SELECT session_id …`), for an
    /// `IN (…)`. `urlToken` and `sessions` appear twice each, in this order.
    static func rows(_ kind: Kind, urlToken: String, sessions: String) -> String {
        """
        SELECT position FROM session_index WHERE url_token = \(urlToken) AND session_id IN (\(sessions)) AND kind = \(kind.rawValue)
        UNION ALL SELECT position FROM \(kind.table) WHERE position > (SELECT \(kind.mark) FROM session_index_upto)
          AND url_token = \(urlToken) AND session_id IN (\(sessions))
        """
    }

    /// How many rows wait past the marks.
    static func waiting(_ db: Database) throws -> Int {
        let statement = try db.cachedStatement(
            sql: """
                SELECT (SELECT coalesce(max(position), 0) FROM inputs) - inputs + (SELECT coalesce(max(position), 0) FROM outputs) - outputs
                FROM session_index_upto
                """)
        return try Int.fetchOne(statement) ?? 0
    }

    /// Indexes every row past the marks (sorted by session, so the entries of a session go in
    /// together) and moves the marks to the end.
    static func catchUp(_ db: Database) throws {
        for kind in Kind.allCases {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO session_index (url_token, session_id, kind, position)
                      SELECT url_token, session_id, \(kind.rawValue), position FROM \(kind.table)
                      WHERE position > (SELECT \(kind.mark) FROM session_index_upto) ORDER BY url_token, session_id, position;
                    UPDATE session_index_upto SET \(kind.mark) = (SELECT coalesce(max(position), 0) FROM \(kind.table));
                    """)
        }
    }

    /// A deleted row leaves the index, and a mark past the table's largest position comes back
    /// to it (`min`: rows past the mark stay past it).
    static var triggers: String {
        Kind.allCases.map { kind in
            """
            CREATE TRIGGER \(kind.table)_leave_session_index AFTER DELETE ON \(kind.table) BEGIN
              DELETE FROM session_index
                WHERE url_token = old.url_token AND session_id = old.session_id AND kind = \(kind.rawValue) AND position = old.position;
              UPDATE session_index_upto SET \(kind.mark) = min(\(kind.mark), (SELECT coalesce(max(position), 0) FROM \(kind.table)))
                WHERE old.position >= \(kind.mark);
            END;
            """
        }.joined(separator: "\n")
    }
}
