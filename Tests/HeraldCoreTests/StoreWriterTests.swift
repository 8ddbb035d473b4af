import HeraldCore
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The writer in front of the store: what a failed batch means for waiting callers and for
/// fire-and-forget delivery results, and what ``StoreWriter/flush()`` waits for.
@Suite struct StoreWriterTests {
    /// A memory store whose next `failures` batches fail, as a store that is briefly down; with
    /// `holdNext` set, the next batch waits in `apply` until ``release()``.
    final class FlakyStore: HeraldStore {
        let base = MemoryStore()
        let failures: Atomic<Int>
        let concurrentBatches: Int
        let holdNext = Atomic<Bool>(false)
        let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let inFlight = Atomic<Int>(0)
        let mostInFlight = Atomic<Int>(0)
        let applied = Atomic<Int>(0)
        struct Down: Error {}

        init(failures: Int, concurrentBatches: Int = 1) {
            self.failures = Atomic(failures)
            self.concurrentBatches = concurrentBatches
        }

        func release() { held.withLock { $0.take() }?.resume() }
        var isHolding: Bool { held.withLock { $0 != nil } }

        var isSingleWriter: Bool { true }
        func prepare() async throws {}
        func ping() async throws {}
        func close() async throws {}
        func session(_ key: SessionKey) async throws -> Session? { try await base.session(key) }
        func apply(_ changes: [StoreChange]) async throws {
            let now = inFlight.add(1, ordering: .relaxed).newValue
            mostInFlight.max(now, ordering: .relaxed)
            defer { inFlight.subtract(1, ordering: .relaxed) }
            if holdNext.exchange(false, ordering: .relaxed) {
                await withCheckedContinuation { continuation in held.withLock { $0 = continuation } }
            }
            if failures.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 { throw Down() }
            try await base.apply(changes)
            applied.add(1, ordering: .relaxed)
        }
        func undeliveredOutputs() async throws -> [OutboxEntry] { try await base.undeliveredOutputs() }
        func pausedEndpoints() async throws -> Set<String> { try await base.pausedEndpoints() }
        func sessions(_ query: SessionQuery) async throws -> [SessionSummary] { try await base.sessions(query) }
        func transcript(_ key: SessionKey, limit: Int) async throws -> [TranscriptEntry] { try await base.transcript(key, limit: limit) }
        func deliveries(_ query: DeliveryQuery) async throws -> [DeliveryRecord] { try await base.deliveries(query) }
        func delivery(outputId: String) async throws -> DeliveryRecord? { try await base.delivery(outputId: outputId) }
        func delivery(urlToken: String, channelMessageId: String) async throws -> DeliveryRecord? {
            try await base.delivery(urlToken: urlToken, channelMessageId: channelMessageId)
        }
        func attempts(outputId: String) async throws -> [DeliveryAttempt] { try await base.attempts(outputId: outputId) }
        func countSessions(urlToken: String, activeSince since: Timestamp) async throws -> Int {
            try await base.countSessions(urlToken: urlToken, activeSince: since)
        }
        func idleSessions(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
            try await base.idleSessions(urlToken: urlToken, before: cutoff, limit: limit)
        }
        func dueSessions(before time: Timestamp, limit: Int) async throws -> [SessionKey] {
            try await base.dueSessions(before: time, limit: limit)
        }
        func scheduled(_ query: ScheduleQuery) async throws -> [ScheduledEntry] { try await base.scheduled(query) }
        func scheduledSession(id: String) async throws -> SessionKey? { try await base.scheduledSession(id: id) }
        func auditEntries(before: Int64?, limit: Int) async throws -> [AuditEntry] { try await base.auditEntries(before: before, limit: limit) }
        func idleHandovers(urlToken: String, before cutoff: Timestamp, limit: Int) async throws -> [SessionKey] {
            try await base.idleHandovers(urlToken: urlToken, before: cutoff, limit: limit)
        }
        func idempotentResponse(urlToken: String, key: String, since: Timestamp) async throws -> IdempotentResponse? {
            try await base.idempotentResponse(urlToken: urlToken, key: key, since: since)
        }
        func prune(idempotencyCutoff: Timestamp, historyCutoff: Timestamp) async throws {
            try await base.prune(idempotencyCutoff: idempotencyCutoff, historyCutoff: historyCutoff)
        }
        func saveFlows(_ flows: [StoredFlow]) async throws { try await base.saveFlows(flows) }
        func storedFlow(version: String) async throws -> StoredFlow? { try await base.storedFlow(version: version) }
        func nameFlow(_ name: FlowName) async throws -> FlowName { try await base.nameFlow(name) }
        func flowNames() async throws -> [FlowName] { try await base.flowNames() }
        func endpointDefinitions() async throws -> [EndpointDefinition] { try await base.endpointDefinitions() }
        func saveEndpoint(_ definition: EndpointDefinition) async throws -> EndpointDefinition { try await base.saveEndpoint(definition) }
        func configurationRevision() async throws -> Int64 { try await base.configurationRevision() }
    }

    static let key = SessionKey(urlToken: "demo", sessionId: "s")

