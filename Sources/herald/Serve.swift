import ArgumentParser
import Dispatch
import Foundation
import HeraldCore
import HeraldHTTP
import HeraldServer
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service with a config file.")

    @Option(name: .shortAndLong, help: "The config file (SPEC §6).")
    var config: String = "herald.yaml"

    @Option(help: "trace, debug, info, notice, warning, error or critical (default: the config's log.level, else info).")
    var logLevel: String?

    @Option(help: "Most changes one store transaction takes (group commit); 1 turns it off (for benchmarks).")
    var maxCommitBatch: Int = 2000

    @Option(help: "Seconds a graceful stop (SIGTERM, SIGINT) may take before the process exits anyway.")
    var shutdownTimeout: Int = 30

    func run() async throws {
        let configuration = try loadConfiguration(config, failure: ExitCode(2))
        let logger = bootstrapLogging(
            level: logLevel ?? configuration.log.level ?? "info", format: configuration.log.format, traceIds: configuration.tracing != nil)
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
            app = try await buildApplication(
                configuration: configuration, maxCommitBatch: max(1, maxCommitBatch), reloadOnSignal: true, logger: logger)
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
        let watchdog = ShutdownWatchdog(seconds: max(1, shutdownTimeout), logger: logger)
        var listeners = "listen \(configuration.listen)"
        if let admin = configuration.adminListen { listeners += " or admin.listen \(admin)" }
        try await runListening(app, "herald: \(config): \(listeners)")
        watchdog.cancel()
    }
}

/// Bounds a graceful stop. SIGTERM or SIGINT lets the service group stop in order (HTTP
/// server, delivery, leases, the writer's last batch, the store); if that has not finished
/// after `seconds` — a store that does not answer can hold a last commit forever — the
/// process exits with status 1. Whatever was not recorded is redelivered after the restart,
/// as after any crash.
final class ShutdownWatchdog {
    private let sources: [any DispatchSourceSignal]

    init(seconds: Int, logger: Logger) {
        // ServiceLifecycle handles the signals too; a dispatch source only observes them.
        sources = [SIGTERM, SIGINT].map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
                    logger.error("herald did not stop within \(seconds) s; exiting without finishing the stop")
                    exit(1)
                }
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
