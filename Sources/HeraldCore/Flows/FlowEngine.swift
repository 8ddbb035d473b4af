/// An output a flow run produced, before the session gives it an id and a `seq`.
public struct OutputDraft: Sendable, Hashable {
    /// `.output`, or `.error` when the run stopped on an error.
    public var type: OutputType
    /// The rendered text, when the node has one.
    public var text: String?
    /// The evaluated data, when the node has data that is not `null`.
    public var data: JSON?
    /// Quick replies, buttons, attachments and a card, evaluated and checked.
    public var rich: RichContent

    public init(type: OutputType = .output, text: String?, data: JSON?, rich: RichContent = RichContent()) {
        self.type = type
        self.text = text
        self.data = data
        self.rich = rich
    }
}

/// What a flow run did to the session's schedules, in order (``Session/apply(_:)``).
public enum ScheduleChange: Sendable, Hashable {
    /// A reminder from a `schedule` node, or the timeout of the `ask` the run waits at.
    case add(Schedule)
    /// A `cancel` node: the pending schedule with this key goes.
    case cancel(key: String)
}

/// Runs a flow for one input of a session. Pure: it reads the session and the input, and
/// returns the outputs and the session's new context and waiting point. The caller records
/// them; nothing here touches a store or the network. The input's `receivedAt` is "now" for
/// whatever the run schedules.
public enum FlowEngine {
    /// What one run produced.
    public struct Run: Sendable {
        /// The outputs, in the order the flow said them.
        public var outputs: [OutputDraft]
        /// The session's context after the run; store it with the session.
        public var context: JSONObject
        /// The `ask` the session now waits at, or `nil`; store it with the session.
        public var waiting: FlowWait?
        /// Reminders set and cancelled, and the new `ask`'s timeout; apply them to the session.
        public var schedules: [ScheduleChange] = []
        /// Set when the run stopped on an error (the step limit); the outputs end with an
        /// `error` output saying so.
        public var error: String?
        /// The ids of the nodes the run passed, in order, while tracing is on (a span attribute).
        public var path: [String] = []
    }

    /// Runs `flow` for `input`: resumes the session's pending `ask` with it, or starts at the
    /// first node, and steps until the flow ends, waits at an `ask`, or hits its step limit.
    ///
    /// `calls` are the endpoint's rules for `call` nodes (which hosts, how many per input).
    public static func run(_ flow: Flow, session: Session, input: Input, calls: CallSettings = CallSettings()) -> Run {
        var input = input
        if let wait = session.waiting, let askIndex = flow.index(of: wait.nodeId), case .ask(let ask) = flow.nodes[askIndex].kind {
            input = pressed(ask, retried: wait.retries > 0, input, session)
        }
        var run = Runner(flow: flow, session: session, input: input, calls: calls)
        // A wait at a node that is no longer an ask (the flow file changed) is dropped, and the
        // input starts the flow from the top like any other.
        if let wait = session.waiting, let askIndex = flow.index(of: wait.nodeId), case .ask(let ask) = flow.nodes[askIndex].kind {
            guard let value = answer(ask, input: input) else {
                do {
                    run.outputs.append(try draft(ask.retry ?? ask.prompt, run.scope))
                } catch {
                    return run.stop(flow.nodes[askIndex], error.description)
                }
                return run.waiting(at: flow.nodes[askIndex], ask, retries: wait.retries + 1)
            }
            run.scope.context = JSONObject.setting(value, at: ask.into, in: run.scope.context)
            return run.steps(from: askIndex + 1)
        }
        return run.steps(from: 0)
    }

    /// The session's `ask` timed out: the flow goes on at the ask's `timeout` target, with
    /// `input` (source `timeout`) as the input. Nothing happens (no outputs, nothing changes)
    /// when the session no longer waits at that ask.
    public static func timeout(_ flow: Flow, session: Session, nodeId: String, input: Input, calls: CallSettings = CallSettings()) -> Run {
        var run = Runner(flow: flow, session: session, input: input, calls: calls)
        guard session.waiting?.nodeId == nodeId, let askIndex = flow.index(of: nodeId), case .ask(let ask) = flow.nodes[askIndex].kind,
            let timeout = ask.timeout
        else {
            return Run(outputs: [], context: session.context, waiting: session.waiting)
        }
        guard let target = flow.index(of: timeout.target) else { return run.stop(flow.nodes[askIndex], "no node has the id '\(timeout.target)'") }
        return run.steps(from: target)
    }

