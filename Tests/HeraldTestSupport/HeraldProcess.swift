import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `herald` binary, run as a child process (the built one in .build).
public final class HeraldProcess: @unchecked Sendable {
    // @unchecked: `process` is set once in init and only read afterwards; Process itself is
    // thread-safe for the calls made here (processIdentifier, isRunning, terminate).
    public let process: Process
    public let logPath: String

    public static var binary: String {
        let candidates = [Fixtures.root + "/.build/debug/herald", Fixtures.root + "/.build/release/herald"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Starts `herald ARGUMENTS`, stdout and stderr to `logPath`.
    public init(_ arguments: [String], logPath: String, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw TestTimeout(description: "no herald binary at \(Self.binary): run `swift build` first")
        }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        self.logPath = logPath
        try process.run()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until `GET url` answers 200.
    public func waitUntilHealthy(_ url: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw TestTimeout(description: "herald exited: \(log)") }
            if let response = try? await HTTP.get(url), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestTimeout(description: "herald did not become healthy at \(url): \(log)")
    }

    /// Waits up to `timeout` for the process to exit by itself; returns whether it did.
    public func waitForExit(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return !process.isRunning
    }

    /// `kill -9`: no shutdown, no flush.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait for a graceful exit.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A TCP port nothing listens on right now, below the kernel's ephemeral range (32768 and up
/// on Linux), so no port-0 listener or outgoing connection of a parallel test takes it while a
/// test keeps it free on purpose ("the receiver is down").
public func freePort() throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<32_000)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound == 0 { return port }
    }
    throw TestTimeout(description: "no free port found in 20000..<32000")
}
