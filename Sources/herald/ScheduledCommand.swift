import ArgumentParser
import HeraldCore

/// `herald scheduled list|cancel`: pending scheduled messages, reminders and timeouts.
struct ScheduledCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduled", abstract: "List and cancel pending scheduled messages, reminders and timeouts.",
        subcommands: [List.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pending schedules, the earliest first.")

        @OptionGroup var admin: AdminOptions

        @Option(help: "Only this endpoint's.")
        var token: String?

        @Option(help: "Only this session's (with --token).")
        var session: String?

        @Option(help: "At most this many (1 to 1000).")
        var limit: Int = 100

        func run() async throws {
            let filters = query(["limit": String(limit), "urlToken": token, "sessionId": session])
            try await admin.list("/admin/v1/scheduled" + filters, "scheduled", empty: "nothing scheduled") { entry in
                let key = entry["key"]?.stringValue.map { " key \($0)" } ?? ""
                let text = entry["text"]?.stringValue.map { "  \(JSON.string($0).jsonString)" } ?? ""
                return "\(entry["id"]?.text ?? "")  \(entry["dueAt"]?.text ?? "")  \(entry["kind"]?.text ?? "")  "
                    + "\(entry["urlToken"]?.text ?? "")/\(entry["sessionId"]?.text ?? "")\(key)\(text)"
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending schedule by its id.")

        @OptionGroup var admin: AdminOptions

        @Argument(help: "The schedule's id (sch_...).")
        var id: String

        func run() async throws {
            try await admin.act("DELETE", "/admin/v1/scheduled/\(escaped(id))", done: "cancelled \(id)", json: #"{"cancelled": true}"#)
        }
    }
}
