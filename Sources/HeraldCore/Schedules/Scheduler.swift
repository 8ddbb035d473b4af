import Logging
import ServiceLifecycle

/// Fires schedules when they are due (``Schedule``): every `interval` it asks the store for
/// sessions with a schedule due and lets the registry fire them, many sessions at once so their
/// changes share group commits.
///
/// Every instance on a shared store runs one. When two see the same session due, both try;
/// the session's turn orders them and the second finds nothing left to fire. A schedule due
/// while Herald was down fires on the first pass after start-up.
public struct Scheduler: Service {
    let registry: SessionRegistry
    let store: any HeraldStore
    let interval: Duration
    let logger: Logger

    /// How many sessions fire at once.
    static let concurrency = 256
    /// How many due sessions one store query returns.
    static let pageSize = 2000

    public init(registry: SessionRegistry, store: any HeraldStore, interval: Duration = .milliseconds(200), logger: Logger) {
        self.registry = registry
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await fireDue()
                do {
                    try await registry.clock.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }

    /// Fires everything due now; returns how many schedules fired. Tests and self-contained
    /// playbooks call it after advancing the clock.
    @discardableResult
    public func fireDue() async -> Int {
        var fired = 0
        while !Task.isCancelled {
            let due: [SessionKey]
            do {
                due = try await store.dueSessions(before: registry.clock.now(), limit: Self.pageSize)
            } catch {
                logger.warning("could not read due schedules; trying again", metadata: ["error": "\(error)"])
                return fired
            }
            let firedNow = await fire(due.filter { registry.endpoints[$0.urlToken] != nil })
            fired += firedNow
            // A short page was everything due; a page where nothing fired (sessions another
            // instance is firing, endpoints no longer configured) waits for the next pass.
            if due.count < Self.pageSize || firedNow == 0 { return fired }
        }
        return fired
    }

    private func fire(_ keys: [SessionKey]) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            var pending = keys[...]
            var total = 0
            func next() {
                guard let key = pending.popFirst() else { return }
                group.addTask {
                    do {
                        return try await registry.fireDue(key).count
                    } catch {
                        logger.warning("a due schedule did not fire; trying again", metadata: ["session": "\(key)", "error": "\(error)"])
                        return 0
                    }
                }
            }
            for _ in 0..<Self.concurrency { next() }
            for await count in group {
                total += count
                next()
            }
            return total
        }
    }
}
