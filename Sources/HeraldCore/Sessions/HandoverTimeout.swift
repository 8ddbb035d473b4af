import Logging
import ServiceLifecycle

/// Hands sessions back to their flow when their operator did nothing (no handover, no reply)
/// for the endpoint's `handover.idleTimeout`, and records it in the audit log as done by
/// `herald`. Time is the registry's clock (``SessionRegistry/clock``), so tests move it by hand.
public struct HandoverTimeout: Service {
    let registry: SessionRegistry
    let store: any HeraldStore
    let interval: Duration
    let logger: Logger

    public init(registry: SessionRegistry, store: any HeraldStore, interval: Duration = .seconds(10), logger: Logger) {
        self.registry = registry
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // Runs even when no endpoint has an idle timeout yet: a reload or the admin API may add
        // one (a pass without any costs no store call).
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await registry.clock.sleep(for: interval)
                if Task.isCancelled { return }
                await sweep()
            }
        }
    }

    /// One pass: every session whose operator has been idle past its endpoint's timeout goes
    /// back to its flow. Returns the sessions handed back.
    @discardableResult
    public func sweep() async -> [SessionKey] {
        let now = registry.clock.now()
        var handedBack: [SessionKey] = []
        for endpoint in registry.endpoints.values {
            guard let timeout = endpoint.handover.idleTimeout else { continue }
            let cutoff = now.adding(milliseconds: -timeout.milliseconds)
            do {
                for key in try await store.idleHandovers(urlToken: endpoint.urlToken, before: cutoff, limit: 500) {
                    // The operator may have replied since the store was read: the registry checks
                    // again in the session's turn, and refuses then.
                    guard let session = try? await registry.session(key), let handover = session.handover,
                        (try? await registry.handback(key, idleBefore: cutoff)) != nil
                    else { continue }
                    handedBack.append(key)
                    let entry = AuditEntry(
                        at: now, keyName: "herald", action: .handback, urlToken: key.urlToken, sessionId: key.sessionId, userId: session.userId,
                        detail: "idle timeout: \(handover.operatorName) did nothing for \(timeout)")
                    try? await registry.writer.commit(.audit(entry))
                    logger.info("handed a session back after the operator's idle timeout", metadata: ["session": "\(key)"])
                }
            } catch {
                logger.warning("handover timeout pass failed", metadata: ["urlToken": "\(endpoint.urlToken)", "error": "\(error)"])
            }
        }
        return handedBack
    }
}
