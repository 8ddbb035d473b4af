import HeraldCore
import Logging
import ServiceLifecycle

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
