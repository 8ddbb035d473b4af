import Foundation
import GRDB
import Logging
import Synchronization

/// Copies the WAL into the database file in the background, on a connection of its own, so
/// the writer's commits rarely have to.
///
/// SQLite checkpoints from the connection whose commit takes the WAL past
/// `wal_autocheckpoint` pages, and that commit's batch (every request in it) waits while the
/// pages are copied and the database file is fsync'd. Here a `PASSIVE` checkpoint runs every
/// ``interval`` on another connection: it copies what the writer has committed so far without
/// blocking it. The writer's own checkpoint stays as the backstop; it then finds little or
/// nothing left to copy, and the WAL is restarted from its beginning as before.
final class SQLiteCheckpointer: Sendable {
    /// Seconds between checkpoints.
    static let interval: TimeInterval = 0.020

    private let queue: DatabaseQueue
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let failures = Atomic<Int>(0)

    init(path: String, synchronous: SQLiteStore.Synchronous, logger: Logger) throws {
        var configuration = Configuration()
        configuration.label = "herald-checkpoint"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
        }
        self.queue = try DatabaseQueue(path: path, configuration: configuration)
        self.logger = logger
        // The thread holds the checkpointer weakly: a store dropped without `close()` (a test's)
        // does not leave it running.
        let thread = Thread { [weak self] in
            while let checkpointer = self, checkpointer.round() {}
        }
        thread.name = "herald-checkpoint"
        thread.start()
    }

    /// Sleeps ``interval``, checkpoints; false once stopped.
    private func round() -> Bool {
        Thread.sleep(forTimeInterval: Self.interval)
        guard !stopped.load(ordering: .relaxed) else {
            finished.signal()
            return false
        }
        do {
            try queue.inDatabase { db in _ = try db.checkpoint(.passive) }
            failures.store(0, ordering: .relaxed)
        } catch {
            // Busy with the writer's own checkpoint, say: the next round tries again.
            if failures.add(1, ordering: .relaxed).newValue == 50 {
                logger.warning("background WAL checkpoints keep failing", metadata: ["error": "\(error)"])
            }
        }
        return true
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
        try? queue.close()
    }
}
