import Foundation
import HeraldChannels
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Logging

/// Runs a Herald with one channel endpoint, configured the way a user writes it (a YAML config
/// naming a shipped channel file), whose `apiBase` points at a local receiver standing in for
/// the channel's API.
enum ChannelHerald {
    static let publicUrl = "https://bots.example.com"

    /// `vars` gets the receiver's base URL (for `apiBase`) and gives the `channelVars`.
    /// `channel` names a shipped channel file, or is a path to another one.
    static func run<T: Sendable>(
        channel: String, urlToken: String, receiver: TestReceiver, vars: @escaping @Sendable (String) -> [String: String], flow: String = "echo",
        retry: String = "{ schedule: [100ms], jitter: 0, throttleDelay: 100ms }", logger: Logger = TestServices.logger,
        _ body: @Sendable (TestHerald) async throws -> T
    ) async throws -> T {
        let channelFile = channel.hasPrefix("/") ? channel : "\(Fixtures.root)/examples/channels/\(channel).yaml"
        return try await TestServices.withHerald(receiver: receiver, logger: logger) { url in
            let apiBase = String(url.dropLast("/hook".count))
            let directory = try Fixtures.temporaryDirectory()
            var yaml = """
                publicUrl: \(publicUrl)
                admin: { keys: [\(Fixtures.adminKey)] }
                storage: memory
                endpoints:
                  - urlToken: \(urlToken)
                    flow: \(Fixtures.root)/examples/flows/\(flow).yaml
                    channel: \(channelFile)
                    channelVars:

                """
            for (name, value) in vars(apiBase).sorted(by: { $0.key < $1.key }) { yaml += "      \(name): \"\(value)\"\n" }
            yaml += "    webhook:\n      retry: \(retry)\n"
            let path = directory + "/herald.yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            return try HeraldConfiguration.load(path: path, environment: [:])
        } _: { herald in
            try await body(herald)
        }
    }

    /// A fixture file's bytes (Tests/fixtures/channels).
    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/Tests/fixtures/channels/" + name)))
    }

    /// POSTs raw bytes to Herald.
    static func post(_ herald: TestHerald, _ path: String, body: [UInt8], headers: [String: String]) async throws -> HTTPResult {
        try await HTTP.request("POST", herald.baseURL + path, body: body, headers: headers)
    }
}

/// A shipped channel compiled on its own, for the request it builds for an output and what it
/// makes of a request (no server: the channel is a pure function of both).
enum ShippedChannel {
    /// `examples/channels/{name}.yaml` with `vars`; `callbackUrl` is the endpoint's address
    /// (`publicUrl` + `/` + urlToken).
    static func load(_ name: String, vars: [String: String], callbackUrl: String? = nil) throws -> Channel {
        let path = Fixtures.root + "/examples/channels/\(name).yaml"
        return try Channel.load(path: path, text: try String(contentsOfFile: path, encoding: .utf8), vars: vars, callbackUrl: callbackUrl)
    }

    /// An output to `sessionId` with `text` and rich content.
    static func output(
        _ type: OutputType = .output, to sessionId: String, text: String?, data: JSON? = nil, rich: RichContent = RichContent(),
        urlToken: String = "ep"
    ) -> Output {
        Output(
            session: SessionKey(urlToken: urlToken, sessionId: sessionId), userId: sessionId, seq: 1, type: type, text: text, data: data,
            rich: rich, inputId: nil, source: type == .notify ? nil : .user, timestamp: Timestamp(milliseconds: 1_750_000_000_000))
    }

    /// The request's path after the API base (`/bot.../sendPhoto`).
    static func path(_ request: ChannelOutgoingRequest, base: String) -> String {
        request.url.hasPrefix(base) ? String(request.url.dropFirst(base.count)) : request.url
    }

    /// A JSON request body.
    static func json(_ request: ChannelOutgoingRequest) throws -> JSON {
        try JSON.parse(request.body)
    }

    /// A form request body as ordered name/value pairs.
    static func form(_ request: ChannelOutgoingRequest) -> [(String, String)] {
        decodeForm(request.body)
    }

    /// A JSON request to a channel endpoint.
    static func request(json body: String, headers: [(String, String)], url: String = "https://bots.example.com/ep") -> ChannelRequest {
        ChannelRequest(method: "POST", url: url, query: "", headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8))
    }

    /// A form request to a channel endpoint.
    static func request(form body: String, headers: [(String, String)], url: String = "https://bots.example.com/ep") -> ChannelRequest {
        ChannelRequest(
            method: "POST", url: url, query: "", headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, body: Array(body.utf8))
    }

    static let quickReplies = RichContent(
        quickReplies: [.init(title: "Yes", payload: "ANSWER_YES"), .init(title: "No", payload: "ANSWER_NO")],
        buttons: [.init(title: "Opening hours", action: .url("https://shop.example.com/hours"))])

    static let image = RichContent(attachments: [.init(type: .image, url: "https://cdn.example.com/parcel.jpg", caption: "Your parcel")])

    static let card = RichContent(
        card: .init(
            title: "Blue sneakers", subtitle: "EUR 89, sizes 38-46", imageUrl: "https://cdn.example.com/sneakers.jpg",
            buttons: [.init(title: "Buy", action: .payload("BUY_SNEAKERS")), .init(title: "Details", action: .url("https://shop.example.com/sneakers"))]))
}

extension ChannelSDK {
    /// slack_sdk's Block Kit models' view of `blocks`: parsed and written back (validated).
    static func slackBlocks(_ blocks: JSON) async throws -> JSON {
        try await call(["op": "slack-blocks", "blocks": blocks])["blocks"] ?? .null
    }

    /// The form body Twilio's SDK sends for `Client.messages.create(...)` with these fields.
    static func twilioBuild(
        accountSid: String, authToken: String, to: String, from: String, body: String?, mediaUrl: [String] = [], statusCallback: String? = nil
    ) async throws -> (url: String, body: String) {
        var request: JSONObject = [
            "op": "twilio-build", "accountSid": .string(accountSid), "authToken": .string(authToken), "to": .string(to), "from": .string(from),
        ]
        request["body"] = body.map(JSON.string) ?? .null
        request["mediaUrl"] = .array(mediaUrl.map(JSON.string))
        request["statusCallback"] = statusCallback.map(JSON.string) ?? .null
        let answer = try await call(.object(request))
        return (answer["url"]?.stringValue ?? "", answer["body"]?.stringValue ?? "")
    }
}
