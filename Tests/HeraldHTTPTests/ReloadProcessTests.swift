import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Reloading a real `herald serve` (SPEC §14): `kill -HUP` and `herald reload` re-read the config
/// and flow files; a broken file is named in the log (SIGHUP) or the command's output, with its
/// line, and the old flow goes on answering.
@Suite(.serialized) struct ReloadProcessTests {
    static func echo(_ label: String) -> String {
        "name: echo\nnodes:\n  - say: \"\(label): {{ input.text }}\"\n"
    }

    /// `herald ARGUMENTS` to its end: exit status and what it printed (stdout and stderr).
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let directory = try Fixtures.temporaryDirectory()
        let process = try HeraldProcess(arguments, logPath: directory + "/out.log", environment: environment)
        guard try await process.waitForExit(timeout: .seconds(60)) else { throw TestTimeout(description: "herald \(arguments) did not end") }
        return (process.process.terminationStatus, process.log)
    }

    static func answer(_ url: String, _ text: String) async throws -> String? {
        let response = try await HTTP.request(
            "POST", url + "/demo?wait=true", body: Array(#"{"userId":"u","sessionId":"s-\#(UUID().uuidString)","text":"\#(text)"}"#.utf8),
            headers: ["Content-Type": "application/json"])
        return response.json["outputs"]?[0]?["text"]?.stringValue
    }

    @Test func sighupAndHeraldReloadReReadTheFilesAndABrokenOneIsNamedWithItsLine() async throws {
        let receiver = TestReceiver()
        try await TestServices.run([receiver.application(logger: TestServices.logger)]) {
            try await receiver.waitUntilListening()
            let directory = try ConfigDirectory()
            let port = try freePort()
            try directory.write("flows/echo.yaml", Self.echo("one"))
            try directory.write(
                "herald.yaml",
                ConfigDirectory.config(
                    storage: .sqlite(path: directory.path + "/herald.sqlite"), listen: "127.0.0.1:\(port)",
                    endpoints: ConfigDirectory.endpoint("demo", flow: "echo.yaml", url: receiver.url)))
            let url = "http://127.0.0.1:\(port)"
            let serve = try HeraldProcess(["serve", "--config", directory.configFile], logPath: directory.path + "/serve.log")
            defer { serve.stop() }
            try await serve.waitUntilHealthy(url + "/healthz")
            #expect(try await Self.answer(url, "a") == "one: a")

            // SIGHUP: the new flow answers the next message.
            try directory.write("flows/echo.yaml", Self.echo("two"))
            kill(serve.process.processIdentifier, SIGHUP)
            try await receiver.wait(timeout: .seconds(10)) { _ in serve.log.contains("configuration reloaded") }
            #expect(try await Self.answer(url, "b") == "two: b")

            // SIGHUP with a broken flow: the log names the file and line, the old flow answers.
            try directory.write("flows/echo.yaml", "name: echo\nnodes:\n  - say: \"three\"\n  - whisper: \"x\"\n")
            kill(serve.process.processIdentifier, SIGHUP)
            try await receiver.wait(timeout: .seconds(10)) { _ in serve.log.contains("reload rejected") }
            #expect(serve.log.contains(directory.path + "/flows/echo.yaml:4:"))
            #expect(try await Self.answer(url, "c") == "two: c")
            #expect(serve.process.isRunning)

            // `herald reload` says the same and exits 1; fixed, it reloads and says what changed.
            let environment = ["HERALD_URL": url, "HERALD_ADMIN_KEY": Fixtures.adminKey]
            let rejected = try await Self.run(["reload"], environment: environment)
            #expect(rejected.status == 1)
            #expect(rejected.output.contains(directory.path + "/flows/echo.yaml:4:"), "\(rejected.output)")
            #expect(rejected.output.contains("unchanged"))
            try directory.write("flows/echo.yaml", Self.echo("four"))
            let reloaded = try await Self.run(["reload"], environment: environment)
            #expect(reloaded.status == 0, "\(reloaded.output)")
            #expect(reloaded.output.contains("flow of demo: now version \(Flow.version(of: Self.echo("four")))"), "\(reloaded.output)")
            #expect(try await Self.answer(url, "d") == "four: d")

            // `herald flow store`, `herald endpoints put|list|show|delete`: an endpoint through the API.
            try directory.write("flows/greet.yaml", Self.echo("greet"))
            let stored = try await Self.run(["flow", "store", "greet", directory.path + "/flows/greet.yaml"], environment: environment)
            #expect(stored.status == 0, "\(stored.output)")
            #expect(stored.output.contains("stored greet version \(Flow.version(of: Self.echo("greet")))"))
            try directory.write("tenant.yaml", "webhook:\n  url: \(receiver.url)\n  user: bot\n  password: tenant-secret\nsessionTTL: 5m\n")
            let put = try await Self.run(
                ["endpoints", "put", "tenant", "--file", directory.path + "/tenant.yaml", "--flow", "greet"], environment: environment)
            #expect(put.status == 0, "\(put.output)")
            let tenantAnswer = try await HTTP.request(
                "POST", url + "/tenant?wait=true", body: Array(#"{"userId":"u","sessionId":"t","text":"e"}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(tenantAnswer.json["outputs"]?[0]?["text"] == "greet: e")
            let listed = try await Self.run(["endpoints", "list"], environment: environment)
            #expect(listed.output.contains("demo  [file]"), "\(listed.output)")
            #expect(listed.output.contains("tenant  [api]  flow greet"), "\(listed.output)")
            let shown = try await Self.run(["endpoints", "show", "tenant"], environment: environment)
            #expect(shown.output.contains(#""password" : "***""#) || shown.output.contains(#""password": "***""#), "\(shown.output)")
            #expect(!shown.output.contains("tenant-secret"))
            let readOnly = try await Self.run(["endpoints", "delete", "demo"], environment: environment)
            #expect(readOnly.status == 1)
            #expect(readOnly.output.contains("409"), "\(readOnly.output)")
            let deleted = try await Self.run(["endpoints", "delete", "tenant"], environment: environment)
            #expect(deleted.status == 0, "\(deleted.output)")
            #expect(!(try await Self.run(["endpoints", "list"], environment: environment)).output.contains("tenant"))
            #expect(!serve.log.contains("tenant-secret"))
        }
    }
}
