import Foundation

/// An exclusive `flock` on a file next to the database: a second Herald on the same file
/// stops at start-up instead of corrupting the first one's session state.
final class FileLock: Sendable {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SQLiteStoreError("cannot create lock file '\(path)': \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SQLiteStoreError("another Herald process is using this SQLite store (lock '\(path)' is held)")
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
    }

    deinit {
        close(descriptor)
    }
}
