import ArgumentParser
import HeraldCore
import HeraldHTTP
import Hummingbird
import Logging

struct Receive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A webhook sink: prints each delivery as one JSON line.",
        discussion:
            "Answers 401 when --user/--password are set and basic auth does not match, or when --secret is set and the signature does not verify."
    )

    @Option(help: "Port to listen on.")
    var port: Int = 9000

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Required basic auth user.")
    var user: String?

    @Option(help: "Required basic auth password.")
    var password: String?

    @Option(help: "Standard Webhooks signing secret (whsec_...) to verify Webhook-Signature.")
    var secret: String?

    @Option(help: "HTTP status to answer deliveries with.")
    var status: Int = 200

    @Option(help: "Body to answer deliveries with, e.g. '{\"ok\":true}' to stand in for Telegram's Bot API.")
    var body: String?

    func validate() throws {
        if (user == nil) != (password == nil) { throw ValidationError("--user and --password go together") }
    }

    func run() async throws {
        let logger = bootstrapLogging(level: "warning")
        var receiver = WebhookReceiver(
            host: host, port: port, user: user, password: password.map(Secret.init), signingSecret: secret.map(Secret.init), status: status
        ) { line in
            printLine(line)
        }
        receiver.body = body
        let app: any ApplicationProtocol
        do {
            app = try receiver.application(logger: logger)
        } catch {
            printError("herald receive: \(error)")
            throw ExitCode(2)
        }
        printError("herald receive: listening on http://\(host):\(port)")
        try await runListening(app, "herald receive: --host/--port \(host):\(port)")
    }
}
