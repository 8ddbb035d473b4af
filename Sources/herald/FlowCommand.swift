import ArgumentParser
import Foundation
import HeraldCore
import HeraldPlaybook
import HeraldWebhook

/// `herald flow check` and `herald flow run`: work on flow files without a server.
struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Check flow files, talk to a flow in the terminal, or store one in a running Herald.",
        subcommands: [CheckFlows.self, RunFlow.self, StoreFlow.self]
    )
}

/// `herald flow check FILE...`: every error and warning as `file:line: reason`.
struct CheckFlows: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate flow files.",
        discussion: """
            Prints each problem as file:line: reason (warnings say so) on stderr, and one 'ok' line \
            per good file on stdout. Exits 0 when every file loads (warnings allowed), 1 otherwise.
            """
    )

    @Argument(help: "Flow files (YAML).")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one flow file") }
    }

    func run() throws {
        var failed = false
        for file in files {
            let check = Flow.check(path: file)
            for error in check.errors { printError(error.description) }
            for warning in check.warnings { printError(warning.description) }
            if let flow = check.flow {
                let warnings = check.warnings.isEmpty ? "" : ", \(check.warnings.count) warning\(check.warnings.count == 1 ? "" : "s")"
                printLine("\(file): ok (flow '\(flow.name)', \(flow.nodes.count) node\(flow.nodes.count == 1 ? "" : "s")\(warnings))")
            } else {
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `herald flow run FILE`: a conversation with one flow, one line at a time.
struct RunFlow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Talk to a flow in the terminal, without a server.",
        discussion: """
            Each line is a user message. Commands: /inject TEXT, /inject {JSON body}, /data JSON, /context, /reset, \
            /quit, /help. Works with piped input too: then each input line is echoed as 'you> ...', so the output \
            reads as a transcript.
            """
    )

    @Argument(help: "The flow file (YAML).")
    var file: String

    @Option(help: "The userId the session belongs to (session.userId in expressions).")
    var user: String = "console-user"

    @Option(help: "Answer the flow's calls from the 'mock:' section of this YAML file (a playbook, say) instead of calling the APIs.")
    var mock: String?

    func run() throws {
        let flow: Flow
        do {
            flow = try Flow.load(path: file)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        for warning in flow.warnings { printError(warning.description) }
        let interactive = isatty(STDIN_FILENO) == 1
        var console = FlowConsole(flow: flow, userId: user, answerCall: try callAnswerer())
        printError("flow '\(flow.name)' from \(file): type a message, or /help")
        while true {
            if interactive { printPrompt("you> ") }
            guard let line = readLine(strippingNewline: true) else {
                // End of input (Ctrl-D): end the prompt's line so the shell's starts clean.
                if interactive { printLine("") }
                break
            }
            if !interactive { printLine("you> \(line)") }
            let reply = console.handle(line)
            for output in reply.lines { printLine(output) }
            if reply.quit { break }
        }
    }
}

extension RunFlow {
    /// What answers the flow's calls: the stand-ins of `--mock`, or else the real API through
    /// libcurl, as the server would call it (any host; `${NAME}` from the environment).
    func callAnswerer() throws -> @Sendable (CallRequest?) -> CallAnswer {
        if let mock {
            do {
                let mocks = try CallMocks.load(path: mock)
                return { mocks.answer($0) }
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
        }
        let client = CurlWebhookClient()
        return { request in
            guard let request else { return .failed("the call's output holds no request") }
            return DeliveryService.call(request, id: Identifier.make(prefix: "call_"), client: client)
        }
    }
}

/// Writes `prompt` without a newline, straight to stdout (unbuffered), so it shows before the
/// user types.
private func printPrompt(_ prompt: String) {
    FileHandle.standardOutput.write(Data(prompt.utf8))
}
