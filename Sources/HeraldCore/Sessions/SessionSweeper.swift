import Logging
import ServiceLifecycle

/// Removes sessions idle for longer than their endpoint's `sessionTTL`. Expired sessions are
/// already treated as absent the moment they expire (inject/notify answer 404, a user message
/// starts afresh); the sweeper only reclaims their storage.
public struct SessionSweeper: Service {
    let registry: SessionRegistry
    let store: any HeraldStore
    let interval: Duration
    let history: Duration
    let logger: Logger

    public init(
        registry: SessionRegistry, store: any HeraldStore, interval: Duration = .seconds(60), history: Duration = .seconds(7 * 86400),
        logger: Logger
    ) {
        self.registry = registry
        self.store = store
        self.interval = interval
        self.history = history
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                await sweep()
                await prune()
            }
        }
    }

    /// Drops `Idempotency-Key` records after 24 h and delivered history after `history`.
    public func prune(now: Timestamp = .now()) async {
        do {
            try await store.prune(idempotencyCutoff: now.adding(milliseconds: -86_400_000), historyCutoff: now.adding(milliseconds: -history.milliseconds))
        } catch {
            logger.warning("pruning old history failed", metadata: ["error": "\(error)"])
        }
    }

    /// One pass over every endpoint, at `now` (Herald's clock when not given).
    public func sweep(now: Timestamp? = nil) async {
        let now = now ?? registry.clock.now()
        for endpoint in registry.endpoints.values {
            let cutoff = now.adding(milliseconds: -endpoint.sessionTTL.milliseconds)
            do {
                while true {
                    let keys = try await store.idleSessions(urlToken: endpoint.urlToken, before: cutoff, limit: 500)
                    if keys.isEmpty { break }
                    try await registry.expire(keys)
                    logger.debug("expired idle sessions", metadata: ["urlToken": "\(endpoint.urlToken)", "count": "\(keys.count)"])
                    if keys.count < 500 { break }
                }
            } catch {
                logger.warning("session sweep failed", metadata: ["urlToken": "\(endpoint.urlToken)", "error": "\(error)"])
            }
        }
    }
}
