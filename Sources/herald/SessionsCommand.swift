import ArgumentParser
import HeraldCore

/// `--token T --session S`: the session a command acts on, and the admin API it goes through.
struct SessionOptions: ParsableArguments, CustomStringConvertible {
    @OptionGroup var admin: AdminOptions

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

        @OptionGroup var page: PageOptions

        func run() async throws {
            let filters = query(["limit": String(page.limit), "urlToken": token, "userId": user, "cursor": page.cursor])
            try await admin.list("/admin/v1/sessions" + filters, "sessions", empty: "no sessions", page: page) { session in
                let waiting = session["waitingAt"]?.stringValue.map { "  waiting at \($0)" } ?? ""
                return "\(session["urlToken"]?.text ?? "")/\(session["sessionId"]?.text ?? "")  user \(session["userId"]?.text ?? "")  "
                    + "\(session["outputs"]?.text ?? "0") outputs  updated \(session["updatedAt"]?.text ?? "")\(waiting)"
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a session: context, waiting node, last messages.")

        @OptionGroup var target: SessionOptions

        func run() async throws {
            try await target.admin.call("GET", target.path) { json in
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

        @OptionGroup var target: SessionOptions

        func run() async throws {
            try await target.admin.act("DELETE", target.path, done: "ended \(target)", json: #"{"deleted": true}"#)
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
            try await admin.list("/admin/v1/deliveries" + filters, "deliveries", empty: "no deliveries") { delivery in
                let error = delivery["lastError"]?.stringValue.map { "  last error: \($0)" } ?? ""
                return "\(delivery["outputId"]?.text ?? "")  \(delivery["status"]?.text ?? "")  \(delivery["urlToken"]?.text ?? "")/"
                    + "\(delivery["sessionId"]?.text ?? "") #\(delivery["seq"]?.text ?? "")  attempts \(delivery["attempts"]?.text ?? "0")\(error)"
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
