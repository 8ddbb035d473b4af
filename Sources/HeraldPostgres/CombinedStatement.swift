import Logging
import PostgresNIO

/// Several data-modifying statements sent as one (`WITH sessions AS (INSERT …), inputs AS
/// (INSERT …) SELECT …`): one round trip to PostgreSQL instead of one per table. Every part
/// sees the database as it was when the statement began and none sees another's changes, so
/// only parts that touch different rows go together (a batch's new outputs and the delivery
/// results of earlier ones do: an output is delivered only after its batch committed).
struct CombinedStatement {
    private var sql = ""
    private var binds = PostgresBindings()

    var isEmpty: Bool { sql.isEmpty }

    /// Adds `part` as the common table expression `name`; its `RETURNING` rows, if any, can be
    /// read by the final `SELECT` as `name`.
    mutating func add(_ name: String, _ part: Part) {
        sql += sql.isEmpty ? "WITH " : ",\n"
        sql += "\(name) AS (\n"
        for piece in part.pieces {
            switch piece {
            case .sql(let text): sql += text
            case .value(let append):
                append(&binds)
                sql += "$\(binds.count)"
            }
        }
        sql += "\n)"
    }

    /// Runs the parts and then `select`, whose rows it returns.
    func run(selecting select: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> PostgresRowSequence {
        try await connection.query(PostgresQuery(unsafeSQL: sql + "\n" + select, binds: binds), logger: logger)
    }

    /// Runs the parts; nothing is read back.
    func run(_ connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql + "\nSELECT WHERE false", binds: binds), logger: logger)
    }

    /// One part's SQL, its values interpolated as parameters (as in a `PostgresQuery`).
    struct Part: ExpressibleByStringInterpolation {
        enum Piece {
            case sql(String)
            case value((inout PostgresBindings) -> Void)
        }

        var pieces: [Piece]

        init(stringLiteral value: String) { pieces = [.sql(value)] }
        init(stringInterpolation: StringInterpolation) { pieces = stringInterpolation.pieces }

        struct StringInterpolation: StringInterpolationProtocol {
            var pieces: [Piece] = []

            init(literalCapacity: Int, interpolationCount: Int) {
                pieces.reserveCapacity(interpolationCount * 2 + 1)
            }

            mutating func appendLiteral(_ literal: String) { pieces.append(.sql(literal)) }

            mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(_ value: Value) {
                pieces.append(.value { $0.append(value) })
            }

            mutating func appendInterpolation(unescaped text: String) { pieces.append(.sql(text)) }
        }
    }
}
