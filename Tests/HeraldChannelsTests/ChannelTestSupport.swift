import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Logging

/// Runs a Herald with one channel endpoint, configured the way a user writes it (a YAML config
/// naming a shipped channel file), whose `apiBase` points at a local receiver standing in for
/// the channel's API.
enum ChannelHerald {
    static let publicUrl = "https://bots.example.com"

    /// `vars` gets the receiver's base URL (for `apiBase`) and gives the `channelVars`.
    /// `channel` names a shipped channel file, or is a path to another one.
    static func run<T: Sendable>(
        channel: String, urlToken: String, receiver: TestReceiver, vars: @escaping @Sendable (String) -> [String: String],
        retry: String = "{ schedule: [100ms], jitter: 0, throttleDelay: 100ms }", logger: Logger = TestServices.logger,
        _ body: @Sendable (TestHerald) async throws -> T
    ) async throws -> T {
        let channelFile = channel.hasPrefix("/") ? channel : "\(Fixtures.root)/examples/channels/\(channel).yaml"
        return try await TestServices.withHerald(receiver: receiver, logger: logger) { url in
            let apiBase = String(url.dropLast("/hook".count))
            let directory = try Fixtures.temporaryDirectory()
            var yaml = """
                publicUrl: \(publicUrl)
                admin: { keys: [\(Fixtures.adminKey)] }
                storage: memory
                endpoints:
                  - urlToken: \(urlToken)
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                    channel: \(channelFile)
                    channelVars:

                """
            for (name, value) in vars(apiBase).sorted(by: { $0.key < $1.key }) { yaml += "      \(name): \"\(value)\"\n" }
            yaml += "    webhook:\n      retry: \(retry)\n"
            let path = directory + "/herald.yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            return try HeraldConfiguration.load(path: path, environment: [:])
        } _: { herald in
            try await body(herald)
        }
    }

    /// A fixture file's bytes (Tests/fixtures/channels).
    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/Tests/fixtures/channels/" + name)))
    }

    /// POSTs raw bytes to Herald.
    static func post(_ herald: TestHerald, _ path: String, body: [UInt8], headers: [String: String]) async throws -> HTTPResult {
        try await HTTP.request("POST", herald.baseURL + path, body: body, headers: headers)
    }
}
