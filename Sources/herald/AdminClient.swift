import ArgumentParser
import Foundation
import HeraldCore
import HeraldWebhook

/// Where the admin API is and the key for it: `--url` / `HERALD_URL`, `--api-key` /
/// `HERALD_ADMIN_KEY`.
struct AdminOptions: ParsableArguments {
    @Option(help: "Herald's base URL (default: $HERALD_URL or http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "An admin key (default: $HERALD_ADMIN_KEY).")
    var apiKey: String?

    @Flag(help: "Print the API's JSON answer instead of text.")
    var json = false

    func client() throws -> AdminClient {
        let environment = ProcessInfo.processInfo.environment
        guard let key = apiKey ?? environment["HERALD_ADMIN_KEY"], !key.isEmpty else {
            throw ValidationError("an admin key is needed: --api-key KEY or HERALD_ADMIN_KEY")
        }
        var base = url ?? environment["HERALD_URL"] ?? "http://127.0.0.1:8080"
        while base.hasSuffix("/") { base.removeLast() }
        return AdminClient(baseURL: base, apiKey: Secret(key))
    }

    /// Makes one admin call and prints its answer: the API's JSON with `--json`, else what
    /// `print` makes of it. A failure prints `herald: …` and exits 1.
    func call(_ method: String, _ path: String, body: JSON? = nil, print: (JSON) -> Void) async throws {
        let client = try client()
        try await runAdmin {
            let (_, answer) = try await client.call(method, path, body: body)
            if json { return printLine(answer.prettyPrinted()) }
            print(answer)
        }
    }

    /// Lists the entries a `GET` answers under `key`, a line each made by `row`, or `empty`
    /// when there are none; with `page`, says how to ask for the next page. With `--json`, the
    /// answer is printed as it is.
    func list(_ path: String, _ key: String, empty: String? = nil, page: PageOptions? = nil, row: (JSON) -> String) async throws {
        try await call("GET", path) { json in
            let entries = json[key]?.arrayValue ?? []
            if entries.isEmpty, let empty { printLine(empty) }
            for entry in entries { printLine(row(entry)) }
            page?.printMore(json)
        }
    }

    /// Makes one admin call whose answer says nothing more (a 204, a resume) and prints `done`,
    /// or with `--json` the `json` line when there is one. A failure prints `herald: …` and
    /// exits 1.
    func act(_ method: String, _ path: String, done: String, json jsonLine: String? = nil) async throws {
        let client = try client()
        try await runAdmin {
            _ = try await client.call(method, path)
            printLine(json ? jsonLine ?? done : done)
        }
    }
}

/// `--limit N --cursor C`: one page of a list the admin API pages through.
struct PageOptions: ParsableArguments {
    @Option(help: "At most this many (1 to 1000).")
    var limit: Int = 50

    @Option(help: "Continue after this cursor (printed at the end of a full page).")
    var cursor: String?

    /// Says how to ask for the next page, when the answer has one.
    func printMore(_ answer: JSON) {
        if let next = answer["nextCursor"]?.stringValue { printLine("more: --cursor \(next)") }
    }
}

/// Calls the admin API with Herald's own libcurl client.
struct AdminClient {
    let baseURL: String
    let apiKey: Secret

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The answer's JSON; an HTTP error becomes a `Failure` with the API's message.
    func call(_ method: String, _ path: String, body: JSON? = nil) async throws -> (status: Int, json: JSON) {
        let (status, json) = try await answer(method, path, body: body)
        guard (200..<300).contains(status) else {
            let message = json["error"]?["message"]?.stringValue ?? json.text
            throw Failure(description: "\(status): \(message)")
        }
        return (status, json)
    }

    /// The answer's status and JSON, whatever the status; only an unreachable Herald throws.
    func answer(_ method: String, _ path: String, body: JSON? = nil) async throws -> (status: Int, json: JSON) {
        let client = CurlWebhookClient()
        defer { client.stop() }
        var request = WebhookRequest(
            url: baseURL + path, headers: [("X-API-Key", apiKey.value)], body: body?.serialized() ?? [], timeout: .seconds(60))
        request.method = method
        request.maxResponseBytes = 64 << 20
        let response: WebhookResponse
        do {
            response = try await client.send(request)
        } catch {
            throw Failure(description: "cannot reach \(baseURL): \(error)")
        }
        return (response.status, response.json)
    }
}

/// Percent-encodes a path segment or query value.
func escaped(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
}

/// A query string (`?a=1&b=2`) of the items that have a value, each percent-encoded.
func query(_ items: KeyValuePairs<String, String?>) -> String {
    let pairs = items.compactMap { name, value in value.map { "\(name)=\(escaped($0))" } }
    return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
}

/// Runs an admin call and prints its result; failures print `herald: …` and exit 1.
func runAdmin(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as AdminClient.Failure {
        printError("herald: \(failure)")
        throw ExitCode(1)
    }
}
