import Foundation
import HeraldCore
import HeraldPlaybook
import HeraldTestSupport
import Testing

/// A playbook's `mock:` stand-ins for the APIs its flow calls (SPEC §13): how a request finds
/// its stand-in, how `mock:` is read, and a self-contained run answering a flow's calls.
@Suite struct CallMockTests {
    static func request(_ method: String, _ url: String) -> CallRequest {
        CallRequest(node: "lookup", method: method, url: url)
    }

    static let shipped = CallAnswer(status: 200, body: ["status": "shipped"])
    static let anyOrder = CallAnswer(status: 200, body: ["status": "unknown"])
    static let org = CallAnswer(status: 201, body: "created")

    static let mocks = CallMocks([
        CallMocks.Mock(pattern: "https://api.example.com/orders/1", method: "GET", answer: shipped),
        CallMocks.Mock(pattern: "https://api.example.com/orders/*", answer: anyOrder),
        CallMocks.Mock(pattern: "https://*.example.org/*/v1", answer: org),
        // Never reached for orders: an earlier entry matches first.
        CallMocks.Mock(pattern: "*", answer: .failed("catch-all")),
    ])

    @Test("a method before the pattern matches only that method")
    func methodPrefix() {
        #expect(Self.mocks.answer(Self.request("GET", "https://api.example.com/orders/1")) == Self.shipped)
        #expect(Self.mocks.answer(Self.request("POST", "https://api.example.com/orders/1")) == Self.anyOrder)
        #expect(Self.mocks.answer(Self.request("DELETE", "https://api.example.com/orders/1")) == Self.anyOrder)
    }

    @Test("* matches any run of characters, none included, anywhere in the pattern")
    func globs() {
        #expect(Self.mocks.answer(Self.request("GET", "https://api.example.com/orders/2")) == Self.anyOrder)
        #expect(Self.mocks.answer(Self.request("GET", "https://api.example.com/orders/")) == Self.anyOrder)
        #expect(Self.mocks.answer(Self.request("GET", "https://api.example.com/orders/2/items?x=1")) == Self.anyOrder)
        #expect(Self.mocks.answer(Self.request("PUT", "https://a.example.org/x/v1")) == Self.org)
        #expect(Self.mocks.answer(Self.request("PUT", "https://a.b.example.org/x/y/v1")) == Self.org)
        // A pattern without a trailing * must match to the end.
        #expect(Self.mocks.answer(Self.request("PUT", "https://a.example.org/x/v1/more")).error == "catch-all")
        #expect(Self.mocks.answer(Self.request("GET", "https://api.example.com/orders")).error == "catch-all")
        // Backtracking: the first * must give back what the rest needs.
        let items = CallMocks([CallMocks.Mock(pattern: "https://*.example.com/*/items", answer: Self.shipped)])
        #expect(items.answer(Self.request("GET", "https://a.example.com/x/items/items")) == Self.shipped)
        #expect(items.answer(Self.request("GET", "https://a.example.com/x/items/other")).error != nil)
        #expect(items.answer(Self.request("GET", "https://a.example.net/x/items")).error != nil)
    }

    @Test("the first matching stand-in wins, in file order")
    func firstMatchWins() {
        let first = CallAnswer(status: 200, body: ["n": 1])
        let second = CallAnswer(status: 200, body: ["n": 2])
        let ordered = CallMocks([
            CallMocks.Mock(pattern: "https://api.example.com/*", answer: first),
            CallMocks.Mock(pattern: "https://api.example.com/orders/1", answer: second),
        ])
        #expect(ordered.answer(Self.request("GET", "https://api.example.com/orders/1")) == first)
        let reversed = CallMocks(ordered.mocks.reversed())
        #expect(reversed.answer(Self.request("GET", "https://api.example.com/orders/1")) == second)
        #expect(reversed.answer(Self.request("GET", "https://api.example.com/other")) == first)
    }

