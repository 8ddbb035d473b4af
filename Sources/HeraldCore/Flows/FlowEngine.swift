/// An output a flow run produced, before the session gives it an id and a `seq`.
public struct OutputDraft: Sendable, Hashable {
    public var type: OutputType
    public var text: String?
    public var data: JSON?

    public init(type: OutputType = .output, text: String?, data: JSON?) {
        self.type = type
        self.text = text
        self.data = data
    }
}

/// Runs a flow for one input of a session. Pure: it reads the session and the input, and
/// returns the outputs and the session's new context and waiting point. The caller records
/// them; nothing here touches a store or the network.
public enum FlowEngine {
    public struct Run: Sendable {
        public var outputs: [OutputDraft]
        public var context: JSONObject
        public var waiting: FlowWait?
        /// Set when the run stopped on an error (the step limit); the outputs end with an
        /// `error` output saying so.
        public var error: String?
    }

    public static func run(_ flow: Flow, session: Session, input: Input) -> Run {
        var scope = Scope(input: input, context: session.context, session: session.key, userId: session.userId)
        var outputs: [OutputDraft] = []
        var waiting: FlowWait?
        var index = 0

        if let wait = session.waiting, let askIndex = flow.index(of: wait.nodeId), case .ask(let ask) = flow.nodes[askIndex].kind {
            // The input answers the pending ask.
            switch answer(ask, input: input) {
            case .some(let value):
                scope.context = JSONObject.setting(value, at: ask.into, in: scope.context)
                index = askIndex + 1
            case .none:
                let reprompt = ask.retry ?? ask.prompt
                outputs.append(draft(reprompt, scope))
                return Run(outputs: outputs, context: scope.context, waiting: FlowWait(nodeId: wait.nodeId, retries: wait.retries + 1))
            }
        }

        var steps = 0
        while index < flow.nodes.count {
            steps += 1
            if steps > flow.stepLimit {
                let node = flow.nodes[index]
                let message = "flow '\(flow.name)' stopped after \(flow.stepLimit) steps at node '\(node.id)' (\(flow.file):\(node.line)); is there a loop?"
                outputs.append(OutputDraft(type: .error, text: message, data: nil))
                return Run(outputs: outputs, context: scope.context, waiting: nil, error: message)
            }
            let node = flow.nodes[index]
            var next = index + 1
            switch node.kind {
            case .say(let message):
                outputs.append(draft(message, scope))
            case .ask(let ask):
                outputs.append(draft(ask.prompt, scope))
                waiting = FlowWait(nodeId: node.id)
                next = flow.nodes.count
            case .set(let assignments):
                for assignment in assignments {
                    let value = assignment.value.evaluate(in: scope)
                    scope.context = JSONObject.setting(value, at: assignment.path, in: scope.context)
                }
            case .if(let condition, let then, let otherwise):
                let target = condition.evaluate(in: scope).isTruthy ? then : otherwise
                if let target { next = flow.index(of: target)! }
            case .switch(let subject, let cases, let fallback):
                let value = subject.evaluate(in: scope).text
                if let match = cases.first(where: { $0.value == value }) {
                    next = flow.index(of: match.target)!
                } else if let fallback {
                    next = flow.index(of: fallback)!
                }
            case .goto(let target):
                next = flow.index(of: target)!
            case .end(let reset):
                if reset { scope.context = JSONObject() }
                next = flow.nodes.count
            }
            index = next
        }
        return Run(outputs: outputs, context: scope.context, waiting: waiting)
    }

    private static func draft(_ message: FlowNode.Message, _ scope: Scope) -> OutputDraft {
        var data = message.data?.evaluate(in: scope)
        if data?.isNull == true { data = nil }
        return OutputDraft(text: message.text?.render(in: scope), data: data)
    }

    /// The value an answer stores, or `nil` when it does not validate.
    private static func answer(_ ask: FlowNode.Ask, input: Input) -> JSON? {
        let text = input.text.flatMap { $0.isEmpty ? nil : $0 }
        switch ask.validation {
        case .none:
            if let text { return .string(text) }
            return input.data ?? .null
        case .pattern(let pattern):
            guard let text, text.contains(pattern.regex) else { return nil }
            return .string(text)
        case .number(let min, let max):
            guard let text, let number = Double(text.trimmingWhitespace()), number.isFinite else { return nil }
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
