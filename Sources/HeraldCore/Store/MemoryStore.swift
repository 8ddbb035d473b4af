import Synchronization

/// A store that keeps everything in memory: fast tests, `herald test --config`, and
/// `storage: memory` for throwaway runs. Nothing survives the process.
public final class MemoryStore: HeraldStore {
    fileprivate struct OutputState {
        /// Insertion order: commit order, which is `seq` order within a session.
        var position: Int
        var output: Output
        var status: DeliveryStatus
        var attempts: Int
        var nextAttemptAt: Timestamp?
        var lastError: String?
        var deliveredAt: Timestamp?
        var channelMessageId: String?
        var receipt: OutputReceipt?

        var record: DeliveryRecord {
            DeliveryRecord(
                output: output, status: status, attempts: attempts, nextAttemptAt: nextAttemptAt, lastError: lastError, deliveredAt: deliveredAt,
                channelMessageId: channelMessageId, receipt: receipt)
        }
    }

    fileprivate struct State {
        var sessions: [SessionKey: Session] = [:]
        var inputs: [SessionKey: [Input]] = [:]
        var outputs: [String: OutputState] = [:]
        var outputsBySession: [SessionKey: [String]] = [:]
        var attempts: [String: [DeliveryAttempt]] = [:]
        var paused: Set<String> = []
        var idempotency: [String: IdempotentResponse] = [:]
        var nextPosition = 0
        var audit: [AuditEntry] = []
        /// Outputs by (urlToken, channel message id), for receipts.
        var outputsByChannelMessage: [String: String] = [:]
        /// Receipts that came before the send's answer recorded their message id.
        var earlyReceipts: [String: OutputReceipt] = [:]
        /// Configuration made at runtime: flow versions, flow names, endpoint definitions.
        var flows: [String: StoredFlow] = [:]
        var flowNames: [String: FlowName] = [:]
        var endpointDefinitions: [String: EndpointDefinition] = [:]
        var revision: Int64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isSingleWriter: Bool { true }

    public func prepare() async throws {}
    public func ping() async throws {}
    public func close() async throws {}

    public func session(_ key: SessionKey) async throws -> Session? {
        state.withLock { $0.sessions[key] }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        try state.withLock { state in
            // Check every version first, in order, so a conflict changes nothing. A batch may
            // hold several consecutive commits of one session.
            var versions: [SessionKey: Int64] = [:]
            for change in changes {
                switch change {
                case .session(let commit):
                    let key = commit.session.key
                    let stored = versions[key] ?? state.sessions[key]?.version ?? 0
                    if stored != commit.expectedVersion { throw StoreConflict(session: key) }
                    versions[key] = commit.session.version
                case .deleteSession(let key):
                    versions[key] = 0
                default:
                    break
                }
            }
            try state.apply(changes)
        }
    }

    fileprivate static func slot(_ urlToken: String, _ messageId: String) -> String {
        urlToken + "\u{0}" + messageId
    }

    public func saveFlows(_ flows: [StoredFlow]) async throws {
        state.withLock { state in
            for flow in flows where state.flows[flow.version] == nil { state.flows[flow.version] = flow }
        }
    }

    public func storedFlow(version: String) async throws -> StoredFlow? {
        state.withLock { $0.flows[version] }
    }

    public func nameFlow(_ name: FlowName) async throws -> FlowName {
        save(name, in: \.flowNames, key: name.name, revision: \.revision)
    }

    public func flowNames() async throws -> [FlowName] {
        state.withLock { $0.flowNames.values.sorted { $0.name < $1.name } }
    }

    public func endpointDefinitions() async throws -> [EndpointDefinition] {
        state.withLock { $0.endpointDefinitions.values.sorted { $0.urlToken < $1.urlToken } }
    }

    public func saveEndpoint(_ definition: EndpointDefinition) async throws -> EndpointDefinition {
        save(definition, in: \.endpointDefinitions, key: definition.urlToken, revision: \.revision)
    }

    /// Keeps `value` under `key` in `table`, numbered with the next configuration revision (one
    /// counter over flow names and endpoints, as in the other stores).
    private func save<Value: Sendable>(
        _ value: Value, in table: WritableKeyPath<State, [String: Value]>, key: String, revision: WritableKeyPath<Value, Int64>
    ) -> Value {
        state.withLock { state in
            state.revision += 1
            var saved = value
            saved[keyPath: revision] = state.revision
            state[keyPath: table][key] = saved
            return saved
        }
    }

    public func configurationRevision() async throws -> Int64 {
        state.withLock { $0.revision }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] {
        state.withLock { state in
            Array(state.audit.reversed().filter { before == nil || $0.sequence < before! }.prefix(limit))
        }
    }

    public func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        state.withLock { state in
            Array(
                state.sessions.values.filter { $0.key.urlToken == urlToken && ($0.handover.map { $0.lastActivity < cutoff } ?? false) }
                    .prefix(limit).map(\.key))
        }
    }