    @Test("no stand-in matching is a failed call naming the request")
    func noMatch() {
        let mocks = CallMocks([CallMocks.Mock(pattern: "https://api.example.com/orders/*", method: "GET", answer: Self.shipped)])
        let answer = mocks.answer(Self.request("POST", "https://api.example.com/orders/9"))
        #expect(answer.status == nil)
        #expect(answer.body == nil)
        #expect(answer.error == "no stand-in in the playbook's mock: matches POST https://api.example.com/orders/9")
        #expect(CallMocks().answer(Self.request("GET", "https://x.example.com/")).error?.contains("GET https://x.example.com/") == true)
        #expect(mocks.answer(nil).error == "the call's output holds no request")
    }

    // MARK: Reading mock:

    @Test("mock: reads status, json, text and error: timeout, with each entry's line")
    func loadsMocks() throws {
        let playbook = try Playbook.load(
            yaml: """
                endpoint: demo
                mock:
                  "GET https://api.example.com/orders/1":
                    json: { status: shipped, items: [1, 2] }
                  "https://api.example.com/flaky/*": { status: 503 }
                  "https://api.example.com/slow/*": { error: timeout }
                  "post https://api.example.com/notes": { status: 201, text: created }
                  "*":
                    status: 404
                    json: { error: none }
                  "https://api.example.com/broken": { error: connection refused }
                conversations:
                  - steps: [{ user: hi }]
                """, file: "mocks.yaml")
        let mocks = playbook.mocks.mocks
        #expect(
            mocks.map(\.pattern) == [
                "https://api.example.com/orders/1", "https://api.example.com/flaky/*", "https://api.example.com/slow/*",
                "https://api.example.com/notes", "*", "https://api.example.com/broken",
            ])
        #expect(mocks.map(\.method) == ["GET", nil, nil, "POST", nil, nil])
        #expect(mocks.map(\.line) == [3, 5, 6, 7, 8, 11])
        #expect(
            mocks.map(\.answer) == [
                CallAnswer(status: 200, body: ["status": "shipped", "items": [1, 2]]),
                CallAnswer(status: 503, body: nil),
                CallAnswer.failed("no answer within the call's timeout (a stand-in's timeout)", attempts: 1),
                CallAnswer(status: 201, body: "created"),
                CallAnswer(status: 404, body: ["error": "none"]),
                CallAnswer.failed("connection refused", attempts: 1),
            ])
        // As loaded, they answer.
        #expect(playbook.mocks.answer(Self.request("POST", "https://api.example.com/notes")).body == "created")
        #expect(playbook.mocks.answer(Self.request("GET", "https://api.example.com/slow/1")).error?.contains("timeout") == true)
        #expect(playbook.mocks.answer(Self.request("GET", "https://elsewhere.example.com/")).status == 404)
    }

    @Test(
        "a broken mock: is an error at its line",
        arguments: [
            ("mock:\n  \"api.example.com/x\": { status: 200 }\n", 2, "mock: 'api.example.com/x' is not a URL pattern"),
            ("mock:\n  \"GET\": { status: 200 }\n", 2, "mock: 'GET' is not a URL pattern"),
            ("mock:\n  \"https://api.example.com/x\":\n    status: 200\n    body: {}\n", 4, "unknown key 'body' in mock 'https://api.example.com/x'"),
            ("mock:\n  \"https://api.example.com/x\": { status: 999 }\n", 2, "mock status: 999 is not an HTTP status"),
            ("mock:\n  \"https://api.example.com/x\": { status: ok }\n", 2, "mock status"),
            ("mock:\n  - \"https://api.example.com/x\"\n", 2, "mock must be a mapping"),
            ("mock:\n  \"https://api.example.com/x\": shipped\n", 2, "must be a mapping"),
        ] as [(String, Int, String)])
    func mockErrors(_ mock: String, _ line: Int, _ reason: String) {
        let yaml = mock + "endpoint: demo\nconversations:\n  - steps: [{ user: hi }]\n"
        let errors = Playbook.check(yaml: yaml, file: "p.yaml").errors
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.line == line, "\(errors)")
        #expect(errors.first?.description.hasPrefix("p.yaml:\(line): ") == true, "\(errors)")
        #expect(errors.first?.reason.contains(reason) == true, "\(errors)")
    }

    @Test("CallMocks.load reads the mock: section of a file, and says when there is none")
    func loadFromFile() throws {
        let mocks = try CallMocks.load(path: Fixtures.root + "/examples/playbooks/order-lookup.yaml")
        #expect(mocks.mocks.count == 4)
        #expect(mocks.answer(Self.request("GET", "https://orders.example.com/orders/123456")).body?["status"] == "shipped")
        #expect(mocks.answer(Self.request("GET", "https://orders.example.com/orders/404404")).status == 404)
        #expect(mocks.answer(Self.request("GET", "https://orders.example.com/orders/1")).error == "HTTP 503")
        // Only GETs are stood in for.
        #expect(mocks.answer(Self.request("POST", "https://orders.example.com/orders/123456")).error?.contains("no stand-in") == true)

        let path = try temporaryFile("no-mock.yaml", "endpoint: demo\nconversations: []\n")
        let error = #expect(throws: FileError.self) { try CallMocks.load(path: path) }
        #expect(error?.file == path)
        #expect(error?.reason.contains("no 'mock:' section") == true, "\(String(describing: error))")
    }

    // MARK: A self-contained run

    static let orderLookupPlaybook = Fixtures.root + "/examples/playbooks/order-lookup.yaml"

    /// Runs playbooks on an in-process Herald with examples/herald-test.yaml.
    static func run(_ playbooks: [Playbook]) async throws -> [PlaybookResult] {
        try await InProcessDriver.run(configuration: try PlaybookFixtures.examplesConfiguration(), logger: TestServices.logger) { driver in
            var results: [PlaybookResult] = []
            for playbook in playbooks { results.append(await PlaybookRunner(driver: driver).run(playbook)) }
            return results
        }
    }

    @Test("order-lookup.yaml passes in process, every call answered by its stand-in")
    func orderLookupPasses() async throws {
        let playbook = try Playbook.load(path: Self.orderLookupPlaybook)
        #expect(playbook.conversations.count == 4)
        let result = try #require(try await Self.run([playbook]).first)
        #expect(result.failed == 0, "\(result.report)")
        #expect(result.passed == playbook.conversations.count, "\(result.report)")
    }

    @Test("a stand-in answering 503 makes the flow say its onError text; a timeout and no stand-in too")
    func failingStandIns() async throws {
        let sorry = "Sorry, I can't look orders up right now. Please try again in a few minutes."
        func playbook(_ mock: String, expectError: String, file: String) throws -> Playbook {
            try Playbook.load(
                yaml: """
                    endpoint: order-lookup
                    \(mock)
                    conversations:
                      - name: the API fails
                        steps:
                          - user: hi
                            expect: "Which order should I look up? Send me its number (6 digits, like 123456)."
                          - user: "123456"
                            expect:
                              - text: \(sorry)
                                data: { error: "\(expectError)" }
                    """, file: file)
        }
        let playbooks = [
            try playbook("mock:\n  \"https://orders.example.com/*\": { status: 503 }", expectError: "HTTP 503", file: "503.yaml"),
            try playbook(
                "mock:\n  \"GET https://orders.example.com/orders/*\": { error: timeout }",
                expectError: "no answer within the call's timeout (a stand-in's timeout)", file: "timeout.yaml"),
            // A stand-in for POST only: the flow's GET finds none.
            try playbook(
                "mock:\n  \"POST https://orders.example.com/*\": { json: {} }",
                expectError: "no stand-in in the playbook's mock: matches GET https://orders.example.com/orders/123456", file: "none.yaml"),
        ]
        let results = try await Self.run(playbooks)
        #expect(results.count == 3)
        for result in results {
            #expect(result.failed == 0, "\(result.report)")
            #expect(result.passed == 1, "\(result.report)")
        }
    }

    @Test("the stand-in's answer is what the flow sees: expecting success against a 503 fails")
    func wrongExpectationFails() async throws {
        let playbook = try Playbook.load(
            yaml: """
                endpoint: order-lookup
                mock:
                  "https://orders.example.com/*": { status: 503 }
                conversations:
                  - name: expects the shipped order
                    steps:
                      - user: hi
                      - user: "123456"
                        expect: Order 123456 is shipped, expected on 2026-12-05.
                """, file: "wrong.yaml")
        let result = try #require(try await Self.run([playbook]).first)
        #expect(result.failed == 1)
        #expect(result.report.contains("Sorry, I can't look orders up right now."), "\(result.report)")
    }
}
