/// A flow's calls (SPEC §13): the run that reaches a `call` node records the call as an output
/// and the session waits; the outbox makes the request; its answer comes back here, as an
/// input with source `call`, in the session's turn.
extension SessionRegistry {
    /// Resumes the flow that waits for `call` with its answer, then runs the inputs that
    /// arrived meanwhile, in order (until the flow waits for another call). Returns `nil` when
    /// the session no longer waits for this call: the answer was recorded before (the call
    /// was made again after a crash), the session ended, or its endpoint is gone. So a call's
    /// answer resumes its flow once, however often the call is made.
    @discardableResult
    public func answer(_ call: Output, with answer: CallAnswer) async throws(HeraldError) -> Receipt? {
        // An endpoint deleted since keeps its sessions' flows until they are done.
        guard let endpoint = live.snapshot.delivering(call.session.urlToken)?.endpoint else { return nil }
        do {
            return try await change(call.session, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
                guard let session = existing, let wait = session.waiting?.call, wait.outputId == call.id else { throw .nothingDue }
                return try self.resume(session, with: answer, of: call, endpoint, now)
            }
        } catch .nothingDue {
            return nil
        }
    }

    private func resume(
        _ session: Session, with answer: CallAnswer, of call: Output, _ endpoint: Endpoint, _ now: Timestamp
    ) throws(HeraldError) -> Change {
        var session = session
        let queued = session.waiting?.call?.queued ?? []
        let node = CallRequest(json: call.data)?.node ?? session.waiting?.nodeId ?? ""
        let input = Input(session: session.key, userId: session.userId, text: nil, data: answer.json(node: node), source: .call, receivedAt: now)
        var outputs = try run(endpoint.flow, &session, input) { FlowEngine.answer($0, session: $1, input: input, calls: endpoint.calls) }
        // The inputs that waited: each runs as it would have on arrival; one that reaches
        // another call queues the rest behind it.
        for (index, waiting) in queued.enumerated() {
            if session.waiting?.call != nil {
                session.waiting!.call!.queued += queued[index...]
                break
            }
            // It runs now: its outputs, timeouts and reminders count from now, not from when it
            // was recorded.
            var current = waiting
            current.receivedAt = now
            if session.handover != nil, current.source == .user {
                let held = heldForOperator(current, session, endpoint, now)
                session = held.session
                outputs += held.outputs
                continue
            }
            outputs += try run(endpoint.flow, &session, current) { FlowEngine.run($0, session: $1, input: current, calls: endpoint.calls) }
        }
        return Change(session: session, input: input, outputs: outputs)
    }
}
