import Testing

@testable import HeraldCore

@Suite("Flow engine")
struct FlowEngineTests {
    // MARK: say

    @Test("say emits text, data or both, templated; nodes run in file order")
    func say() throws {
        let flow = try Flow.make(
            """
            nodes:
              - say: "Hello {{ session.userId }}"
              - say:
                  data: { echo: "{{ input.data }}", n: "{{ input.data.n + 1 }}", fixed: [1, "two"] }
              - say:
                  text: "{{ upper(input.text) }}"
                  data: "{{ input.data }}"
              - say:
                  data: "{{ context.missing }}"
            """)
        var conversation = Conversation(flow)
        let run = conversation.send("hey", data: ["n": 1])
        #expect(
            run.outputs == [
                OutputDraft(text: "Hello user-42", data: nil),
                OutputDraft(text: nil, data: ["echo": ["n": 1], "n": 2, "fixed": [1, "two"]]),
                OutputDraft(text: "HEY", data: ["n": 1]),
                // Data that evaluates to null is left out.
                OutputDraft(text: nil, data: nil),
            ])
        #expect(run.waiting == nil)
        #expect(run.error == nil)
        #expect(run.outputs.allSatisfy { $0.type == .output })
    }

    // MARK: ask

    static let askFlow = """
        nodes:
          - ask: What is your name?
            into: context.user.name
          - say: "Hi {{ context.user.name }}!"
        """

    @Test("ask says its prompt and waits; the next input is stored and the flow goes on after the ask")
    func askAndResume() throws {
        var conversation = Conversation(try Flow.make(Self.askFlow))
        let first = conversation.send("hello")
        #expect(first.outputs.map(\.text) == ["What is your name?"])
        #expect(first.waiting == FlowWait(nodeId: "#1"))
        #expect(first.context.isEmpty)

        let second = conversation.send("  Ada Lovelace \n")
        #expect(second.outputs.map(\.text) == ["Hi Ada Lovelace!"])
        #expect(second.waiting == nil)
        #expect(second.context == ["user": ["name": "Ada Lovelace"]])

        // Nothing pending: the next input starts at the first node again.
        #expect(conversation.say("again") == ["What is your name?"])
        #expect(conversation.session.context == ["user": ["name": "Ada Lovelace"]])
    }

    @Test("an answer without text stores the input's data")
    func askStoresData() throws {
        var conversation = Conversation(try Flow.make(Self.askFlow))
        conversation.send("start")
        conversation.send(nil, data: ["first": "Ada"])
        #expect(conversation.session.context == ["user": ["name": ["first": "Ada"]]])
        conversation.send("start")
        conversation.send("   ", data: ["first": "Bob"])
        #expect(conversation.session.context == ["user": ["name": ["first": "Bob"]]])
    }

    @Test("an inject answers a pending ask like a user message, and the flow sees its source")
    func injectAnswersAsk() throws {
        let flow = try Flow.make(
            """
            nodes:
              - ask: Code?
                into: context.code
              - say: "{{ context.code }} from {{ input.source }}"
            """)
        var conversation = Conversation(flow)
        conversation.send("hi")
        #expect(conversation.say("1234", source: .inject) == ["1234 from inject"])
    }

    @Test(
        "ask validation: pattern or number within bounds; a bad answer re-prompts and keeps waiting",
        arguments: [
            ("validate: {pattern: '^[0-9]{6}$'}", "123456", JSON.string("123456")),
            ("validate: {pattern: '^[0-9]{6}$'}", " 123456 ", JSON.string("123456")),
            ("validate: {pattern: '^[0-9]{6}$'}", "12345", nil),
            ("validate: {pattern: '^[0-9]{6}$'}", "1234567", nil),
            ("validate: {pattern: '[0-9]{6}'}", "order 123456!", JSON.string("order 123456!")),
            ("validate: {pattern: '(?i)^yes$'}", "YES", JSON.string("YES")),
            ("validate: number", "42", JSON.number(42)),
            ("validate: number", " -2.5 ", JSON.number(-2.5)),
            ("validate: number", "1e3", JSON.number(1000)),
            ("validate: number", "forty", nil),
            ("validate: number", "0x10", nil),
            ("validate: number", "nan", nil),
            ("validate: {number: true, min: 1, max: 5}", "1", JSON.number(1)),
            ("validate: {number: true, min: 1, max: 5}", "5", JSON.number(5)),
            ("validate: {number: true, min: 1, max: 5}", "0", nil),
            ("validate: {number: true, min: 1, max: 5}", "5.01", nil),
            ("validate: {min: 18}", "17.9", nil),
            ("validate: {min: 18}", "120", JSON.number(120)),
            ("validate: {max: 0}", "-1", JSON.number(-1)),
            ("validate: {max: 0}", "1", nil),
        ] as [(String, String, JSON?)])
    func validation(_ rule: String, _ answer: String, _ stored: JSON?) throws {
        let flow = try Flow.make(
            """
            nodes:
              - id: q
                ask: Your answer?
                into: context.answer
                \(rule)
              - say: "stored {{ context.answer }}"
            """)
        var conversation = Conversation(flow)
        conversation.send("start")
        let run = conversation.send(answer)
        if let stored {
            #expect(run.context["answer"] == stored)
            #expect(run.outputs.map(\.text) == ["stored \(stored.text)"])
            #expect(run.waiting == nil)
        } else {
            #expect(run.context["answer"] == nil)
            #expect(run.outputs.map(\.text) == ["Your answer?"])
            #expect(run.waiting == FlowWait(nodeId: "q", retries: 1))
        }
    }

    @Test("a validated ask re-prompts with retry (templated), counts retries, and accepts a later good answer")
    func retry() throws {
        let flow = try Flow.make(
            """
            nodes:
              - id: age
                ask: How old are you?
                into: context.age
                validate: { number: true, min: 0, max: 150 }
                retry: "'{{ input.text }}' is not an age. How old are you?"
              - say: "Next year you will be {{ context.age + 1 }}."
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say("hi") == ["How old are you?"])
        #expect(conversation.say("old") == ["'old' is not an age. How old are you?"])
        #expect(conversation.session.waiting == FlowWait(nodeId: "age", retries: 1))
        #expect(conversation.say("200") == ["'200' is not an age. How old are you?"])
        #expect(conversation.session.waiting == FlowWait(nodeId: "age", retries: 2))
        // Data without text does not pass a number or pattern check.
        #expect(conversation.say(nil, data: ["age": 30]) == ["'' is not an age. How old are you?"])
        #expect(conversation.say("41") == ["Next year you will be 42."])
        #expect(conversation.session.waiting == nil)
        #expect(conversation.session.context == ["age": 41])
    }

    @Test("an ask can be a message with text and data, and its retry too")
    func askWithData() throws {
        let flow = try Flow.make(
            """
            nodes:
              - ask:
                  text: Pick one
                  data: { choices: [a, b] }
                into: context.choice
                validate: { pattern: '^(a|b)$' }
                retry:
                  data: { error: "'{{ input.text }}' is not a choice" }
            """)
        var conversation = Conversation(flow)
        #expect(conversation.send("go").outputs == [OutputDraft(text: "Pick one", data: ["choices": ["a", "b"]])])
        #expect(conversation.send("c").outputs == [OutputDraft(text: nil, data: ["error": "'c' is not a choice"])])
        #expect(conversation.send("b").outputs.isEmpty)
        #expect(conversation.session.context == ["choice": "b"])
    }

    @Test("a wait at a node that is no longer an ask is dropped and the flow starts over")
    func staleWait() throws {
        var conversation = Conversation(try Flow.make("nodes:\n  - say: \"start: {{ input.text }}\"\n"))
        conversation.session.waiting = FlowWait(nodeId: "gone")
        #expect(conversation.say("x") == ["start: x"])
        conversation.session.waiting = FlowWait(nodeId: "#1")
        #expect(conversation.say("y") == ["start: y"])
        #expect(conversation.session.waiting == nil)
    }

    // MARK: set

    @Test("set assigns in order, creates nested objects, keeps types and sees earlier assignments")
    func set() throws {
        let flow = try Flow.make(
            """
            nodes:
              - set:
                  context.count: "{{ default(context.count, 0) + 1 }}"
                  context.user.name: "{{ trim(input.text) }}"
                  context.user.shout: "{{ upper(context.user.name) }}!"
                  context.flags: { seen: true, tags: ["{{ input.source }}", 2] }
                  context.text: "count {{ context.count }}"
                  context.literal: 7
                  context.cleared: null
              - say: "{{ context.count }}"
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say(" ada ") == ["1"])
        #expect(
            conversation.session.context == [
                "count": 1, "user": ["name": "ada", "shout": "ADA!"], "flags": ["seen": true, "tags": ["user", 2]], "text": "count 1",
                "literal": 7, "cleared": nil,
            ])
        #expect(conversation.session.context.keys == ["count", "user", "flags", "text", "literal", "cleared"])
        #expect(conversation.say("bob") == ["2"])
        #expect(conversation.session.context["count"] == 2)
    }

    @Test("set over a non-object replaces it with an object")
    func setThroughScalar() throws {
        var conversation = Conversation(try Flow.make("nodes:\n  - set:\n      context.a.b: 1\n"))
        conversation.session.context = ["a": "text"]
        conversation.send("x")
        #expect(conversation.session.context == ["a": ["b": 1]])
    }

    // MARK: if / switch / goto

    @Test(
        "if jumps to then when truthy, to else when not; a missing branch falls through",
        arguments: [
            ("then: yes\n    else: no", "yes", ["yes"]), ("then: yes\n    else: no", "", ["no", "yes"]),
            ("then: yes", "yes", ["yes"]), ("then: yes", "", ["next", "no", "yes"]),
            ("else: no", "yes", ["next", "no", "yes"]), ("else: no", "", ["no", "yes"]),
        ] as [(String, String, [String])])
    func ifNode(_ branches: String, _ text: String, _ said: [String]) throws {
        let flow = try Flow.make(
            """
            nodes:
              - if: input.text
                \(branches)
              - say: next
              - id: no
                say: "no"
              - id: yes
                say: "yes"
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say(text) == said)
    }

    @Test(
        "switch jumps to the case matching the value's text, else default, else falls through",
        arguments: [
            ("a", ["A", "end"]), ("B", ["B", "end"]), ("3", ["three", "end"]), ("true", ["truth", "end"]), ("", ["empty", "end"]),
            ("zzz", ["other", "end"]),
        ])
    func switchNode(_ text: String, _ said: [String]) throws {
        let flow = try Flow.make(
            """
            nodes:
              - switch: lower(input.text)
                cases:
                  a: a
                  b: b
                  3: three
                  true: truth
                  "": empty
                default: other
              - id: a
                say: A
              - goto: end
              - id: b
                say: B
              - goto: end
              - id: three
                say: three
              - goto: end
              - id: truth
                say: truth
              - goto: end
              - id: empty
                say: empty
              - goto: end
              - id: other
                say: other
              - id: end
                say: end
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say(text) == said)
    }

    @Test("switch on a number or null uses its text; no match and no default falls through")
    func switchText() throws {
        let flow = try Flow.make(
            """
            nodes:
              - switch: input.data.n
                cases:
                  "2": two
                  "": none
              - say: fell through
              - end: true
              - id: two
                say: two
              - end: true
              - id: none
                say: none
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say(nil, data: ["n": 2]) == ["two"])
        #expect(conversation.say(nil, data: ["n": 2.5]) == ["fell through"])
        #expect(conversation.say("no data") == ["none"])
    }

    @Test("goto jumps, forwards and backwards")
    func goto() throws {
        let flow = try Flow.make(
            """
            nodes:
              - set:
                  context.n: 0
              - id: loop
                set:
                  context.n: "{{ context.n + 1 }}"
              - if: context.n < 3
                then: loop
              - goto: done
              - say: skipped
              - id: done
                say: "n={{ context.n }}"
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say("go") == ["n=3"])
    }

    // MARK: end

    @Test("end stops the run; with reset it also clears the context")
    func end() throws {
        let flow = try Flow.make(
            """
            nodes:
              - if: input.text == 'forget'
                then: forget
              - set:
                  context.seen: "{{ default(context.seen, 0) + 1 }}"
              - say: "seen {{ context.seen }}"
              - end: true
              - say: never
              - id: forget
                say: forgetting
              - end: reset
              - say: never either
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say("a") == ["seen 1"])
        #expect(conversation.say("b") == ["seen 2"])
        #expect(conversation.session.context == ["seen": 2])
        let forget = conversation.send("forget")
        #expect(forget.outputs.map(\.text) == ["forgetting"])
        #expect(forget.context.isEmpty)
        #expect(forget.waiting == nil)
        #expect(conversation.say("c") == ["seen 1"])
    }

    @Test("end with reset clears the context but not what was already said")
    func endResetAfterAsk() throws {
        let flow = try Flow.make(
            """
            nodes:
              - ask: Name?
                into: context.name
              - say: "Bye {{ context.name }}"
              - end: { reset: true }
            """)
        var conversation = Conversation(flow)
        conversation.send("hi")
        #expect(conversation.say("Ada") == ["Bye Ada"])
        #expect(conversation.session.context.isEmpty)
        #expect(conversation.session.waiting == nil)
    }

    // MARK: step limit

    @Test("a loop stops at the step limit with an error output, not a hang")
    func stepLimit() throws {
        let flow = try Flow.make(
            """
            nodes:
              - say: before
              - id: spin
                set:
                  context.turns: "{{ default(context.turns, 0) + 1 }}"
              - goto: spin
            """)
        var conversation = Conversation(flow)
        let run = conversation.send("go")
        let error = try #require(run.error)
        // Step 1000 was the 500th set; the goto after it is where the run stops.
        #expect(error == "flow 'test' stopped at node '#3' (test.yaml:6): more than 1000 steps in one run; is there a loop?")
        #expect(run.outputs.count == 2)
        #expect(run.outputs[0] == OutputDraft(text: "before", data: nil))
        #expect(run.outputs[1] == OutputDraft(type: .error, text: error, data: nil))
        #expect(run.waiting == nil)
        // 1000 steps: "before", then 999 alternating set/goto steps, 500 of them sets.
        #expect(run.context == ["turns": 500])
    }

    @Test("the step limit is per flow and per run", arguments: [1, 2, 5, 10])
    func customStepLimit(_ limit: Int) throws {
        let flow = try Flow.make(
            """
            stepLimit: \(limit)
            nodes:
              - say: one
              - say: two
              - say: three
              - say: four
              - say: five
            """)
        var conversation = Conversation(flow)
        for _ in 0..<2 {
            let run = conversation.send("go")
            #expect(run.outputs.filter { $0.type == .output }.count == min(limit, 5))
            #expect((run.error != nil) == (limit < 5))
            #expect(run.outputs.last?.type == (limit < 5 ? .error : .output))
        }
    }

    @Test("a wait at an ask resets the step count: each input gets a full budget")
    func stepLimitPerInput() throws {
        let flow = try Flow.make(
            """
            stepLimit: 3
            nodes:
              - id: q
                ask: again?
                into: context.answer
              - say: got it
              - goto: q
            """)
        var conversation = Conversation(flow)
        for _ in 0..<5 {
            let run = conversation.send("x")
            #expect(run.error == nil)
        }
        #expect(conversation.session.waiting == FlowWait(nodeId: "q"))
    }

    // MARK: robustness

    @Test("a flow built in code with a missing jump target stops with an error, not a crash")
    func missingTargetInCode() throws {
        let flow = Flow(
            name: "coded", file: "<code>",
            nodes: [
                FlowNode(id: "a", line: 1, kind: .say(.init(text: try Template(parsing: "hi"), data: nil))),
                FlowNode(id: "b", line: 2, kind: .goto("nowhere")),
            ])
        let run = FlowEngine.run(flow, session: Session(key: Fixture.key, userId: "u"), input: Fixture.input())
        #expect(run.outputs.map(\.text) == ["hi", "flow 'coded' stopped at node 'b' (<code>:2): no node has the id 'nowhere'"])
        #expect(run.outputs.last?.type == .error)
        #expect(run.error != nil)
    }

    @Test("an empty flow built in code does nothing")
    func emptyFlow() {
        let run = FlowEngine.run(Flow(name: "empty", file: "-", nodes: []), session: Session(key: Fixture.key, userId: "u"), input: Fixture.input())
        #expect(run.outputs.isEmpty)
        #expect(run.waiting == nil)
        #expect(run.error == nil)
    }

    @Test("the same input on the same session state gives the same run")
    func deterministic() throws {
        let flow = try Flow.make("nodes:\n  - say: \"{{ now() }} {{ input.text }}\"\n  - set:\n      context.at: \"{{ now() }}\"\n")
        let session = Session(key: Fixture.key, userId: "user-42")
        let first = FlowEngine.run(flow, session: session, input: Fixture.input())
        let second = FlowEngine.run(flow, session: session, input: Fixture.input())
        #expect(first.outputs == second.outputs)
        #expect(first.context == second.context)
        #expect(first.outputs.first?.text == "2026-11-29T10:00:00.123Z Hello World")
    }

    // MARK: context across runs

    @Test("context persists across runs and session fields are visible")
    func contextAcrossRuns() throws {
        let flow = try Flow.make(
            """
            nodes:
              - set:
                  context.messages: "{{ default(context.messages, 0) + 1 }}"
                  context.previous: "{{ context.last }}"
                  context.last: "{{ input.text }}"
              - say: "#{{ context.messages }} in {{ session.urlToken }}/{{ session.id }}: {{ input.text }} (before: {{ default(context.previous, 'nothing') }})"
            """)
        var conversation = Conversation(flow)
        #expect(conversation.say("one") == ["#1 in demo/conv-7: one (before: nothing)"])
        #expect(conversation.say("two") == ["#2 in demo/conv-7: two (before: one)"])
        #expect(conversation.session.context == ["messages": 2, "previous": "one", "last": "two"])
        #expect(conversation.session.context.keys == ["messages", "previous", "last"])
        #expect(conversation.session.nextSeq == 3)
    }
}
