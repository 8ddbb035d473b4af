import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Inject, notify and the `/admin/v1` API through real HTTP, with a real receiver.
@Suite struct AdminTests {
    static let key = ["X-API-Key": Fixtures.adminKey]

    struct Route: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
    }

    static let adminRoutes: [Route] = [
        Route(method: "POST", path: "/inject/demo"),
        Route(method: "POST", path: "/notify/demo"),
        Route(method: "GET", path: "/admin/v1/endpoints"),
        Route(method: "GET", path: "/admin/v1/endpoints/demo"),
        Route(method: "POST", path: "/admin/v1/endpoints/demo/resume"),
        Route(method: "GET", path: "/admin/v1/sessions"),
        Route(method: "GET", path: "/admin/v1/sessions/demo/s1"),
        Route(method: "DELETE", path: "/admin/v1/sessions/demo/s1"),
        Route(method: "POST", path: "/admin/v1/notify"),
        Route(method: "GET", path: "/admin/v1/deliveries"),
        Route(method: "GET", path: "/admin/v1/deliveries/out_x"),
        Route(method: "POST", path: "/admin/v1/deliveries/out_x/retry"),
        Route(method: "GET", path: "/admin/v1/scheduled"),
        Route(method: "DELETE", path: "/admin/v1/scheduled/sch_x"),
        Route(method: "GET", path: "/metrics"),
    ]

    @Test(arguments: adminRoutes)
    func everyAdminRouteNeedsTheKey(_ route: Route) async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let body = route.method == "POST" ? Array(#"{"userId":"u","sessionId":"s1","text":"x","urlToken":"demo"}"#.utf8) : nil
            let json = ["Content-Type": "application/json"]
            let missing = try await HTTP.request(route.method, herald.baseURL + route.path, body: body, headers: json)
            #expect(missing.status == 401)
            #expect(missing.errorMessage?.contains("X-API-Key") == true)
            let wrong = try await HTTP.request(
                route.method, herald.baseURL + route.path, body: body, headers: json.merging(["X-API-Key": "nope"]) { $1 })
            #expect(wrong.status == 401)
            let right = try await HTTP.request(route.method, herald.baseURL + route.path, body: body, headers: json.merging(Self.key) { $1 })
            #expect(right.status != 401)
        }
    }

    @Test func injectRunsTheFlowAndNotifyBypassesIt() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            let inject = try await herald.post("/inject/demo", json: #"{"userId":"u1","sessionId":"s1","text":"from backend"}"#, headers: Self.key)
            #expect(inject.status == 202)
            #expect(inject.json["inputId"]?.stringValue?.hasPrefix("in_") == true)
            let notify = try await herald.post(
                "/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"An agent will call you.","attachments":[{"type":"image","url":"https://example.com/x.png"}]}"#,
                headers: Self.key)
            #expect(notify.status == 202)
            #expect(notify.json["outputId"]?.stringValue?.hasPrefix("out_") == true)
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "bye").status == 202)

            let arrived = try await herald.receiver.waitForAccepted(4)
            #expect(arrived.map(\.seq) == [1, 2, 3, 4])
            #expect(arrived.map(\.text) == ["You said: hi", "You said: from backend", "An agent will call you.", "You said: bye"])
            #expect(arrived.map { $0.body["type"]?.stringValue } == ["output", "output", "notify", "output"])
            #expect(arrived.map { $0.body["source"]?.stringValue } == ["user", "inject", nil, "user"])
            #expect(arrived[2].body["attachments"] == [["type": "image", "url": "https://example.com/x.png"]])
            #expect(arrived[2].webhookId == notify.json["outputId"]?.stringValue)
        }
    }

    @Test func injectAndNotifyNeedAnExistingSession() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let inject = try await herald.post("/inject/demo", json: #"{"userId":"u","sessionId":"none","text":"x"}"#, headers: Self.key)
            #expect(inject.status == 404)
            #expect(inject.errorMessage?.hasPrefix("sessionId") == true)
            let notify = try await herald.post("/notify/demo", json: #"{"userId":"u","sessionId":"none","text":"x"}"#, headers: Self.key)
            #expect(notify.status == 404)
            let endpoint = try await herald.post("/inject/nope", json: #"{"userId":"u","sessionId":"s","text":"x"}"#, headers: Self.key)
            #expect(endpoint.status == 404)
            #expect(endpoint.errorMessage?.hasPrefix("urlToken") == true)
            let invalid = try await herald.post("/inject/demo", json: #"{"userId":"u","sessionId":"s"}"#, headers: Self.key)
            #expect(invalid.status == 400)

            let created = try await herald.post(
                "/inject/demo", json: #"{"userId":"u","sessionId":"new","text":"x","createSession":true}"#, headers: Self.key)
            #expect(created.status == 202)
            let notified = try await herald.post(
                "/notify/demo", json: #"{"userId":"u","sessionId":"new2","text":"x","createSession":true}"#, headers: Self.key)
            #expect(notified.status == 202)
            let arrived = try await herald.receiver.waitForAccepted(2)
            #expect(Set(arrived.compactMap(\.sessionId)) == ["new", "new2"])
        }
    }

    @Test func aSessionBelongsToItsUser() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            #expect(try await herald.send("demo", user: "alice", session: "s", text: "hi").status == 202)
            let other = try await herald.send("demo", user: "mallory", session: "s", text: "hi")
            #expect(other.status == 409)
            #expect(other.errorMessage?.hasPrefix("userId") == true)
            #expect(other.errorMessage?.contains("alice") == false)
        }
    }

    @Test func broadcastReachesEveryMatchingSessionAndNoOther() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for (user, session) in [("alice", "a1"), ("alice", "a2"), ("bob", "b1")] {
                #expect(try await herald.send("demo", user: user, session: session, text: "hi").status == 202)
            }
            try await herald.receiver.waitForAccepted(3)
            let toAlice = try await herald.post(
                "/admin/v1/notify", json: #"{"urlToken":"demo","userId":"alice","text":"for alice"}"#, headers: Self.key)
            #expect(toAlice.status == 200)
            #expect(toAlice.json["notified"] == 2)
            let toAll = try await herald.post("/admin/v1/notify", json: #"{"urlToken":"demo","text":"for all"}"#, headers: Self.key)
            #expect(toAll.json["notified"] == 3)
            let arrived = try await herald.receiver.waitForAccepted(8)
            let forAlice = arrived.filter { $0.text == "for alice" }.compactMap(\.sessionId)
            #expect(Set(forAlice) == ["a1", "a2"])
            #expect(forAlice.count == 2)
            #expect(Set(arrived.filter { $0.text == "for all" }.compactMap(\.sessionId)) == ["a1", "a2", "b1"])

            let unknown = try await herald.post("/admin/v1/notify", json: #"{"urlToken":"nope","text":"x"}"#, headers: Self.key)
            #expect(unknown.status == 404)
            let empty = try await herald.post("/admin/v1/notify", json: #"{"urlToken":"demo"}"#, headers: Self.key)
            #expect(empty.status == 400)
        }
    }

    @Test func anExpiredSessionAnswers404() async throws {
        // Herald's clock is a manual one: the session expires when the test says, not when a
        // busy machine gets round to it.
        let clock = ManualClock()
        try await TestServices.withHerald(clock: HeraldClock(clock, startingAt: .now())) { url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.endpoints[0].sessionTTL = .seconds(120)
            return configuration
        } _: { herald in
            #expect(try await herald.send("demo", session: "short", text: "hi").status == 202)
            clock.advance(by: .seconds(119))
            let fresh = try await herald.post("/notify/demo", json: #"{"userId":"user-1","sessionId":"short","text":"x"}"#, headers: Self.key)
            #expect(fresh.status == 202)
            clock.advance(by: .seconds(121))
            let expired = try await herald.post("/inject/demo", json: #"{"userId":"user-1","sessionId":"short","text":"x"}"#, headers: Self.key)
            #expect(expired.status == 404)
            let detail = try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/short", headers: Self.key)
            #expect(detail.status == 404)
            // A user message with the same id starts a new session.
            #expect(try await herald.send("demo", session: "short", text: "again").status == 202)
            let arrived = try await herald.receiver.waitForAccepted(3)
            #expect(arrived.last?.seq == 1)

            // The sweeper reclaims the storage of idle sessions.
            clock.advance(by: .seconds(121))
            await herald.herald.sweeper.sweep(now: herald.herald.registry.clock.now())
            #expect(try await herald.herald.store.sessions(SessionQuery()).isEmpty)
        }
    }

    @Test func sessionsListPagesShowsDetailAndDeletes() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for index in 0..<5 {
                #expect(try await herald.send("demo", user: index < 3 ? "alice" : "bob", session: "s\(index)", text: "m\(index)").status == 202)
            }
            try await herald.receiver.waitForAccepted(5)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = "?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await HTTP.get(herald.baseURL + "/admin/v1/sessions" + query, headers: Self.key)
                #expect(page.status == 200)
                seen += page.json["sessions"]?.arrayValue?.compactMap { $0["sessionId"]?.stringValue } ?? []
                cursor = page.json["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(seen == ["s0", "s1", "s2", "s3", "s4"])

            let bob = try await HTTP.get(herald.baseURL + "/admin/v1/sessions?userId=bob", headers: Self.key)
            #expect(bob.json["sessions"]?.arrayValue?.count == 2)
            let badLimit = try await HTTP.get(herald.baseURL + "/admin/v1/sessions?limit=0", headers: Self.key)
            #expect(badLimit.status == 400)
            #expect(badLimit.errorMessage?.hasPrefix("limit") == true)
            let badCursor = try await HTTP.get(herald.baseURL + "/admin/v1/sessions?cursor=%25%25", headers: Self.key)
            #expect(badCursor.status == 400)

            let detail = try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/s1", headers: Self.key)
            #expect(detail.status == 200)
            #expect(detail.json["userId"] == "alice")
            #expect(detail.json["context"] == [:])
            let messages = try #require(detail.json["messages"]?.arrayValue)
            #expect(messages.map { $0["kind"]?.stringValue } == ["input", "output"])
            #expect(messages[0]["text"] == "m1")
            #expect(messages[1]["text"] == "You said: m1")
            #expect(messages[1]["status"] == "delivered")

            let deleted = try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/sessions/demo/s1", headers: Self.key)
            #expect(deleted.status == 204)
            let gone = try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/s1", headers: Self.key)
            #expect(gone.status == 404)
            let again = try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/sessions/demo/s1", headers: Self.key)
            #expect(again.status == 404)
            let notify = try await herald.post("/notify/demo", json: #"{"userId":"alice","sessionId":"s1","text":"x"}"#, headers: Self.key)
            #expect(notify.status == 404)
        }
    }

    @Test func idempotencyKeyReplaysTheFirstAnswer() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let first = try await herald.send("demo", session: "pay", text: "pay 10", headers: ["Idempotency-Key": "k-1"])
            let second = try await herald.send("demo", session: "pay", text: "pay 10", headers: ["Idempotency-Key": "k-1"])
            #expect(first.status == 202)
            #expect(second.status == 202)
            #expect(second.json == first.json)
            #expect(second.headers["idempotent-replayed"] == "true")
            // Concurrent repeats of another key: one is processed.
            try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        try await herald.post("/notify/demo", json: #"{"userId":"user-1","sessionId":"pay","text":"receipt"}"#, headers: Self.key.merging(["Idempotency-Key": "k-2"]) { $1 })
                    }
                }
                var ids = Set<String>()
                for try await result in group {
                    #expect(result.status == 202)
                    ids.insert(result.json["outputId"]?.stringValue ?? "")
                }
                #expect(ids.count == 1)
            }
            try await herald.receiver.waitForAccepted(2)
            try await Task.sleep(for: .milliseconds(200))
            #expect(herald.receiver.all.map(\.text) == ["You said: pay 10", "receipt"])
        }
    }

    @Test func cognigyFormatSendsAIOutput() async throws {
        try await TestServices.withHerald({ url in try Fixtures.configuration(url: url) { $0.format = .cognigy } }) { herald in
            #expect(try await herald.send("demo", user: "u", session: "c", text: "hi", data: ["k": 1]).status == 202)
            let delivery = try #require(try await herald.receiver.waitForAccepted(1).first)
            #expect(delivery.body["userId"] == "u")
            #expect(delivery.body["sessionId"] == "c")
            #expect(delivery.body["AIOutput"]?["text"] == "You said: hi")
            #expect(delivery.body["AIOutput"]?["data"] == ["k": 1])
            #expect(delivery.body["AIOutput"]?["source"] == "bot")
            #expect(delivery.body["AIOutput"]?["traceId"]?.stringValue == delivery.webhookId)
        }
    }

    @Test func adminRoutesCanHaveTheirOwnListener() async throws {
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
            return configuration
        }) { herald in
            #expect(herald.adminPort != herald.port)
            #expect(try await herald.send("demo", session: "s", text: "hi").status == 202)
            let onPublic = try await herald.post("/notify/demo", json: #"{"userId":"user-1","sessionId":"s","text":"x"}"#, headers: Self.key)
            #expect(onPublic.status == 404)
            let list = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints", headers: Self.key)
            #expect(list.status == 404)
            let onAdmin = try await HTTP.request(
                "POST", herald.adminURL + "/notify/demo", body: Array(#"{"userId":"user-1","sessionId":"s","text":"x"}"#.utf8),
                headers: Self.key.merging(["Content-Type": "application/json"]) { $1 })
            #expect(onAdmin.status == 202)
            #expect(try await HTTP.get(herald.adminURL + "/healthz").status == 200)
            #expect(try await HTTP.get(herald.baseURL + "/healthz").status == 200)
        }
    }

    @Test func noSecretInAnyAdminResponseOrLogLine() async throws {
        let capture = LogCapture()
        let secrets = ["hook-secret", Fixtures.adminKey, "endpoint-key-1", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        try await TestServices.withHerald(logger: capture.logger(), { url in
            try Fixtures.configuration(url: url, apiKeys: ["endpoint-key-1"]) {
                $0.signingSecret = Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            }
        }) { herald in
            #expect(try await herald.send("demo", session: "s", text: "hi", headers: ["X-Webhook-Key": "endpoint-key-1"]).status == 202)
            _ = try await herald.send("demo", session: "s", text: "hi", headers: ["X-Webhook-Key": "wrong"])
            _ = try await herald.post("/notify/demo", json: #"{"userId":"user-1","sessionId":"s","text":"x"}"#, headers: ["X-API-Key": "wrong"])
            try await herald.receiver.waitForAccepted(1)
            var bodies: [String] = []
            for path in ["/admin/v1/endpoints", "/admin/v1/endpoints/demo", "/admin/v1/sessions", "/admin/v1/sessions/demo/s", "/admin/v1/deliveries", "/metrics"] {
                let response = try await HTTP.get(herald.baseURL + path, headers: Self.key)
                #expect(response.status == 200, "\(path)")
                bodies.append(response.text)
            }
            let endpoint = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints/demo", headers: Self.key)
            #expect(endpoint.json["webhook"]?["password"] == "***")
            #expect(endpoint.json["webhook"]?["signingSecret"] == "***")
            #expect(endpoint.json["apiKeys"] == ["***"])
            #expect(!capture.all.isEmpty)
            for secret in secrets {
                for body in bodies { #expect(!body.contains(secret), "a response contains \(secret)") }
                for line in capture.all { #expect(!line.contains(secret), "log line contains \(secret): \(line)") }
            }
        }
    }

    @Test func metricsCountInputsOutputsAndDeliveries() async throws {
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.endpoints[0].urlToken = "metrics-demo"
            return configuration
        }) { herald in
            #expect(try await herald.send("metrics-demo", session: "m", text: "hi").status == 202)
            try await herald.receiver.waitForAccepted(1)
            try await Task.sleep(for: .milliseconds(100))
            let metrics = try await HTTP.get(herald.baseURL + "/metrics", headers: ["Authorization": "Bearer \(Fixtures.adminKey)"])
            #expect(metrics.status == 200)
            let text = metrics.text
            #expect(text.contains(#"herald_inputs_total{url_token="metrics-demo",source="user"} 1"#))
            #expect(text.contains(#"herald_outputs_total{url_token="metrics-demo",type="output"} 1"#))
            #expect(text.contains(#"herald_delivery_attempts_total{url_token="metrics-demo",result="delivered"} 1"#))
            #expect(text.contains(#"herald_active_sessions{url_token="metrics-demo"} 1"#))
            #expect(text.contains(#"herald_outbox_backlog{url_token="metrics-demo"} 0"#))
            #expect(text.contains("herald_delivery_duration_seconds_bucket"))
        }
    }

    @Test func openAPIDocumentIsServed() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let document = try await HTTP.get(herald.baseURL + "/openapi.yaml")
            #expect(document.status == 200)
            #expect(document.text.hasPrefix("openapi: 3"))
            for path in ["/{urlToken}:", "/inject/{urlToken}:", "/notify/{urlToken}:", "/admin/v1/sessions:", "/admin/v1/deliveries/{outputId}/retry:"] {
                #expect(document.text.contains(path))
            }
        }
    }
}
