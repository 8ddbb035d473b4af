import ArgumentParser
import HeraldCore

/// `herald sessions handover|reply|handback`: an operator takes a session over (SPEC §11).
extension Sessions {
    struct Handover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a session over: the flow stops answering the user's messages.")

        @OptionGroup var target: SessionOptions

        @Option(name: .customLong("operator"), help: "Your name, as the user's messages and your replies will carry it.")
        var operatorName: String

        func run() async throws {
            try await target.admin.call("POST", target.path + "/handover", body: ["operator": .string(operatorName)]) { _ in
                printLine("\(target) is taken over by \(operatorName)")
            }
        }
    }

    struct Reply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reply to the user of a session you have taken over.")

        @OptionGroup var target: SessionOptions

        @Option(name: .customLong("operator"), help: "Your name (the operator who has the session).")
        var operatorName: String

        @Option(help: "The text to send.")
        var text: String?

        @Option(help: "A JSON object to send.")
        var data: String?

        func run() async throws {
            var body: JSONObject = ["operator": .string(operatorName)]
            if let text { body["text"] = .string(text) }
            if let data { body["data"] = try JSON.parse(data) }
            try await target.admin.call("POST", target.path + "/reply", body: .object(body)) { json in
                printLine("sent \(json["outputId"]?.text ?? "")")
            }
        }
    }

    struct Handback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hand a session back to its flow (optionally with an inject it runs at once).")

        @OptionGroup var target: SessionOptions

        @Option(help: "Text of an inject to run through the flow right after.")
        var injectText: String?

        func run() async throws {
            let body: JSON = injectText.map { ["inject": ["text": .string($0)]] } ?? [:]
            try await target.admin.call("POST", target.path + "/handback", body: body) { _ in printLine("\(target) is back with its flow") }
        }
    }
}

/// `herald users erase`: everything of one user of one endpoint goes (SPEC §11).
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "Erase a user's data.", subcommands: [Erase.self])

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a user's sessions, messages, outputs and attempts; undelivered outputs are not sent.")

        @OptionGroup var admin: AdminOptions

        @Option(help: "The endpoint's urlToken.")
        var token: String

        @Option(help: "The user id.")
        var user: String

        func run() async throws {
            try await admin.call("DELETE", "/admin/v1/users/\(escaped(token))/\(escaped(user))") { json in
                let erased = json["erased"] ?? [:]
                printLine(
                    "erased \(token)/\(user): \(erased["sessions"]?.text ?? "0") sessions, \(erased["inputs"]?.text ?? "0") inputs, "
                        + "\(erased["outputs"]?.text ?? "0") outputs (\(erased["undelivered"]?.text ?? "0") undelivered, not sent), "
                        + "\(erased["attempts"]?.text ?? "0") attempts")
            }
        }
    }
}

/// `herald audit`: the audit log, newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the audit log of admin actions, newest first.")

    @OptionGroup var admin: AdminOptions

    @OptionGroup var page: PageOptions

    func run() async throws {
        let path = "/admin/v1/audit" + query(["limit": String(page.limit), "cursor": page.cursor])
        try await admin.list(path, "entries", empty: "nothing recorded", page: page) { entry in
            let target = [entry["urlToken"], entry["sessionId"], entry["userId"], entry["outputId"]].compactMap { $0?.stringValue }
            let erased = entry["targetErased"] == true ? " (target erased)" : ""
            let detail = entry["detail"]?.stringValue.map { "  \($0)" } ?? ""
            return
                "\(entry["at"]?.text ?? "")  \(entry["keyName"]?.text ?? "")  \(entry["action"]?.text ?? "")  \(target.joined(separator: " "))\(erased)\(detail)"
        }
    }
}
