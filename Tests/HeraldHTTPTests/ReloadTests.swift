import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Synchronization
import Testing

/// Change without a restart (SPEC §14): `POST /admin/v1/reload` re-reads the config file and
/// its flow files, all or nothing, while messages keep flowing; sessions keep their flow
/// version. Real HTTP over 127.0.0.1, real receiver, every store.
@Suite struct ReloadTests {
    /// An echo flow whose answers say which version made them.
    static func echo(_ label: String) -> String {
        """
        name: echo
        nodes:
          - say: "\(label): {{ input.text }}"
        """
    }

    /// A flow that asks for a name, then greets: the prompt and the greeting say the version.
    static func greet(_ label: String) -> String {
        """
        name: greet
        nodes:
          - id: name
            ask: "\(label): what is your name?"
            into: context.name
          - say: "\(label): hello {{ context.name }}"
        """
    }

    /// Starts Herald on the config file in `directory` (written by `write` with the receiver's
    /// URL), and runs `body`.
    static func withHerald<T: Sendable>(
        _ directory: ConfigDirectory, receiver: TestReceiver = TestReceiver(), clock: HeraldClock = .system,
        write: @escaping @Sendable (String) throws -> Void, _ body: @Sendable (TestHerald) async throws -> T
    ) async throws -> T {
        try await TestServices.withHerald(
            receiver: receiver, clock: clock,
            { url in
                try write(url)
                return try directory.load()
            }, body)
    }

    /// The echo flow answering "`prefix`: …", and a `demo` endpoint on it posting to `url`.
    static func writeEcho(saying prefix: String, storage: StorageLocation, url: String, to directory: ConfigDirectory) throws {
        try directory.write("flows/echo.yaml", echo(prefix))
        try directory.write("herald.yaml", ConfigDirectory.config(storage: storage, endpoints: ConfigDirectory.endpoint("demo", flow: "echo.yaml", url: url)))
    }

    static func reload(_ herald: TestHerald) async throws -> HTTPResult {
        try await herald.admin("POST", "/admin/v1/reload")
    }

