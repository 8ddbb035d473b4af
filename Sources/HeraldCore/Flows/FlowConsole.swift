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
        "/press N          press the Nth quick reply or button of the last outputs (text = its title, data.payload = its payload)",
        "/context          print the session's context as JSON",
        "/wait DURATION    let time pass (90s, 10m, 1d): ask timeouts and reminders that fall due fire",
        "/reset            start a new session (context and pending ask cleared)",
        "/quit             leave (end of input does too)",
    ]

    /// The flow being talked to.
    public let flow: Flow
    /// The session as the last input left it.
    public private(set) var session: Session
    private let userId: String
    private var sessionNumber = 1
    /// The conversation's own time: `/wait` moves it, so a timeout needs no waiting.
    private var now = Timestamp.now()
    /// The quick replies and payload buttons of the last outputs, numbered as printed, for `/press`.
    private var choices: [RichContent.QuickReply] = []
    /// Answers the flow's calls: a stand-in, or the real API (`herald flow run --mock`).
    private let answerCall: @Sendable (CallRequest?) -> CallAnswer

    /// A conversation with `flow` as `userId`, starting with an empty session. `answerCall`
    /// answers each `call` the flow makes, before the next line is read.
    public init(
        flow: Flow, userId: String = "console-user",
        answerCall: @escaping @Sendable (CallRequest?) -> CallAnswer = { _ in .failed("herald flow run was given no way to answer calls") }
    ) {
        self.flow = flow
        self.userId = userId
        self.session = Session(key: Self.key(1), userId: userId)
        self.answerCall = answerCall
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
        case "/wait":
            guard let duration = Duration(configText: argument), duration > .zero else {
                return problem("/wait needs a duration, e.g. /wait 10m (90s, 10m, 2h, 1d)")
            }
            return wait(duration)
        case "/data":
            guard !argument.isEmpty else { return problem("/data needs a JSON object, e.g. /data {\"choice\": 2}") }
            switch parseObject(argument) {
            case .success(let data): return send(text: nil, data: data, source: .user)
            case .failure(let message): return problem("/data: \(message)")
            }
        case "/press":
            guard let number = Int(argument), choices.indices.contains(number - 1) else {
                return problem(choices.isEmpty ? "/press: the last outputs have nothing to press" : "/press needs a number from 1 to \(choices.count)")
            }
            let choice = choices[number - 1]
            return send(text: choice.title, data: ["payload": .string(choice.payload)], source: .user)
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
        let input = Input(session: session.key, userId: session.userId, text: text, data: data.map(JSON.object), source: source, receivedAt: now)
        return apply(FlowEngine.run(flow, session: session, input: input, calls: .unrestricted), at: input.receivedAt)
    }

    /// Moves the conversation's time on by `duration`, firing each schedule that falls due in
    /// turn, as the service's scheduler would.
    private mutating func wait(_ duration: Duration) -> Reply {
        let end = now.adding(duration)
        var lines: [String] = []
        while let next = session.schedules.first, next.dueAt <= end {
            session.schedules.removeFirst()
            lines.append("! " + Duration.milliseconds(next.dueAt.milliseconds - now.milliseconds).configText + " later:")
            now = next.dueAt
            switch next.kind {
            case .inject:
                lines += send(text: next.text, data: next.data?.objectValue, source: .inject).lines
            case .timeout(let nodeId):
                let input = Input(session: session.key, userId: session.userId, text: nil, data: ["node": .string(nodeId)], source: .timeout, receivedAt: now)
                lines += apply(FlowEngine.timeout(flow, session: session, nodeId: nodeId, input: input, calls: .unrestricted), at: now).lines
            case .notify:
                lines += Self.lines(for: OutputDraft(type: .notify, text: next.text, data: next.data, rich: next.rich))
            }
        }
        now = end
        return Reply(lines: lines + ["! \(duration.configText) passed"])
    }

    private mutating func apply(_ run: FlowEngine.Run, at time: Timestamp) -> Reply {
        session.context = run.context
        session.waiting = run.waiting
        session.nextSeq += Int64(run.outputs.count)
        session.updatedAt = time
        session.apply(run.schedules)
        var lines: [String] = []
        var numbered: [RichContent.QuickReply] = []
        for output in run.outputs {
            lines += Self.lines(for: output, numberingFrom: numbered.count + 1)
            numbered += output.rich.choices
        }
        choices = numbered
        for change in run.schedules {
            switch change {
            case .add(let schedule):
                let after = Duration.milliseconds(schedule.dueAt.milliseconds - time.milliseconds).configText
                if case .timeout(let nodeId) = schedule.kind {
                    lines.append("! '\(nodeId)' times out in \(after) (/wait \(after))")
                } else {
                    lines.append("! scheduled an inject in \(after)" + (schedule.key.map { " (key \($0))" } ?? ""))
                }
            case .cancel(let key):
                lines.append("! cancelled the schedule with key \(key)")
            }
        }
        // The run waits for a call: answer it now, and the flow goes on.
        if let wait = run.waiting, wait.call != nil, let call = run.outputs.last, call.type == .call {
            let answer = answerCall(CallRequest(json: call.data))
            lines.append("! " + (answer.error.map { "the call failed: \($0)" } ?? "answered \(answer.status ?? 200)"))
            let input = Input(
                session: session.key, userId: session.userId, text: nil, data: answer.json(node: wait.nodeId), source: .call, receivedAt: time)
            lines += apply(FlowEngine.answer(flow, session: session, input: input, calls: .unrestricted), at: time).lines
        }
        return Reply(lines: lines)
    }

    /// `bot> text`, continuation lines indented under it, then `data: {...}` when there is data;
    /// error outputs (a step limit) as `error> ...`.
    static func lines(for output: OutputDraft, numberingFrom first: Int = 1) -> [String] {
        let prefix = output.type == .error ? "error> " : output.type == .call ? "call> " : "bot> "
        if output.type == .call { return [prefix + (output.text ?? "")] }
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
        // Rich content as a terminal can show it: choices numbered for /press, the rest as text.
        let rich = output.rich
        if let card = rich.card {
            lines.append((lines.isEmpty ? prefix : indent) + "card: " + ([card.title] + [card.subtitle, card.imageUrl].compactMap { $0 }).joined(separator: " | "))
        }
        for (offset, choice) in rich.choices.enumerated() {
            lines.append((lines.isEmpty ? prefix : indent) + "[\(first + offset)] \(choice.title)" + (choice.payload == choice.title ? "" : "  (\(choice.payload))"))
        }
        for link in rich.links { lines.append((lines.isEmpty ? prefix : indent) + "link: \(link.title) <\(link.url)>") }
        for attachment in rich.attachments {
            lines.append((lines.isEmpty ? prefix : indent) + "\(attachment.type.rawValue): " + ([attachment.caption ?? attachment.name].compactMap { $0 } + [attachment.url]).joined(separator: " "))
        }
        if !rich.choices.isEmpty { lines.append(indent + "(/press N to press one)") }
        if lines.isEmpty { lines.append(prefix) }
        return lines
    }
}
