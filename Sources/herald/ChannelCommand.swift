import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore

/// `herald channel check`: validate channel files (SPEC §9) without a server.
struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Check channel files.",
        subcommands: [CheckChannels.self]
    )
}

/// `herald channel check FILE...` or `herald channel check --config herald.yaml`.
struct CheckChannels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate channel files, alone or with a config's channelVars.",
        discussion: """
            Prints each problem as file:line: reason on stderr and one 'ok' line per good file on stdout. With --config, \
            checks every endpoint's channel file with its channelVars (the check herald serve does at start-up). Exits 0 \
            when everything loads, 1 otherwise.
            """
    )

    @Argument(help: "Channel files (YAML).")
    var files: [String] = []

    @Option(name: .shortAndLong, help: "A config file: check its endpoints' channels with their channelVars.")
    var config: String?

    func validate() throws {
        if files.isEmpty, config == nil { throw ValidationError("give channel files or --config") }
    }

    func run() throws {
        var failed = false
        for file in files {
            do {
                let channel = try Channel.check(path: file)
                printLine("\(file): ok (channel '\(channel.name)', vars \(channel.variables.map(\.name).joined(separator: ", ")))")
            } catch {
                printError(error.description)
                failed = true
            }
        }
        if let config {
            let configuration = try loadConfiguration(config, failure: ExitCode(1))
            for endpoint in configuration.endpoints {
                guard let reference = endpoint.channel else { continue }
                do {
                    let channel = try Channel.load(reference)
                    printLine("\(config): endpoint '\(endpoint.urlToken)': ok (channel '\(channel.name)', \(reference.path))")
                } catch {
                    printError(error.description)
                    failed = true
                }
            }
        }
        if failed { throw ExitCode(1) }
    }
}