    public func undeliveredOutputs() async throws -> [OutboxEntry] {
        state.withLock { state in
            state.outputs.values
                .filter { $0.status.isUndelivered }
                .sorted { $0.position < $1.position }
                .map { OutboxEntry(output: $0.output, attempts: $0.attempts, notBefore: $0.nextAttemptAt) }
        }
    }

    public func pausedEndpoints() async throws -> Set<String> {
        state.withLock { $0.paused }
    }

    public func sessions(_ query: SessionQuery) async throws -> [SessionSummary] {
        state.withLock { state in
            state.sessions.values
                .filter { session in
                    (query.urlToken == nil || session.key.urlToken == query.urlToken)
                        && (query.userId == nil || session.userId == query.userId)
                        && (query.activeSince == nil || session.updatedAt >= query.activeSince!)
                        && (query.after == nil || (session.key.urlToken, session.key.sessionId) > (query.after!.urlToken, query.after!.sessionId))
                }
                .sorted { ($0.key.urlToken, $0.key.sessionId) < ($1.key.urlToken, $1.key.sessionId) }
                .prefix(query.limit)
                .map(SessionSummary.init)
        }
    }

    public func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] {
        state.withLock { state in
            let inputs = (state.inputs[key] ?? []).map(TranscriptEntry.input)
            let outputs = (state.outputsBySession[key] ?? []).compactMap { state.outputs[$0] }.map { TranscriptEntry.output($0.record) }
            return Array((inputs + outputs).sorted { $0.timestamp < $1.timestamp }.suffix(limit))
        }
    }

    public func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] {
        state.withLock { state in
            state.outputs.values
                .filter { output in
                    (query.status == nil || output.status == query.status)
                        && (query.urlToken == nil || output.output.session.urlToken == query.urlToken)
                        && (query.sessionId == nil || output.output.session.sessionId == query.sessionId)
                }
                .sorted { $0.position < $1.position }
                .prefix(query.limit)
                .map(\.record)
        }
    }

    public func delivery(outputId: String) async throws -> DeliveryRecord? {
        state.withLock { $0.outputs[outputId]?.record }
    }

    public func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord? {
        state.withLock { state in
            state.outputsByChannelMessage[Self.slot(urlToken, channelMessageId)].flatMap { state.outputs[$0]?.record }
        }
    }

    public func attempts(outputId: String) async throws -> [DeliveryAttempt] {
        state.withLock { $0.attempts[outputId] ?? [] }
    }

    public func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
        state.withLock { state in state.sessions.values.filter { $0.key.urlToken == urlToken && $0.updatedAt >= since }.count }
    }

    public func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
        state.withLock { state in
            Array(
                state.sessions.values.filter { $0.key.urlToken == urlToken && $0.updatedAt < cutoff && $0.schedules.isEmpty }.prefix(limit)
                    .map(\.key))
        }
    }

    public func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey] {
        state.withLock { state in
            let due = state.sessions.values.compactMap { session in session.nextDueAt.flatMap { $0 <= time ? (session.key, $0) : nil } }
            return Array(due.sorted { $0.1 < $1.1 }.prefix(limit).map(\.0))
        }
    }

    public func scheduled(_ query: ScheduleQuery) async throws -> [ScheduledEntry] {
        state.withLock { state in
            let sessions = state.sessions.values.filter { session in
                !session.schedules.isEmpty && (query.urlToken.map { $0 == session.key.urlToken } ?? true)
                    && (query.sessionId.map { $0 == session.key.sessionId } ?? true)
            }
            return ScheduledEntry.earliest(Array(sessions), limit: query.limit)
        }
    }

    public func scheduledSession(id: String) async throws -> SessionKey? {
        state.withLock { state in state.sessions.values.first { $0.schedules.contains { $0.id == id } }?.key }
    }

    public func prune(idempotencyCutoff: Timestamp, historyCutoff: Timestamp) async throws {
        state.withLock { state in
            state.idempotency = state.idempotency.filter { $0.value.createdAt >= idempotencyCutoff }
            state.earlyReceipts = state.earlyReceipts.filter { $0.value.at >= historyCutoff }
            for (key, inputs) in state.inputs { state.inputs[key] = inputs.filter { $0.receivedAt >= historyCutoff } }
            let old = state.outputs.values.filter { $0.status.isFinished && $0.output.timestamp < historyCutoff }
            for output in old {
                if let messageId = output.channelMessageId {
                    state.outputsByChannelMessage[Self.slot(output.output.session.urlToken, messageId)] = nil
                }
                state.outputs[output.output.id] = nil
                state.attempts[output.output.id] = nil
                state.outputsBySession[output.output.session]?.removeAll { $0 == output.output.id }
            }
        }
    }

    public func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse? {
        state.withLock { state in
            guard let response = state.idempotency[urlToken + "\u{0}" + key], response.createdAt >= since else { return nil }
            return response
        }
    }
}

