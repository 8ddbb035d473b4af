/// An operator having a session (SPEC §11): while set, the flow does not run for the user's
/// messages; they are recorded (and go to the endpoint's `handover.webhook` when it has one),
/// and the operator answers with replies.
public struct Handover: Sendable, Hashable {
    public var operatorName: String
    public var since: Timestamp
    /// The operator's last action (the handover, a reply): the idle timeout counts from here.
    public var lastActivity: Timestamp

    public init(operatorName: String, since: Timestamp, lastActivity: Timestamp? = nil) {
        self.operatorName = operatorName
        self.since = since
        self.lastActivity = lastActivity ?? since
    }
}

/// Who answers the session's user: its flow, or an operator.
public enum SessionMode: String, Sendable, Hashable {
    case flow
    case `operator`
}

extension Session {
    public var mode: SessionMode { handover == nil ? .flow : .operator }
}

/// What an operator sends the user.
public struct OperatorReply: Sendable {
    public var operatorName: String
    public var text: String?
    public var data: JSON?
    /// Quick replies, buttons, attachments, a card (SPEC §12).
    public var rich: RichContent

    public init(operatorName: String, text: String?, data: JSON?, rich: RichContent = RichContent()) {
        self.operatorName = operatorName
        self.text = text
        self.data = data
        self.rich = rich
    }
}

/// Handover, reply and handback take the session's turn like user messages, injects and
/// notifies (one registry, one `seq` stream per session), so an operator's reply is ordered
/// with everything else the session sends.
extension SessionRegistry {
    /// Puts the session in operator mode. Taking over a session the same operator already has
    /// changes nothing; another operator's session is refused (409): hand it back first.
    @discardableResult
    public func handover(_ key: SessionKey, to operatorName: String) async throws(HeraldError) -> Handover {
        let endpoint = try endpoint(key.urlToken)
        _ = try await change(key, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
            guard var session = existing else { throw .unknownSession(key) }
            if let current = session.handover, current.operatorName != operatorName {
                throw .invalidState("operator: session '\(key.sessionId)' is taken over by '\(current.operatorName)'; hand it back first")
            }
            if session.handover == nil { session.handover = Handover(operatorName: operatorName, since: now) }
            session.handover?.lastActivity = now
            session.updatedAt = now
            return Change(session: session, input: nil, outputs: [])
        }
        guard let handover = try await session(key)?.handover else { throw .unknownSession(key) }
        return handover
    }

    /// Sends the operator's reply to the user: an output with `source: "operator"` and the
    /// operator's name, the session's next `seq`. The session must be taken over by this
    /// operator (409 otherwise).
    public func reply(_ key: SessionKey, _ reply: OperatorReply) async throws(HeraldError) -> Receipt {
        let endpoint = try endpoint(key.urlToken)
        return try await change(key, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
            guard var session = existing else { throw .unknownSession(key) }
            guard let handover = session.handover else {
                throw .invalidState("mode: session '\(key.sessionId)' is not taken over by an operator; POST …/handover first")
            }
            guard handover.operatorName == reply.operatorName else {
                throw .invalidState("operator: session '\(key.sessionId)' is taken over by '\(handover.operatorName)', not '\(reply.operatorName)'")
            }
            var output = session.nextOutput(.output, text: reply.text, data: reply.data, rich: reply.rich, source: .operator, at: now)
            output.operatorName = reply.operatorName
            session.handover?.lastActivity = now
            session.updatedAt = now
            return Change(session: session, input: nil, outputs: [output])
        }
    }

    /// Returns the session to its flow. With `inject`, that message then runs through the flow
    /// in the same turn (`input.source == "inject"`), so nothing of the user's comes between.
    /// `idleBefore`: only if the operator did nothing since then (the idle timeout), else
    /// ``HeraldError/invalidState``.
    public func handback(
        _ key: SessionKey, inject: (text: String?, data: JSON?)? = nil, idleBefore: Timestamp? = nil
    ) async throws(HeraldError) -> Receipt {
        let endpoint = try endpoint(key.urlToken)
        return try await change(key, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
            guard var session = existing else { throw .unknownSession(key) }
            guard let handover = session.handover else {
                throw .invalidState("mode: session '\(key.sessionId)' is not taken over by an operator")
            }
            if let idleBefore, handover.lastActivity >= idleBefore {
                throw .invalidState("operator: '\(handover.operatorName)' acted on session '\(key.sessionId)' since")
            }
            session.handover = nil
            session.updatedAt = now
            guard let inject else { return Change(session: session, input: nil, outputs: []) }
            let input = Input(session: key, userId: session.userId, text: inject.text, data: inject.data, source: .inject, receivedAt: now)
            return try self.runFlow(input, session, endpoint)
        }
    }

    /// A user's message while an operator has the session: recorded; and, when the endpoint has
    /// a `handover.webhook`, an output of type `userMessage` for it, in the session's `seq`
    /// order (so it is delivered durably, in order, with retries, like any output).
    func heldForOperator(_ input: Input, _ session: Session, _ endpoint: Endpoint, _ now: Timestamp) -> Change {
        var session = session
        var outputs: [Output] = []
        if endpoint.handover.webhook != nil {
            var output = session.nextOutput(.userMessage, text: input.text, data: input.data, inputId: input.id, source: .user, at: now)
            output.operatorName = session.handover?.operatorName
            outputs.append(output)
        }
        session.updatedAt = now
        return Change(session: session, input: input, outputs: outputs)
    }
}
