import Foundation
import Testing

@testable import HeraldCore

/// `call` nodes (SPEC §13): loading them, the request a run renders and the answer that resumes
/// it, the endpoint's rules for calls, and `herald flow run` answering them.
@Suite("Flow calls")
struct FlowCallTests {
    // MARK: Support

    /// A session whose flow makes calls: inputs run through ``FlowEngine/run``, answers through
    /// ``FlowEngine/answer``, with the given call rules, and the session carries each run's
    /// results forward as the registry does.
    struct CallConversation {
        let flow: Flow
        let calls: CallSettings
        var session = Session(key: Fixture.key, userId: "user-42", now: Fixture.receivedAt)
        private var clock = Fixture.receivedAt

        init(_ flow: Flow, calls: CallSettings = CallSettings(allow: ["api.example.com"])) {
            self.flow = flow
            self.calls = calls
        }

        @discardableResult
        mutating func send(_ text: String?, data: JSON? = nil) -> FlowEngine.Run {
            clock = clock.adding(milliseconds: 1000)
            let input = Input(session: session.key, userId: session.userId, text: text, data: data, source: .user, receivedAt: clock)
            return keep(FlowEngine.run(flow, session: session, input: input, calls: calls))
        }

        /// Answers the call the session waits at.
        @discardableResult
        mutating func answer(_ answer: CallAnswer) -> FlowEngine.Run {
            clock = clock.adding(milliseconds: 1000)
            let node = session.waiting?.nodeId ?? "?"
            let input = Input(
                session: session.key, userId: session.userId, text: nil, data: answer.json(node: node), source: .call, receivedAt: clock)
            return keep(FlowEngine.answer(flow, session: session, input: input, calls: calls))
        }

        private mutating func keep(_ run: FlowEngine.Run) -> FlowEngine.Run {
            session.context = run.context
            session.waiting = run.waiting
            session.nextSeq += Int64(run.outputs.count)
            return run
        }
    }

    /// The call node of a loaded flow at `index`, or `nil` when that node is not a call.
    static func callNode(_ flow: Flow, _ index: Int = 0) -> FlowNode.Call? {
        guard flow.nodes.indices.contains(index), case .call(let call) = flow.nodes[index].kind else { return nil }
        return call
    }

    // MARK: Loading

    @Test("a call node with every field loads as written")
    func loadsAFullCallNode() throws {
        let flow = try Flow.make(
            """
            nodes:
              - id: lookup
                call:
                  method: put
                  url: "https://api.example.com/orders/{{ context.id }}"
                  headers:
                    X-Trace: "t-{{ session.id }}"
                    X-Api-Key: "${API_KEY}"
                  json: { id: "{{ context.id }}", n: 2 }
                  auth: { basic: { user: bot, password: "${PASSWORD}" } }
                  timeout: 30s
                  retry: { maxAttempts: 4, delays: [100ms, 2s] }
                into: context.result.order
                onError: failed
              - say: ok
              - end: true
              - id: failed
                say: failed
            """)
        #expect(flow.nodes.map(\.id) == ["lookup", "#2", "#3", "failed"])
        #expect(flow.nodes[0].line == 2)
        // onError makes 'failed' reachable: no warning.
        #expect(flow.warnings.isEmpty, "\(flow.warnings)")
        let call = try #require(Self.callNode(flow))
        let scope = Fixture.scope(context: ["id": "A 1"])
        #expect(call.method == "PUT")
        #expect(call.url.render(in: scope) == "https://api.example.com/orders/A 1")
        #expect(call.headers.map(\.name) == ["X-Trace", "X-Api-Key"])
        #expect(call.headers.map { $0.value.render(in: scope) } == ["t-conv-7", "${API_KEY}"])
        guard case .json(let body) = call.body else {
            Issue.record("no json body: \(String(describing: call.body))")
            return
        }
        #expect(body.evaluate(in: scope) == ["id": "A 1", "n": 2])
        #expect(call.auth == .basic(user: "bot", password: "${PASSWORD}"))
        #expect(call.timeout == .seconds(30))
        #expect(call.retry == CallRetry(maxAttempts: 4, delays: [.milliseconds(100), .seconds(2)]))
        #expect(call.into == ["result", "order"])
        #expect(call.onError == "failed")
    }