    /// A commit of a new session with one output.
    static func commit(_ text: String, key: SessionKey = key) -> SessionCommit {
        var session = Session(key: key, userId: "u", now: Timestamp(milliseconds: 0))
        session.version = 1
        session.nextSeq = 2
        let output = Output(
            session: key, userId: "u", seq: 1, type: .output, text: text, data: nil, inputId: nil, source: .user,
            timestamp: Timestamp(milliseconds: 0))
        return SessionCommit(session: session, expectedVersion: 0, input: nil, outputs: [output])
    }

    static func delivered(_ id: String) -> StoreChange {
        .delivery(DeliveryUpdate(outputId: id, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: nil))
    }

    /// Runs a writer on `store` while `body` runs.
    static func withWriter(_ store: any HeraldStore, _ body: @Sendable (StoreWriter) async throws -> Void) async throws {
        let writer = StoreWriter(store: store, logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body(writer)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aDeliveryResultWhoseBatchFailedIsRecordedByALaterOne() async throws {
        let store = FlakyStore(failures: 0)
        try await Self.withWriter(store) { writer in
            try await writer.commit(.session(Self.commit("hello")))
            let id = try #require(try await store.undeliveredOutputs().first?.output.id)
            store.failures.store(1, ordering: .relaxed)
            // The result fails with its batch, then goes in again: flush returns once it is in.
            writer.submit(Self.delivered(id))
            try? await writer.flush()
            try await writer.flush()
            #expect(try await store.delivery(outputId: id)?.status == .delivered)
            #expect(try await store.undeliveredOutputs().isEmpty)
        }
    }

    /// With two batches in flight (PostgreSQL), the second is written while the first waits,
    /// but its callers and ``StoreWriter/onCommitted(_:)`` hear of it only after the first's.
    @Test func concurrentBatchesCompleteInTheOrderTheyWereTaken() async throws {
        let store = FlakyStore(failures: 0, concurrentBatches: 2)
        try await Self.withWriter(store) { writer in
            let committed = Names()
            writer.onCommitted { outputs in committed.add(outputs.compactMap(\.text)) }
            let answered = Names()
            store.holdNext.store(true, ordering: .relaxed)
            let first = writer.enqueue(.session(Self.commit("first", key: SessionKey(urlToken: "demo", sessionId: "a"))))
            while !store.isHolding { try await Task.sleep(for: .milliseconds(1)) }
            let second = writer.enqueue(.session(Self.commit("second", key: SessionKey(urlToken: "demo", sessionId: "b"))))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    try await first.wait()
                    answered.add(["first"])
                }
                tasks.addTask {
                    try await second.wait()
                    answered.add(["second"])
                }
                // The second batch is recorded while the first is still held.
                while store.applied.load(ordering: .relaxed) < 1 { try await Task.sleep(for: .milliseconds(1)) }
                try await Task.sleep(for: .milliseconds(50))
                #expect(answered.all.isEmpty)
                #expect(committed.all.isEmpty)
                store.release()
                try await tasks.waitForAll()
            }
            #expect(store.mostInFlight.load(ordering: .relaxed) == 2)
            #expect(answered.all == ["first", "second"])
            #expect(committed.all == ["first", "second"])
            try await writer.flush()
        }
    }

    final class Names: Sendable {
        private let names = Mutex<[String]>([])
        func add(_ more: [String]) { names.withLock { $0 += more } }
        var all: [String] { names.withLock { $0 } }
    }

    @Test func aCallerWaitingInAFailedBatchLearnsItAndNothingIsRecorded() async throws {
        let store = FlakyStore(failures: 1)
        try await Self.withWriter(store) { writer in
            await #expect(throws: StoreWriter.CommitFailed.self) { try await writer.commit(.session(Self.commit("lost"))) }
            #expect(try await store.session(Self.key) == nil)
            try await writer.commit(.session(Self.commit("kept")))
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["kept"])
        }
    }

    @Test func flushWaitsForWhatWasQueuedBeforeIt() async throws {
        let store = FlakyStore(failures: 0)
        try await Self.withWriter(store) { writer in
            let ticket = writer.enqueue(.session(Self.commit("first")))
            try await writer.flush()
            // Recorded by the time flush returns, before its own caller looks.
            #expect(try await store.session(Self.key) != nil)
            try await ticket.wait()
        }
    }

    @Test func aRejectedTurnFailsItsCallerAloneAndTheBatchCommits() async throws {
        let store = FlakyStore(failures: 0)
        try await Self.withWriter(store) { writer in
            struct Refused: Error {}
            let refused = SessionTurn(SessionKey(urlToken: "demo", sessionId: "other")) { _ in throw Refused() }
            let accepted = SessionTurn(Self.key) { _ in Self.commit("turn") }
            let refusedTicket = writer.enqueue(.turn(refused))
            let acceptedTicket = writer.enqueue(.turn(accepted))
            await #expect(throws: Refused.self) { try await refusedTicket.wait() }
            try await acceptedTicket.wait()
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["turn"])
        }
    }
}