    /// The answer to the call the session waits at (`input`, source `call`, its data a
    /// ``CallAnswer``): the body goes `into` the context and the flow goes on after the node, or
    /// at `onError` when the call failed. Nothing happens when the session no longer waits at a
    /// call (the caller checks that the answer is this call's).
    public static func answer(_ flow: Flow, session: Session, input: Input, calls: CallSettings = CallSettings()) -> Run {
        guard let wait = session.waiting, let callWait = wait.call else {
            return Run(outputs: [], context: session.context, waiting: session.waiting)
        }
        var run = Runner(flow: flow, session: session, input: input, calls: calls)
        run.calls = callWait.count
        // The flow file changed and the node is no longer a call: the wait is dropped.
        guard let index = flow.index(of: wait.nodeId), case .call(let call) = flow.nodes[index].kind else {
            return Run(outputs: [], context: session.context, waiting: nil)
        }
        let answer = CallAnswer(json: input.data) ?? .failed("the call's answer could not be read")
        if let error = answer.error {
            guard let onError = call.onError else { return run.stop(flow.nodes[index], "the call failed: \(error)") }
            guard let target = flow.index(of: onError) else { return run.stop(flow.nodes[index], "no node has the id '\(onError)'") }
            return run.steps(from: target)
        }
        if let into = call.into { run.scope.context = JSONObject.setting(answer.body ?? .null, at: into, in: run.scope.context) }
        return run.steps(from: index + 1)
    }

    /// One run in progress.
    private struct Runner {
        let flow: Flow
        var input: Input
        var scope: Scope
        var outputs: [OutputDraft] = []
        var schedules: [ScheduleChange] = []
        let callSettings: CallSettings
        /// Calls this input has set off so far.
        var calls = 0
        /// The nodes passed, kept only while tracing is on.
        var path: [String] = []
        let tracksPath = HeraldTracing.isEnabled

        init(flow: Flow, session: Session, input: Input, calls: CallSettings) {
            self.flow = flow
            self.input = input
            self.callSettings = calls
            self.scope = Scope(input: input, context: session.context, session: session.key, userId: session.userId)
        }

        var now: Timestamp { input.receivedAt }

        mutating func steps(from start: Int) -> Run {
            var index = start
            var steps = 0
            while index < flow.nodes.count {
                let node = flow.nodes[index]
                guard steps < flow.stepLimit else {
                    return stop(node, "more than \(flow.stepLimit) steps in one run; is there a loop?")
                }
                steps += 1
                if tracksPath { path.append(node.id) }
                var next = index + 1
                var target: String?
                switch node.kind {
                case .say(let message):
                    do {
                        outputs.append(try draft(message, scope))
                    } catch {
                        return stop(node, error.description)
                    }
                case .ask(let ask):
                    do {
                        outputs.append(try draft(ask.prompt, scope))
                    } catch {
                        return stop(node, error.description)
                    }
                    return waiting(at: node, ask, retries: 0)
                case .set(let assignments):
                    // In order: a later assignment sees what an earlier one stored.
                    for assignment in assignments {
                        let value = assignment.value.evaluate(in: scope)
                        scope.context = JSONObject.setting(value, at: assignment.path, in: scope.context)
                    }
                case .if(let condition, let then, let otherwise):
                    target = condition.evaluate(in: scope).isTruthy ? then : otherwise
                case .switch(let subject, let cases, let fallback):
                    let value = subject.evaluate(in: scope).text
                    target = cases.first(where: { $0.value == value })?.target ?? fallback
                case .goto(let destination):
                    target = destination
                case .end(let reset):
                    if reset { scope.context = JSONObject() }
                    next = flow.nodes.count
                case .schedule(let reminder):
                    let dueAt: Timestamp
                    switch reminder.when {
                    case .after(let delay):
                        dueAt = now.adding(delay)
                    case .at(let template):
                        let text = template.render(in: scope)
                        guard let time = Timestamp(rfc3339: text) else {
                            return stop(node, "at: '\(text)' is not an RFC 3339 time such as 2026-12-24T09:00:00Z")
                        }
                        dueAt = time
                    }
                    let message = plainDraft(reminder.message, scope)
                    schedules.append(
                        .add(Schedule(key: reminder.key, kind: .inject, dueAt: dueAt, createdAt: now, text: message.text, data: message.data)))
                case .cancel(let key):
                    schedules.append(.cancel(key: key))
                case .call(let call):
                    let request = render(call, node)
                    let refusal =
                        calls >= callSettings.maxCallsPerTurn
                        ? "more than \(callSettings.maxCallsPerTurn) calls for one input (the endpoint's calls.maxCallsPerTurn)"
                        : callSettings.refusal(request.url)
                    guard let refusal else {
                        outputs.append(OutputDraft(type: .call, text: request.summary, data: request.json))
                        let wait = FlowWait(nodeId: node.id, call: CallWait(outputId: "", count: calls + 1))
                        return Run(outputs: outputs, context: scope.context, waiting: wait, schedules: schedules, path: path)
                    }
                    // Refused before it is made: the flow goes on at onError as if it had failed.
                    guard let onError = call.onError else { return stop(node, "the call was not made: \(refusal)") }
                    input.source = .call
                    input.text = nil
                    input.data = CallAnswer.failed(refusal).json(node: node.id)
                    scope.input = input
                    target = onError
                }
                if let target {
                    // The loader checks every target; a flow built in code may still name a missing one.
                    guard let position = flow.index(of: target) else { return stop(node, "no node has the id '\(target)'") }
                    next = position
                }
                index = next
            }
            return Run(outputs: outputs, context: scope.context, waiting: nil, schedules: schedules, path: path)
        }

