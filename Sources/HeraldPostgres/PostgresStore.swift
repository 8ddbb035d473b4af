import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The store several Herald instances share: PostgreSQL through postgres-nio.
///
/// - Writes arrive in batches from the `StoreWriter` (``apply(_:)``), one transaction each
///   (group commit): the batch takes the advisory lock of every session it touches, in one
///   order on every instance, reads them, runs the requests' ``SessionTurn``s on them, and
///   writes everything with a few array statements (``PostgresBatch``).
/// - Outputs are the outbox table. The committing transaction also claims the delivery lease of
///   each session it added outputs to, unless another live instance holds it, which it then
///   tells with `NOTIFY herald_outbox` (``OutboxLeases``).
/// - Ids, user ids and texts are `bytea` (UTF-8): PostgreSQL's `text` cannot hold U+0000, and
///   Herald accepts any JSON string, as the other stores do.
public final class PostgresStore: HeraldStore, Service {
    let client: PostgresClient
    let logger: Logger
    /// Shown in messages; the password is not in it.
    public let location: String
    /// This instance's name in `outbox_leases` and `outbox_owners`.
    let owner: String
    let committedHandler = Mutex<ClaimedOutputsHandler?>(nil)

    public var isSingleWriter: Bool { false }
    /// Three batches in flight: while one waits for PostgreSQL, the next run their turns and
    /// encode their statements. Batches that touch the same session are ordered by its
    /// advisory lock, as two instances' batches are (docs/performance.md: 1, 2, 3 and 4
    /// measured side by side).
    public var concurrentBatches: Int { 3 }

    /// `url`: `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public init(url: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw PostgresStoreError("storage: not a postgres:// URL")
        }
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 40
        configuration.options.minimumConnections = 2
        // A server that is down is found out quickly: requests answer 503 instead of waiting.
        configuration.options.connectTimeout = .seconds(3)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.location = "postgres://\(host):\(components.port ?? 5432)/\(database)"
        self.owner = "herald-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    /// Runs the connection pool; it must run before the store is used (Herald starts it first).
    public func run() async throws {
        await client.run()
    }

    public func prepare() async throws {
        try await PostgresSchema.migrate(client, logger: logger)
    }

    public func ping() async throws {
        _ = try await bounded { try await self.client.query("SELECT 1", logger: self.logger) }
    }

    public func close() async throws {}
}

/// A problem with the PostgreSQL store, in words for the operator (never with the password).
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
