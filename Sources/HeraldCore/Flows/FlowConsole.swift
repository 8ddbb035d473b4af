/// A conversation with a flow in a terminal, without a server: what `herald flow run` does with
/// each line typed.
///
/// A line is a user message; a line starting with `/` is a command (``FlowConsole/help``). The
/// session lives in memory: each input runs through ``FlowEngine`` exactly as the service runs
/// it, and the returned context and waiting point become the session for the next line.
public struct FlowConsole: Sendable {
    /// What one line did: the lines to print, and whether the conversation is over.
    public struct Reply: Sendable, Hashable {
        /// What to print, one entry per line.
        public var lines: [String]
        /// True after `/quit`.
        public var quit: Bool

        public init(lines: [String], quit: Bool = false) {
            self.lines = lines
            self.quit = quit
        }
    }

    /// The commands, one per line, as `/help` prints them.
    public static let help = [
        "type a line to send it as the user's message (start it with // to send a text that begins with /)",
        "/inject TEXT      an inject from a back-end (input.source == \"inject\") with this text",
        "/inject {JSON}    an inject with a body like POST /inject: {\"text\": ..., \"data\": {...}}",
        "/data JSON        a user message whose data is this JSON object",
        "/context          print the session's context as JSON",
        "/reset            start a new session (context and pending ask cleared)",
        "/quit             leave (end of input does too)",
    ]

    /// The flow being talked to.
    public let flow: Flow
    /// The session as the last input left it.
    public private(set) var session: Session
    private let userId: String
    private var sessionNumber = 1

    /// A conversation with `flow` as `userId`, starting with an empty session.
    public init(flow: Flow, userId: String = "console-user") {
        self.flow = flow
        self.userId = userId
        self.session = Session(key: Self.key(1), userId: userId)
    }

    private static func key(_ number: Int) -> SessionKey {
        SessionKey(urlToken: "console", sessionId: "console-\(number)")
    }

    /// Handles one typed line.
    @discardableResult
    public mutating func handle(_ line: String) -> Reply {
        let trimmed = line.trimmingWhitespace()
        guard !trimmed.isEmpty else { return Reply(lines: []) }
        guard trimmed.hasPrefix("/"), !trimmed.hasPrefix("//") else {
            let text = trimmed.hasPrefix("//") ? String(line.trimmingWhitespace().dropFirst()) : line
            return send(text: text, data: nil, source: .user)
        }
        let command = trimmed.prefix { !$0.isWhitespace }
        let argument = String(trimmed.dropFirst(command.count)).trimmingWhitespace()
        switch command {
        case "/quit", "/exit":
            return Reply(lines: [], quit: true)
        case "/help":
            return Reply(lines: Self.help)
        case "/context":
            return Reply(lines: [JSON.object(session.context).jsonString])
        case "/reset":
            sessionNumber += 1
            session = Session(key: Self.key(sessionNumber), userId: userId)
            return Reply(lines: ["! new session \(session.key.sessionId): context cleared"])
        case "/data":
            guard !argument.isEmpty else { return problem("/data needs a JSON object, e.g. /data {\"choice\": 2}") }
            switch parseObject(argument) {
            case .success(let data): return send(text: nil, data: data, source: .user)
            case .failure(let message): return problem("/data: \(message)")
            }
        case "/inject":
            guard !argument.isEmpty else { return problem("/inject needs a text or a JSON body, e.g. /inject {\"data\": {\"event\": \"shipped\"}}") }
            guard argument.hasPrefix("{") else { return send(text: argument, data: nil, source: .inject) }
            switch parseObject(argument) {
            case .failure(let message): return problem("/inject: \(message)")
            case .success(let body):
                let unknown = body.keys.filter { $0 != "text" && $0 != "data" }
                guard unknown.isEmpty else {
                    return problem("/inject: unknown field \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (a body has text and data)")
                }
                let text = body["text"]
                let data = body["data"]
                guard text == nil || text?.stringValue != nil else { return problem("/inject: 'text' must be a string") }
                guard data == nil || data?.objectValue != nil else { return problem("/inject: 'data' must be a JSON object") }
                guard text?.stringValue?.isEmpty == false || data != nil else { return problem("/inject: the body needs text or data") }
                return send(text: text?.stringValue, data: data?.objectValue, source: .inject)
            }
        default:
            return problem("unknown command \(command) (try /help)")
        }
    }

    private func problem(_ message: String) -> Reply {
        Reply(lines: ["! \(message)"])
    }

    private enum Parsed {
        case success(JSONObject)
        case failure(String)
    }

    private func parseObject(_ text: String) -> Parsed {
        do {
            guard case .object(let object) = try JSON.parse(text) else { return .failure("expected a JSON object") }
            return .success(object)
        } catch {
            return .failure("not valid JSON (\(error))")
        }
    }

    private mutating func send(text: String?, data: JSONObject?, source: InputSource) -> Reply {
        let input = Input(session: session.key, userId: session.userId, text: text, data: data.map(JSON.object), source: source)
        let run = FlowEngine.run(flow, session: session, input: input)
        session.context = run.context
        session.waiting = run.waiting
        session.nextSeq += Int64(run.outputs.count)
        session.updatedAt = input.receivedAt
        return Reply(lines: run.outputs.flatMap(Self.lines(for:)))
    }

    /// `bot> text`, continuation lines indented under it, then `data: {...}` when there is data;
    /// error outputs (a step limit) as `error> ...`.
    static func lines(for output: OutputDraft) -> [String] {
        let prefix = output.type == .error ? "error> " : "bot> "
        let indent = String(repeating: " ", count: prefix.count)
        var lines: [String] = []
        if let text = output.text {
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                lines.append((number == 0 ? prefix : indent) + line)
            }
        }
        if let data = output.data {
            lines.append((lines.isEmpty ? prefix : indent) + "data: " + data.jsonString)
        }
        if lines.isEmpty { lines.append(prefix) }
        return lines
    }
}
