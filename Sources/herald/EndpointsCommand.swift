import ArgumentParser
import Foundation
import HeraldCore

/// `<token>`: the endpoint a command acts on (its urlToken), and the admin API it goes through.
struct EndpointOptions: ParsableArguments, CustomStringConvertible {
    @OptionGroup var admin: AdminOptions

    @Argument(help: "The endpoint's urlToken.")
    var token: String

    /// `/admin/v1/endpoints/{urlToken}`, percent-encoded.
    var path: String { "/admin/v1/endpoints/\(escaped(token))" }

    var description: String { token }
}

/// `herald endpoints`: list, show, make, change and delete endpoints through the admin API
/// (SPEC §14), and resume one paused by a 410.
struct EndpointsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoints", abstract: "List, show, put and delete endpoints; resume one paused by a 410.",
        subcommands: [List.self, Show.self, Put.self, Delete.self, Resume.self])

    /// One line per endpoint.
    static func line(_ endpoint: JSON) -> String {
        let paused = endpoint["paused"] == true ? "  PAUSED (410)" : ""
        let origin = endpoint["origin"]?["type"] == "api" ? "api" : "file"
        let flow = endpoint["flow"]?["storedName"]?.stringValue ?? endpoint["flow"]?["name"]?.text ?? ""
        return "\(endpoint["urlToken"]?.text ?? "")  [\(origin)]  flow \(flow) (\(endpoint["flow"]?["version"]?.text ?? ""))"
            + "  → \(endpoint["webhook"]?["url"]?.text ?? "")  backlog \(endpoint["backlog"]?.text ?? "0")\(paused)"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List endpoints with their backlog (secrets shown as ***).")

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await admin.list("/admin/v1/endpoints", "endpoints", row: EndpointsCommand.line)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one endpoint (secrets shown as ***).")

        @OptionGroup var endpoint: EndpointOptions

        func run() async throws {
            try await endpoint.admin.call("GET", endpoint.path) { json in printLine(json.prettyPrinted()) }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make or change an endpoint from a YAML or JSON file with a config file endpoint's fields.",
            discussion: """
                The file holds one endpoint as in the config file (webhook, apiKeys, sessionTTL, channel, ...), \
                without urlToken (given here). Its flow: --flow NAME (a flow stored with `herald flow store`), \
                --flow-file FILE (the flow's YAML, checked and stored), or `flow:` in the file. A secret written \
                as "***" keeps the stored one. Config-file endpoints are read-only here.
                """)

        @OptionGroup var endpoint: EndpointOptions

        @Option(name: .shortAndLong, help: "The endpoint's fields, YAML or JSON.")
        var file: String

        @Option(help: "The name of a stored flow.")
        var flow: String?

        @Option(help: "A flow file whose YAML the endpoint runs.")
        var flowFile: String?

        func run() async throws {
            guard flow == nil || flowFile == nil else { throw ValidationError("give --flow or --flow-file, not both") }
            var body: JSONObject
            do {
                let yaml = try YAMLFile(path: file)
                guard let object = yaml.json(yaml.root).objectValue else {
                    throw FileError(file: file, line: 1, reason: "must be a mapping of an endpoint's fields")
                }
                body = object
                if let flow { body["flow"] = .string(flow) }
                if let flowFile { body["flow"] = ["yaml": .string(try YAMLFile.text(path: flowFile))] }
            } catch {
                printError("herald: \(error)")
                throw ExitCode(1)
            }
            try await endpoint.admin.call("PUT", endpoint.path, body: .object(body)) { json in
                printLine("put \(endpoint): " + EndpointsCommand.line(json))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an endpoint made through the API: new messages get 404, queued outputs are still delivered.")

        @OptionGroup var endpoint: EndpointOptions

        func run() async throws {
            try await endpoint.admin.act("DELETE", endpoint.path, done: "deleted \(endpoint)", json: #"{"deleted": true}"#)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume delivery to an endpoint paused by a 410 Gone.")

        @OptionGroup var endpoint: EndpointOptions

        func run() async throws {
            try await endpoint.admin.act("POST", endpoint.path + "/resume", done: "resumed \(endpoint)")
        }
    }
}

/// `herald flow store NAME FILE`: checks a flow file and stores it in a running Herald under a
/// name (`POST /admin/v1/flows`); endpoints that name it start new sessions on it.
struct StoreFlow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Store a flow in a running Herald under a name (endpoints naming it follow it).")

    @OptionGroup var admin: AdminOptions

    @Argument(help: "The name endpoints use for it.")
    var name: String

    @Argument(help: "The flow file (YAML).")
    var file: String

    func run() async throws {
        let yaml: String
        do {
            yaml = try YAMLFile.text(path: file)
        } catch {
            printError("herald: \(error)")
            throw ExitCode(1)
        }
        try await admin.call("POST", "/admin/v1/flows", body: ["name": .string(name), "yaml": .string(yaml)]) { json in
            let endpoints = (json["endpoints"]?.arrayValue ?? []).compactMap(\.stringValue)
            printLine(
                "stored \(name) version \(json["flowVersion"]?.text ?? "")"
                    + (endpoints.isEmpty ? "" : "; new sessions of \(endpoints.joined(separator: ", ")) start on it"))
            for warning in json["warnings"]?.arrayValue ?? [] { printLine("warning: \(warning.text)") }
        }
    }
}
