import Foundation

/// The PostgreSQL server `make test` starts (scripts/postgres.sh) and fresh databases on it.
public enum PostgresTestDatabase {
    /// `HERALD_TEST_POSTGRES_URL`, set by `make test`; `nil` when the tests run without it.
    public static var serverURL: String? { ProcessInfo.processInfo.environment["HERALD_TEST_POSTGRES_URL"] }

    public static var isAvailable: Bool { serverURL != nil }

    /// Creates an empty database and returns its URL.
    public static func create() throws -> String {
        guard let server = serverURL else {
            throw TestTimeout(description: "HERALD_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts PostgreSQL")
        }
        let name = "herald_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", server, "-q", "-c", "CREATE DATABASE \(name)"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestTimeout(description: "psql could not create database \(name)") }
        return server.replacingOccurrences(of: "/herald?", with: "/\(name)?")
    }
}
