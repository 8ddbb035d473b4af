import Foundation
import HeraldCore
import HeraldHTTP
import HeraldPlaybook
import HeraldTestSupport

/// A flow for step tests: echoes user messages, answers injects with their data, asks and
/// remembers a name, says two things on "two", and loops on "loop" until the step limit.
let testFlow = """
    name: steps
    stepLimit: 20
    nodes:
      - if: input.source == "inject"
        then: injected
      - switch: lower(trim(input.text))
        cases:
          two: two
          loop: loop
          name: ask-name
          quiet: quiet
        default: echo
      - id: echo
        say:
          text: "You said: {{ input.text }}"
          data: "{{ input.data }}"
      - end: true
      - id: two
        say: first
      - say:
          text: second
          data: { n: 2, tags: [a, b], nested: { deep: "yes" } }
      - end: true
      - id: ask-name
        ask: "Your name?"
        into: context.profile.name
        validate: { pattern: '^[A-Za-z]+$' }
        retry: "Letters only, please."
      - set:
          context.profile.visits: "{{ default(context.profile.visits, 0) + 1 }}"
      - say: "Hello {{ context.profile.name }}"
      - end: true
      - id: injected
        say:
          text: "event {{ input.data.event }}"
          data: { event: "{{ input.data.event }}", count: 3 }
      - end: true
      - id: quiet
        end: true
      - id: loop
        goto: loop
    """

enum PlaybookFixtures {
    /// One endpoint `steps` running ``testFlow`` (and `demo` running echo), delivering nowhere.
    static func configuration() throws -> HeraldConfiguration {
        let flow = try Flow.load(yaml: testFlow, file: "steps.yaml")
        let webhook = WebhookSettings(url: "http://127.0.0.1:9/hook")
        return HeraldConfiguration(
            adminKeys: [AdminKey(plain: Secret(Fixtures.adminKey), position: 0)], storage: .memory,
            endpoints: [
                Endpoint(urlToken: "steps", flow: flow, webhook: webhook),
                Endpoint(urlToken: "demo", flow: try Fixtures.flow("echo"), webhook: webhook),
            ])
    }

    /// The example flows' endpoints (`echo`, `order-status`, `survey`), as examples/herald-test.yaml has them.
    static func examplesConfiguration(webhookURL: String = "http://127.0.0.1:9/hook") throws -> HeraldConfiguration {
        var configuration = try HeraldConfiguration.load(path: Fixtures.root + "/examples/herald-test.yaml", environment: [:])
        for index in configuration.endpoints.indices { configuration.endpoints[index].webhook.url = webhookURL }
        configuration.adminKeys = [AdminKey(plain: Secret(Fixtures.adminKey), position: 0)]
        return configuration
    }

    static var examplePlaybooks: [String] {
        let directory = Fixtures.root + "/examples/playbooks"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory + "/" + $0 }
    }

    /// Runs a playbook written in the test on an in-process Herald with ``configuration()``.
    static func run(_ yaml: String, file: String = "test.yaml") async throws -> PlaybookResult {
        let playbook = try Playbook.load(yaml: yaml, file: file)
        return try await InProcessDriver.run(configuration: try configuration(), logger: TestServices.logger) { driver in
            await PlaybookRunner(driver: driver).run(playbook)
        }
    }
}

extension PlaybookResult {
    /// The report as `herald test` prints it for this playbook.
    var report: String { ConsoleReport.lines(for: self).joined(separator: "\n") }

    /// The failure of the conversation named `name`.
    func failure(_ name: String) -> StepFailure? {
        conversations.first { $0.name == name }?.failure
    }
}

/// Runs the built `herald` binary to its end; returns its exit status and everything it printed.
func runHerald(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> (
    status: Int32, output: String
) {
    let directory = try Fixtures.temporaryDirectory()
    let process = try HeraldProcess(arguments, logPath: directory + "/output.txt", environment: environment)
    guard try await process.waitForExit(timeout: timeout) else {
        process.kill9()
        throw HeraldDidNotFinish(description: "herald \(arguments.joined(separator: " ")) did not finish: \(process.log)")
    }
    process.process.waitUntilExit()
    return (process.process.terminationStatus, process.log)
}

/// Writes `text` to a new temporary file named `name` and returns its path.
func temporaryFile(_ name: String, _ text: String) throws -> String {
    let path = try Fixtures.temporaryDirectory() + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

struct HeraldDidNotFinish: Error, CustomStringConvertible {
    var description: String
}