    @Test("a call with only a url: POST, 10s, three attempts; a form body; retry: false is one attempt")
    func callDefaults() throws {
        let flow = try Flow.make(
            """
            nodes:
              - call:
                  url: https://api.example.com/ping
              - call:
                  url: https://api.example.com/form
                  form: { name: "{{ input.text }}", fixed: "1" }
                  auth: { bearer: "Token ${TOKEN}" }
                  retry: false
            """)
        let plain = try #require(Self.callNode(flow, 0))
        #expect(plain.method == "POST")
        #expect(plain.headers.isEmpty)
        #expect(plain.body == nil)
        #expect(plain.auth == nil)
        #expect(plain.timeout == .seconds(10))
        #expect(plain.retry == CallRetry(maxAttempts: 3, delays: [.milliseconds(200), .seconds(1)]))
        #expect(plain.into == nil)
        #expect(plain.onError == nil)

        let form = try #require(Self.callNode(flow, 1))
        guard case .form(let fields) = form.body else {
            Issue.record("no form body: \(String(describing: form.body))")
            return
        }
        #expect(fields.map(\.name) == ["name", "fixed"])
        #expect(fields.map { $0.value.render(in: Fixture.scope()) } == ["Hello World", "1"])
        #expect(form.auth == .bearer(token: "Token ${TOKEN}"))
        #expect(form.retry == CallRetry(maxAttempts: 1, delays: []))
    }

    /// A call node that must not load, the line of its error, and words its reason must have.
    struct BadCall: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var line: Int
        var reason: [String]
        /// Words the reason must not have (a secret written where a reference belongs).
        var absent: [String] = []