    @Test(arguments: Fixtures.Store.allCases)
    func messagesFlowWithoutFailureLossOrRepeatDuring20Reloads(_ kind: Fixtures.Store) async throws {
        let directory = try ConfigDirectory()
        let storage = try kind.location()
        try await Self.withHerald(
            directory,
            write: { url in
                try Self.writeEcho(saying: "v0", storage: storage, url: url, to: directory)
            }
        ) { herald in
            let sessions = 8
            let perSession = 30
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for session in 0..<sessions {
                    group.addTask {
                        // Each session's messages one after another (their order is the session's);
                        // the sessions side by side.
                        var statuses: [Int] = []
                        for message in 0..<perSession {
                            let response = try await herald.send("demo", user: "u\(session)", session: "s\(session)", text: "m\(message)")
                            statuses.append(response.status)
                            try await Task.sleep(for: .milliseconds(5))
                        }
                        return statuses
                    }
                }
                group.addTask {
                    for round in 1...20 {
                        try directory.write("flows/echo.yaml", Self.echo("v\(round)"))
                        let answer = try await Self.reload(herald)
                        #expect(answer.status == 200, "\(answer.text)")
                        #expect(answer.json["flows"]?[0]?["changed"] == true)
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    return []
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(statuses.allSatisfy { (200..<300).contains($0) }, "statuses: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            #expect(statuses.count == sessions * perSession)
            let delivered = try await herald.receiver.waitForAccepted(sessions * perSession, timeout: .seconds(60))
            try await Task.sleep(for: .milliseconds(300))
            let all = herald.receiver.accepted
            // Once each: no Webhook-Id twice, none missing.
            #expect(Set(all.compactMap(\.webhookId)).count == all.count)
            #expect(all.count == sessions * perSession)
            #expect(delivered.count == sessions * perSession)
            // In order per session: seq 1, 2, 3 … and the texts in the order they were sent.
            for session in 0..<sessions {
                let mine = all.filter { $0.sessionId == "s\(session)" }
                #expect(mine.compactMap(\.seq) == Array(1...perSession))
                let sent = mine.compactMap { $0.text?.split(separator: " ").last.map(String.init) }
                #expect(sent == (0..<perSession).map { "m\($0)" })
            }
            // Every output names the version that made it; more than one was in use.
            let versions = Set(all.compactMap { $0.body["flowVersion"]?.stringValue })
            #expect(versions.count > 1)
            #expect(versions.allSatisfy { $0.count == 16 })
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aBrokenReloadNamesEveryProblemWithFileAndLineAndTheOldFlowAnswers(_ kind: Fixtures.Store) async throws {
        let directory = try ConfigDirectory()
        let storage = try kind.location()
        try await Self.withHerald(
            directory,
            write: { url in
                try Self.writeEcho(saying: "old", storage: storage, url: url, to: directory)
            }
        ) { herald in
            let before = try await herald.send("demo", session: "s1", text: "one", query: "?wait=true")
            #expect(before.json["outputs"]?[0]?["text"] == "old: one")
            let oldVersion = try #require(before.json["outputs"]?[0]?["flowVersion"]?.stringValue)

            // Two broken nodes (line 4: an unknown kind; line 6: a jump to nowhere), and a new
            // endpoint with a typo in its section: every problem is named, nothing changes.
            try directory.write(
                "flows/echo.yaml",
                """
                name: echo
                nodes:
                  - say: "new: {{ input.text }}"
                  - shout: "loud"
                  - id: jump
                    goto: nowhere
                """)
            let config = try String(contentsOfFile: directory.configFile, encoding: .utf8)
            try directory.write(
                "herald.yaml",
                config + "\n" + """
                      - urlToken: second
                        flow: flows/echo.yaml
                        webhok: {url: "http://127.0.0.1:1/hook"}
                    """)
            let answer = try await Self.reload(herald)
            #expect(answer.status == 422)
            let errors = answer.json["error"]?["errors"]?.arrayValue ?? []
            let texts = errors.compactMap { $0["text"]?.stringValue }
            let flowFile = directory.path + "/flows/echo.yaml"
            #expect(texts.contains { $0.hasPrefix(flowFile + ":4:") && $0.contains("shout") }, "\(texts)")
            #expect(texts.contains { $0.hasPrefix(flowFile + ":6:") && $0.contains("nowhere") }, "\(texts)")
            #expect(texts.contains { $0.hasPrefix(directory.configFile + ":") && $0.contains("webhok") }, "\(texts)")
            #expect(errors.allSatisfy { $0["line"]?.numberValue != nil })
            #expect(answer.errorMessage?.contains("unchanged") == true)

            // The old flow still answers, on the old version; no endpoint was added.
            let after = try await herald.send("demo", session: "s2", text: "two", query: "?wait=true")
            #expect(after.status == 200)
            #expect(after.json["outputs"]?[0]?["text"] == "old: two")
            #expect(after.json["outputs"]?[0]?["flowVersion"] == .string(oldVersion))
            #expect(try await herald.send("second", session: "s3", text: "x").status == 404)

            // Fixed: the reload goes through, says what changed, and is in the audit log.
            try directory.write("flows/echo.yaml", Self.echo("new"))
            try directory.write("herald.yaml", config)
            let fixed = try await Self.reload(herald)
            #expect(fixed.status == 200, "\(fixed.text)")
            #expect(fixed.json["flows"]?[0]?["urlToken"] == "demo")
            #expect(fixed.json["flows"]?[0]?["changed"] == true)
            #expect(fixed.json["flows"]?[0]?["flowVersion"] == .string(Flow.version(of: Self.echo("new"))))
            #expect(fixed.json["endpoints"]?["reloaded"] == ["demo"])
            #expect(try await herald.send("demo", session: "s4", text: "three", query: "?wait=true").json["outputs"]?[0]?["text"] == "new: three")
            let audit = try await herald.admin("GET", "/admin/v1/audit")
            #expect(audit.json["entries"]?[0]?["action"] == "reload")
            #expect(audit.json["entries"]?[0]?["keyName"] == "key-1")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func aSessionAtAnAskFinishesOnItsVersionWhileANewSessionGetsTheNewOne(_ kind: Fixtures.Store) async throws {
        let directory = try ConfigDirectory()
        let storage = try kind.location()
        let write: @Sendable (String) throws -> Void = { url in
            try directory.write(
                "herald.yaml", ConfigDirectory.config(storage: storage, endpoints: ConfigDirectory.endpoint("demo", flow: "greet.yaml", url: url)))
        }
        try directory.write("flows/greet.yaml", Self.greet("v1"))
        let v1 = Flow.version(of: Self.greet("v1"))
        let v2 = Flow.version(of: Self.greet("v2"))
        let v3 = Flow.version(of: Self.greet("v3"))
        try await Self.withHerald(directory, write: write) { herald in
            let asked = try await herald.send("demo", session: "old", text: "hi", query: "?wait=true")
            #expect(asked.json["outputs"]?[0]?["text"] == "v1: what is your name?")
            #expect(asked.json["outputs"]?[0]?["flowVersion"] == .string(v1))
            // Waiting at the ask when the flow changes.
            try directory.write("flows/greet.yaml", Self.greet("v2"))
            #expect(try await Self.reload(herald).status == 200)

            let fresh = try await herald.send("demo", session: "new", text: "hi", query: "?wait=true")
            #expect(fresh.json["outputs"]?[0]?["text"] == "v2: what is your name?")
            #expect(fresh.json["outputs"]?[0]?["flowVersion"] == .string(v2))

            let answered = try await herald.send("demo", session: "old", text: "Ada", query: "?wait=true")
            #expect(answered.json["outputs"]?[0]?["text"] == "v1: hello Ada")
            #expect(answered.json["outputs"]?[0]?["flowVersion"] == .string(v1))
            // Through with v1: its next run starts on the current version.
            let again = try await herald.send("demo", session: "old", text: "hi again", query: "?wait=true")
            #expect(again.json["outputs"]?[0]?["text"] == "v2: what is your name?")

            // The admin view and the webhook name the version.
            let shown = try await herald.admin("GET", "/admin/v1/sessions/demo/new")
            #expect(shown.json["flowVersion"] == .string(v2))
            #expect(shown.json["messages"]?.arrayValue?.last?["flowVersion"] == .string(v2))
            let delivered = try await herald.receiver.waitForAccepted(4)
            #expect(delivered.map { $0.body["flowVersion"] } == [.string(v1), .string(v2), .string(v1), .string(v2)])
        }
        guard kind != .memory else { return }

        // Across a restart: sessions wait at v1's and v2's asks, Herald stops, the file moves on
        // to v3 while it is down. The new process never read v1 or v2: it finds them in the store.
        try directory.write("flows/greet.yaml", Self.greet("v1"))
        try await Self.withHerald(directory, write: write) { herald in
            let asked = try await herald.send("demo", session: "across", text: "hi", query: "?wait=true")
            #expect(asked.json["outputs"]?[0]?["text"] == "v1: what is your name?")
            try directory.write("flows/greet.yaml", Self.greet("v2"))
            #expect(try await Self.reload(herald).status == 200)
            let waiting = try await herald.send("demo", session: "across-2", text: "hi", query: "?wait=true")
            #expect(waiting.json["outputs"]?[0]?["text"] == "v2: what is your name?")
        }
        try directory.write("flows/greet.yaml", Self.greet("v3"))
        try await Self.withHerald(directory, write: write) { herald in
            let answeredV1 = try await herald.send("demo", session: "across", text: "Grace", query: "?wait=true")
            #expect(answeredV1.json["outputs"]?[0]?["text"] == "v1: hello Grace")
            let answeredV2 = try await herald.send("demo", session: "across-2", text: "Linus", query: "?wait=true")
            #expect(answeredV2.json["outputs"]?[0]?["text"] == "v2: hello Linus")
            #expect(answeredV2.json["outputs"]?[0]?["flowVersion"] == .string(v2))
            let fresh = try await herald.send("demo", session: "after-restart", text: "hi", query: "?wait=true")
            #expect(fresh.json["outputs"]?[0]?["text"] == "v3: what is your name?")
            #expect(fresh.json["outputs"]?[0]?["flowVersion"] == .string(v3))
        }
    }

    /// A flow that asks with a 10-minute timeout, and a reminder an hour later: each step says
    /// the version that ran it.
    static func nudge(_ label: String) -> String {
        """
        name: nudge
        nodes:
          - id: start
            if: input.source == "inject"
            then: remind
          - id: name
            ask: "\(label): your name?"
            into: context.name
            timeout: {after: 10m, goto: late}
          - say: "\(label): thanks"
          - schedule: {key: later, after: 1h, text: "reminder"}
          - end: true
          - id: late
            say: "\(label): too late"
          - end: true
          - id: remind
            say: "\(label): reminded"
        """
    }

    @Test(arguments: [Fixtures.Store.memory, .sqlite])
    func anAskTimeoutAndAReminderFireOnTheVersionThatSetThem(_ kind: Fixtures.Store) async throws {
        let directory = try ConfigDirectory()
        let storage = try kind.location()
        let clock = ManualClock()
        try directory.write("flows/nudge.yaml", Self.nudge("v1"))
        try await Self.withHerald(
            directory, clock: HeraldClock(clock, startingAt: .now()),
            write: { url in
                try directory.write(
                    "herald.yaml", ConfigDirectory.config(storage: storage, endpoints: ConfigDirectory.endpoint("demo", flow: "nudge.yaml", url: url))
                )
            }
        ) { herald in
            // One session waits at the ask (its timeout pending), another has a reminder pending.
            #expect(try await herald.send("demo", session: "waits", text: "hi", query: "?wait=true").json["outputs"]?[0]?["text"] == "v1: your name?")
            _ = try await herald.send("demo", session: "reminded", text: "hi")
            let thanks = try await herald.send("demo", session: "reminded", text: "Ada", query: "?wait=true")
            #expect(thanks.json["outputs"]?[0]?["text"] == "v1: thanks")

            try directory.write("flows/nudge.yaml", Self.nudge("v2"))
            #expect(try await Self.reload(herald).status == 200)

            clock.advance(by: .seconds(600))
            await herald.herald.scheduler.fireDue()
            clock.advance(by: .seconds(3600))
            await herald.herald.scheduler.fireDue()
            let delivered = try await herald.receiver.wait { received in
                received.contains { $0.text == "v1: too late" } && received.contains { $0.text == "v1: reminded" }
            }
            #expect(!delivered.contains { $0.text?.hasPrefix("v2") == true })
            // Both are through with v1: their next message starts on v2.
            #expect(
                try await herald.send("demo", session: "reminded", text: "hi", query: "?wait=true").json["outputs"]?[0]?["text"] == "v2: your name?")
        }
    }

    @Test func aReloadChangesKeysEndpointsAndSaysWhatNeedsARestart() async throws {
        let directory = try ConfigDirectory()
        let receiverURL = Mutex("")
        try await Self.withHerald(
            directory,
            write: { url in
                receiverURL.withLock { $0 = url }
                try Self.writeEcho(saying: "one", storage: .memory, url: url, to: directory)
            }
        ) { herald in
            let url = receiverURL.withLock { $0 }
            // A new key (the old one goes), a second endpoint instead of the first, and a listen
            // address that only a restart can apply.
            try directory.write(
                "herald.yaml",
                ConfigDirectory.config(
                    storage: .memory, adminKeys: ["rotated-key"], listen: "127.0.0.1:1",
                    endpoints: ConfigDirectory.endpoint("other", flow: "echo.yaml", url: url)))
            let answer = try await Self.reload(herald)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json["endpoints"]?["added"] == ["other"])
            #expect(answer.json["endpoints"]?["removed"] == ["demo"])
            let restart = answer.json["needsRestart"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(restart.count == 1)
            #expect(restart.first?.hasPrefix("listen: 127.0.0.1:0 → 127.0.0.1:1") == true)

            #expect(try await herald.send("demo", session: "s", text: "x").status == 404)
            #expect(try await herald.send("other", session: "s", text: "x").status == 202)
            #expect(try await herald.admin("GET", "/admin/v1/endpoints").status == 401)
            let rotated = try await HTTP.request("GET", herald.adminURL + "/admin/v1/endpoints", headers: ["X-API-Key": "rotated-key"])
            #expect(rotated.status == 200)
            #expect(rotated.json["endpoints"]?.arrayValue?.compactMap { $0["urlToken"]?.stringValue } == ["other"])
        }
    }

    @Test func reloadNeedsTheAdminScopeAndAConfigFile() async throws {
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.adminKeys.append(AdminKey(name: "ops", key: Secret("operate-key"), scope: .operate))
            return configuration
        }) { herald in
            let denied = try await HTTP.request("POST", herald.adminURL + "/admin/v1/reload", headers: ["X-API-Key": "operate-key"])
            #expect(denied.status == 403)
            // Built in code: nothing to read.
            let answer = try await Self.reload(herald)
            #expect(answer.status == 409)
            #expect(answer.errorMessage?.hasPrefix("reload:") == true)
        }
    }
}