/// The memory store's writes: each change applied to the state as it comes.
extension MemoryStore.State: StoreChangeHandler {
    func session(_ key: SessionKey) -> Session? {
        sessions[key]
    }

    mutating func write(_ commit: SessionCommit) {
        let key = commit.session.key
        sessions[key] = commit.session
        if let input = commit.input { inputs[key, default: []].append(input) }
        for output in commit.outputs {
            nextPosition += 1
            outputs[output.id] = MemoryStore.OutputState(position: nextPosition, output: output, status: .pending, attempts: 0)
            outputsBySession[key, default: []].append(output.id)
        }
        if let response = commit.idempotency {
            idempotency[response.urlToken + "\u{0}" + response.key] = response
        }
    }

    mutating func deleteSession(_ key: SessionKey) {
        sessions[key] = nil
        inputs[key] = nil
        let finished = (outputsBySession[key] ?? []).filter { outputs[$0]?.status.isFinished ?? false }
        for id in finished {
            if let messageId = outputs[id]?.channelMessageId {
                outputsByChannelMessage[MemoryStore.slot(key.urlToken, messageId)] = nil
            }
            outputs[id] = nil
            attempts[id] = nil
        }
        outputsBySession[key]?.removeAll { finished.contains($0) }
    }

    mutating func write(_ update: DeliveryUpdate) {
        guard var output = outputs[update.outputId] else { return }
        output.status = update.status
        output.attempts = update.attempts
        output.nextAttemptAt = update.nextAttemptAt
        if let attempt = update.attempt {
            output.lastError = attempt.error
            attempts[update.outputId, default: []].append(attempt)
            if let deliveredAt = update.deliveredAt { output.deliveredAt = deliveredAt }
        }
        if let messageId = update.channelMessageId {
            let slot = MemoryStore.slot(output.output.session.urlToken, messageId)
            output.channelMessageId = messageId
            outputsByChannelMessage[slot] = output.output.id
            if let early = earlyReceipts.removeValue(forKey: slot) {
                output.receipt = output.receipt.map { $0.merging(early) } ?? early
            }
        }
        outputs[update.outputId] = output
    }

    mutating func write(_ report: StatusReport) {
        let slot = MemoryStore.slot(report.urlToken, report.channelMessageId)
        if let id = outputsByChannelMessage[slot], var output = outputs[id] {
            output.receipt = output.receipt.map { $0.merging(report.receipt) } ?? report.receipt
            outputs[id] = output
        } else {
            earlyReceipts[slot] = earlyReceipts[slot].map { $0.merging(report.receipt) } ?? report.receipt
        }
    }

    mutating func setEndpoint(_ urlToken: String, paused: Bool) {
        if paused { self.paused.insert(urlToken) } else { self.paused.remove(urlToken) }
    }

    mutating func write(_ entry: AuditEntry) {
        var entry = entry
        entry.sequence = Int64(audit.count + 1)
        audit.append(entry)
    }

    mutating func erase(_ erasure: Erasure) {
        let (urlToken, userId) = (erasure.urlToken, erasure.userId)
        var counts = ErasureCounts()
        let theirs = sessions.values.filter { $0.key.urlToken == urlToken && $0.userId == userId }.map(\.key)
        counts.sessions = theirs.count
        for key in theirs { sessions[key] = nil }
        for (key, inputs) in inputs where key.urlToken == urlToken {
            let kept = theirs.contains(key) ? [] : inputs.filter { $0.userId != userId }
            counts.inputs += inputs.count - kept.count
            self.inputs[key] = kept.isEmpty ? nil : kept
        }
        for (id, output) in outputs where output.output.session.urlToken == urlToken && output.output.userId == userId {
            counts.outputs += 1
            if output.status.isUndelivered { counts.undelivered += 1 }
            counts.attempts += attempts[id]?.count ?? 0
            if let messageId = output.channelMessageId { outputsByChannelMessage[MemoryStore.slot(urlToken, messageId)] = nil }
            outputs[id] = nil
            attempts[id] = nil
            outputsBySession[output.output.session]?.removeAll { $0 == id }
        }
        for index in audit.indices where erasure.redacts(audit[index]) { audit[index].redactForErasure() }
        erasure.record(counts)
    }
}
