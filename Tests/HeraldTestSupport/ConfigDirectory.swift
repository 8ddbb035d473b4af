import Foundation
import HeraldCore

/// A config file and its flow files in a fresh temporary directory, for tests of what Herald
/// reads from files: reloads (SPEC §14), start-up.
public struct ConfigDirectory: Sendable {
    public let path: String

    public init() throws {
        path = try Fixtures.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: path + "/flows", withIntermediateDirectories: true)
    }

    /// `herald.yaml` in the directory.
    public var configFile: String { path + "/herald.yaml" }

    /// Writes `text` to `name` (relative to the directory), replacing it.
    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }

    /// The config file as read now.
    public func load() throws -> HeraldConfiguration {
        try HeraldConfiguration.load(path: configFile, environment: [:])
    }

    /// A config for `storage`: listen on a free port (the test's Herald picks it), the test
    /// admin key, and `endpoints` (YAML list items, indented by four spaces).
    public static func config(storage: StorageLocation, adminKeys: [String] = [Fixtures.adminKey], listen: String = "127.0.0.1:0", endpoints: String)
        -> String
    {
        """
        listen: \(listen)
        admin:
          keys: [\(adminKeys.map { "\"\($0)\"" }.joined(separator: ", "))]
        storage: \(storageText(storage))
        endpoints:
        \(endpoints)
        """
    }

    /// An endpoint `urlToken` running `flow` (a file under flows/), delivering to `url`.
    public static func endpoint(_ urlToken: String, flow: String, url: String) -> String {
        """
          - urlToken: \(urlToken)
            flow: flows/\(flow)
            webhook:
              url: \(url)
              retry: {schedule: [50ms, 100ms], jitter: 0, throttleDelay: 200ms}
        """
    }

    /// How a config file names the store (a PostgreSQL URL with its password: this is a test).
    public static func storageText(_ storage: StorageLocation) -> String {
        switch storage {
        case .memory: "memory"
        case .sqlite(let path): "sqlite:" + path
        case .postgres(let url): url.value
        }
    }
}
