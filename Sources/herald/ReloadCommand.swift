import ArgumentParser
import HeraldCore

/// `herald reload`: a running Herald re-reads its config file and every flow and channel file
/// (`POST /admin/v1/reload`, the same as `kill -HUP`), all or nothing.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make a running Herald re-read its config, flow and channel files (all or nothing; exit 1 listing every error).")

    @OptionGroup var admin: AdminOptions

    func run() async throws {
        let client = try admin.client()
        try await runAdmin {
            let (status, json) = try await client.answer("POST", "/admin/v1/reload")
            if admin.json { printLine(json.prettyPrinted()) }
            guard status == 200 else {
                if !admin.json {
                    let errors = json["error"]?["errors"]?.arrayValue ?? []
                    if errors.isEmpty { printError("herald: \(status): \(json["error"]?["message"]?.stringValue ?? json.text)") }
                    for error in errors { printError(error["text"]?.stringValue ?? error.jsonString) }
                    if !errors.isEmpty { printError("herald: reload rejected, the configuration in use is unchanged") }
                }
                throw ExitCode(1)
            }
            guard !admin.json else { return }
            let endpoints = json["endpoints"]
            func list(_ key: String) -> String { (endpoints?[key]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ") }
            printLine("reloaded (generation \(json["generation"]?.text ?? ""))")
            if !list("added").isEmpty { printLine("added: \(list("added"))") }
            if !list("removed").isEmpty { printLine("removed: \(list("removed"))") }
            for flow in json["flows"]?.arrayValue ?? [] where flow["changed"] == true {
                printLine(
                    "flow of \(flow["urlToken"]?.text ?? ""): now version \(flow["flowVersion"]?.text ?? "") (sessions in the middle finish on theirs)"
                )
            }
            for setting in json["needsRestart"]?.arrayValue ?? [] { printLine("needs a restart: \(setting.text)") }
            for warning in json["warnings"]?.arrayValue ?? [] { printLine("warning: \(warning.text)") }
        }
    }
}
