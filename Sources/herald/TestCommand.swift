import ArgumentParser
import Foundation
import HeraldCore
import HeraldPlaybook

/// `herald test PLAYBOOK...`: runs scripted conversations against a Herald started from a
/// config file (`--config`) or a running one (`--url`), prints a report, and exits 1 when
/// anything failed.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run playbooks: scripted conversations with expected outputs (docs/playbooks.md).",
        discussion: """
            Self-contained with --config FILE: Herald starts inside the command from that config, on a memory store, \
            and no webhook is called. Against a running Herald with --url URL (or $HERALD_URL) and an admin key \
            (--api-key or $HERALD_ADMIN_KEY) for inject, notify and context checks. Exits 0 when every conversation \
            passes, 1 otherwise.
            """
    )

    @Argument(help: "Playbook files (YAML).")
    var playbooks: [String]

    @Option(name: .shortAndLong, help: "Run self-contained: start Herald from this config file (storage forced to memory, no webhooks).")
    var config: String?

    @Option(help: "Test the running Herald at this base URL (default: $HERALD_URL).")
    var url: String?

    @Option(help: "The admin listener's base URL, when admin.listen is separate (default: --url).")
    var adminUrl: String?

    @Option(help: "An admin key, for inject, notify and context checks (default: $HERALD_ADMIN_KEY).")
    var apiKey: String?

    @Option(help: "Sent as X-Webhook-Key with user messages, for endpoints with apiKeys.")
    var webhookKey: String?

    @Option(help: "Also write the results as JUnit XML to this file.")
    var junit: String?

    @Option(help: "Herald's log level in self-contained runs: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "critical"

    func validate() throws {
        if playbooks.isEmpty { throw ValidationError("give at least one playbook file") }
        if config != nil, url != nil { throw ValidationError("give either --config (self-contained) or --url (a running Herald), not both") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let start = ContinuousClock.now
        let report: (PlaybookResult) -> Void = { result in
            for line in ConsoleReport.lines(for: result) { printLine(line) }
        }
        let results: [PlaybookResult]
        if let config {
            let logger = bootstrapLogging(level: logLevel)
            let configuration = try loadConfiguration(config, failure: ExitCode(1))
            results = try await InProcessDriver.run(configuration: configuration, logger: logger) { driver in
                await PlaybookRunner(driver: driver).run(files: playbooks, report: report)
            }
        } else if let url = url ?? environment["HERALD_URL"], !url.isEmpty {
            let apiKey = apiKey ?? environment["HERALD_ADMIN_KEY"]
            results = try await RemoteDriver.run(baseURL: url, adminURL: adminUrl, apiKey: apiKey, webhookKey: webhookKey) { driver in
                await PlaybookRunner(driver: driver).run(files: playbooks, report: report)
            }
        } else {
            throw ValidationError("say where Herald is: --config herald.yaml to run self-contained, or --url URL (or HERALD_URL) for a running one")
        }
        let duration = ContinuousClock.now - start
        printLine("")
        printLine(ConsoleReport.summary(results, duration: duration))
        if let junit {
            do {
                try JUnitReport.xml(results, duration: duration).write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                printError("herald: cannot write the JUnit report to \(junit): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        }
        if results.contains(where: { $0.failed > 0 }) { throw ExitCode(1) }
    }
}
