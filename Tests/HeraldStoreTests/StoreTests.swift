import Foundation
import GRDB
import HeraldCore
@testable import HeraldSQLite
import HeraldTestSupport
import Logging
import Testing

/// One test-suite for every store (``Fixtures/Store``): what the protocol promises holds for
/// memory, SQLite and PostgreSQL alike.
@Suite struct StoreTests {
    static let key = SessionKey(urlToken: "demo", sessionId: "s1")

    static func commit(
        _ key: SessionKey = key, version: Int64, texts: [String], context: JSONObject = [:], seq: Int64 = 1, at time: Int64 = 1_000
    ) -> SessionCommit {
        var session = Session(key: key, userId: "u1", now: Timestamp(milliseconds: time))
        session.context = context
        session.version = version
        session.nextSeq = seq + Int64(texts.count)
        session.waiting = FlowWait(nodeId: "ask", retries: 1)
        let input = Input(session: key, userId: "u1", text: "in", data: ["k": 1], source: .user, receivedAt: Timestamp(milliseconds: time))
        let outputs = texts.enumerated().map { index, text in
            Output(
                session: key, userId: "u1", seq: seq + Int64(index), type: .output, text: text, data: ["n": .number(Double(index))],
                inputId: input.id, source: .user, timestamp: Timestamp(milliseconds: time))
        }
        return SessionCommit(session: session, expectedVersion: version - 1, input: input, outputs: outputs)
    }

