import HeraldCore
import HeraldTestSupport
import Testing

/// Schedules on every store (SPEC §10): kept with their session, found when due, listed,
/// found by id, and keeping their session from counting as idle.
@Suite struct ScheduleStoreTests {
    static func schedule(_ id: String, due: Int64, key: String? = nil, kind: Schedule.Kind = .notify, text: String? = "t") -> Schedule {
        Schedule(id: id, key: key, kind: kind, dueAt: Timestamp(milliseconds: due), createdAt: Timestamp(milliseconds: 1), text: text)
    }

    /// A session with these schedules, as a commit of version `version`.
    static func commit(_ sessionId: String, version: Int64 = 1, _ schedules: [Schedule], urlToken: String = "demo", at time: Int64 = 1_000)
        -> SessionCommit
    {
        var commit = StoreTests.commit(SessionKey(urlToken: urlToken, sessionId: sessionId), version: version, texts: [], at: time)
        commit.input = nil
        for schedule in schedules { commit.session.addSchedule(schedule) }
        return commit
    }

    @Test(arguments: Fixtures.Store.allCases)
    func schedulesRoundTripWithTheirSession(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let schedules = [
                Schedule(
                    id: "sch_1", key: "survey", kind: .notify, dueAt: Timestamp(milliseconds: 5_000), createdAt: Timestamp(milliseconds: 1_000),
                    cancelOnUserMessage: true, text: "nul \u{0} and 🎉", data: ["deep": ["list": [1, "x", nil]]],
                    rich: RichContent(quickReplies: [.init(title: "Yes")], attachments: [.init(type: .image, url: "https://example.com/a.png")])),
                Schedule(
                    id: "sch_2", key: nil, kind: .inject, dueAt: Timestamp(milliseconds: 7_000), createdAt: Timestamp(milliseconds: 1_000),
                    text: nil, data: ["reminder": true]),
                Schedule(id: "sch_3", key: nil, kind: .timeout(nodeId: "ask-size"), dueAt: Timestamp(milliseconds: 6_000), createdAt: Timestamp(milliseconds: 1_000)),
            ]
            try await store.apply([.session(Self.commit("s1", schedules))])
            let session = try #require(try await store.session(SessionKey(urlToken: "demo", sessionId: "s1")))
            #expect(session.schedules.map(\.id) == ["sch_1", "sch_3", "sch_2"])  // dueAt order
            #expect(Set(session.schedules) == Set(schedules))
            #expect(session.nextDueAt == Timestamp(milliseconds: 5_000))
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func dueSessionsAreThoseWhoseTimeHasComeEarliestFirst(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([
                .session(Self.commit("late", [Self.schedule("a", due: 3_000)])),
                .session(Self.commit("early", [Self.schedule("b", due: 1_000), Self.schedule("c", due: 9_000)])),
                .session(Self.commit("none", [])),
            ])
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 999), limit: 10).isEmpty)
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 2_000), limit: 10).map(\.sessionId) == ["early"])
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 5_000), limit: 10).map(\.sessionId) == ["early", "late"])
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 5_000), limit: 1).map(\.sessionId) == ["early"])
            // Fired: the earliest goes, the session's next time is its next schedule.
            try await store.apply([.session(Self.commit("early", version: 2, [Self.schedule("c", due: 9_000)]))])
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 5_000), limit: 10).map(\.sessionId) == ["late"])
            try await store.apply([.session(Self.commit("late", version: 2, []))])
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 5_000), limit: 10).isEmpty)
            #expect(try await store.dueSessions(before: Timestamp(milliseconds: 9_000), limit: 10).map(\.sessionId) == ["early"])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func pendingSchedulesAreListedAndFoundById(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([
                .session(Self.commit("s1", [Self.schedule("sch_a", due: 3_000, key: "k"), Self.schedule("sch_b", due: 8_000)])),
                .session(Self.commit("s2", [Self.schedule("sch_c", due: 5_000)])),
                // Data that mentions another schedule's id does not make this session its holder.
                .session(Self.commit("s3", [Schedule(id: "sch_d", key: nil, kind: .inject, dueAt: Timestamp(milliseconds: 9_000),
                    createdAt: Timestamp(milliseconds: 1), data: ["id": "sch_c"])], urlToken: "other")),
            ])
            #expect(try await store.scheduled(ScheduleQuery()).map(\.schedule.id) == ["sch_a", "sch_c", "sch_b", "sch_d"])
            #expect(try await store.scheduled(ScheduleQuery(limit: 2)).map(\.schedule.id) == ["sch_a", "sch_c"])
            #expect(try await store.scheduled(ScheduleQuery(urlToken: "demo")).map(\.schedule.id) == ["sch_a", "sch_c", "sch_b"])
            let s1 = try await store.scheduled(ScheduleQuery(urlToken: "demo", sessionId: "s1"))
            #expect(s1.map(\.schedule.id) == ["sch_a", "sch_b"])
            #expect(s1.first?.userId == "u1")
            #expect(s1.first?.schedule.key == "k")
            #expect(try await store.scheduledSession(id: "sch_c") == SessionKey(urlToken: "demo", sessionId: "s2"))
            #expect(try await store.scheduledSession(id: "sch_d") == SessionKey(urlToken: "other", sessionId: "s3"))
            #expect(try await store.scheduledSession(id: "sch_zzz") == nil)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aSessionWithAPendingScheduleIsNotIdle(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            try await store.apply([
                .session(Self.commit("waiting", [Self.schedule("x", due: 90_000)], at: 1_000)),
                .session(Self.commit("idle", [], at: 1_000)),
            ])
            let idle = try await store.idleSessions(urlToken: "demo", before: Timestamp(milliseconds: 50_000), limit: 10)
            #expect(idle.map(\.sessionId) == ["idle"])
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func outputsKeepTheScheduleTheyCameFrom(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var commit = StoreTests.commit(version: 1, texts: ["on time", "late", "plain"])
            commit.outputs[0].scheduledId = "sch_1"
            commit.outputs[1].scheduledId = "sch_2"
            commit.outputs[1].late = true
            try await store.apply([.session(commit)])
            let outputs = try await store.undeliveredOutputs().map(\.output)
            #expect(outputs.map(\.scheduledId) == ["sch_1", "sch_2", nil])
            #expect(outputs.map(\.late) == [false, true, false])
            #expect(try await store.delivery(outputId: outputs[1].id)?.output.late == true)
        }
    }
}
