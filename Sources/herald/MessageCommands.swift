import ArgumentParser
import HeraldCore

/// The options shared by `inject` and `notify`: the session (and the admin API), the user and
/// the message.
struct MessageOptions: ParsableArguments {
    @OptionGroup var target: SessionOptions

    var admin: AdminOptions { target.admin }

    @Option(help: "The user id.")
    var user: String

    @Option(help: "Text of the message.")
    var text: String?

    @Option(help: "Data of the message, a JSON object.")
    var data: String?

    @Flag(help: "Create the session when it does not exist.")
    var createSession = false

    @Option(help: "Send later, at this RFC 3339 time (2026-12-24T09:00:00Z).")
    var sendAt: String?

    @Option(help: "Send later, after this long (90s, 10m, 2h, 1d).")
    var delay: String?

    @Option(help: "With --send-at or --delay: replaces a pending message with the same key in the session.")
    var key: String?

    @Flag(help: "With --send-at or --delay: dropped when the user writes first.")
    var cancelOnUserMessage = false

    func body() throws -> JSONObject {
        var body: JSONObject = ["userId": .string(user), "sessionId": .string(target.session)]
        if let text { body["text"] = .string(text) }
        if let data {
            guard let parsed = try? JSON.parse(data), parsed.objectValue != nil else {
                throw ValidationError("--data must be a JSON object, e.g. '{\"event\":\"shipped\"}'")
            }
            body["data"] = parsed
        }
        if createSession { body["createSession"] = true }
        if let sendAt { body["sendAt"] = .string(sendAt) }
        if let delay { body["delay"] = .string(delay) }
        if let key { body["key"] = .string(key) }
        if cancelOnUserMessage { body["cancelOnUserMessage"] = true }
        guard text?.isEmpty == false || data != nil else { throw ValidationError("give --text or --data (or both)") }
        return body
    }
}

struct Inject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inject a message into a session's flow, as if the user had said it.")

    @OptionGroup var message: MessageOptions

    @Flag(help: "Wait for the flow's outputs and print them.")
    var wait = false

    func run() async throws {
        let client = try message.admin.client()
        let body = try message.body()
        try await runAdmin {
            let path = "/inject/\(escaped(message.target.token))" + (wait ? "?wait=true" : "")
            let (_, json) = try await client.call("POST", path, body: .object(body))
            if message.admin.json {
                printLine(json.prettyPrinted())
                return
            }
            if let scheduled = json["scheduledId"]?.stringValue {
                return printLine("scheduled \(scheduled) into \(message.target), due \(json["dueAt"]?.text ?? "")")
            }
            printLine("injected \(json["inputId"]?.text ?? "") into \(message.target)")
            for output in json["outputs"]?.arrayValue ?? [] {
                printLine("  #\(output["seq"]?.text ?? "?") \(output["text"]?.text ?? "")" + (output["data"].map { " \($0.jsonString)" } ?? ""))
            }
        }
    }
}

struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send text/data straight to a session's user, bypassing the flow.")

    @OptionGroup var message: MessageOptions

    @Option(help: "Quick replies, JSON: '[{\"title\":\"Yes\",\"payload\":\"yes\"}]'.")
    var quickReplies: String?

    @Option(help: "Buttons, JSON: '[{\"title\":\"Track\",\"url\":\"https://...\"}, {\"title\":\"Cancel\",\"payload\":\"cancel\"}]'.")
    var buttons: String?

    @Option(help: "Attachments, JSON: '[{\"type\":\"image\",\"url\":\"https://...\",\"caption\":\"...\"}]' (image, file, audio, video).")
    var attachments: String?

    @Option(help: "A card, JSON: '{\"title\":\"...\",\"subtitle\":\"...\",\"imageUrl\":\"https://...\",\"buttons\":[...]}'.")
    var card: String?

    @Option(help: "A message template (WhatsApp), JSON: '{\"name\":\"order_update\",\"language\":\"en\",\"parameters\":[\"A-1\"]}'.")
    var template: String?

    func run() async throws {
        let client = try message.admin.client()
        var body = try message.body()
        // Checked by Herald too (a 400 naming the field); parsed here so a typo in the shell says
        // which option it is in.
        for (option, field, value) in [
            ("--quick-replies", "quickReplies", quickReplies), ("--buttons", "buttons", buttons), ("--attachments", "attachments", attachments),
            ("--card", "card", card), ("--template", "template", template),
        ] {
            guard let value else { continue }
            guard let parsed = try? JSON.parse(value) else { throw ValidationError("\(option) must be JSON") }
            body[field] = parsed
        }
        try await runAdmin {
            let (_, json) = try await client.call("POST", "/notify/\(escaped(message.target.token))", body: .object(body))
            if message.admin.json {
                printLine(json.prettyPrinted())
            } else if let scheduled = json["scheduledId"]?.stringValue {
                printLine("scheduled \(scheduled) for \(message.target), due \(json["dueAt"]?.text ?? "")")
            } else {
                printLine("notified \(message.target): output \(json["outputId"]?.text ?? "")")
            }
        }
    }
}