        var testDescription: String { name }
    }

    static let badCalls: [BadCall] = [
        BadCall(
            name: "auth.bearer without ${NAME}",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      auth: { bearer: sk-live-123 }\n", line: 4,
            reason: ["call.auth.bearer", "${NAME}"], absent: ["sk-live-123"]),
        BadCall(
            name: "auth.basic.password without ${NAME}",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      auth:\n        basic: { user: u, password: hunter2 }\n",
            line: 5, reason: ["call.auth.basic.password", "${NAME}"], absent: ["hunter2"]),
        BadCall(
            name: "GET with json",
            yaml: "nodes:\n  - call:\n      method: GET\n      url: https://api.example.com/x\n      json: { a: 1 }\n", line: 5,
            reason: ["call.json: a GET sends no body"]),
        BadCall(
            name: "json and form",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      json: { a: 1 }\n      form: { a: '1' }\n", line: 5,
            reason: ["call takes json or form, not both"]),
        BadCall(
            name: "unknown key in call",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      body: { a: 1 }\n", line: 4,
            reason: ["unknown key 'body' in call", "url, method, headers, json, form, auth, timeout, retry"]),
        BadCall(
            name: "unknown key beside call",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n    then: x\n", line: 4,
            reason: ["unknown key 'then' in a call node"]),
        BadCall(
            name: "bad method", yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      method: fetch\n", line: 4,
            reason: ["call.method", "'FETCH'", "GET, POST, PUT, PATCH, DELETE"]),
        BadCall(
            name: "timeout over 2m", yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      timeout: 3m\n", line: 4,
            reason: ["call.timeout", "at most 2m"]),
        BadCall(
            name: "timeout not a duration", yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      timeout: soon\n", line: 4,
            reason: ["call.timeout", "'soon' is not a duration"]),
        BadCall(
            name: "retry.maxAttempts 0",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      retry:\n        maxAttempts: 0\n", line: 5,
            reason: ["call.retry.maxAttempts", "from 1 to 10"]),
        BadCall(
            name: "retry unknown key", yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      retry: { tries: 2 }\n", line: 4,
            reason: ["unknown key 'tries' in call.retry"]),
        BadCall(
            name: "header mixing ${} and {{ }}",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      headers:\n        X-Key: \"${KEY}-{{ input.text }}\"\n", line: 5,
            reason: ["call.headers.X-Key", "cannot be mixed with {{ }}"]),
        BadCall(
            name: "Idempotency-Key header",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      headers:\n        Idempotency-Key: k\n", line: 5,
            reason: ["call.headers", "Herald sends Idempotency-Key itself"]),
        BadCall(
            name: "bad header name",
            yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n      headers:\n        \"X Key\": v\n", line: 5,
            reason: ["call.headers", "'X Key' is not a header name"]),
        BadCall(name: "missing url", yaml: "nodes:\n  - say: hi\n  - call: { method: GET }\n", line: 3, reason: ["call needs 'url:'"]),
        BadCall(
            name: "literal url not http", yaml: "nodes:\n  - call:\n      url: ftp://api.example.com/x\n", line: 3,
            reason: ["call.url", "'ftp://api.example.com/x' is not an http:// or https:// URL"]),
        BadCall(
            name: "literal url with user info", yaml: "nodes:\n  - call:\n      url: https://api.example.com@evil.example.org/x\n", line: 3,
            reason: ["call.url", "is not an http:// or https:// URL with a host"]),
        BadCall(
            name: "into not a context path", yaml: "nodes:\n  - call:\n      url: https://api.example.com/x\n    into: result\n", line: 4,
            reason: ["into: 'result' is not a context path"]),
        BadCall(
            name: "onError naming a missing node",
            yaml: "nodes:\n  - id: lookup\n    call:\n      url: https://api.example.com/x\n    onError: nowhere\n  - say: ok\n", line: 5,
            reason: ["node 'lookup' jumps to 'nowhere', which is not a node id in this flow"]),
    ]

    @Test("a broken call node is an error at its line naming the field", arguments: badCalls)
    func loadErrors(_ bad: BadCall) throws {
        let check = Flow.check(yaml: bad.yaml, file: "flows/calls.yaml")
        #expect(check.flow == nil)
        let error = try #require(check.errors.first, "the flow loaded")
        #expect(error.file == "flows/calls.yaml")
        #expect(error.line == bad.line, "\(error)")
        for words in bad.reason {
            #expect(error.reason.contains(words), "\(error)")
        }
        for words in bad.absent {
            #expect(!error.description.contains(words), "\(error)")
        }
        #expect(error.description.hasPrefix("flows/calls.yaml:\(bad.line): "))
    }

    // MARK: The engine

    static let lookupFlow = """
        nodes:
          - id: lookup
            call:
              method: POST
              url: "https://api.example.com/orders/{{ urlEncode(input.text) }}?user={{ session.userId }}"
              headers:
                X-Trace: "t-{{ session.id }}"
                X-Api-Key: "${API_KEY}"
                Accept: application/json
              json: { q: "{{ input.text }}", n: "{{ 1 + 1 }}", fixed: [true, null] }
              auth: { bearer: "${TOKEN}" }
              timeout: 5s
              retry: { maxAttempts: 2, delays: [300ms] }
            into: context.order
            onError: failed
          - say: "Status {{ context.order.status }}"
          - end: true
          - id: failed
            say:
              text: "Failed: {{ input.error }} (status {{ input.data.status }})"
              data: { error: "{{ input.error }}", status: "{{ input.data.status }}", source: "{{ input.source }}" }
        """

    @Test("a run that reaches a call ends with a call output holding the rendered request, and waits")
    func callEndsTheRunWithARequest() throws {
        var conversation = CallConversation(try Flow.make(Self.lookupFlow))
        let run = conversation.send("a b/c")
        #expect(run.error == nil)
        #expect(run.outputs.count == 1)
        let draft = try #require(run.outputs.first)
        #expect(draft.type == .call)
        let url = "https://api.example.com/orders/a%20b%2Fc?user=user-42"
        #expect(draft.text == "POST \(url)")
        let request = try #require(CallRequest(json: draft.data))
        #expect(request.node == "lookup")
        #expect(request.method == "POST")
        #expect(request.url == url)
        #expect(request.summary == draft.text)
        #expect(
            request.headers == [
                CallRequest.Header(name: "X-Trace", value: "t-conv-7"), CallRequest.Header(name: "Accept", value: "application/json"),
            ])
        // A literal value with a ${NAME} stays a reference, resolved only when the call is made.
        #expect(request.secretHeaders == [CallRequest.Header(name: "X-Api-Key", value: "${API_KEY}")])
        #expect(request.body == .json(["q": "a b/c", "n": 2, "fixed": [true, nil]]))
        #expect(request.auth == .bearer(token: "${TOKEN}"))
        #expect(request.timeout == .seconds(5))
        #expect(request.retry == CallRetry(maxAttempts: 2, delays: [.milliseconds(300)]))
        // The output's data is the request's JSON, and reads back as the same request.
        #expect(draft.data == request.json)
        #expect(CallRequest(json: request.json) == request)
        #expect(run.waiting == FlowWait(nodeId: "lookup", call: CallWait(outputId: "", count: 1)))
        #expect(run.context.isEmpty)
    }

    @Test("CallRequest's JSON round trip keeps forms, basic auth and no body")
    func requestJSONRoundTrip() {
        let requests = [
            CallRequest(
                node: "n", method: "PUT", url: "https://api.example.com/a?b=c", headers: [.init(name: "A", value: "1")],
                secretHeaders: [.init(name: "K", value: "${K}")], body: .form([.init(name: "x", value: "1"), .init(name: "y", value: "a b")]),
                auth: .basic(user: "bot", password: "${PW}"), timeout: .milliseconds(1500), retry: CallRetry(maxAttempts: 1, delays: [])),
            CallRequest(node: "m", method: "GET", url: "http://localhost:8080/"),
            CallRequest(node: "j", method: "POST", url: "https://x.example.com", body: .json(["list": [1, "two"], "nested": ["k": nil]])),
        ]
        for request in requests {
            #expect(CallRequest(json: request.json) == request)
        }
        #expect(CallRequest(json: nil) == nil)
        #expect(CallRequest(json: ["node": "n", "method": "GET"]) == nil)
        #expect(CallRequest(json: "GET https://api.example.com") == nil)
    }

    @Test("an answer stores its body at into and the flow goes on after the call")
    func answerContinues() throws {
        var conversation = CallConversation(try Flow.make(Self.lookupFlow))
        conversation.send("123")
        let run = conversation.answer(CallAnswer(status: 200, body: ["status": "shipped", "eta": "2026-12-05"]))
        #expect(run.error == nil)
        #expect(run.outputs == [OutputDraft(text: "Status shipped", data: nil)])
        #expect(run.context == ["order": ["status": "shipped", "eta": "2026-12-05"]])
        #expect(run.waiting == nil)
        // Not waiting any more: another answer changes nothing.
        let late = conversation.answer(CallAnswer(status: 200, body: ["status": "late"]))
        #expect(late.outputs.isEmpty)
        #expect(late.context == ["order": ["status": "shipped", "eta": "2026-12-05"]])
        #expect(late.waiting == nil)
    }

    @Test("a failed call goes on at onError, where input.error and input.data.status are readable")
    func answerErrorGoesToOnError() throws {
        var conversation = CallConversation(try Flow.make(Self.lookupFlow))
        conversation.send("123")
        let run = conversation.answer(CallAnswer(status: 503, body: ["message": "down"], attempts: 2))
        #expect(run.error == nil)
        #expect(
            run.outputs == [
                OutputDraft(text: "Failed: HTTP 503 (status 503)", data: ["error": "HTTP 503", "status": 503, "source": "call"])
            ])
        #expect(run.context.isEmpty)
        #expect(run.waiting == nil)
    }

    @Test("a failed call without onError stops the run with an error output")
    func answerErrorWithoutOnError() throws {
        let flow = try Flow.make(
            """
            name: plain
            nodes:
              - say: looking
              - id: lookup
                call:
                  url: https://api.example.com/x
                into: context.x
              - say: found
            """)
        var conversation = CallConversation(flow)
        let first = conversation.send("hi")
        #expect(first.outputs.map(\.type) == [.output, .call])
        let run = conversation.answer(.failed("no answer within 10s", attempts: 1))
        let error = try #require(run.error)
        #expect(error.contains("flow 'plain' stopped at node 'lookup' (test.yaml:4)"), "\(error)")
        #expect(error.contains("the call failed: no answer within 10s"), "\(error)")
        #expect(run.outputs == [OutputDraft(type: .error, text: error, data: nil)])
        #expect(run.waiting == nil)
        #expect(run.context["x"] == nil)
    }

    static let templatedHostFlow = """
        nodes:
          - id: fetch
            call:
              url: "https://{{ input.text }}/data"
            into: context.data
            onError: refused
          - say: fetched
          - end: true
          - id: refused
            say:
              text: "{{ input.error }}"
              data: { source: "{{ input.source }}", node: "{{ input.data.node }}", status: "{{ input.data.status }}" }
        """

    @Test("a templated url to a host not allowed goes to onError without a call")
    func refusedHostGoesToOnError() throws {
        var conversation = CallConversation(try Flow.make(Self.templatedHostFlow))
        let run = conversation.send("evil.example.org")
        #expect(!run.outputs.contains { $0.type == .call })
        #expect(run.outputs.map(\.text) == ["host 'evil.example.org' is not in the endpoint's calls.allow"])
        #expect(run.outputs.first?.data == ["source": "call", "node": "fetch", "status": nil])
        #expect(run.waiting == nil)
        #expect(run.error == nil)

        // The same flow calls an allowed host.
        let allowed = conversation.send("api.example.com")
        #expect(allowed.outputs.map(\.type) == [.call])
        #expect(allowed.outputs.first?.text == "POST https://api.example.com/data")

        // A user name with user info cannot pose as the allowed host.
        var sneaky = CallConversation(try Flow.make(Self.templatedHostFlow))
        let userInfo = sneaky.send("api.example.com@evil.example.org")
        #expect(!userInfo.outputs.contains { $0.type == .call })
        #expect(userInfo.outputs.first?.text?.contains("is not an http:// or https:// URL") == true)
    }

    @Test("a refused call without onError stops the run")
    func refusedWithoutOnError() throws {
        let flow = try Flow.make("nodes:\n  - id: fetch\n    call:\n      url: \"https://{{ input.text }}/x\"\n  - say: after\n")
        var conversation = CallConversation(flow)
        let run = conversation.send("evil.example.org")
        let error = try #require(run.error)
        #expect(error.contains("the call was not made: host 'evil.example.org' is not in the endpoint's calls.allow"), "\(error)")
        #expect(run.outputs.map(\.type) == [.error])
        #expect(run.waiting == nil)

        // The default rules allow no host at all.
        var closed = CallConversation(flow, calls: CallSettings())
        #expect(closed.send("api.example.com").error?.contains("calls.allow is empty") == true)
    }

    @Test("more than maxCallsPerTurn calls for one input goes to onError; the next input counts afresh")
    func maxCallsPerTurn() throws {
        let flow = try Flow.make(
            """
            nodes:
              - id: fetch
                call:
                  method: GET
                  url: "https://api.example.com/n/{{ default(context.n, 0) }}"
                into: context.last
                onError: too-many
              - set:
                  context.n: "{{ default(context.n, 0) + 1 }}"
              - goto: fetch
              - id: too-many
                say: "stopped after {{ context.n }}: {{ input.error }}"
              - end: reset
            """)
        var conversation = CallConversation(flow, calls: CallSettings(allow: ["api.example.com"], maxCallsPerTurn: 3))
        var run = conversation.send("go")
        var urls: [String?] = []
        var counts: [Int?] = []
        while let output = run.outputs.last, output.type == .call {
            urls.append(output.text)
            counts.append(run.waiting?.call?.count)
            run = conversation.answer(CallAnswer(status: 200, body: ["ok": true]))
        }
        #expect(urls == ["GET https://api.example.com/n/0", "GET https://api.example.com/n/1", "GET https://api.example.com/n/2"])
        #expect(counts == [1, 2, 3])
        #expect(
            run.outputs.map(\.text) == [
                "stopped after 3: more than 3 calls for one input (the endpoint's calls.maxCallsPerTurn)"
            ])
        #expect(run.waiting == nil)

        // A new input may make calls again.
        let again = conversation.send("go")
        #expect(again.outputs.map(\.type) == [.call])
        #expect(again.waiting?.call?.count == 1)
    }

    // MARK: The endpoint's rules

    @Test(
        "refusal: which urls an allow list lets a flow call",
        arguments: [
            // host
            (["api.example.com"], "https://api.example.com/x", nil),
            (["api.example.com"], "HTTPS://API.Example.COM/x?y=1", nil),
            (["api.example.com"], "http://api.example.com:8443/x", nil),
            (["API.example.com"], "https://api.example.com", nil),
            (["api.example.com"], "https://other.example.com/x", "host 'other.example.com' is not in the endpoint's calls.allow"),
            (["api.example.com"], "https://api.example.com.evil.org/x", "host 'api.example.com.evil.org' is not in"),
            (["api.example.com"], "https://evil.org/api.example.com", "host 'evil.org' is not in"),
            // host:port
            (["localhost:8080"], "http://localhost:8080/v1", nil),
            (["localhost:8080"], "http://localhost:9090/v1", "host 'localhost:9090' is not in"),
            (["localhost:8080"], "http://localhost/v1", "host 'localhost' is not in"),
            (["127.0.0.1:11434"], "http://127.0.0.1:11434/v1/chat/completions", nil),
            // *.domain
            (["*.example.com"], "https://a.example.com/x", nil),
            (["*.example.com"], "https://a.b.example.com/x", nil),
            (["*.example.com"], "https://example.com/x", "host 'example.com' is not in"),
            (["*.example.com"], "https://evilexample.com/x", "host 'evilexample.com' is not in"),
            (["*.example.com"], "https://example.com.evil.org/x", "host 'example.com.evil.org' is not in"),
            // user info: refused, even when it names an allowed host
            (["api.example.com"], "https://api.example.com@evil.org/x", "is not an http:// or https:// URL"),
            (["api.example.com"], "https://user:pw@api.example.com/x", "is not an http:// or https:// URL"),
            // not http
            (["api.example.com"], "ftp://api.example.com/x", "'ftp://api.example.com/x' is not an http:// or https:// URL"),
            (["api.example.com"], "api.example.com/x", "is not an http:// or https:// URL"),
            (["*"], "file:///etc/passwd", "is not an http:// or https:// URL"),
            (["api.example.com"], "https:///x", "is not an http:// or https:// URL"),
            (["api.example.com"], "https://api.example.com:http/x", "is not an http:// or https:// URL"),
            // empty allow, and anything
            ([], "https://api.example.com/x", "host 'api.example.com' is not allowed: the endpoint's calls.allow is empty"),
            (["*"], "http://anything.example.net:1234/", nil),
            // several entries: any may match
            (["a.example.com", "b.example.com:81"], "http://b.example.com:81/", nil),
            (["a.example.com", "b.example.com:81"], "http://b.example.com/", "host 'b.example.com' is not in"),
        ] as [([String], String, String?)])
    func refusal(_ allow: [String], _ url: String, _ expected: String?) {
        let refusal = CallSettings(allow: allow).refusal(url)
        if let expected {
            #expect(refusal?.contains(expected) == true, "\(allow) \(url): \(String(describing: refusal))")
        } else {
            #expect(refusal == nil, "\(allow) \(url)")
        }
    }

    @Test("an allow entry for an IPv6 host, with or without a port")
    func ipv6Allow() {
        #expect(CallSettings(allow: ["[::1]"]).refusal("http://[::1]:8080/x") == nil)
        #expect(CallSettings(allow: ["[::1]"]).refusal("http://[::2]/x") != nil)
        #expect(CallSettings(allow: ["[::1]:8080"]).refusal("http://[::1]:8080/x") == nil)
        // An entry's port matches a URL without one by its scheme's default port.
        #expect(CallSettings(allow: ["api.example.com:443"]).refusal("https://api.example.com/x") == nil)
        #expect(CallSettings(allow: ["api.example.com:443"]).refusal("http://api.example.com/x") != nil)
        #expect(CallSettings(allow: ["[::1]:8080"]).refusal("http://[::1]:9090/x") != nil)
    }

    @Test(
        "host(of:) reads host and port of http(s) urls only",
        arguments: [
            ("https://API.example.com/a", "api.example.com", nil), ("http://localhost:8080", "localhost", 8080),
            ("http://h.example.com?x=1", "h.example.com", nil), ("http://h.example.com#top", "h.example.com", nil),
            ("http://[::1]:8080/x", "[::1]", 8080), ("http://[::1]/x", "[::1]", nil),
            ("http://u@h.example.com/", nil, nil), ("http://", nil, nil), ("http://:80/", nil, nil), ("http://h:/", nil, nil),
            ("mailto:a@b.c", nil, nil), ("//h.example.com/", nil, nil),
        ] as [(String, String?, Int?)])
    func hostOf(_ url: String, _ host: String?, _ port: Int?) {
        let found = CallRequest.host(of: url)
        #expect(found?.host == host, "\(url)")
        #expect(found?.port == port, "\(url)")
    }

    @Test("resolve takes ${NAME} from calls.secrets first, then the environment")
    func resolveSecrets() throws {
        let settings = CallSettings(secrets: ["TOKEN": Secret("from-secrets")])
        let environment = ["TOKEN": "from-env", "USER": "bot"]
        #expect(try settings.resolve("Bearer ${TOKEN}", environment: environment) == "Bearer from-secrets")
        #expect(try settings.resolve("${USER}:${TOKEN}!", environment: environment) == "bot:from-secrets!")
        #expect(try CallSettings().resolve("${TOKEN}", environment: environment) == "from-env")
        #expect(try settings.resolve("no references", environment: [:]) == "no references")
        #expect(try settings.resolve("$TOKEN {TOKEN} ${unclosed", environment: [:]) == "$TOKEN {TOKEN} ${unclosed")
    }

    @Test("an unset ${NAME} throws its name and never a value")
    func resolveUnset() {
        let settings = CallSettings(secrets: ["TOKEN": Secret("s3cr3t-value")])
        do {
            let resolved = try settings.resolve("${TOKEN}/${USER}/${MISSING}", environment: ["USER": "env-value"])
            Issue.record("resolved to \(resolved)")
        } catch {
            #expect(error.name == "MISSING")
            #expect(error.description.contains("MISSING"))
            #expect(error.description.contains("calls.secrets"))
            #expect(!error.description.contains("s3cr3t-value"))
            #expect(!error.description.contains("env-value"))
            #expect(!"\(error)".contains("s3cr3t-value"))
        }
    }

    // MARK: The stored wait

    @Test("a call wait is stored with its queued inputs and reads back the same")
    func callWaitRoundTrip() throws {
        let queued = [
            Input(
                id: "in_a", session: Fixture.key, userId: "user-42", text: "are you there?", data: nil, source: .user,
                receivedAt: Timestamp(milliseconds: 1_795_946_401_000)),
            Input(
                id: "in_b", session: Fixture.key, userId: "user-42", text: nil, data: ["event": "shipped", "n": [1, 2]], source: .inject,
                receivedAt: Timestamp(milliseconds: 1_795_946_402_500)),
        ]
        let wait = CallWait(outputId: "out_7", count: 2, queued: queued)
        let stored = try #require(CallWait.stored(FlowWait(nodeId: "lookup", call: wait)))
        #expect(try CallWait.load(stored: stored, session: Fixture.key) == wait)

        let empty = CallWait(outputId: "out_8", count: 1)
        #expect(try CallWait.load(stored: CallWait.stored(FlowWait(nodeId: "n", call: empty)), session: Fixture.key) == empty)

        // Nothing stored when the session waits at an ask, or not at all.
        #expect(CallWait.stored(FlowWait(nodeId: "ask")) == nil)
        #expect(CallWait.stored(nil) == nil)
        #expect(try CallWait.load(stored: nil, session: Fixture.key) == nil)
        #expect(try CallWait.load(stored: "", session: Fixture.key) == nil)
        #expect(throws: (any Error).self) { try CallWait.load(stored: "{}", session: Fixture.key) }
        #expect(throws: (any Error).self) { try CallWait.load(stored: "not json", session: Fixture.key) }
    }

    // MARK: Configuration

    /// Writes `config` and `flow` into a fresh directory; returns both paths.
    static func writeConfiguration(_ config: String, flow: String) throws -> (config: String, flow: String) {
        let directory = NSTemporaryDirectory() + "herald-calls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try flow.write(toFile: directory + "/flow.yaml", atomically: true, encoding: .utf8)
        try config.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
        return (directory + "/herald.yaml", directory + "/flow.yaml")
    }

    static func config(calls: String) -> String {
        """
        admin:
          keys: ["test-admin-key"]
        storage: memory
        endpoints:
          - urlToken: demo
            flow: flow.yaml
            webhook:
              url: http://127.0.0.1:9000/hook
        \(calls)
        """
    }

    static let literalCallFlow = """
        nodes:
          - say: hi
          - id: fetch
            call:
              url: https://evil.example.org/x
          - say: bye
        """

    @Test("a literal call url to a host not in calls.allow fails the configuration at the flow's line")
    func literalURLNotAllowed() throws {
        let paths = try Self.writeConfiguration(
            Self.config(calls: "    calls:\n      allow: [api.example.com]\n"), flow: Self.literalCallFlow)
        do {
            let configuration = try HeraldConfiguration.load(path: paths.config, environment: [:])
            Issue.record("loaded: \(configuration.endpoints.map(\.urlToken))")
        } catch {
            #expect(error.file == paths.flow, "\(error)")
            #expect(error.line == 3, "\(error)")
            #expect(error.reason.contains("call.url: host 'evil.example.org' is not in the endpoint's calls.allow"), "\(error)")
            #expect(error.reason.contains("endpoint 'demo'"), "\(error)")
            #expect(error.reason.contains(paths.config), "\(error)")
            #expect(error.description.hasPrefix("\(paths.flow):3: "))
        }

        // No calls section: no host is allowed.
        let closed = try Self.writeConfiguration(Self.config(calls: ""), flow: Self.literalCallFlow)
        let closedError = #expect(throws: FileError.self) { try HeraldConfiguration.load(path: closed.config, environment: [:]) }
        #expect(closedError?.file == closed.flow)
        #expect(closedError?.line == 3)
        #expect(closedError?.reason.contains("host 'evil.example.org' is not allowed: the endpoint's calls.allow is empty") == true)
    }

    @Test("an endpoint's calls section loads; allowed and templated urls load")
    func callsSectionLoads() throws {
        let flow = """
            nodes:
              - call:
                  url: https://api.example.com/x
              - call:
                  url: "https://{{ input.text }}/anywhere"
            """
        let paths = try Self.writeConfiguration(
            Self.config(
                calls: """
                        calls:
                          allow: [api.example.com, "localhost:8080", "*.example.net"]
                          maxCallsPerTurn: 2
                          secrets:
                            TOKEN: ${TOKEN_FROM_ENV}
                    """), flow: flow)
        let configuration = try HeraldConfiguration.load(path: paths.config, environment: ["TOKEN_FROM_ENV": "t-1"])
        let endpoint = try #require(configuration.endpoint("demo"))
        #expect(endpoint.calls.allow == ["api.example.com", "localhost:8080", "*.example.net"])
        #expect(endpoint.calls.maxCallsPerTurn == 2)
        #expect(endpoint.calls.secrets["TOKEN"]?.value == "t-1")
        #expect(endpoint.flow.nodes.count == 2)
    }

    @Test("a calls.allow entry that is not a host is an error at its line")
    func badAllowEntry() throws {
        let paths = try Self.writeConfiguration(
            Self.config(calls: "    calls:\n      allow:\n        - https://api.example.com/\n"), flow: "nodes:\n  - say: hi\n")
        let error = #expect(throws: FileError.self) { try HeraldConfiguration.load(path: paths.config, environment: [:]) }
        #expect(error?.file == paths.config)
        #expect(error?.line == 11)
        #expect(error?.description.contains("calls.allow[0]") == true, "\(String(describing: error))")
        #expect(error?.description.contains("'https://api.example.com/' is not a host") == true, "\(String(describing: error))")
    }

    // MARK: Functions

    @Test(
        "append adds one element; a missing list starts empty",
        arguments: [
            ("append(null, 1)", [1]), ("append(context.missing, 'a')", ["a"]), ("append(context.list, 4)", [1, 2, "three", 4]),
            ("append([], [1, 2])", [[1, 2]]), ("append('a', 'b')", ["a", "b"]), ("append(context.emptyList, context.obj.b)", [["c": "deep"]]),
            ("len(append(context.list, null))", 4),
        ] as [(String, JSON)])
    func append(_ source: String, _ expected: JSON) throws {
        #expect(try Fixture.evaluate(source) == expected)
    }

    @Test(
        "urlEncode percent-encodes all but unreserved characters",
        arguments: [
            ("urlEncode('a b/c?d=1&e#f')", "a%20b%2Fc%3Fd%3D1%26e%23f"), ("urlEncode('AZaz09-._~')", "AZaz09-._~"),
            ("urlEncode('é€')", "%C3%A9%E2%82%AC"), ("urlEncode('\\n+%')", "%0A%2B%25"), ("urlEncode(123)", "123"), ("urlEncode(null)", ""),
            ("urlEncode(input.text)", "Hello%20World"),
        ] as [(String, JSON)])
    func urlEncode(_ source: String, _ expected: JSON) throws {
        #expect(try Fixture.evaluate(source) == expected)
    }

    @Test("append takes two arguments and urlEncode one")
    func arity() {
        #expect(Fixture.parseError("append([1])") != nil)
        #expect(Fixture.parseError("append([1], 2, 3)") != nil)
        #expect(Fixture.parseError("urlEncode('a', 'b')") != nil)
        #expect(Fixture.parseError("urlEncode()") != nil)
        #expect(Fixture.parseError("append([1], urlEncode('x'))") == nil)
    }

    // MARK: herald flow run

    static let consoleFlow = """
        nodes:
          - id: lookup
            call:
              method: GET
              url: "https://api.example.com/orders/{{ input.text }}"
            into: context.order
            onError: failed
          - say: "Order is {{ context.order.status }}"
          - end: true
          - id: failed
            say: "Sorry: {{ input.error }}"
        """

    @Test("the console prints the call and answers it with its answerCall closure")
    func consoleAnswersCalls() throws {
        var console = FlowConsole(flow: try Flow.make(Self.consoleFlow)) { request in
            guard let request, request.method == "GET" else { return .failed("not a GET") }
            return request.url.hasSuffix("/1") ? CallAnswer(status: 200, body: ["status": "shipped"]) : .failed("HTTP 503", status: 503)
        }
        #expect(console.handle("1").lines == ["call> GET https://api.example.com/orders/1", "! answered 200", "bot> Order is shipped"])
        #expect(console.session.waiting == nil)
        #expect(console.session.context == ["order": ["status": "shipped"]])
        #expect(
            console.handle("2").lines == [
                "call> GET https://api.example.com/orders/2", "! the call failed: HTTP 503", "bot> Sorry: HTTP 503",
            ])
        #expect(console.session.waiting == nil)
    }

    @Test("without an answerCall closure the console's calls fail, and the flow goes on at onError")
    func consoleWithoutAnswers() throws {
        var console = FlowConsole(flow: try Flow.make(Self.consoleFlow))
        #expect(
            console.handle("1").lines == [
                "call> GET https://api.example.com/orders/1",
                "! the call failed: herald flow run was given no way to answer calls",
                "bot> Sorry: herald flow run was given no way to answer calls",
            ])
    }
}
