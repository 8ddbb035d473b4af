import Foundation
import HeraldCore
import HeraldPostgres
import HeraldSQLite
import Logging

/// Paths and configurations tests share.
public enum Fixtures {
    /// The repository's root, found from this file's path.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func flow(_ name: String) throws -> Flow {
        try Flow.load(path: root + "/examples/flows/\(name).yaml")
    }

    public static let adminKey = "test-admin-key"

    /// One endpoint `demo` running `flow` (echo by default), delivering to `url` with basic auth
    /// `bot` / `hook-secret`, on the memory store.
    public static func configuration(
        url: String, flow: String = "echo", storage: StorageLocation = .memory, apiKeys: [String] = [],
        configure: (inout WebhookSettings) -> Void = { _ in }
    ) throws -> HeraldConfiguration {
        var webhook = WebhookSettings(url: url, user: "bot", password: Secret("hook-secret"))
        webhook.retry = RetryPolicy(schedule: [.milliseconds(50), .milliseconds(100)], jitter: 0, throttleDelay: .milliseconds(200))
        configure(&webhook)
        let endpoint = Endpoint(urlToken: "demo", flow: try Fixtures.flow(flow), webhook: webhook, apiKeys: apiKeys.map(Secret.init))
        return HeraldConfiguration(adminKeys: [AdminKey(plain: Secret(adminKey), position: 0)], storage: storage, endpoints: [endpoint])
    }

    /// The three stores, for tests that run on each (`@Test(arguments: Fixtures.Store.allCases)`).
    public enum Store: String, CaseIterable, Sendable, CustomStringConvertible {
        case memory, sqlite, postgres

        /// A fresh, empty store of this kind: a new SQLite file, a new PostgreSQL database.
        public func location() throws -> StorageLocation {
            switch self {
            case .memory: .memory
            case .sqlite: .sqlite(path: try Fixtures.temporaryDirectory() + "/herald.sqlite")
            case .postgres: .postgres(url: Secret(try PostgresTestDatabase.create()))
            }
        }

        public var description: String { rawValue }

        /// A fresh, empty store of this kind, not yet prepared.
        public func makeStore(logger: Logger = Logger(label: "test")) throws -> any HeraldStore {
            switch try location() {
            case .memory: MemoryStore()
            // Every third row written takes the session index along, so that a test's sessions
            // are read partly through the index and partly past it (SQLiteSessionIndex).
            case .sqlite(let path): try SQLiteStore(path: path, sessionIndexBatch: 3, logger: logger)
            case .postgres(let url): try PostgresStore(url: url.value, logger: logger)
            }
        }

        /// Runs `body` on a fresh, prepared store of this kind (with its connection pool
        /// running, for PostgreSQL), and closes it. PostgreSQL's cases fail saying so when
        /// `make test` started no server (scripts/postgres.sh).
        public func run(_ body: @Sendable (any HeraldStore) async throws -> Void) async throws {
            let store = try makeStore()
            if let postgres = store as? PostgresStore {
                try await TestServices.run([postgres]) {
                    try await postgres.prepare()
                    try await body(postgres)
                }
                return
            }
            try await store.prepare()
            try await body(store)
            try await store.close()
        }
    }

    /// `yaml` written as `herald.yaml` in `directory` and loaded (no environment), on `storage`.
    public static func configuration(_ yaml: String, in directory: String, storage: StorageLocation) throws -> HeraldConfiguration {
        try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
        var configuration = try HeraldConfiguration.load(path: directory + "/herald.yaml", environment: [:])
        configuration.storage = storage
        return configuration
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "herald-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
