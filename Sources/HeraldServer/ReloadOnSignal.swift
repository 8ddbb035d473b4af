import HeraldCore
import Logging
import ServiceLifecycle
import UnixSignals

/// `SIGHUP` reloads the config file with its flow and channel files (SPEC §14). The outcome is
/// logged: what changed, or every error (`file:line: reason`) and that nothing changed.
struct ReloadOnSignal: Service {
    let reloader: ConfigurationReloader
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                logger.info("SIGHUP: reloading the configuration")
                do throws(ReloadRejected) {
                    _ = try await reloader.reload()
                } catch {
                    for problem in error.errors { logger.error("reload: \(problem)") }
                    logger.error("reload rejected (\(error.errors.count) problems); the configuration in use is unchanged")
                }
            }
        }
    }
}
