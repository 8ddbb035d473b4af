import Foundation
import GRDB
import HeraldCore
import Logging

/// The embedded default store: one SQLite file in WAL mode (GRDB.swift).
///
/// Writes come in batches from the `StoreWriter` and commit in one transaction each, with
/// `synchronous=FULL` by default, so a 202 means the input survives `kill -9` and a power
/// cut alike. One process owns a file at a time (an exclusive lock on `PATH.lock`), which is
/// what lets the session registry carry session state in memory.
public final class SQLiteStore: HeraldStore {
    /// How hard a commit waits for the disk.
    public enum Synchronous: String, Sendable {
        /// fsync on every commit: survives power loss. The default.
        case full = "FULL"
        /// No fsync on commit in WAL mode: survives a process crash, may lose the last commits
        /// on power loss. Faster on slow disks.
        case normal = "NORMAL"
    }

    let pool: DatabasePool
    private let checkpointer: SQLiteCheckpointer
    private let lock: FileLock
    private let logger: Logger
    public let path: String

    public var isSingleWriter: Bool { true }

    static let walCheckpointPages = 250
    static let walSizeLimit = 8 << 20

    /// How many new inputs and outputs wait before a batch adds them to the session index
    /// (``SQLiteSessionIndex``): the larger, the fewer pages the index costs per message, and
    /// the more rows a read of a session scans past the index (16,384 rows: about 2 ms).
    public let sessionIndexBatch: Int

    public init(path: String, synchronous: Synchronous = .full, sessionIndexBatch: Int = 16384, logger: Logger) throws {
        self.path = path
        self.sessionIndexBatch = sessionIndexBatch
        self.logger = logger
        self.lock = try FileLock(path: path + ".lock")
        var configuration = Configuration()
        configuration.label = "herald"
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
            // Checkpoint every 250 WAL pages instead of SQLite's 1000: the commit that crosses
            // the limit copies the WAL into the database and fsyncs it while its batch waits,
            // and smaller checkpoints are shorter waits. (``SQLiteCheckpointer`` now copies
            // most of it in the background first; this is the backstop that restarts the WAL.) At 1,000 messages/s this took the p99
            // from send to webhook arrival from 21–26 ms to 11–13 ms, at the same throughput
            // (docs/performance.md).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.walCheckpointPages)")
            // A WAL that grew (a minute's pruning in one transaction, a long read holding a
            // checkpoint back) is cut back to 8 MiB when a checkpoint restarts it, instead of
            // keeping its peak size (63 MB in the soak at 1,500 messages/s).
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
        do {
            self.pool = try DatabasePool(path: path, configuration: configuration)
            self.checkpointer = try SQLiteCheckpointer(path: path, synchronous: synchronous, logger: logger)
        } catch {
            throw SQLiteStoreError("cannot open SQLite file '\(path)': \(error)")
        }
    }

    public func prepare() async throws {
        try SQLiteSchema.migrator.migrate(pool)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func close() async throws {
        checkpointer.stop()
        try pool.close()
        lock.release()
    }

    public func apply(_ changes: [StoreChange]) async throws {
        try await pool.write { db in
            var batch = SQLiteBatch(db: db)
            try batch.apply(changes)
            if try SQLiteSessionIndex.waiting(db) >= sessionIndexBatch { try SQLiteSessionIndex.catchUp(db) }
        }
    }
}

/// A problem opening the SQLite store, in words for the operator.
public struct SQLiteStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
