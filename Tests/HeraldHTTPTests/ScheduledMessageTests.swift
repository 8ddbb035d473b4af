import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Scheduled notify and inject over real HTTP, with a real receiver, on every store (SPEC §10).
/// Herald's time is a ``ManualClock`` here, so "ten minutes later" takes no time.
@Suite struct ScheduledMessageTests {
    /// Runs `body` with Herald on `store`, on a manual clock.
    static func withHerald(
        _ store: Fixtures.Store, flow: String = "echo", configure: @escaping @Sendable (inout HeraldConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestHerald, ManualClock) async throws -> Void
    ) async throws {
        let clock = ManualClock()
        let storage = try store.location()
        try await TestServices.withHerald(clock: HeraldClock(clock, startingAt: .now())) { url in
            var configuration = try Fixtures.configuration(url: url, flow: flow, storage: storage)
            configure(&configuration)
            return configuration
        } _: { herald in
            try await body(herald, clock)
        }
    }

    /// Deliveries of the schedule `id` so far.
    static func deliveries(_ herald: TestHerald, _ id: String) -> [TestReceiver.Received] {
        herald.receiver.accepted.filter { $0.body["scheduledId"]?.stringValue == id }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aScheduledNotifyIsSentOnceWhenDueAndNotBefore(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store) { herald, clock in
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            try await herald.receiver.waitForAccepted(1)
            let now = herald.herald.registry.clock.now()
            let scheduled = try await herald.admin(
                "POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"How was it?","delay":"10m","key":"survey"}"#)
            #expect(scheduled.status == 202, "\(scheduled.text)")
            let id = try #require(scheduled.json["scheduledId"]?.stringValue)
            #expect(id.hasPrefix("sch_"))
            #expect(scheduled.json["sessionId"] == "s1")
            #expect(scheduled.json["dueAt"]?.stringValue == now.adding(.seconds(600)).iso8601)

            let listed = try await herald.admin("GET", "/admin/v1/scheduled?urlToken=demo&sessionId=s1").json["scheduled"]?.arrayValue ?? []
            #expect(listed.count == 1)
            #expect(listed.first?["id"]?.stringValue == id)
            #expect(listed.first?["key"] == "survey")
            #expect(listed.first?["kind"] == "notify")
            #expect(listed.first?["text"] == "How was it?")
            let session = try await herald.admin("GET", "/admin/v1/sessions/demo/s1").json
            #expect(session["scheduled"]?.arrayValue?.first?["id"]?.stringValue == id)

            clock.advance(by: .seconds(599))
            await herald.herald.scheduler.fireDue()
            #expect(Self.deliveries(herald, id).isEmpty)

            clock.advance(by: .seconds(1))
            await herald.herald.scheduler.fireDue()
            let delivered = try await herald.receiver.wait { _ in !Self.deliveries(herald, id).isEmpty }
            let output = try #require(delivered.last { $0.body["scheduledId"]?.stringValue == id }?.body)
            #expect(output["type"] == "notify")
            #expect(output["text"] == "How was it?")
            #expect(output["seq"] == 2)  // after the echo of "hi", in the session's one stream
            #expect(output["late"] == nil)

            // Gone once fired: not listed, not cancellable, never sent twice.
            #expect(try await herald.admin("GET", "/admin/v1/scheduled?urlToken=demo").json["scheduled"]?.arrayValue?.isEmpty == true)
            #expect(try await herald.admin("DELETE", "/admin/v1/scheduled/\(id)").status == 404)
            clock.advance(by: .seconds(3600))
            await herald.herald.scheduler.fireDue()
            try await Task.sleep(for: .milliseconds(200))
            #expect(Self.deliveries(herald, id).count == 1)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func keysReplaceCancelOnUserMessageDropsAndDeleteCancels(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store) { herald, clock in
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            let first = try await herald.admin("POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"first","delay":"1h","key":"k"}"#)
            let second = try await herald.admin("POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"second","delay":"2h","key":"k"}"#)
            let dropped = try await herald.admin(
                "POST", "/inject/demo", json: #"{"userId":"u1","sessionId":"s1","text":"nudge","delay":"30m","cancelOnUserMessage":true}"#)
            let cancelled = try await herald.admin("POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"cancelled","delay":"3h"}"#)
            for response in [first, second, dropped, cancelled] { #expect(response.status == 202, "\(response.text)") }
            var ids: [String] {
                get async throws {
                    (try await herald.admin("GET", "/admin/v1/scheduled?urlToken=demo&sessionId=s1").json["scheduled"]?.arrayValue ?? [])
                        .compactMap { $0["id"]?.stringValue }
                }
            }
            // The same key replaced the first one; listed earliest first.
            #expect(try await ids == [dropped, second, cancelled].compactMap { $0.json["scheduledId"]?.stringValue })

            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "I'm here").status == 202)
            #expect(try await ids == [second, cancelled].compactMap { $0.json["scheduledId"]?.stringValue })

            let cancelledId = try #require(cancelled.json["scheduledId"]?.stringValue)
            #expect(try await herald.admin("DELETE", "/admin/v1/scheduled/\(cancelledId)").status == 204)
            #expect(try await herald.admin("DELETE", "/admin/v1/scheduled/\(cancelledId)").status == 404)

            clock.advance(by: .seconds(86400))
            await herald.herald.scheduler.fireDue()
            try await herald.receiver.wait { $0.contains { $0.text == "second" } }
            try await Task.sleep(for: .milliseconds(200))
            let texts = herald.receiver.accepted.compactMap(\.text)
            #expect(texts == ["You said: hi", "You said: I'm here", "second"])

            // Scheduling and cancelling are admin actions: audited under the key's name.
            let audit = try await herald.admin("GET", "/admin/v1/audit").json["entries"]?.arrayValue ?? []
            #expect(audit.filter { $0["action"] == "schedule" }.count == 4)
            let cancel = try #require(audit.first { $0["action"] == "cancelSchedule" })
            #expect(cancel["sessionId"] == "s1")
            #expect(cancel["detail"]?.stringValue == "notify \(cancelledId)")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aScheduledInjectRunsThroughTheFlowAndALateOneSaysSo(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store) { herald, clock in
            let inOneHour = herald.herald.registry.clock.now().adding(.seconds(3600))
            let inject = try await herald.admin(
                "POST", "/inject/demo",
                json: #"{"userId":"u1","sessionId":"s1","text":"tick","createSession":true,"sendAt":"\#(inOneHour.iso8601)"}"#)
            #expect(inject.status == 202, "\(inject.text)")
            #expect(inject.json["dueAt"]?.stringValue == inOneHour.iso8601)
            let id = try #require(inject.json["scheduledId"]?.stringValue)
            // Herald was "down" 5 minutes past the time: it fires at once, marked late.
            clock.advance(by: .seconds(3600 + 300))
            await herald.herald.scheduler.fireDue()
            let received = try await herald.receiver.waitForAccepted(1)
            let output = received[0].body
            #expect(output["text"] == "You said: tick")
            #expect(output["source"] == "inject")
            #expect(output["scheduledId"]?.stringValue == id)
            #expect(output["late"] == true)
            let transcript = try await herald.admin("GET", "/admin/v1/sessions/demo/s1").json["messages"]?.arrayValue ?? []
            #expect(transcript.first?["kind"] == "input")
            #expect(transcript.first?["source"] == "inject")
            #expect(transcript.last?["scheduledId"]?.stringValue == id)
            #expect(transcript.last?["late"] == true)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aPendingScheduleKeepsItsSessionFromExpiring(_ store: Fixtures.Store) async throws {
        try await Self.withHerald(store, configure: { $0.endpoints[0].sessionTTL = .seconds(1800) }) { herald, clock in
            #expect(try await herald.send("demo", user: "u1", session: "kept", text: "hi").status == 202)
            #expect(try await herald.send("demo", user: "u1", session: "idle", text: "hi").status == 202)
            #expect(try await herald.admin("POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"kept","text":"later","delay":"2h"}"#).status == 202)
            clock.advance(by: .seconds(3600))
            await herald.herald.sweeper.sweep(now: herald.herald.registry.clock.now())
            #expect(try await herald.admin("GET", "/admin/v1/sessions/demo/kept").status == 200)
            #expect(try await herald.admin("GET", "/admin/v1/sessions/demo/idle").status == 404)
            clock.advance(by: .seconds(3600))
            await herald.herald.scheduler.fireDue()
            try await herald.receiver.wait { $0.contains { $0.text == "later" } }
        }
    }

    @Test func badTimingIsA400NamingTheField() async throws {
        try await Self.withHerald(.memory, configure: { $0.maxScheduleDelay = .seconds(86400) }) { herald, _ in
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            let past = herald.herald.registry.clock.now().adding(.seconds(-120)).iso8601
            let cases: [(body: String, query: String, field: String)] = [
                (#"{"userId":"u1","sessionId":"s1","text":"x","sendAt":"2030-01-01T00:00:00Z","delay":"1m"}"#, "", "sendAt, delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","sendAt":"\#(past)"}"#, "", "sendAt:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","sendAt":"tomorrow at nine"}"#, "", "sendAt:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","sendAt":"2030-01-01T09:00:00"}"#, "", "sendAt:"),  // no offset
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"2d"}"#, "", "delay:"),  // over maxScheduleDelay
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"ten minutes"}"#, "", "delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"600"}"#, "", "delay:"),  // a unit is required
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"1e3s"}"#, "", "delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"+10m"}"#, "", "delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"0s"}"#, "", "delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":600}"#, "", "delay:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","key":"k"}"#, "", "key:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","cancelOnUserMessage":true}"#, "", "cancelOnUserMessage:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"1m","cancelOnUserMessage":"yes"}"#, "", "cancelOnUserMessage:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"1m","key":""}"#, "", "key:"),
                (#"{"userId":"u1","sessionId":"s1","text":"x","delay":"1m"}"#, "?wait=true", "wait:"),
            ]
            for (body, query, field) in cases {
                let response = try await herald.admin("POST", "/notify/demo" + query, json: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.errorMessage?.hasPrefix(field) == true, "\(body): \(response.errorMessage ?? "-")")
            }
            let unknown = try await herald.admin("POST", "/notify/demo", json: #"{"userId":"u1","sessionId":"nobody","text":"x","delay":"1m"}"#)
            #expect(unknown.status == 404)
            #expect(try await herald.admin("GET", "/admin/v1/scheduled?sessionId=s1").status == 400)
            #expect(try await herald.admin("GET", "/admin/v1/scheduled?urlToken=nope").status == 404)
            // Nothing of the refused ones was recorded.
            #expect(try await herald.admin("GET", "/admin/v1/scheduled").json["scheduled"]?.arrayValue?.isEmpty == true)
        }
    }
}
