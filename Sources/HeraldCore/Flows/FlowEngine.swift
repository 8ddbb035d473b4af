/// An output a flow run produced, before the session gives it an id and a `seq`.
public struct OutputDraft: Sendable, Hashable {
    /// `.output`, or `.error` when the run stopped on an error.
    public var type: OutputType
    /// The rendered text, when the node has one.
    public var text: String?
    /// The evaluated data, when the node has data that is not `null`.
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
    /// What one run produced.
    public struct Run: Sendable {
        /// The outputs, in the order the flow said them.
        public var outputs: [OutputDraft]
        /// The session's context after the run; store it with the session.
        public var context: JSONObject
        /// The `ask` the session now waits at, or `nil`; store it with the session.
        public var waiting: FlowWait?
        /// Set when the run stopped on an error (the step limit); the outputs end with an
        /// `error` output saying so.
        public var error: String?
    }

    /// Runs `flow` for `input`: resumes the session's pending `ask` with it, or starts at the
    /// first node, and steps until the flow ends, waits at an `ask`, or hits its step limit.
    public static func run(_ flow: Flow, session: Session, input: Input) -> Run {
        var scope = Scope(input: input, context: session.context, session: session.key, userId: session.userId)
        var outputs: [OutputDraft] = []
        var index = 0

        // A wait at a node that is no longer an ask (the flow file changed) is dropped, and the
        // input starts the flow from the top like any other.
        if let wait = session.waiting, let askIndex = flow.index(of: wait.nodeId), case .ask(let ask) = flow.nodes[askIndex].kind {
            guard let value = answer(ask, input: input) else {
                outputs.append(draft(ask.retry ?? ask.prompt, scope))
                return Run(outputs: outputs, context: scope.context, waiting: FlowWait(nodeId: wait.nodeId, retries: wait.retries + 1))
            }
            scope.context = JSONObject.setting(value, at: ask.into, in: scope.context)
            index = askIndex + 1
        }

        func stop(_ node: FlowNode, _ reason: String) -> Run {
            let message = "flow '\(flow.name)' stopped at node '\(node.id)' (\(flow.file):\(node.line)): \(reason)"
            outputs.append(OutputDraft(type: .error, text: message, data: nil))
            return Run(outputs: outputs, context: scope.context, waiting: nil, error: message)
        }

        var steps = 0
        while index < flow.nodes.count {
            let node = flow.nodes[index]
            guard steps < flow.stepLimit else {
                return stop(node, "more than \(flow.stepLimit) steps in one run; is there a loop?")
            }
            steps += 1
            var next = index + 1
            var target: String?
            switch node.kind {
            case .say(let message):
                outputs.append(draft(message, scope))
            case .ask(let ask):
                outputs.append(draft(ask.prompt, scope))
                return Run(outputs: outputs, context: scope.context, waiting: FlowWait(nodeId: node.id))
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
            }
            if let target {
                // The loader checks every target; a flow built in code may still name a missing one.
                guard let position = flow.index(of: target) else { return stop(node, "no node has the id '\(target)'") }
                next = position
            }
            index = next
        }
        return Run(outputs: outputs, context: scope.context, waiting: nil)
    }

    private static func draft(_ message: FlowNode.Message, _ scope: Scope) -> OutputDraft {
        var data = message.data?.evaluate(in: scope)
        if data?.isNull == true { data = nil }
        return OutputDraft(text: message.text?.render(in: scope), data: data)
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
