import HeraldCore
import Testing

/// The outbox's scheduling on its own: per-session FIFO, per-endpoint limits, retry timers.
@Suite struct OutboxTests {
    static func output(_ urlToken: String, _ session: String, _ seq: Int64) -> Output {
        Output(
            id: "out_\(urlToken)_\(session)_\(seq)", session: SessionKey(urlToken: urlToken, sessionId: session), userId: "u", seq: seq,
            type: .output, text: "\(seq)", data: nil, inputId: nil, source: .user, timestamp: Timestamp(milliseconds: 0))
    }

    @Test func onlyTheHeadOfASessionIsInFlight() {
        let outbox = Outbox(limits: [:])
        outbox.add((1...3).map { Self.output("e", "s", $0) })
        let first = outbox.take(now: Timestamp(milliseconds: 0)).jobs
        #expect(first.map(\.output.seq) == [1])
        #expect(outbox.take(now: Timestamp(milliseconds: 0)).jobs.isEmpty)
        outbox.finish(first[0], .delivered, now: Timestamp(milliseconds: 1))
        #expect(outbox.take(now: Timestamp(milliseconds: 1)).jobs.map(\.output.seq) == [2])
    }

    @Test func aRetryHoldsItsSessionButNotOthers() {
        let outbox = Outbox(limits: [:])
        outbox.add([Self.output("e", "a", 1), Self.output("e", "a", 2), Self.output("e", "b", 1)])
        let jobs = outbox.take(now: Timestamp(milliseconds: 0)).jobs
        #expect(Set(jobs.map(\.output.id)) == ["out_e_a_1", "out_e_b_1"])
        let a1 = jobs.first { $0.output.id == "out_e_a_1" }!
        outbox.finish(a1, .retry(at: Timestamp(milliseconds: 500)), now: Timestamp(milliseconds: 10))
        let early = outbox.take(now: Timestamp(milliseconds: 100))
        #expect(early.jobs.isEmpty)
        #expect(early.nextWake == Timestamp(milliseconds: 500))
        let due = outbox.take(now: Timestamp(milliseconds: 500)).jobs
        #expect(due.map(\.output.id) == ["out_e_a_1"])
        #expect(due.first?.entry.attempts == 1)
        outbox.finish(due[0], .dead, now: Timestamp(milliseconds: 501))
        #expect(outbox.take(now: Timestamp(milliseconds: 501)).jobs.map(\.output.id) == ["out_e_a_2"])
    }

    @Test func eachEndpointHasItsOwnLimit() {
        let outbox = Outbox(limits: ["slow": 2])
        outbox.add((0..<5).map { Self.output("slow", "s\($0)", 1) } + (0..<5).map { Self.output("fast", "f\($0)", 1) })
        let jobs = outbox.take(now: Timestamp(milliseconds: 0)).jobs
        #expect(jobs.filter { $0.output.session.urlToken == "slow" }.count == 2)
        #expect(jobs.filter { $0.output.session.urlToken == "fast" }.count == 5)
        #expect(outbox.backlog()["slow"] == 5)
    }

    @Test func aPausedEndpointKeepsItsOutputsUntilResumed() {
        let outbox = Outbox(limits: [:])
        outbox.add([Self.output("e", "s", 1), Self.output("e", "s", 2)])
        let job = outbox.take(now: Timestamp(milliseconds: 0)).jobs[0]
        outbox.finish(job, .pauseEndpoint, now: Timestamp(milliseconds: 1))
        #expect(outbox.isPaused("e"))
        #expect(outbox.take(now: Timestamp(milliseconds: 2)).jobs.isEmpty)
        outbox.resume("e")
        let again = outbox.take(now: Timestamp(milliseconds: 3)).jobs
        #expect(again.map(\.output.seq) == [1])
        #expect(again.first?.entry.attempts == 1)
    }

    @Test func retryNowSkipsTheWait() {
        let outbox = Outbox(limits: [:])
        outbox.add([Self.output("e", "s", 1)])
        let job = outbox.take(now: Timestamp(milliseconds: 0)).jobs[0]
        outbox.finish(job, .retry(at: Timestamp(milliseconds: 60_000)), now: Timestamp(milliseconds: 1))
        #expect(outbox.take(now: Timestamp(milliseconds: 2)).jobs.isEmpty)
        #expect(outbox.retryNow(outputId: job.output.id, now: Timestamp(milliseconds: 3)))
        #expect(outbox.take(now: Timestamp(milliseconds: 3)).jobs.map(\.output.id) == [job.output.id])
        #expect(!outbox.retryNow(outputId: "out_unknown"))
    }

    @Test func theRetryScheduleRepeatsItsLastDelayWithBoundedJitter() {
        let policy = RetryPolicy(schedule: [.seconds(1), .seconds(5)], jitter: 0.2)
        #expect(policy.delay(after: 1, random: 0) == .seconds(1))
        #expect(policy.delay(after: 2, random: 0) == .seconds(5))
        #expect(policy.delay(after: 9, random: 0) == .seconds(5))
        #expect(policy.delay(after: 1, random: 1) == .milliseconds(1200))
        #expect(policy.delay(after: 1, random: -1) == .milliseconds(800))
        #expect(RetryPolicy().schedule.first == .seconds(1))
    }
}
