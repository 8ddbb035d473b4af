import Foundation
import HeraldCore
import HeraldHTTP
import HeraldSQLite
import HeraldTestSupport
import Logging
import Testing

/// SPEC §11 over real HTTP with a real receiver: key scopes on every admin route, the audit
/// log, handover, and erasing a user on SQLite and PostgreSQL.
@Suite struct OperatorTests {
    static let keys: [AdminScope: String] = [.read: "key-for-reading", .operate: "key-for-operating", .admin: "key-for-everything"]

    /// One plain key (every scope, named `key-1`) and one named key per scope.
    static func configuration(_ url: String, storage: StorageLocation = .memory) throws -> HeraldConfiguration {
        var configuration = try Fixtures.configuration(url: url, storage: storage)
        configuration.adminKeys =
            [AdminKey(plain: Secret(Fixtures.adminKey), position: 0)]
            + AdminScope.allCases.map { AdminKey(name: "\($0)-bot", key: Secret(keys[$0]!), scope: $0) }
        return configuration
    }

    static let admin = ["X-API-Key": Fixtures.adminKey]

    struct Route: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        /// The path as the OpenAPI document writes it.
        var template: String
        var scope: AdminScope
        var description: String { "\(method) \(path) (\(scope))" }
    }

    /// Every admin route and the scope it needs.
    static let routes: [Route] = [
        Route(method: "POST", path: "/inject/demo", template: "/inject/{urlToken}", scope: .operate),
        Route(method: "POST", path: "/notify/demo", template: "/notify/{urlToken}", scope: .operate),
        Route(method: "GET", path: "/admin/v1/me", template: "/admin/v1/me", scope: .read),
        Route(method: "GET", path: "/admin/v1/endpoints", template: "/admin/v1/endpoints", scope: .read),
        Route(method: "GET", path: "/admin/v1/endpoints/demo", template: "/admin/v1/endpoints/{urlToken}", scope: .read),
        Route(method: "POST", path: "/admin/v1/endpoints/demo/resume", template: "/admin/v1/endpoints/{urlToken}/resume", scope: .admin),
        Route(method: "PUT", path: "/admin/v1/endpoints/demo", template: "/admin/v1/endpoints/{urlToken}", scope: .admin),
        Route(method: "DELETE", path: "/admin/v1/endpoints/demo", template: "/admin/v1/endpoints/{urlToken}", scope: .admin),
        Route(method: "GET", path: "/admin/v1/flows", template: "/admin/v1/flows", scope: .read),
        Route(method: "POST", path: "/admin/v1/flows", template: "/admin/v1/flows", scope: .admin),
        Route(method: "POST", path: "/admin/v1/reload", template: "/admin/v1/reload", scope: .admin),
        Route(method: "GET", path: "/admin/v1/sessions", template: "/admin/v1/sessions", scope: .read),
        Route(method: "GET", path: "/admin/v1/sessions/demo/s1", template: "/admin/v1/sessions/{urlToken}/{sessionId}", scope: .read),
        Route(method: "DELETE", path: "/admin/v1/sessions/demo/s1", template: "/admin/v1/sessions/{urlToken}/{sessionId}", scope: .admin),
        Route(
            method: "POST", path: "/admin/v1/sessions/demo/s1/handover", template: "/admin/v1/sessions/{urlToken}/{sessionId}/handover",
            scope: .operate),
        Route(
            method: "POST", path: "/admin/v1/sessions/demo/s1/reply", template: "/admin/v1/sessions/{urlToken}/{sessionId}/reply", scope: .operate),
        Route(
            method: "POST", path: "/admin/v1/sessions/demo/s1/handback", template: "/admin/v1/sessions/{urlToken}/{sessionId}/handback",
            scope: .operate),
        Route(method: "DELETE", path: "/admin/v1/users/demo/u", template: "/admin/v1/users/{urlToken}/{userId}", scope: .admin),
        Route(method: "POST", path: "/admin/v1/notify", template: "/admin/v1/notify", scope: .admin),
        Route(method: "GET", path: "/admin/v1/deliveries", template: "/admin/v1/deliveries", scope: .read),
        Route(method: "GET", path: "/admin/v1/deliveries/out_x", template: "/admin/v1/deliveries/{outputId}", scope: .read),
        Route(method: "POST", path: "/admin/v1/deliveries/out_x/retry", template: "/admin/v1/deliveries/{outputId}/retry", scope: .admin),
        Route(method: "GET", path: "/admin/v1/audit", template: "/admin/v1/audit", scope: .admin),
        Route(method: "GET", path: "/admin/v1/scheduled", template: "/admin/v1/scheduled", scope: .read),
        Route(method: "DELETE", path: "/admin/v1/scheduled/sch_x", template: "/admin/v1/scheduled/{id}", scope: .operate),
        Route(method: "GET", path: "/metrics", template: "/metrics", scope: .read),
    ]

    // MARK: Scopes

    @Test(arguments: routes)
    func everyRouteNeedsItsScope(_ route: Route) async throws {
        try await TestServices.withHerald({ try Self.configuration($0) }) { herald in
            #expect(try await herald.send("demo", user: "u", session: "s1", text: "hi").status == 202)
            let body = Array(#"{"userId":"u","sessionId":"s1","text":"x","urlToken":"demo","operator":"ada"}"#.utf8)
            for scope in AdminScope.allCases {
                let headers = ["Content-Type": "application/json", "X-API-Key": Self.keys[scope]!]
                let answer = try await HTTP.request(
                    route.method, herald.baseURL + route.path, body: route.method == "POST" ? body : nil, headers: headers)
                if scope >= route.scope {
                    #expect(answer.status != 403 && answer.status != 401, "\(scope) key on \(route): \(answer.status) \(answer.text)")
                } else {
                    #expect(answer.status == 403, "\(scope) key on \(route)")
                    let message = try #require(answer.errorMessage)
                    #expect(message.hasPrefix("X-API-Key: key '\(scope)-bot' lacks scope '\(route.scope)'"), "\(message)")
                    #expect(!message.contains(Self.keys[scope]!))
                }
            }
            let none = try await HTTP.request(route.method, herald.baseURL + route.path, body: route.method == "POST" ? body : nil)
            #expect(none.status == 401)
        }
    }

    @Test func theOpenAPIDocumentStatesEachRoutesScope() async throws {
        try await TestServices.withHerald({ try Self.configuration($0) }) { herald in
            let document = try await HTTP.get(herald.baseURL + "/openapi.yaml").text
            // paths → method → x-herald-scope, read line by line (2, 4 and 6 spaces of indent).
            var scopes: [String: String] = [:]
            var path = ""
            var method = ""
            for line in document.split(separator: "\n") {
                if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
                if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                    method = line.trimmingCharacters(in: .whitespaces).uppercased()
                }
                if line.hasPrefix("      x-herald-scope: ") { scopes["\(method.dropLast()) \(path)"] = String(line.dropFirst(22)) }
            }
            for route in Self.routes {
                #expect(scopes["\(route.method) \(route.template)"] == route.scope.rawValue, "\(route)")
            }
            #expect(scopes.count == Self.routes.count, "scopes in the document: \(scopes.keys.sorted())")
        }
    }

    @Test func theOpenAPIDocumentListsEveryAuditAction() throws {
        let document = try String(contentsOfFile: Fixtures.root + "/Sources/HeraldHTTP/Resources/openapi.yaml", encoding: .utf8)
        let line = try #require(document.split(separator: "\n").first { $0.contains("action: {type: string, enum: [") })
        let listed = line.split(separator: "[")[1].split(separator: "]")[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(listed == AuditAction.all.map(\.rawValue))
    }

    @Test func meNamesTheKeyAndItsScopesAndPlainKeysHaveThemAll() async throws {
        try await TestServices.withHerald({ try Self.configuration($0) }) { herald in
            let plain = try await HTTP.get(herald.baseURL + "/admin/v1/me", headers: Self.admin)
            #expect(plain.json == ["name": "key-1", "scopes": ["read", "operate", "admin"]])
            let reader = try await HTTP.get(herald.baseURL + "/admin/v1/me", headers: ["X-API-Key": Self.keys[.read]!])
            #expect(reader.json == ["name": "read-bot", "scopes": ["read"]])
            let operatorKey = try await HTTP.get(herald.baseURL + "/admin/v1/me", headers: ["X-API-Key": Self.keys[.operate]!])
            #expect(operatorKey.json["scopes"] == ["read", "operate"])
        }
    }

    // MARK: Audit

    @Test func everyChangingActionIsAuditedWithTheKeysNameNewestFirst() async throws {
        let capture = LogCapture()
        try await TestServices.withHerald(logger: capture.logger(), { try Self.configuration($0) }) { herald in
            let operate = ["X-API-Key": Self.keys[.operate]!]
            #expect(try await herald.send("demo", user: "u1", session: "s1", text: "hi").status == 202)
            #expect(try await herald.post("/inject/demo", json: #"{"userId":"u1","sessionId":"s1","text":"i"}"#, headers: operate).status == 202)
            #expect(try await herald.post("/notify/demo", json: #"{"userId":"u1","sessionId":"s1","text":"n"}"#, headers: operate).status == 202)
            let base = "/admin/v1/sessions/demo/s1"
            #expect(try await herald.post(base + "/handover", json: #"{"operator":"ada"}"#, headers: operate).status == 200)
            #expect(try await herald.post(base + "/reply", json: #"{"operator":"ada","text":"r"}"#, headers: operate).status == 202)
            #expect(try await herald.post(base + "/handback", json: "", headers: operate).status == 200)
            #expect(try await herald.post("/admin/v1/notify", json: #"{"urlToken":"demo","text":"b"}"#, headers: Self.admin).status == 200)
            #expect(try await herald.post("/admin/v1/endpoints/demo/resume", json: "", headers: Self.admin).status == 200)
            let outputs = try await herald.receiver.waitForAccepted(5)
            let retried = try await herald.post("/admin/v1/deliveries/\(outputs[0].webhookId!)/retry", json: "", headers: Self.admin)
            #expect(retried.status == 409)  // delivered: refused, and a refusal changes nothing
            #expect(try await HTTP.request("DELETE", herald.baseURL + base, headers: Self.admin).status == 204)
            #expect(try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/users/demo/u1", headers: Self.admin).status == 200)
            // Reading changes nothing.
            #expect(try await HTTP.get(herald.baseURL + "/admin/v1/sessions", headers: Self.admin).status == 200)

            var entries: [JSON] = []
            var cursor: String?
            repeat {
                let page = try await HTTP.get(
                    herald.baseURL + "/admin/v1/audit?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: Self.admin)
                #expect(page.status == 200)
                entries += page.json["entries"]?.arrayValue ?? []
                cursor = page.json["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(
                entries.map { $0["action"]?.stringValue } == [
                    "erase", "deleteSession", "resume", "broadcast", "handback", "reply", "handover", "notify", "inject",
                ])
            #expect(entries.map { $0["keyName"]?.stringValue } == ["key-1", "key-1", "key-1", "key-1"] + Array(repeating: "operate-bot", count: 5))
            let sequences = entries.compactMap { $0["sequence"]?.numberValue }
            #expect(sequences == sequences.sorted(by: >))
            #expect(entries[0]["userId"] == "u1")
            #expect(entries[0]["detail"]?.stringValue?.hasPrefix("sessions 0") == true)
            #expect(entries[2]["urlToken"] == "demo")
            #expect(entries[3]["detail"] == "notified 1")
            // The user was erased: what was done to them stays, whom it was done to does not.
            for entry in entries[1...] where entry["action"] != "resume" && entry["action"] != "broadcast" {
                #expect(entry["targetErased"] == true, "\(entry)")
                #expect(entry["sessionId"] == .null && entry["userId"] == .null)
            }
            let bad = try await HTTP.get(herald.baseURL + "/admin/v1/audit?cursor=abc", headers: Self.admin)
            #expect(bad.status == 400)
            #expect(bad.errorMessage?.hasPrefix("cursor") == true)
            let all = try await HTTP.get(herald.baseURL + "/admin/v1/audit", headers: Self.admin).text
            for key in Array(Self.keys.values) + [Fixtures.adminKey] {
                #expect(!all.contains(key))
                for line in capture.all { #expect(!line.contains(key), "log line contains a key: \(line)") }
            }
        }
    }

    // MARK: Handover

    /// The operators' webhook is a second path on the same real receiver.
    static func handoverConfiguration(_ url: String, idleTimeout: Duration? = nil, storage: StorageLocation = .memory) throws -> HeraldConfiguration {
        var configuration = try configuration(url, storage: storage)
        configuration.endpoints[0].handover = HandoverSettings(
            webhook: WebhookSettings(url: url + "/operators", signingSecret: Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
            idleTimeout: idleTimeout)
        return configuration
    }

    @Test func anOperatorTakesOverRepliesAndHandsBack() async throws {
        try await TestServices.withHerald({ try Self.handoverConfiguration($0) }) { herald in
            let operate = ["X-API-Key": Self.keys[.operate]!]
            let base = "/admin/v1/sessions/demo/conv-7"
            #expect(try await herald.send("demo", user: "u1", session: "conv-7", text: "hi").status == 202)

            let handover = try await herald.post(base + "/handover", json: #"{"operator":"ada"}"#, headers: operate)
            #expect(handover.status == 200)
            #expect(handover.json["mode"] == "operator")
            #expect(handover.json["operator"] == "ada")
            let shown = try await HTTP.get(herald.baseURL + base, headers: operate)
            #expect(shown.json["mode"] == "operator")
            #expect(shown.json["operator"] == "ada")
            #expect(shown.json["operatorSince"]?.stringValue != nil)
            let listed = try await HTTP.get(herald.baseURL + "/admin/v1/sessions", headers: operate)
            #expect(listed.json["sessions"]?[0]?["mode"] == "operator")

            // The user's message is recorded and answered 202, but the flow does not run.
            let held = try await herald.send("demo", user: "u1", session: "conv-7", text: "I need a human")
            #expect(held.status == 202)
            #expect(held.json["inputId"]?.stringValue?.hasPrefix("in_") == true)
            let waited = try await herald.send("demo", user: "u1", session: "conv-7", text: "hello?", query: "?wait=true")
            #expect(waited.json["outputs"]?.arrayValue?.map { $0["type"] } == ["userMessage"])

            let reply = try await herald.post(base + "/reply", json: #"{"operator":"ada","text":"Hi, Ada here.","data":{"k":1}}"#, headers: operate)
            #expect(reply.status == 202)
            let other = try await herald.post(base + "/reply", json: #"{"operator":"bob","text":"me too"}"#, headers: operate)
            #expect(other.status == 409)
            #expect(other.errorMessage?.hasPrefix("operator") == true)
            let steal = try await herald.post(base + "/handover", json: #"{"operator":"bob"}"#, headers: operate)
            #expect(steal.status == 409)

            let back = try await herald.post(base + "/handback", json: #"{"inject":{"text":"back to the bot"}}"#, headers: operate)
            #expect(back.status == 200)
            #expect(back.json["mode"] == "flow")
            #expect(back.json["inputId"]?.stringValue?.hasPrefix("in_") == true)
            #expect(try await herald.send("demo", user: "u1", session: "conv-7", text: "bye").status == 202)
            let after = try await herald.post(base + "/reply", json: #"{"operator":"ada","text":"late"}"#, headers: operate)
            #expect(after.status == 409)
            #expect(after.errorMessage?.hasPrefix("mode") == true)

            // The user's channel got the flow's outputs and Ada's reply, in seq order; the
            // operators' webhook got the user's messages, signed with its own secret.
            let arrived = try await herald.receiver.waitForAccepted(6)
            let toUser = arrived.filter { $0.path == "/hook" }
            let toOperators = arrived.filter { $0.path == "/hook/operators" }
            #expect(toUser.map(\.seq) == [1, 4, 5, 6])
            #expect(toUser.map(\.text) == ["You said: hi", "Hi, Ada here.", "You said: back to the bot", "You said: bye"])
            #expect(toUser.map { $0.body["source"]?.stringValue } == ["user", "operator", "inject", "user"])
            #expect(toUser[1].body["operator"] == "ada")
            #expect(toUser[1].body["data"] == ["k": 1])
            #expect(toUser[1].webhookId == reply.json["outputId"]?.stringValue)
            #expect(toOperators.map(\.seq) == [2, 3])
            #expect(toOperators.map(\.text) == ["I need a human", "hello?"])
            #expect(toOperators.map { $0.body["type"]?.stringValue } == ["userMessage", "userMessage"])
            #expect(toOperators[0].body["operator"] == "ada")
            #expect(toOperators[0].body["inputId"] == held.json["inputId"])
            #expect(toOperators[0].headers["webhook-signature"]?.hasPrefix("v1,") == true)
            #expect(toUser[0].headers["webhook-signature"] == nil)

            let transcript = try await HTTP.get(herald.baseURL + base, headers: operate)
            #expect(transcript.json["mode"] == "flow")
            #expect(transcript.json["operator"] == .null)
            let messages = try #require(transcript.json["messages"]?.arrayValue)
            #expect(
                messages.filter { $0["kind"] == "input" }.map { $0["text"]?.stringValue } == [
                    "hi", "I need a human", "hello?", "back to the bot", "bye",
                ])
            #expect(messages.first { $0["source"] == "operator" }?["operator"] == "ada")
        }
    }

    @Test func handoverRoutesCheckTheirInput() async throws {
        try await TestServices.withHerald({ try Self.handoverConfiguration($0) }) { herald in
            #expect(try await herald.send("demo", user: "u1", session: "s", text: "hi").status == 202)
            let base = "/admin/v1/sessions/demo/s"
            let cases: [(String, String, String)] = [
                ("/handover", "{}", "operator"), ("/handover", #"{"operator":""}"#, "operator"), ("/handover", #"{"operator":5}"#, "operator"),
                ("/handover", #"{"operator":"a\u0007b"}"#, "operator"), ("/handover", "[1]", "body"), ("/handover", "{", "body"),
                ("/reply", #"{"operator":"ada"}"#, "text, data"), ("/reply", #"{"text":"x"}"#, "operator"),
                ("/reply", #"{"operator":"ada","data":[1]}"#, "data"), ("/handback", #"{"inject":{"data":"x"}}"#, "inject.data"),
                ("/handback", #"{"inject":"x"}"#, "inject"), ("/handback", #"{"inject":{}}"#, "inject.text, inject.data"),
            ]
            for (path, body, field) in cases {
                let answer = try await herald.post(base + path, json: body, headers: Self.admin)
                #expect(answer.status == 400, "\(path) \(body)")
                #expect(answer.errorMessage?.hasPrefix(field) == true, "\(path) \(body): \(answer.errorMessage ?? "")")
            }
            let unknown = try await herald.post("/admin/v1/sessions/demo/nope/handover", json: #"{"operator":"ada"}"#, headers: Self.admin)
            #expect(unknown.status == 404)
            let endpoint = try await herald.post("/admin/v1/sessions/nope/s/handover", json: #"{"operator":"ada"}"#, headers: Self.admin)
            #expect(endpoint.status == 404)
            let notTaken = try await herald.post(base + "/handback", json: "", headers: Self.admin)
            #expect(notTaken.status == 409)
        }
    }

    @Test func anIdleOperatorHandsTheSessionBackByItself() async throws {
        let clock = ManualClock()
        try await TestServices.withHerald(clock: HeraldClock(clock, startingAt: .now())) {
            try Self.handoverConfiguration($0, idleTimeout: .seconds(600))
        } _: { herald in
            #expect(try await herald.send("demo", user: "u1", session: "s", text: "hi").status == 202)
            #expect(try await herald.post("/admin/v1/sessions/demo/s/handover", json: #"{"operator":"ada"}"#, headers: Self.admin).status == 200)
            let registry = herald.herald.registry
            // Herald's clock: nine minutes on, nothing happens; eleven, it hands back.
            clock.advance(by: .seconds(540))
            #expect(await herald.herald.handoverTimeout.sweep().isEmpty)
            #expect(try await registry.session(SessionKey(urlToken: "demo", sessionId: "s"))?.mode == .operator)
            clock.advance(by: .seconds(120))
            #expect(await herald.herald.handoverTimeout.sweep() == [SessionKey(urlToken: "demo", sessionId: "s")])
            #expect(try await registry.session(SessionKey(urlToken: "demo", sessionId: "s"))?.mode == .flow)
            // The flow answers again.
            #expect(try await herald.send("demo", user: "u1", session: "s", text: "anyone?").status == 202)
            let arrived = try await herald.receiver.waitForAccepted(2)
            #expect(arrived.map(\.text) == ["You said: hi", "You said: anyone?"])
            let audit = try await HTTP.get(herald.baseURL + "/admin/v1/audit", headers: Self.admin)
            #expect(audit.json["entries"]?[0]?["keyName"] == "herald")
            #expect(audit.json["entries"]?[0]?["action"] == "handback")
            #expect(audit.json["entries"]?[0]?["detail"]?.stringValue?.hasPrefix("idle timeout") == true)
        }
    }

    // MARK: Erasure

    @Test(arguments: ["sqlite", "postgres"])
    func erasingAUserLeavesNothingOfThemAndSendsNothingMore(_ kind: String) async throws {
        let storage: StorageLocation =
            kind == "sqlite"
            ? .sqlite(path: try Fixtures.temporaryDirectory() + "/herald.sqlite") : .postgres(url: Secret(try PostgresTestDatabase.create()))
        let user = "erase-me-7f3a"
        // The webhook is slow for the user's first output and fails for the rest, until erased.
        let receiver = TestReceiver { request, _ in
            guard request.body["userId"]?.stringValue == user else { return .init() }
            return request.text == "You said: first" ? .init(status: 200, delay: .milliseconds(3000)) : .init(status: 503)
        }
        try await TestServices.withHerald(receiver: receiver, { try Self.configuration($0, storage: storage) }) { herald in
            #expect(try await herald.send("demo", user: user, session: "a", text: "first").status == 202)
            #expect(try await herald.send("demo", user: user, session: "a", text: "second").status == 202)
            #expect(try await herald.send("demo", user: user, session: "b", text: "third").status == 202)
            #expect(try await herald.send("demo", user: "keeper", session: "k", text: "stays").status == 202)
            #expect(
                try await herald.post("/notify/demo", json: #"{"userId":"\#(user)","sessionId":"b","text":"notified"}"#, headers: Self.admin).status
                    == 202)
            // In flight: the first output is at the webhook, the third failing and retrying.
            try await receiver.wait { received in
                received.contains { $0.text == "You said: first" } && received.contains { $0.text == "You said: third" }
            }
            let erased = try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/users/demo/\(user)", headers: Self.admin)
            #expect(erased.status == 200, "\(erased.text)")
            #expect(erased.json["erased"]?["sessions"] == 2)
            #expect(erased.json["erased"]?["inputs"] == 3)
            #expect(erased.json["erased"]?["outputs"] == 4)
            #expect((erased.json["erased"]?["undelivered"]?.numberValue ?? 0) >= 3)
            #expect((erased.json["erased"]?["attempts"]?.numberValue ?? 0) >= 0)
            let seen = receiver.all.filter { $0.body["userId"]?.stringValue == user }.count

            // Nothing more of the user goes out, though the webhook answers 200 from now on.
            receiver.setBehavior { _, _ in .init() }
            try await Task.sleep(for: .milliseconds(3500))
            let sentAfter = receiver.all.filter { $0.body["userId"]?.stringValue == user }
            #expect(sentAfter.count == seen, "sent after the erasure: \(sentAfter.dropFirst(seen).map(\.text))")
            // Attempted before the erasure they may have been (and failed); accepted, never.
            #expect(!receiver.accepted.contains { $0.text == "You said: second" || $0.text == "notified" })
            try await receiver.wait { $0.contains { $0.text == "You said: stays" && $0.status == 200 } }

            // Nothing of the user is listed or shown.
            var shown: [String] = []
            for path in [
                "/admin/v1/sessions", "/admin/v1/sessions?userId=\(user)", "/admin/v1/deliveries", "/admin/v1/deliveries?status=pending",
                "/admin/v1/deliveries?status=failed", "/admin/v1/deliveries?status=dead", "/metrics",
            ] {
                let answer = try await HTTP.get(herald.baseURL + path, headers: Self.admin)
                #expect(answer.status == 200)
                shown.append(answer.text)
            }
            for text in shown { #expect(!text.contains(user)) }
            #expect(try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/a", headers: Self.admin).status == 404)
            #expect(try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/k", headers: Self.admin).status == 200)
            // The audit log keeps the erasure, naming the user, and nothing else about them.
            let audit = try await HTTP.get(herald.baseURL + "/admin/v1/audit", headers: Self.admin).json["entries"]?.arrayValue ?? []
            #expect(audit.map { $0["action"]?.stringValue } == ["erase", "notify"])
            #expect(audit[0]["userId"]?.stringValue == user)
            #expect(audit[1]["targetErased"] == true && audit[1]["userId"] == .null && audit[1]["sessionId"] == .null)
            // Erasing again finds nothing.
            let again = try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/users/demo/\(user)", headers: Self.admin)
            #expect(again.json["erased"]?["outputs"] == 0)
            // The user may come back: a new conversation starts afresh.
            #expect(try await herald.send("demo", user: user, session: "a", text: "hello again").status == 202)
            try await receiver.wait { $0.contains { $0.text == "You said: hello again" && $0.seq == 1 } }
        }
        // Nothing stayed in the SQLite file either (opened once Herald let go of it).
        if case .sqlite(let path) = storage {
            let store = try SQLiteStore(path: path, logger: Logger(label: "test"))
            try await store.prepare()
            let outputs = try await store.deliveries(DeliveryQuery(limit: 1000))
            #expect(outputs.filter { $0.output.userId == user }.map(\.output.text) == ["You said: hello again"])
            #expect(try await store.undeliveredOutputs().isEmpty)
            try await store.close()
        }
    }

    /// A session id that expired and was started over by another user belongs to that user: an
    /// erasure of them takes it with their messages and the answers to them (on SQLite, whose
    /// erasure finds a user's rows through the sessions they started).
    @Test(arguments: ["sqlite", "postgres"])
    func erasureTakesASessionThatAnotherUserStartedOverAfterItExpired(_ kind: String) async throws {
        let storage: StorageLocation =
            kind == "sqlite"
            ? .sqlite(path: try Fixtures.temporaryDirectory() + "/herald.sqlite") : .postgres(url: Secret(try PostgresTestDatabase.create()))
        let receiver = TestReceiver()
        let configure = { @Sendable (url: String) throws -> HeraldConfiguration in
            var configuration = try Self.configuration(url, storage: storage)
            configuration.endpoints[0].sessionTTL = .seconds(1)
            return configuration
        }
        try await TestServices.withHerald(receiver: receiver, configure) { herald in
            #expect(try await herald.send("demo", user: "first-owner", session: "shared-id", text: "mine").status == 202)
            try await receiver.wait { $0.contains { $0.text == "You said: mine" } }
            try await Task.sleep(for: .milliseconds(1200))  // past the session's TTL
            #expect(try await herald.send("demo", user: "second-owner", session: "shared-id", text: "now mine").status == 202)
            try await receiver.wait { $0.contains { $0.text == "You said: now mine" } }

            let erased = try await HTTP.request("DELETE", herald.baseURL + "/admin/v1/users/demo/second-owner", headers: Self.admin)
            #expect(erased.status == 200, "\(erased.text)")
            #expect(erased.json["erased"]?["sessions"] == 1)
            #expect(erased.json["erased"]?["outputs"] == 1)
            let deliveries = try await HTTP.get(herald.baseURL + "/admin/v1/deliveries", headers: Self.admin)
            #expect(!deliveries.text.contains("second-owner"))
            #expect(deliveries.text.contains("first-owner"))
        }
    }
}
