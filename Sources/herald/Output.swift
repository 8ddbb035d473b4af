import ArgumentParser
import Foundation
import HeraldCore
import Hummingbird
import Logging
import OTel
import NIOCore
import Synchronization

private let outputLock = Mutex(())

/// Prints one line to stdout and flushes, so piped output arrives line by line.
func printLine(_ line: String) {
    outputLock.withLock { _ in
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Logs go to stderr as text lines (or JSON lines), at `level`. With `traceIds`, a line logged
/// inside a span carries its `trace_id` and `span_id` (SPEC §15).
func bootstrapLogging(level: String, format: LogSettings.Format = .text, traceIds: Bool = false) -> Logger {
    let logLevel = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap(
        { label, provider in
            var handler = LineLogHandler(label: label, level: logLevel, format: format)
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: traceIds ? OTel.makeLoggingMetadataProvider() : nil)
    var logger = Logger(label: "herald")
    logger.logLevel = logLevel
    return logger
}

/// Loads a configuration file; on an error prints it (file, line, reason) and exits with
/// `failure`.
func loadConfiguration(_ path: String, failure: ExitCode) throws -> HeraldConfiguration {
    do {
        return try HeraldConfiguration.load(path: path)
    } catch {
        printError("herald: \(error)")
        throw failure
    }
}

/// Runs `app` until it stops. A listener that cannot bind (the address in use, a privileged
/// port, an address of another machine) ends the command with `listeners: cannot listen,
/// reason` and exit status 1, instead of NIO's `bind()` error.
func runListening(_ app: any ApplicationProtocol, _ listeners: String) async throws {
    do {
        try await app.runService()
    } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
        let reason =
            switch error.errnoCode {
            case EADDRINUSE: "the address is in use (another herald, or another program, listens there)"
            case EACCES: "permission denied (ports below 1024 need privileges)"
            default: "no interface of this machine has that address"
            }
        printError("\(listeners): cannot listen, \(reason)")
        throw ExitCode(1)
    }
}
