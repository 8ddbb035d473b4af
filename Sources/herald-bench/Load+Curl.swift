import HeraldWebhook
import Synchronization

/// The `curl` client: Herald's ``CurlWebhookClient``, one Swift task per request in flight.
struct CurlLoad: Sendable {
    let client: CurlWebhookClient
    let url: String
    let headers: [(name: String, value: String)]
    let messages: Messages

    /// `connections` senders, each sending its next message when the last one is answered.
    func closedLoop(connections: Int, duration: Duration, count: Int?) async -> LoadStats {
        let deadline = ContinuousClock.now + duration
        let numbers = MessageNumbers()
        return await withTaskGroup(of: LoadStats.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var stats = LoadStats()
                    while ContinuousClock.now < deadline {
                        let number = numbers.next()
                        if let count, number >= count { break }
                        await send(number, into: &stats)
                    }
                    return stats
                }
            }
            var total = LoadStats()
            for await stats in group { total.merge(stats) }
            return total
        }
    }

    /// Message n is due at n / rate seconds; a sender wakes every half millisecond and starts
    /// whatever is due, so the rate does not depend on how fast the server answers.
    func openLoop(rate: Double, duration: Duration, inFlight limit: Int) async -> LoadStats {
        let clock = ContinuousClock()
        let start = clock.now
        let shared = SharedStats()
        let inFlight = InFlight()
        var skipped = 0
        await withDiscardingTaskGroup { group in
            var issued = 0
            while true {
                let elapsed = start.duration(to: clock.now)
                guard elapsed < duration else { break }
                let due = Int(elapsed.seconds * rate) + 1
                while issued < due {
                    let number = issued
                    issued += 1
                    guard inFlight.enter(limit: limit) else {
                        skipped += 1
                        continue
                    }
                    group.addTask {
                        var stats = LoadStats()
                        await send(number, into: &stats)
                        inFlight.leave()
                        shared.merge(stats)
                    }
                }
                try? await Task.sleep(for: .microseconds(500))
            }
        }
        var total = shared.total
        total.skipped = skipped
        return total
    }

    /// POSTs message `number`.
    func send(_ number: Int, into stats: inout LoadStats) async {
        let request = WebhookRequest(url: url, headers: headers, body: Array(messages.body(number).utf8), timeout: .seconds(30))
        let begin = ContinuousClock.now
        stats.sent += 1
        do {
            let response = try await client.send(request)
            stats.record(status: response.status, micros: Int64(begin.duration(to: .now).microseconds)) {
                String(decoding: response.body.prefix(200), as: UTF8.self)
            }
        } catch {
            stats.record(error: error.description)
        }
    }
}

/// Hands out message numbers to the closed loop's senders.
final class MessageNumbers: Sendable {
    private let value = Atomic<Int>(0)

    func next() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// The open loop's requests in flight, capped.
final class InFlight: Sendable {
    private let value = Atomic<Int>(0)

    /// Takes a slot if fewer than `limit` are taken.
    func enter(limit: Int) -> Bool {
        if value.load(ordering: .relaxed) >= limit { return false }
        value.wrappingAdd(1, ordering: .relaxed)
        return true
    }

    func leave() {
        value.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// The open loop's counts, merged as each request finishes.
final class SharedStats: Sendable {
    private let state = Mutex(LoadStats())

    func merge(_ stats: LoadStats) {
        state.withLock { $0.merge(stats) }
    }

    var total: LoadStats { state.withLock { $0 } }
}
