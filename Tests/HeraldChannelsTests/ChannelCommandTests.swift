import Foundation
import HeraldTestSupport
import Testing

/// The `herald` binary: `herald channel check`, and `herald serve` refusing a bad channel file.
@Suite("herald channel check")
struct ChannelCommandTests {
    func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let directory = try Fixtures.temporaryDirectory()
        let process = try HeraldProcess(arguments, logPath: directory + "/out.log")
        process.process.waitUntilExit()
        return (process.process.terminationStatus, process.log)
    }

    @Test("good files are ok; a bad one is file:line: reason and exit 1; serve refuses it")
    func check() async throws {
        let good = try await run(
            ["channel", "check"] + ["telegram", "twilio", "slack", "whatsapp"].map { Fixtures.root + "/examples/channels/\($0).yaml" })
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.components(separatedBy: ": ok (channel").count == 5, "\(good.output)")

        let directory = try Fixtures.temporaryDirectory()
        let bad = directory + "/bad.yaml"
        let text = try String(contentsOfFile: Fixtures.root + "/examples/channels/telegram.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  success: response.body.ok == true", with: "  success: response.body.ok ==")
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.hasPrefix("  success:") }! + 1
        let failed = try await run(["channel", "check", bad])
        #expect(failed.status == 1)
        #expect(failed.output.contains("\(bad):\(line): output.success: bad expression"), "\(failed.output)")

        let config = directory + "/herald.yaml"
        try """
        admin: { keys: [k] }
        storage: memory
        endpoints:
          - urlToken: tg
            flow: \(Fixtures.root)/examples/flows/echo.yaml
            channel: bad.yaml
            channelVars: { botToken: "123:SECRET-TOKEN", secretToken: s3cr3t-value }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let serve = try await run(["serve", "--config", config])
        #expect(serve.status == 2, "\(serve.output)")
        #expect(serve.output.contains("\(bad):\(line): output.success: bad expression"), "\(serve.output)")
        #expect(serve.output.contains("SECRET-TOKEN") == false)
    }
}
