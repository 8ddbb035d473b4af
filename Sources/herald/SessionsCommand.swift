import ArgumentParser
import HeraldCore

/// `--token T --session S`: the session a command acts on.
struct SessionOptions: ParsableArguments, CustomStringConvertible {
    @Option(help: "The endpoint's urlToken.")
    var token: String

    @Option(help: "The session id.")
    var session: String

    /// `/admin/v1/sessions/{urlToken}/{sessionId}`, both percent-encoded.
    var path: String { "/admin/v1/sessions/\(escaped(token))/\(escaped(session))" }

    var description: String { "\(token)/\(session)" }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show and end sessions, and take them over, through the admin API.",
        subcommands: [List.self, Show.self, Delete.self, Handover.self, Reply.self, Handback.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions, a page at a time.")

        @OptionGroup var admin: AdminOptions

        @Option(help: "Only this endpoint's sessions.")
        var token: String?

        @Option(help: "Only this user's sessions.")
        var user: String?

        @Option(help: "At most this many (1 to 1000).")
        var limit: Int = 50

        @Option(help: "Continue after this cursor (printed at the end of a full page).")
        var cursor: String?

        func run() async throws {
            let filters = query(["limit": String(limit), "urlToken": token, "userId": user, "cursor": cursor])
            try await admin.call("GET", "/admin/v1/sessions" + filters) { json in
                let sessions = json["sessions"]?.arrayValue ?? []
                if sessions.isEmpty { printLine("no sessions") }
                for session in sessions {
                    let waiting = session["waitingAt"]?.stringValue.map { "  waiting at \($0)" } ?? ""
                    printLine(
                        "\(session["urlToken"]?.text ?? "")/\(session["sessionId"]?.text ?? "")  user \(session["userId"]?.text ?? "")  "
                            + "\(session["outputs"]?.text ?? "0") outputs  updated \(session["updatedAt"]?.text ?? "")\(waiting)")
                }
                if let next = json["nextCursor"]?.stringValue { printLine("more: --cursor \(next)") }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a session: context, waiting node, last messages.")

        @OptionGroup var admin: AdminOptions

        @OptionGroup var target: SessionOptions

        func run() async throws {
            try await admin.call("GET", target.path) { json in
                printLine("session \(target)  user \(json["userId"]?.text ?? "")  \(json["state"]?.text ?? "")")
                if let name = json["operator"]?.stringValue { printLine("taken over by: \(name)") }
                if let waiting = json["waitingAt"]?.stringValue { printLine("waiting at: \(waiting)") }
                printLine("context: \(json["context"]?.prettyPrinted() ?? "{}")")
                for entry in json["scheduled"]?.arrayValue ?? [] {
                    let key = entry["key"]?.stringValue.map { " key \($0)" } ?? ""
                    printLine("scheduled: \(entry["id"]?.text ?? "") \(entry["kind"]?.text ?? "") due \(entry["dueAt"]?.text ?? "")\(key)")
                }
                for message in json["messages"]?.arrayValue ?? [] {
                    let text = message["text"]?.stringValue ?? ""
                    let data = message["data"].flatMap { $0.isNull ? nil : " " + $0.jsonString } ?? ""
                    if message["kind"] == "input" {
                        printLine("  \(message["at"]?.text ?? "")  \(message["source"]?.text ?? "") > \(text)\(data)")
                    } else {
                        printLine(
                            "  \(message["at"]?.text ?? "")  #\(message["seq"]?.text ?? "") \(message["type"]?.text ?? "") < \(text)\(data)"
                                + "  [\(message["status"]?.text ?? "")]")
                    }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a session (undelivered outputs are still delivered).")

        @OptionGroup var admin: AdminOptions

        @OptionGroup var target: SessionOptions

        func run() async throws {
            let client = try admin.client()
            try await runAdmin {
                _ = try await client.call("DELETE", target.path)
                printLine(admin.json ? #"{"deleted": true}"# : "ended \(target)")
            }
        }
    }
}

struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries", abstract: "List deliveries (dead letters with --status dead) and retry them.",
        subcommands: [List.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List outputs and their delivery state.")

        @OptionGroup var admin: AdminOptions

        @Option(help: "pending, failed, dead or delivered.")
        var status: String?

        @Option(help: "Only this endpoint's.")
        var token: String?

        @Option(help: "Only this session's.")
        var session: String?

        @Option(help: "At most this many (1 to 1000).")
        var limit: Int = 100

        func run() async throws {
            let filters = query(["limit": String(limit), "status": status, "urlToken": token, "sessionId": session])
            try await admin.call("GET", "/admin/v1/deliveries" + filters) { json in
                let deliveries = json["deliveries"]?.arrayValue ?? []
                if deliveries.isEmpty { printLine("no deliveries") }
                for delivery in deliveries {
                    let error = delivery["lastError"]?.stringValue.map { "  last error: \($0)" } ?? ""
                    printLine(
                        "\(delivery["outputId"]?.text ?? "")  \(delivery["status"]?.text ?? "")  \(delivery["urlToken"]?.text ?? "")/"
                            + "\(delivery["sessionId"]?.text ?? "") #\(delivery["seq"]?.text ?? "")  attempts \(delivery["attempts"]?.text ?? "0")\(error)"
                    )
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attempt an output again now.")

        @OptionGroup var admin: AdminOptions

        @Argument(help: "The output id (out_…).")
        var outputId: String

        func run() async throws {
            try await admin.call("POST", "/admin/v1/deliveries/\(escaped(outputId))/retry") { json in
                printLine("retrying \(outputId) (status \(json["status"]?.text ?? ""))")
            }
        }
    }
}