        /// The run ends waiting at `ask`; its timeout, if it has one, starts now.
        func waiting(at node: FlowNode, _ ask: FlowNode.Ask, retries: Int) -> Run {
            var schedules = self.schedules
            if let timeout = ask.timeout {
                schedules.append(.add(Schedule(key: nil, kind: .timeout(nodeId: node.id), dueAt: now.adding(timeout.after), createdAt: now)))
            }
            return Run(outputs: outputs, context: scope.context, waiting: FlowWait(nodeId: node.id, retries: retries), schedules: schedules, path: path)
        }

        /// The request a `call` node makes, rendered in the run's scope.
        func render(_ call: FlowNode.Call, _ node: FlowNode) -> CallRequest {
            var request = CallRequest(
                node: node.id, method: call.method, url: call.url.render(in: scope), auth: call.auth, timeout: call.timeout, retry: call.retry)
            for (name, value) in call.headers {
                if value.isConstant, case .string(let text) = value.evaluate(in: scope), text.contains("${") {
                    request.secretHeaders.append(CallRequest.Header(name: name, value: text))
                } else {
                    request.headers.append(CallRequest.Header(name: name, value: value.render(in: scope)))
                }
            }
            switch call.body {
            case .json(let template): request.body = .json(template.evaluate(in: scope))
            case .form(let fields): request.body = .form(fields.map { CallRequest.Header(name: $0.name, value: $0.value.render(in: scope)) })
            case nil: break
            }
            return request
        }

        func stop(_ node: FlowNode, _ reason: String) -> Run {
            let message = "flow '\(flow.name)' stopped at node '\(node.id)' (\(flow.file):\(node.line)): \(reason)"
            let outputs = self.outputs + [OutputDraft(type: .error, text: message, data: nil)]
            return Run(outputs: outputs, context: scope.context, waiting: nil, schedules: schedules, error: message, path: path)
        }
    }

    /// The output a `say` or `ask` makes: its text and data, and its rich fields evaluated and
    /// checked (a template may compute a list, e.g. `quickReplies: "{{ context.options }}"`).
    fileprivate static func draft(_ message: FlowNode.Message, _ scope: Scope) throws(RichContentError) -> OutputDraft {
        var draft = plainDraft(message, scope)
        if !message.rich.isEmpty {
            var fields = JSONObject()
            for (key, template) in message.rich { fields[key] = template.evaluate(in: scope) }
            draft.rich = try RichContent.parse(fields, allowTemplate: false)
        }
        return draft
    }

    fileprivate static func plainDraft(_ message: FlowNode.Message, _ scope: Scope) -> OutputDraft {
        var data = message.data?.evaluate(in: scope)
        if data?.isNull == true { data = nil }
        return OutputDraft(text: message.text?.render(in: scope), data: data)
    }

    /// An answer typed where the `ask` offered choices (quick replies, payload buttons) counts
    /// as pressing one, as channels without buttons (SMS) show them as a numbered list: a text
    /// equal to a choice's title (any case), or else its number, becomes that choice —
    /// `input.text` its title, `input.data.payload` its payload. A press (a payload already
    /// there) and any other text are left as they are; the recorded input keeps what was typed.
    private static func pressed(_ ask: FlowNode.Ask, retried: Bool, _ input: Input, _ session: Session) -> Input {
        guard input.data?["payload"] == nil, let typed = input.text?.trimmingWhitespace(), !typed.isEmpty else { return input }
        let message = retried ? (ask.retry ?? ask.prompt) : ask.prompt
        guard !message.rich.isEmpty else { return input }
        let scope = Scope(input: input, context: session.context, session: session.key, userId: session.userId)
        guard let choices = try? draft(message, scope).rich.choices, !choices.isEmpty else { return input }
        let choice =
            choices.first { $0.title.lowercased() == typed.lowercased() }
            ?? Int(typed).flatMap { number in choices.indices.contains(number - 1) ? choices[number - 1] : nil }
        guard let choice else { return input }
        var pressed = input
        pressed.text = choice.title
        var data = input.data?.objectValue ?? JSONObject()
        data["payload"] = .string(choice.payload)
        pressed.data = .object(data)
        return pressed
    }

    /// The value an answer stores, or `nil` when it does not validate. The answer is the input's
    /// text without surrounding whitespace; an input without text answers with its data.
    private static func answer(_ ask: FlowNode.Ask, input: Input) -> JSON? {
        let text = input.text.map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        switch ask.validation {
        case .none:
            if let text { return .string(text) }
            return input.data ?? .null
        case .pattern(let pattern):
            guard let text, text.contains(pattern.regex) else { return nil }
            return .string(text)
        case .number(let min, let max):
            guard let text, let number = Double(decimal: text) else { return nil }
            if let min, number < min { return nil }
            if let max, number > max { return nil }
            return .number(number)
        }
    }
}

extension JSONObject {
    /// `object` with `value` stored at `path`, creating intermediate objects.
    static func setting(_ value: JSON, at path: [Substring], in object: JSONObject) -> JSONObject {
        guard case .object(let result) = JSON.object(object).setting(value, at: path[...]) else { return object }
        return result
    }
}
