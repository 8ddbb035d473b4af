import Foundation
import Testing

@testable import HeraldCore

@Suite("Flow loading")
struct FlowLoadingTests {
    /// A flow file that must not load, the line of its error, and words of the reason.
    struct BadFlow: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var line: Int?
        var reason: String

        var testDescription: String { name }
    }

    static let badFlows: [BadFlow] = [
        BadFlow(name: "YAML syntax", yaml: "name: x\nnodes:\n  - say: [unclosed\n", line: 4, reason: "not valid YAML"),
        BadFlow(name: "tab indentation", yaml: "nodes:\n\t- say: hi\n", line: 2, reason: "not valid YAML"),
        BadFlow(name: "empty file", yaml: "", line: nil, reason: "the file is empty"),
        BadFlow(name: "not a mapping", yaml: "- say: hi\n", line: 1, reason: "a flow file must be a mapping"),
        BadFlow(name: "unknown top-level key", yaml: "name: x\nsteps: []\nnodes:\n  - say: hi\n", line: 2, reason: "unknown key 'steps'"),
        BadFlow(name: "no nodes", yaml: "# a comment\nname: x\n", line: 2, reason: "a flow needs 'nodes:'"),
        BadFlow(name: "nodes not a list", yaml: "name: x\nnodes:\n  say: hi\n", line: 3, reason: "nodes must be a list"),
        BadFlow(name: "nodes empty", yaml: "name: x\nnodes: []\n", line: 2, reason: "'nodes' is empty"),
        BadFlow(name: "name not a string", yaml: "name: [a]\nnodes:\n  - say: hi\n", line: 1, reason: "name must be a string"),
        BadFlow(name: "stepLimit zero", yaml: "stepLimit: 0\nnodes:\n  - say: hi\n", line: 1, reason: "stepLimit must be at least 1"),
        BadFlow(name: "stepLimit not a number", yaml: "nodes:\n  - say: hi\nstepLimit: lots\n", line: 3, reason: "stepLimit must be a whole number"),
        BadFlow(name: "node not a mapping", yaml: "nodes:\n  - say: hi\n  - just text\n", line: 3, reason: "a node must be a mapping"),
        BadFlow(
            name: "unknown node kind", yaml: "nodes:\n  - say: hi\n  - sya: hi\n", line: 3,
            reason: "unknown node kind (keys 'sya'); a node is one of say, ask, set, if, switch, goto, end"),
        BadFlow(
            name: "two kinds", yaml: "nodes:\n  - say: hi\n    goto: x\n", line: 2,
            reason: "a node has exactly one kind, this one has 'say' and 'goto'"),
        BadFlow(name: "unknown key in a node", yaml: "nodes:\n  - say: hi\n    then: x\n", line: 3, reason: "unknown key 'then' in a say node"),
        BadFlow(
            name: "duplicate id", yaml: "nodes:\n  - id: a\n    say: hi\n  - id: b\n    say: hi\n  - id: a\n    say: again\n", line: 6,
            reason: "duplicate node id 'a' (first used on line 2)"),
        BadFlow(name: "empty id", yaml: "nodes:\n  - id: ''\n    say: hi\n", line: 2, reason: "id must be non-empty and not start with '#'"),
        BadFlow(name: "id with #", yaml: "nodes:\n  - say: hi\n    id: '#2'\n", line: 3, reason: "id must be non-empty and not start with '#'"),
        BadFlow(
            name: "goto unknown node", yaml: "nodes:\n  - say: hi\n  - goto: nowhere\n", line: 3,
            reason: "node '#2' jumps to 'nowhere', which is not a node id in this flow"),
        BadFlow(
            name: "if then unknown node", yaml: "nodes:\n  - id: check\n    if: true\n    then: nowhere\n", line: 4,
            reason: "node 'check' jumps to 'nowhere'"),
        BadFlow(name: "if else unknown node", yaml: "nodes:\n  - if: true\n    else: nowhere\n", line: 3, reason: "jumps to 'nowhere'"),
        BadFlow(
            name: "switch case unknown node",
            yaml: "nodes:\n  - switch: input.text\n    cases:\n      a: end\n      b: nowhere\n  - id: end\n    end: true\n",
            line: 5, reason: "jumps to 'nowhere'"),
        BadFlow(
            name: "switch default unknown node",
            yaml: "nodes:\n  - switch: input.text\n    cases:\n      a: x\n    default: nowhere\n  - id: x\n    end: true\n",
            line: 5, reason: "jumps to 'nowhere'"),
        BadFlow(name: "goto not a string", yaml: "nodes:\n  - goto: [a]\n", line: 2, reason: "goto (a node id) must be a string"),
        BadFlow(
            name: "bad if expression", yaml: "nodes:\n  - say: hi\n  - if: input.text = 'yes'\n    then: x\n  - id: x\n    end: true\n", line: 3,
            reason: "bad expression in if \"input.text = 'yes'\": '=' is not an operator; use '==' to compare (column 12)"),
        BadFlow(
            name: "if is a mapping", yaml: "nodes:\n  - if:\n      a: b\n    then: x\n  - id: x\n    end:\n", line: 3,
            reason: "if needs an expression"),
        BadFlow(
            name: "bad switch expression", yaml: "nodes:\n  - switch: lower(\n    cases: {a: b}\n  - id: b\n    end: true\n", line: 2,
            reason: "bad expression in switch"),
        BadFlow(name: "if without targets", yaml: "nodes:\n  - if: true\n", line: 2, reason: "an if node needs 'then:' or 'else:'"),
        BadFlow(name: "switch without cases", yaml: "nodes:\n  - switch: input.text\n", line: 2, reason: "a switch node needs 'cases:'"),
        BadFlow(name: "switch with empty cases", yaml: "nodes:\n  - switch: input.text\n    cases: {}\n", line: 3, reason: "'cases' is empty"),
        BadFlow(
            name: "switch cases a list", yaml: "nodes:\n  - switch: input.text\n    cases:\n      - a\n", line: 4, reason: "cases must be a mapping"),
        BadFlow(
            name: "bad say template", yaml: "nodes:\n  - say: \"Hello {{ name }}\"\n", line: 2,
            reason: "bad template \"Hello {{ name }}\": unknown name 'name': paths start with input, context or session (column 10)"),
        BadFlow(name: "unclosed hole", yaml: "nodes:\n  - say:\n      text: \"Hi {{ input.text\"\n", line: 3, reason: "'{{' without a closing '}}'"),
        BadFlow(
            name: "bad template deep in data",
            yaml: "nodes:\n  - say:\n      data:\n        order:\n          items:\n            - \"{{ shout(1) }}\"\n",
            line: 6, reason: "unknown function 'shout'"),
        BadFlow(name: "say needs text or data", yaml: "nodes:\n  - say: {}\n", line: 2, reason: "say needs text, data, or rich content"),
        BadFlow(name: "say with nothing", yaml: "nodes:\n  - say:\n", line: 2, reason: "say needs text or data"),
        BadFlow(
            name: "unknown key in say", yaml: "nodes:\n  - say:\n      txt: hi\n", line: 3,
            reason: "unknown key 'txt' in say (it takes text, data, quickReplies, buttons, attachments, card)"),
        BadFlow(
            name: "a quick reply without a title", yaml: "nodes:\n  - ask:\n      text: Pick\n      quickReplies:\n        - {title: A}\n        - {payload: b}\n    into: context.x\n",
            line: 6, reason: "ask.quickReplies[1].title: is required"),
        BadFlow(
            name: "a button with neither payload nor url", yaml: "nodes:\n  - say:\n      buttons:\n        - title: Go\n", line: 4,
            reason: "say.buttons[0]: a button needs a payload (it answers) or a url (it opens)"),
        BadFlow(
            name: "an attachment of an unknown type", yaml: "nodes:\n  - say:\n      attachments:\n        - {type: pdf, url: 'https://x.example/a.pdf'}\n",
            line: 4, reason: "say.attachments[0].type: 'pdf' is not one of image, file, audio, video"),
        BadFlow(
            name: "a card field misspelt", yaml: "nodes:\n  - say:\n      card:\n        title: T\n        imageURL: 'https://x.example/a.png'\n",
            line: 5, reason: "say.card.imageURL: unknown field"),
        BadFlow(
            name: "a template in a flow", yaml: "nodes:\n  - say:\n      template: {name: x, language: en}\n", line: 3,
            reason: "unknown key 'template' in say"),
        BadFlow(name: "say text a list", yaml: "nodes:\n  - say:\n      text: [a]\n", line: 3, reason: "expected a text"),
        BadFlow(name: "ask without into", yaml: "nodes:\n  - ask: Your name?\n", line: 2, reason: "an ask node needs 'into:'"),
        BadFlow(
            name: "into not a context path", yaml: "nodes:\n  - ask: Your name?\n    into: name\n", line: 3,
            reason: "into: 'name' is not a context path (write context.name)"),
        BadFlow(
            name: "into with an empty step", yaml: "nodes:\n  - ask: Your name?\n    into: context..name\n", line: 3, reason: "is not a context path"),
        BadFlow(name: "into is input", yaml: "nodes:\n  - ask: Your name?\n    into: input.text\n", line: 3, reason: "is not a context path"),
        BadFlow(name: "bad ask prompt", yaml: "nodes:\n  - ask: \"{{ }}\"\n    into: context.x\n", line: 2, reason: "empty expression"),
        BadFlow(
            name: "bad retry", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate: number\n    retry: \"{{ 1 + }}\"\n", line: 5,
            reason: "bad template"),
        BadFlow(
            name: "invalid regex", yaml: "nodes:\n  - ask: Code?\n    into: context.code\n    validate:\n      pattern: '[0-9'\n", line: 5,
            reason: "invalid regular expression \"[0-9\""),
        BadFlow(
            name: "unknown validate key", yaml: "nodes:\n  - ask: Code?\n    into: context.code\n    validate:\n      patern: x\n", line: 5,
            reason: "unknown key 'patern' in validate"),
        BadFlow(
            name: "validate word", yaml: "nodes:\n  - ask: Code?\n    into: context.code\n    validate: digits\n", line: 4,
            reason: "validate is 'number', or { pattern: REGEX }"),
        BadFlow(
            name: "validate min not a number", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate:\n      min: ten\n", line: 5,
            reason: "min must be a number"),
        BadFlow(
            name: "validate max not a number", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate:\n      max: '9'\n", line: 5,
            reason: "max must be a number"),
        BadFlow(
            name: "validate min above max", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate:\n      min: 10\n      max: 1\n",
            line: 5,
            reason: "validate: min 10 is above max 1"),
        BadFlow(
            name: "validate pattern and number", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate: {pattern: '^1', min: 1}\n",
            line: 4,
            reason: "validate takes a pattern or number bounds, not both"),
        BadFlow(
            name: "validate nothing", yaml: "nodes:\n  - ask: Age?\n    into: context.age\n    validate: {number: false}\n", line: 4,
            reason: "validate is 'number'"),
        BadFlow(name: "set not a mapping", yaml: "nodes:\n  - set: context.x\n", line: 2, reason: "set must be a mapping"),
        BadFlow(name: "set empty", yaml: "nodes:\n  - set: {}\n", line: 2, reason: "set needs at least one 'context.path: value'"),
        BadFlow(
            name: "set key not a context path", yaml: "nodes:\n  - set:\n      context.ok: 1\n      user.name: x\n", line: 4,
            reason: "set: 'user.name' is not a context path"),
        BadFlow(
            name: "set bad template", yaml: "nodes:\n  - set:\n      context.x: \"{{ context. }}\"\n", line: 3, reason: "expected a name after '.'"),
        BadFlow(
            name: "unquoted template", yaml: "nodes:\n  - say: {{ input.text }}\n", line: 2,
            reason: "say: YAML reads an unquoted {{ ... }} as a mapping; put the template in quotes: \"{{ ... }}\""),
        BadFlow(
            name: "unquoted template in data", yaml: "nodes:\n  - say:\n      data: {{ input.data }}\n", line: 3,
            reason: "YAML reads an unquoted {{ ... }} as a mapping"),
        BadFlow(
            name: "leading ! read as a YAML tag", yaml: "nodes:\n  - if: !context.done\n    then: x\n  - id: x\n    end:\n", line: 2,
            reason: "if: YAML reads a leading '!' as a tag; put the expression in quotes: \"!context.done\""),
        BadFlow(
            name: "braces around a condition", yaml: "nodes:\n  - if: \"{{ context.done }}\"\n    then: x\n  - id: x\n    end:\n", line: 2,
            reason: "if takes an expression without {{ }}: write if: context.done"),
        BadFlow(name: "end false", yaml: "nodes:\n  - say: hi\n  - end: false\n", line: 3, reason: "end: false does nothing"),
        BadFlow(name: "end with a word", yaml: "nodes:\n  - say: hi\n  - end: now\n", line: 3, reason: "end takes true, reset, or { reset: true }"),
        BadFlow(
            name: "end unknown key", yaml: "nodes:\n  - say: hi\n  - end:\n      clear: true\n", line: 4,
            reason: "unknown key 'clear' in end (only 'reset')"),
        BadFlow(
            name: "end reset not a bool", yaml: "nodes:\n  - say: hi\n  - end:\n      reset: maybe\n", line: 4, reason: "reset must be true or false"),
        BadFlow(
            name: "invalid regex in matches", yaml: "nodes:\n  - if: matches(input.text, '(')\n    then: x\n  - id: x\n    end:\n", line: 2,
            reason: "invalid regular expression"),
        BadFlow(name: "duplicate key in a node", yaml: "nodes:\n  - say: hi\n  - say: one\n    say: two\n", line: 4, reason: "duplicate key 'say'"),
        BadFlow(name: "duplicate top-level key", yaml: "name: a\nnodes:\n  - say: hi\nname: b\n", line: 4, reason: "duplicate key 'name'"),
        BadFlow(
            name: "timeout without goto", yaml: "nodes:\n  - ask: Q?\n    into: context.a\n    timeout:\n      after: 10m\n", line: 5,
            reason: "timeout takes { after: DURATION, goto: NODE-ID }"),
        BadFlow(
            name: "timeout with a bad duration", yaml: "nodes:\n  - ask: Q?\n    into: context.a\n    timeout: {after: soon, goto: x}\n  - id: x\n    end:\n",
            line: 4, reason: "timeout.after: 'soon' is not a duration"),
        BadFlow(
            name: "timeout to a missing node", yaml: "nodes:\n  - ask: Q?\n    into: context.a\n    timeout: {after: 1m, goto: nudge}\n", line: 4,
            reason: "jumps to 'nudge', which is not a node id"),
        BadFlow(
            name: "schedule without a time", yaml: "nodes:\n  - schedule:\n      key: r\n      text: hi\n", line: 3,
            reason: "schedule needs 'after: DURATION'"),
        BadFlow(
            name: "schedule with after and at", yaml: "nodes:\n  - schedule:\n      after: 1d\n      at: '2030-01-01T00:00:00Z'\n      text: hi\n",
            line: 4, reason: "schedule takes 'after' or 'at', not both"),
        BadFlow(
            name: "schedule without a message", yaml: "nodes:\n  - schedule:\n      after: 1d\n", line: 3,
            reason: "schedule needs text or data"),
        BadFlow(
            name: "schedule unknown key", yaml: "nodes:\n  - schedule:\n      in: 1d\n      text: hi\n", line: 3,
            reason: "unknown key 'in' in schedule"),
        BadFlow(name: "cancel without a key", yaml: "nodes:\n  - cancel: ''\n", line: 2, reason: "cancel needs the key of a schedule"),
    ]

    @Test("every load-time error names its line", arguments: badFlows)
    func loadErrors(_ bad: BadFlow) throws {
        let check = Flow.check(yaml: bad.yaml, file: "flows/bad.yaml")
        #expect(check.flow == nil)
        let error = try #require(check.errors.first, "the flow loaded")
        #expect(error.file == "flows/bad.yaml")
        #expect(error.line == bad.line, "\(error)")
        #expect(error.reason.contains(bad.reason), "\(error)")
        if let line = bad.line {
            #expect(error.description.hasPrefix("flows/bad.yaml:\(line): "))
        }
        #expect(throws: error) { try Flow.load(yaml: bad.yaml, file: "flows/bad.yaml") }
    }

    @Test("check reports every broken node, in line order, not only the first")
    func allErrors() {
        let yaml = """
            name: many
            colour: blue
            nodes:
              - say: "{{ nope }}"
              - id: ask
                ask: Name?
              - goto: missing
              - if: 1 +
                then: ask
              - id: fine
                say: ok
              - id: fine
                say: again
            """
        let check = Flow.check(yaml: yaml, file: "many.yaml")
        #expect(check.flow == nil)
        #expect(check.errors.map(\.line) == [2, 4, 5, 7, 8, 12])
        #expect(
            check.errors.map(\.description) == [
                "many.yaml:2: unknown key 'colour' (a flow has name, description, stepLimit and nodes)",
                "many.yaml:4: bad template \"{{ nope }}\": unknown name 'nope': paths start with input, context or session (column 4)",
                "many.yaml:5: an ask node needs 'into:', the context path that stores the answer",
                "many.yaml:7: node '#3' jumps to 'missing', which is not a node id in this flow",
                "many.yaml:8: bad expression in if \"1 +\": expected a value but the expression ended (column 4)",
                "many.yaml:12: duplicate node id 'fine' (first used on line 10)",
            ])
    }

    @Test("a jump to a node that failed to load is not reported twice")
    func jumpToBrokenNode() {
        let yaml = "nodes:\n  - goto: broken\n  - id: broken\n    say: \"{{ }}\"\n"
        let check = Flow.check(yaml: yaml, file: "f.yaml")
        #expect(check.errors.map(\.line) == [4])
    }

    @Test("unreachable nodes load, with a warning naming their line")
    func unreachableWarnings() throws {
        let yaml = """
            nodes:
              - say: hi
              - goto: last
              - id: orphan
                say: never
              - say: also never
              - id: last
                end: true
              - id: after-end
                say: unreachable too
            """
        let check = Flow.check(yaml: yaml, file: "w.yaml")
        let flow = try #require(check.flow)
        #expect(check.errors.isEmpty)
        #expect(
            check.warnings.map(\.description) == [
                "w.yaml:4: warning: node 'orphan' is never reached",
                "w.yaml:6: warning: node '#4' is never reached",
                "w.yaml:9: warning: node 'after-end' is never reached",
            ])
        #expect(flow.warnings == check.warnings)
    }

    @Test("branch targets, defaults and fall-through count as reachable")
    func reachableBranches() throws {
        let yaml = """
            nodes:
              - if: input.text == 'a'
                then: a
              - switch: input.text
                cases:
                  b: b
                default: c
              - id: a
                say: a
              - id: b
                say: b
              - id: c
                ask: c?
                into: context.c
              - end: true
            """
        #expect(try Flow.make(yaml).warnings.isEmpty)
    }

    @Test("the example flows load without errors or warnings", arguments: ["echo.yaml", "order-status.yaml", "survey.yaml", "reminder.yaml", "menu.yaml"])
    func examplesLoad(_ name: String) throws {
        let check = Flow.check(path: exampleFlowPath(name))
        #expect(check.errors.isEmpty, "\(check.errors)")
        #expect(check.warnings.isEmpty, "\(check.warnings)")
        #expect(check.flow?.name == String(name.dropLast(5)))
    }

    @Test("a file that cannot be read is an error without a line")
    func unreadableFile() {
        let check = Flow.check(path: "/nonexistent/flow.yaml")
        #expect(check.flow == nil)
        #expect(check.errors.count == 1)
        #expect(check.errors.first?.line == nil)
        #expect(check.errors.first?.description.hasPrefix("/nonexistent/flow.yaml: cannot read the file") == true)
    }

    @Test("load(path:) reads the file and names errors after it")
    func loadFromPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-flow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("greeting.yml").path
        let bad = directory.appendingPathComponent("bad.yaml").path
        try "nodes:\n  - say: hi\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "nodes:\n  - say: hi\n  - goto: x\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let flow = try Flow.load(path: good)
        #expect(flow.name == "greeting")
        #expect(flow.file == good)
        #expect(throws: FileError(file: bad, line: 3, reason: "node '#2' jumps to 'x', which is not a node id in this flow")) {
            try Flow.load(path: bad)
        }
    }

    @Test("name, description and stepLimit are read; the name defaults to the file name")
    func topLevelKeys() throws {
        let flow = try Flow.load(yaml: "name: greeter\ndescription: says hi\nstepLimit: 25\nnodes:\n  - say: hi\n", file: "x/y.yaml")
        #expect(flow.name == "greeter")
        #expect(flow.stepLimit == 25)
        let unnamed = try Flow.load(yaml: "nodes:\n  - say: hi\n", file: "flows/order.status.yaml")
        #expect(unnamed.name == "order.status")
        #expect(unnamed.stepLimit == 1000)
    }

    @Test("nodes get their id, or #position, and their line")
    func nodeIdsAndLines() throws {
        let flow = try Flow.make("nodes:\n  - say: one\n  - id: second\n    say: two\n\n  - say: three\n")
        #expect(flow.nodes.map(\.id) == ["#1", "second", "#3"])
        #expect(flow.nodes.map(\.line) == [2, 3, 6])
        #expect(flow.index(of: "second") == 1)
        #expect(flow.index(of: "nope") == nil)
    }

    @Test(
        "end: true, end:, end: reset and end: {reset: ...}",
        arguments: [
            ("end: true", false), ("end:", false), ("end: reset", true), ("end: {reset: true}", true), ("end: {reset: false}", false),
            ("end: {}", false),
        ])
    func endForms(_ node: String, _ reset: Bool) throws {
        let flow = try Flow.make("nodes:\n  - \(node)\n")
        guard case .end(let loaded) = flow.nodes[0].kind else {
            Issue.record("not an end node")
            return
        }
        #expect(loaded == reset)
    }

    @Test(
        "validate forms: number, bounds, pattern or regex",
        arguments: [
            ("validate: number", "number nil...nil"), ("validate: {min: 1}", "number 1...nil"),
            ("validate: {number: true, max: 2.5}", "number nil...2.5"), ("validate: {min: -3, max: 3}", "number -3...3"),
            ("validate: {regex: '^a$'}", "pattern ^a$"), ("validate: {pattern: '[0-9]+'}", "pattern [0-9]+"),
        ])
    func validateForms(_ yaml: String, _ expected: String) throws {
        let flow = try Flow.make("nodes:\n  - ask: Q?\n    into: context.a\n    \(yaml)\n")
        guard case .ask(let ask) = flow.nodes[0].kind else {
            Issue.record("not an ask")
            return
        }
        let described: String
        switch ask.validation {
        case .number(let min, let max)?:
            described = "number \(min.map { JSON.number($0).text } ?? "nil")...\(max.map { JSON.number($0).text } ?? "nil")"
        case .pattern(let pattern)?: described = "pattern \(pattern.source)"
        case nil: described = "none"
        }
        #expect(described == expected)
    }

    @Test("YAML anchors and aliases reuse a value")
    func aliases() throws {
        let flow = try Flow.make(
            "nodes:\n  - say:\n      text: &greeting hi\n  - say:\n      text: *greeting\n      data:\n        again: *greeting\n")
        var conversation = Conversation(flow)
        #expect(conversation.send("x").outputs == [OutputDraft(text: "hi", data: nil), OutputDraft(text: "hi", data: ["again": "hi"])])
    }

    @Test("literal values keep their YAML types; quoted and !!str scalars stay strings")
    func literalTypes() throws {
        let yaml = """
            nodes:
              - say:
                  data:
                    int: 5
                    float: 2.5
                    quoted: "5"
                    tagged: !!str 7
                    yes: true
                    nothing: null
                    tilde: ~
                    word: hello
                    list: [1, "two", false]
                    nested: {a: {b: c}}
            """
        let flow = try Flow.make(yaml)
        guard case .say(let message) = flow.nodes[0].kind, let data = message.data else {
            Issue.record("not a say with data")
            return
        }
        #expect(
            data.evaluate(in: Fixture.scope()) == [
                "int": 5, "float": 2.5, "quoted": "5", "tagged": "7", "yes": true, "nothing": nil, "tilde": nil, "word": "hello",
                "list": [1, "two", false], "nested": ["a": ["b": "c"]],
            ])
    }
}
