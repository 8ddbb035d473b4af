import ArgumentParser
import HeraldCore
import HeraldHTTP
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service with a config file.")

    @Option(name: .shortAndLong, help: "The config file (SPEC §6).")
    var config: String = "herald.yaml"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "Most changes one store transaction takes (group commit); 1 turns it off (for benchmarks).")
    var maxCommitBatch: Int = 2000

    func run() async throws {
        let logger = bootstrapLogging(level: logLevel)
        let configuration = try loadConfiguration(config, failure: ExitCode(2))
        for endpoint in configuration.endpoints {
            for warning in endpoint.flow.warnings { logger.warning("\(warning)") }
        }
        // A bad channel file stops start-up like a bad config: file:line: reason, exit 2.
        do {
            _ = try Herald.loadChannels(configuration)
        } catch {
            printError("herald: \(error)")
            throw ExitCode(2)
        }
        let app: any ApplicationProtocol
        do {
            app = try await buildApplication(configuration: configuration, maxCommitBatch: max(1, maxCommitBatch), logger: logger)
        } catch {
            printError("herald: \(error)")
            throw ExitCode(1)
        }
        logger.info(
            "herald serving",
            metadata: [
                "listen": "\(configuration.listen)", "admin": "\(configuration.adminListen.map(\.description) ?? "same listener")",
                "storage": "\(configuration.storage)", "endpoints": "\(configuration.endpoints.map(\.urlToken).joined(separator: ","))",
            ])
        try await app.runService()
    }
}