    @Test(arguments: Fixtures.Store.allCases)
    func sessionsRoundTrip(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            #expect(try await store.session(Self.key) == nil)
            try await store.apply([.session(Self.commit(version: 1, texts: ["a"], context: ["order": ["id": "A-1"], "n": 2]))])
            let session = try #require(try await store.session(Self.key))
            #expect(session.userId == "u1")
            #expect(session.context == ["order": ["id": "A-1"], "n": 2])
            #expect(session.waiting == FlowWait(nodeId: "ask", retries: 1))
            #expect(session.nextSeq == 2)
            #expect(session.version == 1)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aVersionConflictRecordsNothing(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["a"]))])
            let other = SessionKey(urlToken: "demo", sessionId: "other")
            // The batch holds a valid commit of another session and a stale one of s1.
            await #expect(throws: StoreConflict.self) {
                try await store.apply([.session(Self.commit(other, version: 1, texts: ["x"])), .session(Self.commit(version: 1, texts: ["b"]))])
            }
            #expect(try await store.session(other) == nil)
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["a"])
            // Consecutive commits of one session in one batch are fine.
            try await store.apply([.session(Self.commit(version: 2, texts: ["b"], seq: 2)), .session(Self.commit(version: 3, texts: ["c"], seq: 3))])
            #expect(try await store.session(Self.key)?.version == 3)
        }
    }

    /// A turn that appends `text` as an output, computed from the session as the store has it.
    static func turn(_ text: String, in key: SessionKey = key, refuse: Bool = false) -> SessionTurn {
        SessionTurn(key) { stored in
            if refuse { throw StoreConflict(session: key) }
            var session = stored ?? Session(key: key, userId: "u1", now: Timestamp(milliseconds: 1_000))
            let expected = session.version
            session.version += 1
            let output = Output(
                session: key, userId: "u1", seq: session.nextSeq, type: .output, text: text, data: nil, inputId: nil, source: .user,
                timestamp: Timestamp(milliseconds: 1_000))
            session.nextSeq += 1
            session.context["texts"] = .string((session.context["texts"]?.stringValue ?? "") + text)
            return SessionCommit(session: session, expectedVersion: expected, input: nil, outputs: [output])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func turnsRunInQueueOrderOnTheStoredSession(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let other = SessionKey(urlToken: "demo", sessionId: "other")
            // Two turns of one session in one batch: the second sees the first one's result. A
            // refused turn changes nothing and does not fail the batch. A deletion between turns
            // keeps its place in the order.
            let first = Self.turn("a")
            let refused = Self.turn("x", refuse: true)
            let second = Self.turn("b")
            let elsewhere = Self.turn("o", in: other)
            try await store.apply([.turn(first), .turn(refused), .turn(second), .turn(elsewhere), .deleteSession(other)])
            #expect(first.commit?.outputs.map(\.seq) == [1])
            #expect(second.commit?.outputs.map(\.seq) == [2])
            if case .rejected(let error) = refused.outcome {
                #expect(error is StoreConflict)
            } else {
                Issue.record("the refused turn was not rejected")
            }
            let session = try #require(try await store.session(Self.key))
            #expect(session.context["texts"] == "ab")
            #expect(session.nextSeq == 3)
            #expect(session.version == 2)
            #expect(try await store.session(other) == nil)
            // The next batch runs on what the first one stored.
            let third = Self.turn("c")
            try await store.apply([.turn(third)])
            #expect(third.commit?.outputs.map(\.seq) == [3])
            #expect(try await store.session(Self.key)?.context["texts"] == "abc")
            let pending = try await store.undeliveredOutputs()
            #expect(pending.filter { $0.output.session == Self.key }.map(\.output.text) == ["a", "b", "c"])
            #expect(pending.filter { $0.output.session == other }.map(\.output.text) == ["o"])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func theOutboxKeepsInsertionOrderAndDeliveryState(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let other = SessionKey(urlToken: "demo", sessionId: "s0")
            try await store.apply([.session(Self.commit(version: 1, texts: ["a", "b"]))])
            try await store.apply([.session(Self.commit(other, version: 1, texts: ["x"]))])
            try await store.apply([.session(Self.commit(version: 2, texts: ["c"], seq: 3))])
            let pending = try await store.undeliveredOutputs()
            #expect(pending.filter { $0.output.session == Self.key }.map(\.output.seq) == [1, 2, 3])
            #expect(pending.map(\.output.data) == [["n": 0], ["n": 1], ["n": 0], ["n": 0]])

            let a = pending[0].output.id
            let b = pending[1].output.id
            let attempt = DeliveryAttempt(
                outputId: a, number: 1, startedAt: Timestamp(milliseconds: 5_000), durationMilliseconds: 12, statusCode: 503, error: "HTTP 503",
                responseBody: "busy")
            try await store.apply([
                .delivery(DeliveryUpdate(outputId: a, status: .failed, attempts: 1, nextAttemptAt: Timestamp(milliseconds: 9_000), attempt: attempt))
            ])
            var ok = attempt
            ok.number = 2
            ok.statusCode = 200
            ok.error = nil
            ok.responseBody = nil
            try await store.apply([
                .delivery(DeliveryUpdate(outputId: a, status: .delivered, attempts: 2, nextAttemptAt: nil, attempt: ok)),
                .delivery(DeliveryUpdate(outputId: b, status: .dead, attempts: 1, nextAttemptAt: nil, attempt: attempt)),
            ])
            let record = try #require(try await store.delivery(outputId: a))
            #expect(record.status == .delivered)
            #expect(record.attempts == 2)
            #expect(record.lastError == nil)
            #expect(record.deliveredAt == Timestamp(milliseconds: 5_012))
            #expect(try await store.attempts(outputId: a).map(\.statusCode) == [503, 200])
            #expect(try await store.attempts(outputId: a).first?.responseBody == "busy")
            #expect(try await store.deliveries(DeliveryQuery(status: .dead)).map(\.output.id) == [b])
            #expect(try await store.delivery(outputId: b)?.lastError == "HTTP 503")
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["x", "c"])

            // A failed output comes back with its attempts and retry time.
            let c = pending[3].output.id
            try await store.apply([
                .delivery(DeliveryUpdate(outputId: c, status: .failed, attempts: 4, nextAttemptAt: Timestamp(milliseconds: 77_000), attempt: nil))
            ])
            let resumed = try #require(try await store.undeliveredOutputs().first { $0.output.id == c })
            #expect(resumed.attempts == 4)
            #expect(resumed.notBefore == Timestamp(milliseconds: 77_000))
        }
    }

    /// The common case, a success at the first attempt, reads back exactly like any attempt
    /// (SQLite keeps it in the output's row, the other stores in the attempt log).
    @Test(arguments: Fixtures.Store.allCases)
    func aFirstAttemptSuccessShowsInTheAttemptLog(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["a"]))])
            let id = try #require(try await store.undeliveredOutputs().first?.output.id)
            let attempt = DeliveryAttempt(
                outputId: id, number: 1, startedAt: Timestamp(milliseconds: 5_000), durationMilliseconds: 7, statusCode: 204, error: nil,
                responseBody: "ok 🎉")
            try await store.apply([.delivery(DeliveryUpdate(outputId: id, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: attempt))])
            #expect(try await store.attempts(outputId: id) == [attempt])
            let record = try #require(try await store.delivery(outputId: id))
            #expect(record.status == .delivered)
            #expect(record.attempts == 1)
            #expect(record.deliveredAt == Timestamp(milliseconds: 5_007))
            #expect(try await store.undeliveredOutputs().isEmpty)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func deletingASessionKeepsItsUndeliveredOutputs(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["a", "b"]))])
            let outputs = try await store.undeliveredOutputs()
            try await store.apply([.delivery(DeliveryUpdate(outputId: outputs[0].output.id, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: nil))])
            try await store.apply([.deleteSession(Self.key)])
            #expect(try await store.session(Self.key) == nil)
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["b"])
            #expect(try await store.delivery(outputId: outputs[0].output.id) == nil)
            // The id can start over.
            try await store.apply([.session(Self.commit(version: 1, texts: ["again"]))])
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["b", "again"])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func sessionQueriesFilterPageAndCount(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            for index in 0..<5 {
                let key = SessionKey(urlToken: index < 4 ? "demo" : "other", sessionId: "s\(index)")
                var commit = Self.commit(key, version: 1, texts: [], at: Int64(index) * 1000)
                if index == 2 { commit.session.userId = "u2" }
                try await store.apply([.session(commit)])
            }
            let page1 = try await store.sessions(SessionQuery(urlToken: "demo", limit: 2))
            #expect(page1.map(\.key.sessionId) == ["s0", "s1"])
            let page2 = try await store.sessions(SessionQuery(urlToken: "demo", limit: 2, after: page1.last?.key))
            #expect(page2.map(\.key.sessionId) == ["s2", "s3"])
            #expect(try await store.sessions(SessionQuery(userId: "u2")).map(\.key.sessionId) == ["s2"])
            #expect(try await store.sessions(SessionQuery(activeSince: Timestamp(milliseconds: 3000))).map(\.key.sessionId) == ["s3", "s4"])
            #expect(try await store.countSessions(urlToken: "demo", activeSince: Timestamp(milliseconds: 1000)) == 3)
            #expect(Set(try await store.idleSessions(urlToken: "demo", before: Timestamp(milliseconds: 2000), limit: 10).map(\.sessionId)) == ["s0", "s1"])
        }
    }

    /// Activity across minutes (PostgreSQL indexes it by the minute, then compares the time).
    @Test(arguments: Fixtures.Store.allCases)
    func activityIsComparedToTheMillisecondAcrossMinutes(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            for (index, at) in [59_999, 60_000, 60_001, 125_000].enumerated() {
                try await store.apply([.session(Self.commit(SessionKey(urlToken: "demo", sessionId: "m\(index)"), version: 1, texts: [], at: Int64(at)))])
            }
            let since = Timestamp(milliseconds: 60_001)
            #expect(try await store.sessions(SessionQuery(activeSince: since)).map(\.key.sessionId) == ["m2", "m3"])
            #expect(try await store.countSessions(urlToken: "demo", activeSince: since) == 2)
            #expect(try await store.countSessions(urlToken: "demo", activeSince: Timestamp(milliseconds: 59_999)) == 4)
            let idle = try await store.idleSessions(urlToken: "demo", before: Timestamp(milliseconds: 60_001), limit: 10)
            #expect(Set(idle.map(\.sessionId)) == ["m0", "m1"])
            #expect(try await store.idleSessions(urlToken: "demo", before: Timestamp(milliseconds: 200_000), limit: 10).count == 4)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func transcriptsIdempotencyAndPausedEndpoints(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var commit = Self.commit(version: 1, texts: ["a"])
            commit.idempotency = IdempotentResponse(urlToken: "demo", key: "k", status: 202, body: Array("{}".utf8), createdAt: Timestamp(milliseconds: 10_000))
            try await store.apply([.session(commit)])
            let transcript = try await store.transcript(Self.key, limit: 10)
            #expect(transcript.count == 2)
            if case .input(let input) = transcript.first { #expect(input.data == ["k": 1]) } else { Issue.record("first entry is not the input") }
            #expect(try await store.idempotentResponse(urlToken: "demo", key: "k", since: Timestamp(milliseconds: 9_000))?.status == 202)
            #expect(try await store.idempotentResponse(urlToken: "demo", key: "k", since: Timestamp(milliseconds: 11_000)) == nil)
            #expect(try await store.idempotentResponse(urlToken: "other", key: "k", since: Timestamp(milliseconds: 0)) == nil)
            try await store.apply([.endpointPaused(urlToken: "demo", paused: true)])
            #expect(try await store.pausedEndpoints() == ["demo"])
            try await store.apply([.endpointPaused(urlToken: "demo", paused: false)])
            #expect(try await store.pausedEndpoints().isEmpty)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func pruningKeepsUndeliveredOutputsAndRecentHistory(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var old = Self.commit(version: 1, texts: ["old delivered", "old pending"], at: 1_000)
            old.idempotency = IdempotentResponse(urlToken: "demo", key: "old", status: 202, body: [], createdAt: Timestamp(milliseconds: 1_000))
            try await store.apply([.session(old)])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply([.delivery(DeliveryUpdate(outputId: ids[0], status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: nil))])
            try await store.apply([.session(Self.commit(version: 2, texts: ["new"], seq: 3, at: 50_000))])
            try await store.prune(idempotencyCutoff: Timestamp(milliseconds: 10_000), historyCutoff: Timestamp(milliseconds: 10_000))
            #expect(try await store.delivery(outputId: ids[0]) == nil)
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["old pending", "new"])
            #expect(try await store.idempotentResponse(urlToken: "demo", key: "old", since: Timestamp(milliseconds: 0)) == nil)
            let inputs = try await store.transcript(Self.key, limit: 10).filter { if case .input = $0 { true } else { false } }
            #expect(inputs.count == 1)
        }
    }

    // MARK: Operators (SPEC §11)

    @Test(arguments: Fixtures.Store.allCases)
    func handoverStateAndOperatorRepliesRoundTrip(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var commit = Self.commit(version: 1, texts: ["reply"])
            commit.session.handover = Handover(operatorName: "ada", since: Timestamp(milliseconds: 2_000), lastActivity: Timestamp(milliseconds: 3_000))
            commit.outputs[0].source = .operator
            commit.outputs[0].operatorName = "ada"
            try await store.apply([.session(commit)])
            let session = try #require(try await store.session(Self.key))
            #expect(session.handover == Handover(operatorName: "ada", since: Timestamp(milliseconds: 2_000), lastActivity: Timestamp(milliseconds: 3_000)))
            #expect(session.mode == .operator)
            #expect(try await store.sessions(SessionQuery()).first?.handover?.operatorName == "ada")
            let output = try #require(try await store.undeliveredOutputs().first?.output)
            #expect(output.source == .operator)
            #expect(output.operatorName == "ada")
            #expect(try await store.idleHandovers(urlToken: "demo", before: Timestamp(milliseconds: 3_001), limit: 10) == [Self.key])
            #expect(try await store.idleHandovers(urlToken: "demo", before: Timestamp(milliseconds: 3_000), limit: 10).isEmpty)
            // Handed back: the columns are cleared.
            var back = Self.commit(version: 2, texts: [], seq: 2)
            back.session.handover = nil
            try await store.apply([.session(back)])
            #expect(try await store.session(Self.key)?.handover == nil)
            #expect(try await store.idleHandovers(urlToken: "demo", before: Timestamp(milliseconds: 9_999_999), limit: 10).isEmpty)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func theAuditLogPagesNewestFirst(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            for index in 1...5 {
                let entry = AuditEntry(
                    at: Timestamp(milliseconds: Int64(index) * 1000), keyName: "ops", action: index.isMultiple(of: 2) ? .notify : .handover,
                    urlToken: "demo", sessionId: "s\u{0}\(index)", userId: "u\(index)", detail: "d\(index)")
                try await store.apply([.audit(entry)])
            }
            let first = try await store.auditEntries(before: nil, limit: 2)
            #expect(first.map(\.userId) == ["u5", "u4"])
            #expect(first[0].sequence > first[1].sequence)
            #expect(first[0].sessionId == "s\u{0}5")
            #expect(first[0].action == .handover)
            #expect(first[0].keyName == "ops")
            #expect(first[0].at == Timestamp(milliseconds: 5000))
            #expect(first[0].detail == "d5")
            let rest = try await store.auditEntries(before: first.last?.sequence, limit: 10)
            #expect(rest.map(\.userId) == ["u3", "u2", "u1"])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func erasingAUserRemovesEverythingOfTheirsAndNothingElse(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let gone = SessionKey(urlToken: "demo", sessionId: "g1")
            let gone2 = SessionKey(urlToken: "demo", sessionId: "g2")
            let kept = SessionKey(urlToken: "demo", sessionId: "k1")
            let elsewhere = SessionKey(urlToken: "other", sessionId: "g1")
            func commit(_ key: SessionKey, user: String, texts: [String]) -> SessionCommit {
                var commit = Self.commit(key, version: 1, texts: texts)
                commit.session.userId = user
                commit.input?.userId = user
                for index in commit.outputs.indices { commit.outputs[index].userId = user }
                return commit
            }
            try await store.apply([
                .session(commit(gone, user: "eve", texts: ["delivered", "pending"])), .session(commit(gone2, user: "eve", texts: ["x"])),
                .session(commit(kept, user: "bob", texts: ["bob's"])), .session(commit(elsewhere, user: "eve", texts: ["other endpoint"])),
                .audit(AuditEntry(keyName: "ops", action: .notify, urlToken: "demo", sessionId: "g1", userId: "eve", outputId: "out_x")),
                .audit(AuditEntry(keyName: "ops", action: .notify, urlToken: "demo", sessionId: "k1", userId: "bob")),
            ])
            let outputs = try await store.undeliveredOutputs().filter { $0.output.session == gone }.map(\.output.id)
            let attempt = DeliveryAttempt(
                outputId: outputs[0], number: 1, startedAt: Timestamp(milliseconds: 5_000), durationMilliseconds: 3, statusCode: 200, error: nil,
                responseBody: "ok")
            try await store.apply([.delivery(DeliveryUpdate(outputId: outputs[0], status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: attempt))])
            // The session of eve's that was ended earlier keeps an undelivered output: erased too.
            try await store.apply([.deleteSession(gone2)])

            let erasure = Erasure(urlToken: "demo", userId: "eve", sessions: [gone])
            try await store.apply([.erase(erasure)])
            #expect(erasure.counts == ErasureCounts(sessions: 1, inputs: 1, outputs: 3, undelivered: 2, attempts: 1))

            #expect(try await store.session(gone) == nil)
            #expect(try await store.sessions(SessionQuery(urlToken: "demo", userId: "eve")).isEmpty)
            #expect(try await store.transcript(gone, limit: 10).isEmpty)
            #expect(try await store.delivery(outputId: outputs[0]) == nil)
            #expect(try await store.attempts(outputId: outputs[0]).isEmpty)
            #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo")).map(\.output.userId) == ["bob"])
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["bob's", "other endpoint"])
            // Another endpoint's user of the same id is another user.
            #expect(try await store.session(elsewhere) != nil)
            #expect(try await store.session(kept) != nil)
            // Audit entries about eve keep what happened, not whom it was about.
            let audit = try await store.auditEntries(before: nil, limit: 10)
            #expect(audit.map(\.targetErased) == [false, true])
            #expect(audit[1].userId == nil && audit[1].sessionId == nil && audit[1].outputId == nil)
            #expect(audit[1].action == .notify && audit[1].keyName == "ops" && audit[1].urlToken == "demo")
            #expect(audit[0].userId == "bob")

            // The result of an attempt in flight during the erasure records nothing.
            let late = DeliveryAttempt(
                outputId: outputs[1], number: 1, startedAt: Timestamp(milliseconds: 6_000), durationMilliseconds: 3, statusCode: 200, error: nil,
                responseBody: "late")
            try await store.apply([.delivery(DeliveryUpdate(outputId: outputs[1], status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: late))])
            #expect(try await store.attempts(outputId: outputs[1]).isEmpty)
            #expect(try await store.delivery(outputId: outputs[1]) == nil)
            // A new session of the same id starts afresh.
            try await store.apply([.session(commit(gone, user: "eve", texts: ["new"]))])
            #expect(try await store.session(gone)?.nextSeq == 2)
        }
    }

    /// Erasure finds a user's rows however they got there: inputs they wrote in someone else's
    /// session (a channel's shared conversation), and outputs delivered after their session
    /// ended. (SQLite finds them without an index by user on inputs and outputs.)
    @Test(arguments: Fixtures.Store.allCases)
    func erasureFindsGuestInputsAndOutputsDeliveredAfterTheSessionEnded(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let group = SessionKey(urlToken: "demo", sessionId: "group")
            let ended = SessionKey(urlToken: "demo", sessionId: "ended")
            func commit(_ key: SessionKey, owner: String, writer: String, version: Int64, text: String) -> SessionCommit {
                var commit = Self.commit(key, version: version, texts: [text], seq: version)
                commit.session.userId = owner
                commit.input?.userId = writer
                commit.input?.text = text
                for index in commit.outputs.indices { commit.outputs[index].userId = owner }
                return commit
            }
            try await store.apply([
                .session(commit(group, owner: "bob", writer: "bob", version: 1, text: "bob starts")),
                .session(commit(group, owner: "bob", writer: "eve", version: 2, text: "eve joins")),
                .session(commit(ended, owner: "eve", writer: "eve", version: 1, text: "eve alone")),
            ])
            let endedOutput = try #require(try await store.undeliveredOutputs().first { $0.output.session == ended }?.output.id)
            try await store.apply([.deleteSession(ended)])
            let attempt = DeliveryAttempt(
                outputId: endedOutput, number: 1, startedAt: Timestamp(milliseconds: 5_000), durationMilliseconds: 3, statusCode: 200, error: nil,
                responseBody: "ok")
            try await store.apply([.delivery(DeliveryUpdate(outputId: endedOutput, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: attempt))])
            #expect(try await store.delivery(outputId: endedOutput)?.status == .delivered)

            let erasure = Erasure(urlToken: "demo", userId: "eve", sessions: [])
            try await store.apply([.erase(erasure)])
            #expect(erasure.counts == ErasureCounts(sessions: 0, inputs: 1, outputs: 1, undelivered: 0, attempts: 1))
            #expect(try await store.delivery(outputId: endedOutput) == nil)
            #expect(try await store.attempts(outputId: endedOutput).isEmpty)
            // Bob's conversation stays, without eve's message in it.
            let transcript = try await store.transcript(group, limit: 10)
            #expect(transcript.count == 3)
            #expect(!transcript.contains { if case .input(let input) = $0 { input.userId == "eve" } else { false } })
            #expect(try await store.session(group)?.userId == "bob")
            #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo")).map(\.output.userId) == ["bob", "bob"])
        }
    }

    /// A session id that expired and started over for another user: erasing the new user takes
    /// the session with its inputs and the outputs to them; erasing the first, what is left.
    /// (SQLite learns who used a session when it starts, so a start over an expired row must
    /// count as a start.)
    @Test(arguments: Fixtures.Store.allCases)
    func erasureFindsTheUserOfASessionThatStartedOverAfterItExpired(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let key = SessionKey(urlToken: "demo", sessionId: "reused")
            func commit(owner: String, version: Int64, startsSession: Bool, text: String) -> SessionCommit {
                var commit = Self.commit(key, version: version, texts: [text], seq: version)
                commit.startsSession = startsSession
                commit.session.userId = owner
                commit.input?.userId = owner
                for index in commit.outputs.indices { commit.outputs[index].userId = owner }
                return commit
            }
            try await store.apply([.session(commit(owner: "bob", version: 1, startsSession: true, text: "bob's"))])
            // Bob's session expired; eve's first message starts it over, over the stored row.
            try await store.apply([.session(commit(owner: "eve", version: 2, startsSession: true, text: "eve's"))])
            try await store.apply([.session(commit(owner: "eve", version: 3, startsSession: false, text: "eve's again"))])

            let eve = Erasure(urlToken: "demo", userId: "eve", sessions: [key])
            try await store.apply([.erase(eve)])
            // The session is eve's now: it goes with every input in it; of the outputs, those to eve.
            #expect(eve.counts == ErasureCounts(sessions: 1, inputs: 3, outputs: 2, undelivered: 2, attempts: 0))
            #expect(try await store.undeliveredOutputs().map(\.output.text) == ["bob's"])
            let bob = Erasure(urlToken: "demo", userId: "bob", sessions: [])
            try await store.apply([.erase(bob)])
            #expect(bob.counts == ErasureCounts(sessions: 0, inputs: 0, outputs: 1, undelivered: 1, attempts: 0))
            #expect(try await store.transcript(key, limit: 10).isEmpty)
        }
    }

    /// Thousands of old rows go in one pruning pass; the new ones stay.
    @Test(arguments: Fixtures.Store.allCases)
    func pruningTakesAllOldHistory(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let texts = (0..<4_100).map { "m\($0)" }
            try await store.apply([.session(Self.commit(version: 1, texts: texts, at: 1_000))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply(ids.map { .delivery(DeliveryUpdate(outputId: $0, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: nil)) })
            try await store.apply([.session(Self.commit(version: 2, texts: ["new"], seq: 4_101, at: 50_000))])
            try await store.prune(idempotencyCutoff: Timestamp(milliseconds: 10_000), historyCutoff: Timestamp(milliseconds: 10_000))
            #expect(try await store.deliveries(DeliveryQuery(limit: 10_000)).map(\.output.text) == ["new"])
            #expect(try await store.transcript(Self.key, limit: 10).count == 2)  // the new input and its output
        }
    }

    // MARK: Rich outputs and receipts (SPEC §12)

    /// Every field of the rich vocabulary.
    static let everyRichField = RichContent(
        quickReplies: [.init(title: "Yes", payload: "YES"), .init(title: "No")],
        buttons: [.init(title: "Track", action: .payload("TRACK")), .init(title: "Site", action: .url("https://example.com"))],
        attachments: [
            .init(type: .image, url: "https://example.com/a.png", caption: "the parcel"),
            .init(type: .file, url: "https://example.com/invoice.pdf", name: "invoice.pdf"),
        ],
        card: .init(
            title: "Order A-1", subtitle: "2 items", imageUrl: "https://example.com/card.png",
            buttons: [.init(title: "Open", action: .url("https://example.com/o/A-1"))]),
        template: .init(name: "order_update", language: "en_US", parameters: ["A-1", "3"]))

    @Test(arguments: Fixtures.Store.allCases)
    func richOutputsRoundTrip(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var commit = Self.commit(version: 1, texts: ["rich", "attachments only", "plain"])
            commit.outputs[0].rich = Self.everyRichField
            commit.outputs[1].rich = RichContent(attachments: [.init(type: .video, url: "https://example.com/v.mp4")])
            try await store.apply([.session(commit)])
            let pending = try await store.undeliveredOutputs().map(\.output)
            #expect(pending.map(\.rich) == commit.outputs.map(\.rich))
            #expect(pending.map(\.attachments) == commit.outputs.map(\.attachments))
            #expect(pending[2].rich.isEmpty && pending[2].attachments == nil)
            for output in commit.outputs {
                #expect(try await store.delivery(outputId: output.id)?.output.rich == output.rich)
            }
            #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo")).map(\.output.rich) == commit.outputs.map(\.rich))
        }
    }

    /// A channel's receipt for message `id`, reported at `at`.
    static func receipt(_ id: String, _ status: OutputStatus, at: Int64, error: String? = nil, urlToken: String = "demo") -> StoreChange {
        let receipt = OutputReceipt(status: status, at: Timestamp(milliseconds: at), error: error)
        return .status(StatusReport(urlToken: urlToken, channelMessageId: id, receipt: receipt))
    }

    /// The delivery of output `id` as the channel's message `messageId`.
    static func delivered(_ id: String, as messageId: String?) -> StoreChange {
        .delivery(DeliveryUpdate(outputId: id, status: .delivered, attempts: 1, nextAttemptAt: nil, attempt: nil, channelMessageId: messageId))
    }

    @Test(arguments: Fixtures.Store.allCases)
    func receiptsOnlyMoveAStatusForwardWhateverTheirOrderOrRepetition(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["in order", "repeated", "reversed", "one batch"]))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply(ids.enumerated().map { Self.delivered($1, as: "wamid.\($0)") })
            func stored(_ index: Int) async throws -> OutputReceipt? { try await store.delivery(outputId: ids[index])?.receipt }
            #expect(try await store.delivery(outputId: ids[0])?.outputStatus == .sent)
            #expect(try await stored(0) == nil)

            var seen: [OutputStatus] = []
            for (status, at) in [(OutputStatus.sent, 10), (.delivered, 20), (.read, 30)] {
                try await store.apply([Self.receipt("wamid.0", status, at: Int64(at))])
                seen.append(try #require(try await stored(0)).status)
            }
            #expect(seen == [.sent, .delivered, .read])

            // Each one twice, and a second `read` later: the first time a status was reached stays.
            seen = []
            let repeated: [(OutputStatus, Int64)] = [
                (.sent, 10), (.sent, 11), (.delivered, 20), (.delivered, 21), (.read, 30), (.read, 31), (.delivered, 22),
            ]
            for (status, at) in repeated {
                try await store.apply([Self.receipt("wamid.1", status, at: at)])
                seen.append(try #require(try await stored(1)).status)
            }
            #expect(seen == [.sent, .sent, .delivered, .delivered, .read, .read, .read])
            #expect(try await stored(1) == OutputReceipt(status: .read, at: Timestamp(milliseconds: 30)))

            seen = []
            for (status, at) in [(OutputStatus.read, 30), (.delivered, 20), (.sent, 10)] {
                try await store.apply([Self.receipt("wamid.2", status, at: Int64(at))])
                seen.append(try #require(try await stored(2)).status)
            }
            #expect(seen == [.read, .read, .read])
            #expect(try await stored(2) == OutputReceipt(status: .read, at: Timestamp(milliseconds: 30)))

            // All in one batch, shuffled and repeated.
            try await store.apply([
                Self.receipt("wamid.3", .delivered, at: 20), Self.receipt("wamid.3", .read, at: 30), Self.receipt("wamid.3", .sent, at: 10),
                Self.receipt("wamid.3", .read, at: 31), Self.receipt("wamid.3", .delivered, at: 21),
            ])
            #expect(try await stored(3) == OutputReceipt(status: .read, at: Timestamp(milliseconds: 30)))
            #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo")).map(\.outputStatus) == [.read, .read, .read, .read])
            // Another endpoint's message of the same id is another message.
            try await store.apply([Self.receipt("wamid.0", .failed, at: 40, urlToken: "other")])
            #expect(try await stored(0)?.status == .read)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aReceiptBeforeTheDeliveryRecordsTheMessageIdIsAppliedWhenItDoes(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["a", "b", "c"]))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            // The channel's receipts overtake the send's answer; a lower one after a higher one
            // does not lower what is kept.
            try await store.apply([Self.receipt("wamid.a", .delivered, at: 20)])
            try await store.apply([Self.receipt("wamid.a", .sent, at: 10)])
            #expect(try await store.delivery(urlToken: "demo", channelMessageId: "wamid.a") == nil)
            try await store.apply([Self.delivered(ids[0], as: "wamid.a")])
            let a = try #require(try await store.delivery(outputId: ids[0]))
            #expect(a.channelMessageId == "wamid.a")
            #expect(a.receipt == OutputReceipt(status: .delivered, at: Timestamp(milliseconds: 20)))
            try await store.apply([Self.receipt("wamid.a", .read, at: 30)])
            #expect(try await store.delivery(outputId: ids[0])?.receipt?.status == .read)

            // In one batch, the receipt first; and a failed attempt without a message id before the
            // delivery that records it.
            try await store.apply([
                Self.receipt("wamid.b", .read, at: 30),
                .delivery(
                    DeliveryUpdate(outputId: ids[1], status: .failed, attempts: 1, nextAttemptAt: Timestamp(milliseconds: 9_000), attempt: nil)),
                Self.delivered(ids[1], as: "wamid.b"),
                Self.receipt("wamid.b", .delivered, at: 20),
            ])
            #expect(try await store.delivery(outputId: ids[1])?.receipt == OutputReceipt(status: .read, at: Timestamp(milliseconds: 30)))
            // An update without a message id keeps the one recorded.
            try await store.apply([.delivery(DeliveryUpdate(outputId: ids[1], status: .delivered, attempts: 2, nextAttemptAt: nil, attempt: nil))])
            #expect(try await store.delivery(outputId: ids[1])?.channelMessageId == "wamid.b")
        }
    }

    /// A receipt for a message no output recorded is kept until history older than it is
    /// pruned.
    @Test(arguments: Fixtures.Store.allCases)
    func anEarlyReceiptIsPrunedWithHistory(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["kept", "pruned"], at: 50_000))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply([Self.receipt("wamid.kept", .read, at: 20_000), Self.receipt("wamid.pruned", .read, at: 1_000)])
            try await store.prune(idempotencyCutoff: Timestamp(milliseconds: 0), historyCutoff: Timestamp(milliseconds: 10_000))
            try await store.apply([Self.delivered(ids[0], as: "wamid.kept"), Self.delivered(ids[1], as: "wamid.pruned")])
            #expect(try await store.delivery(outputId: ids[0])?.receipt?.status == .read)
            #expect(try await store.delivery(outputId: ids[1])?.receipt == nil)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aChannelMessageIdFindsItsOutput(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["a", "b"]))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply([Self.delivered(ids[1], as: "SM123")])
            let found = try #require(try await store.delivery(urlToken: "demo", channelMessageId: "SM123"))
            #expect(found.output.id == ids[1])
            #expect(found.channelMessageId == "SM123")
            #expect(found.status == .delivered)
            #expect(try await store.delivery(urlToken: "other", channelMessageId: "SM123") == nil)
            #expect(try await store.delivery(urlToken: "demo", channelMessageId: "SM124") == nil)
            #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo")).map(\.channelMessageId) == [nil, "SM123"])
            try await store.apply([Self.receipt("SM123", .delivered, at: 20)])
            // Outputs of the same time come in either order.
            let outputs = try await store.transcript(Self.key, limit: 10).compactMap { if case .output(let record) = $0 { record } else { nil } }
            let sent = try #require(outputs.first { $0.output.id == ids[1] })
            #expect(sent.channelMessageId == "SM123")
            #expect(sent.receipt == OutputReceipt(status: .delivered, at: Timestamp(milliseconds: 20)))
            #expect(outputs.first { $0.output.id == ids[0] }?.channelMessageId == nil)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func failedBeatsEveryOtherStatus(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([.session(Self.commit(version: 1, texts: ["read, then failed", "failed early"]))])
            let ids = try await store.undeliveredOutputs().map(\.output.id)
            try await store.apply([Self.delivered(ids[0], as: "m0"), Self.receipt("m0", .read, at: 30)])
            try await store.apply([Self.receipt("m0", .failed, at: 40, error: "131047: re-engagement message")])
            for (status, at) in [(OutputStatus.read, 50), (.delivered, 60), (.sent, 70), (.failed, 80)] {
                try await store.apply([Self.receipt("m0", status, at: Int64(at))])
            }
            let failed = try #require(try await store.delivery(outputId: ids[0]))
            #expect(failed.receipt == OutputReceipt(status: .failed, at: Timestamp(milliseconds: 40), error: "131047: re-engagement message"))
            #expect(failed.outputStatus == .failed)
            #expect(failed.statusError == "131047: re-engagement message")

            try await store.apply([Self.receipt("m1", .failed, at: 10, error: "undelivered"), Self.receipt("m1", .read, at: 20)])
            try await store.apply([Self.receipt("m1", .delivered, at: 15)])
            try await store.apply([Self.delivered(ids[1], as: "m1")])
            try await store.apply([Self.receipt("m1", .read, at: 30)])
            let failedEarly = try await store.delivery(outputId: ids[1])?.receipt
            #expect(failedEarly == OutputReceipt(status: .failed, at: Timestamp(milliseconds: 10), error: "undelivered"))
        }
    }

    /// A database written before "v5: users of sessions" (when inputs and outputs had indexes
    /// by user): after the upgrade, erasure still finds all of the user's rows, the inputs they
    /// wrote in someone else's session included.
    @Test func sqliteUpgradeToUsersOfSessionsKeepsErasureComplete() async throws {
        let store = try await Self.sqliteStore(
            upgradedFrom: "v4: operators",
            rows: """
                INSERT INTO sessions (url_token, session_id, user_id, context, next_seq, created_at, updated_at, version) VALUES
                  ('demo', CAST('group' AS BLOB), CAST('bob' AS BLOB), '{}', 3, 1000, 1000, 2),
                  ('demo', CAST('own' AS BLOB), CAST('eve' AS BLOB), '{}', 2, 1000, 1000, 1);
                INSERT INTO inputs (id, url_token, session_id, user_id, text, source, received_at) VALUES
                  ('in_1', 'demo', CAST('group' AS BLOB), CAST('bob' AS BLOB), CAST('bob starts' AS BLOB), 'user', 1000),
                  ('in_2', 'demo', CAST('group' AS BLOB), CAST('eve' AS BLOB), CAST('eve joins' AS BLOB), 'user', 1001),
                  ('in_3', 'demo', CAST('own' AS BLOB), CAST('eve' AS BLOB), CAST('eve alone' AS BLOB), 'user', 1002);
                INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, created_at, status) VALUES
                  ('out_1', 'demo', CAST('group' AS BLOB), CAST('bob' AS BLOB), 1, 'output', 1000, 'delivered'),
                  ('out_2', 'demo', CAST('group' AS BLOB), CAST('bob' AS BLOB), 2, 'output', 1001, 'pending'),
                  ('out_3', 'demo', CAST('own' AS BLOB), CAST('eve' AS BLOB), 1, 'output', 1002, 'pending');
                """)
        let erasure = Erasure(urlToken: "demo", userId: "eve", sessions: [SessionKey(urlToken: "demo", sessionId: "own")])
        try await store.apply([.erase(erasure)])
        #expect(erasure.counts == ErasureCounts(sessions: 1, inputs: 2, outputs: 1, undelivered: 1, attempts: 0))
        let group = try await store.transcript(SessionKey(urlToken: "demo", sessionId: "group"), limit: 10)
        #expect(group.count == 3)
        #expect(!group.contains { if case .input(let input) = $0 { input.userId == "eve" } else { false } })
        #expect(try await store.undeliveredOutputs().map(\.output.id) == ["out_2"])
        try await store.close()
    }

    /// A database written before "v6": a session started over by another user after it expired
    /// was not noted as theirs. After the upgrade, erasing that user finds their rows.
    @Test func sqliteUpgradeNotesWhoStartedASessionOver() async throws {
        let store = try await Self.sqliteStore(
            upgradedFrom: "v5: users of sessions",
            rows: """
                INSERT INTO sessions (url_token, session_id, user_id, context, next_seq, created_at, updated_at, version) VALUES
                  ('demo', CAST('reused' AS BLOB), CAST('eve' AS BLOB), '{}', 2, 9000, 9000, 2);
                INSERT INTO user_sessions VALUES ('demo', CAST('bob' AS BLOB), CAST('reused' AS BLOB));
                INSERT INTO inputs (id, url_token, session_id, user_id, text, source, received_at) VALUES
                  ('in_1', 'demo', CAST('reused' AS BLOB), CAST('bob' AS BLOB), CAST('bob first' AS BLOB), 'user', 1000),
                  ('in_2', 'demo', CAST('reused' AS BLOB), CAST('eve' AS BLOB), CAST('eve later' AS BLOB), 'user', 9000);
                INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, created_at, status) VALUES
                  ('out_1', 'demo', CAST('reused' AS BLOB), CAST('bob' AS BLOB), 1, 'output', 1000, 'delivered'),
                  ('out_2', 'demo', CAST('reused' AS BLOB), CAST('eve' AS BLOB), 1, 'output', 9000, 'pending');
                """)
        let erasure = Erasure(urlToken: "demo", userId: "eve", sessions: [SessionKey(urlToken: "demo", sessionId: "reused")])
        try await store.apply([.erase(erasure)])
        #expect(erasure.counts == ErasureCounts(sessions: 1, inputs: 2, outputs: 1, undelivered: 1, attempts: 0))
        #expect(try await store.undeliveredOutputs().isEmpty)
        try await store.close()
    }

    /// A database written before "v7: rich outputs and receipts", when a notify's attachments
    /// were passed through as given: its outputs still load (what the vocabulary does not know
    /// is left out), and take receipts.
    @Test func sqliteUpgradeToRichOutputsKeepsOldAttachments() async throws {
        let store = try await Self.sqliteStore(
            upgradedFrom: "v6: users of sessions, again",
            rows: """
                INSERT INTO outputs (id, url_token, session_id, user_id, seq, type, created_at, status, attachments) VALUES
                  ('out_1', 'demo', CAST('s1' AS BLOB), CAST('u1' AS BLOB), 1, 'notify', 1000, 'pending', '[{"type":"image"}]'),
                  ('out_2', 'demo', CAST('s1' AS BLOB), CAST('u1' AS BLOB), 2, 'notify', 1000, 'pending',
                    '[{"type":"image","url":"https://example.com/a.png","caption":"hi"}]'),
                  ('out_3', 'demo', CAST('s1' AS BLOB), CAST('u1' AS BLOB), 3, 'output', 1000, 'pending', NULL);
                """)
        let outputs = try await store.undeliveredOutputs().map(\.output)
        #expect(outputs.map(\.id) == ["out_1", "out_2", "out_3"])
        #expect(outputs[0].rich.isEmpty)
        #expect(outputs[1].rich == RichContent(attachments: [.init(type: .image, url: "https://example.com/a.png", caption: "hi")]))
        #expect(outputs[2].rich.isEmpty)
        try await store.apply([Self.receipt("wamid.2", .read, at: 30), Self.delivered("out_2", as: "wamid.2")])
        #expect(try await store.delivery(urlToken: "demo", channelMessageId: "wamid.2")?.receipt?.status == .read)
        try await store.close()
    }

    /// SQLite's session index (`SQLiteSessionIndex`): after the newest indexed rows are deleted,
    /// SQLite hands their positions out again, and the rows written then are the session's
    /// before any batch indexes them (the deletion took the index's mark back with it).
    @Test func sqliteFindsRowsWrittenAfterTheNewestIndexedRowsWereDeleted() async throws {
        let path = try Fixtures.temporaryDirectory() + "/herald.sqlite"
        let store = try SQLiteStore(path: path, sessionIndexBatch: 4, logger: Logger(label: "test"))
        try await store.prepare()
        let first = SessionKey(urlToken: "demo", sessionId: "first")
        let second = SessionKey(urlToken: "demo", sessionId: "second")
        // Two inputs and two outputs: the batch indexes all four.
        try await store.apply([.session(Self.commit(first, version: 1, texts: ["a"])), .session(Self.commit(first, version: 2, texts: ["b"], seq: 2))])
        try await store.apply([.erase(Erasure(urlToken: "demo", userId: "u1", sessions: [first]))])
        try await store.apply([.session(Self.commit(second, version: 1, texts: ["again"]))])
        #expect(try await store.transcript(second, limit: 10).count == 2)
        #expect(try await store.deliveries(DeliveryQuery(urlToken: "demo", sessionId: "second")).map(\.output.text) == ["again"])
        try await store.apply([.erase(Erasure(urlToken: "demo", userId: "u1", sessions: [second]))])
        #expect(try await store.transcript(second, limit: 10).isEmpty)
        #expect(try await store.deliveries(DeliveryQuery()).isEmpty)
        try await store.close()
    }

    /// A SQLite file at schema `migration` with `rows` written by hand, then opened, and so
    /// upgraded, by the store.
    static func sqliteStore(upgradedFrom migration: String, rows: String) async throws -> SQLiteStore {
        let path = try Fixtures.temporaryDirectory() + "/herald.sqlite"
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue, upTo: migration)
        try await queue.write { db in try db.execute(sql: rows) }
        try queue.close()
        let store = try SQLiteStore(path: path, logger: Logger(label: "test"))
        try await store.prepare()
        return store
    }

    @Test func sqliteKeepsEverythingAcrossReopenAndAllowsOneProcess() async throws {
        let path = try Fixtures.temporaryDirectory() + "/herald.sqlite"
        let first = try SQLiteStore(path: path, logger: Logger(label: "test"))
        try await first.prepare()
        try await first.apply([.session(Self.commit(version: 1, texts: ["durable"]))])
        #expect(throws: (any Error).self) { try SQLiteStore(path: path, logger: Logger(label: "test")) }
        try await first.close()
        let second = try SQLiteStore(path: path, logger: Logger(label: "test"))
        try await second.prepare()
        #expect(try await second.undeliveredOutputs().map(\.output.text) == ["durable"])
        #expect(try await second.session(Self.key)?.nextSeq == 2)
        try await second.close()
    }
}
