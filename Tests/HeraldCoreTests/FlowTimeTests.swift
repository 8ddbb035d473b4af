import Testing

@testable import HeraldCore

/// Time in flows: an `ask`'s timeout, `schedule` and `cancel` (docs/flows.md#time).
@Suite("Flow time")
struct FlowTimeTests {
    static let flow = """
        nodes:
          - id: ask-size
            ask: Which size?
            into: context.size
            timeout: { after: 10m, goto: nudge }
          - schedule:
              key: reminder
              after: 1d
              text: "size {{ context.size }}"
              data: { size: "{{ context.size }}" }
          - say: "Noted: {{ context.size }}"
          - end: true
          - id: nudge
            say: "Still there? ({{ input.source }})"
          - cancel: reminder
        """

    @Test("an ask with a timeout adds a timeout schedule, due after the timeout, naming the ask")
    func askTimeoutIsScheduled() throws {
        var conversation = Conversation(try Flow.make(Self.flow))
        let run = conversation.send("hi")
        #expect(run.waiting == FlowWait(nodeId: "ask-size"))
        guard case .add(let timeout) = run.schedules.first, run.schedules.count == 1 else {
            Issue.record("expected one added schedule, got \(run.schedules)")
            return
        }
        #expect(timeout.kind == .timeout(nodeId: "ask-size"))
        #expect(timeout.dueAt.milliseconds - timeout.createdAt.milliseconds == 600_000)
        #expect(timeout.key == nil)
    }

    @Test("a timeout goes on at its target with input.source timeout; a stale one does nothing")
    func timeoutRunsFromItsTarget() throws {
        let flow = try Flow.make(Self.flow)
        var conversation = Conversation(flow)
        conversation.send("hi")
        let input = Input(session: Fixture.key, userId: "user-42", text: nil, data: nil, source: .timeout, receivedAt: Fixture.receivedAt)
        let run = FlowEngine.timeout(flow, session: conversation.session, nodeId: "ask-size", input: input)
        #expect(run.outputs.map(\.text) == ["Still there? (timeout)"])
        #expect(run.waiting == nil)
        #expect(run.schedules == [.cancel(key: "reminder")])

        // The user answered meanwhile: the session no longer waits there.
        conversation.send("M")
        let stale = FlowEngine.timeout(flow, session: conversation.session, nodeId: "ask-size", input: input)
        #expect(stale.outputs.isEmpty)
        #expect(stale.schedules.isEmpty)
        #expect(stale.context == conversation.session.context)
    }

    @Test("schedule renders its text and data when the node runs and is due after its delay")
    func scheduleNode() throws {
        var conversation = Conversation(try Flow.make(Self.flow))
        conversation.send("hi")
        let run = conversation.send("L")
        #expect(run.outputs.map(\.text) == ["Noted: L"])
        guard case .add(let reminder) = run.schedules.first, run.schedules.count == 1 else {
            Issue.record("expected one added schedule, got \(run.schedules)")
            return
        }
        #expect(reminder.kind == .inject)
        #expect(reminder.key == "reminder")
        #expect(reminder.text == "size L")
        #expect(reminder.data == ["size": "L"])
        #expect(reminder.dueAt.milliseconds - reminder.createdAt.milliseconds == 86_400_000)
    }

    @Test("schedule at renders an RFC 3339 time; one that is not stops the run with the node's line")
    func scheduleAt() throws {
        let flow = try Flow.make(
            """
            nodes:
              - schedule:
                  at: "{{ input.text }}"
                  text: wake up
            """)
        var conversation = Conversation(flow)
        guard case .add(let schedule) = conversation.send("2026-12-24T10:00:00+01:00").schedules.first else {
            Issue.record("nothing scheduled")
            return
        }
        #expect(schedule.dueAt == Timestamp(rfc3339: "2026-12-24T09:00:00Z"))
        let bad = conversation.send("Christmas morning")
        #expect(bad.error?.contains("at: 'Christmas morning' is not an RFC 3339 time") == true)
        #expect(bad.error?.contains("test.yaml:2") == true)
        #expect(bad.schedules.isEmpty)
    }

    @Test("RFC 3339 times parse with offsets and fractions, and nothing else does", arguments: [
        ("2026-12-24T09:00:00Z", 1_798_102_800_000), ("2026-12-24t09:00:00z", 1_798_102_800_000),
        ("2026-12-24 10:30:00+01:30", 1_798_102_800_000), ("2026-12-24T09:00:00.5Z", 1_798_102_800_500),
        ("2026-12-24T09:00:00.123456Z", 1_798_102_800_123), ("1970-01-01T00:00:00Z", 0),
        ("2026-12-24T09:00:00", nil), ("2026-12-24", nil), ("2026-13-01T00:00:00Z", nil), ("2026-12-24T09:00:00.Z", nil),
        ("tomorrow", nil), ("2026-12-24T09:00:00Z trailing", nil),
    ] as [(String, Int64?)])
    func rfc3339(_ text: String, _ milliseconds: Int64?) {
        #expect(Timestamp(rfc3339: text)?.milliseconds == milliseconds)
    }

    @Test("a schedule with the same key replaces the pending one; schedules stay in dueAt order")
    func sameKeyReplaces() {
        var session = Session(key: Fixture.key, userId: "u")
        let t = { (ms: Int64) in Timestamp(milliseconds: ms) }
        session.addSchedule(Schedule(id: "a", key: "k", kind: .notify, dueAt: t(3_000), createdAt: t(0)))
        session.addSchedule(Schedule(id: "b", key: nil, kind: .notify, dueAt: t(2_000), createdAt: t(0)))
        session.addSchedule(Schedule(id: "c", key: "k", kind: .notify, dueAt: t(1_000), createdAt: t(0)))
        #expect(session.schedules.map(\.id) == ["c", "b"])
        #expect(session.nextDueAt == t(1_000))
        #expect(session.removeSchedule(id: "c")?.id == "c")
        #expect(session.removeSchedule(id: "c") == nil)
    }

    @Test("durations in the API and flows: a unit is needed for words, huge ones are refused, not a crash")
    func durations() {
        #expect(Duration(configText: "90s") == .seconds(90))
        #expect(Duration(configText: "1d") == .seconds(86400))
        #expect(Duration(configText: "1e300d") == nil)
        #expect(Duration(configText: "ten minutes") == nil)
        #expect(Duration.seconds(600).configText == "10m")
    }
}
