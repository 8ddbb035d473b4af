import ArgumentParser
import Foundation
import HeraldCore
import Logging
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

/// Logs go to stderr as text lines, at `level`.
func bootstrapLogging(level: String) -> Logger {
    let logLevel = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: logLevel) }
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
