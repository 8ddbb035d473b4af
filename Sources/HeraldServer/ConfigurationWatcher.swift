import HeraldCore
import Logging
import ServiceLifecycle
import UnixSignals

/// With a store several instances share, an endpoint or flow name changed through one
/// instance's admin API must be served by all: each instance asks the store for its
/// configuration revision every second and merges the changes when it moved (SPEC §14: every
/// instance serves a change within 2 s). A failed poll is logged and tried again.
struct ConfigurationWatcher: Service {
    let reloader: ConfigurationReloader
    var interval: Duration = .seconds(1)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                do {
                    if try await reloader.refreshIfChanged() { logger.info("endpoints changed in the store; now serving them") }
                } catch {
                    logger.warning("could not read endpoint changes from the store", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

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
