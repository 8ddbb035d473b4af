import Testing

@testable import HeraldCore

/// What `herald flow run` does with each typed line.
@Suite("Flow console")
struct FlowConsoleTests {
    static let flow = """
        nodes:
          - if: input.source == "inject"
            then: injected
          - if: input.data
            then: with-data
          - if: input.text == "loop"
            then: loop
          - ask: "Name?"
            into: context.name
          - say: "Hi {{ context.name }}"
          - end: true
          - id: injected
            say:
              text: "inject: {{ default(input.text, '-') }}"
              data: "{{ input.data }}"
          - end: true
          - id: with-data
            say:
              data: "{{ input.data }}"
          - end: true
          - id: loop
            say: "line one\\nline two"
          - id: spin
            goto: spin
        """

    @Test("/wait lets time pass: a timeout nudges, a reminder fires a day later, and nothing fires early")
    func waitFiresSchedulesInTurn() throws {
        var console = FlowConsole(flow: try Flow.load(path: exampleFlowPath("reminder.yaml")))
        #expect(console.handle("hi").lines == ["bot> Hi! What should I remind you of tomorrow?", "! 'ask-task' times out in 10m (/wait 10m)"])
        #expect(console.handle("/wait 9m").lines == ["! 9m passed"])
        #expect(
            console.handle("/wait 1m").lines == [
                "! 1m later:", "bot> Still there? Tell me what to remind you of, and I'll do it tomorrow.", "! 1m passed",
            ])
        #expect(console.handle("water the plants").lines.last == "! scheduled an inject in 1d (key reminder)")
        #expect(console.handle("/wait 2d").lines == ["! 1d later:", "bot> Reminder: water the plants", "! 2d passed"])
        #expect(console.handle("/wait soon").lines == ["! /wait needs a duration, e.g. /wait 10m (90s, 10m, 2h, 1d)"])
    }

    @Test("a line is a user message; outputs print as bot> lines")
    func userMessages() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        #expect(console.handle("hello") == .init(lines: ["bot> Name?"]))
        #expect(console.handle("Ada") == .init(lines: ["bot> Hi Ada"]))
        #expect(console.handle("/context") == .init(lines: [#"{"name":"Ada"}"#]))
        #expect(console.session.waiting == nil)
    }

    @Test("/inject sends an inject with text, or a JSON body with text and data")
    func inject() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        #expect(console.handle("/inject ping") == .init(lines: ["bot> inject: ping"]))
        #expect(console.handle(#"/inject {"data": {"event": "shipped"}}"#) == .init(lines: ["bot> inject: -", #"     data: {"event":"shipped"}"#]))
        #expect(console.handle(#"/inject {"text": "t", "data": {"a": 1}}"#) == .init(lines: ["bot> inject: t", #"     data: {"a":1}"#]))
    }

    @Test("/data sends a user message with data")
    func data() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        #expect(console.handle(#"/data {"choice": 2}"#) == .init(lines: [#"bot> data: {"choice":2}"#]))
    }

    @Test(
        "bad commands explain themselves and change nothing",
        arguments: [
            ("/data", "! /data needs a JSON object"), ("/data [1]", "! /data: expected a JSON object"),
            ("/data {oops", "! /data: not valid JSON"), ("/inject", "! /inject needs a text or a JSON body"),
            (#"/inject {"data": 5}"#, "! /inject: 'data' must be a JSON object"), (#"/inject {"text": 5}"#, "! /inject: 'text' must be a string"),
            (#"/inject {"userId": "x"}"#, "! /inject: unknown field 'userId'"), ("/inject {}", "! /inject: the body needs text or data"),
            ("/inject {nope", "! /inject: not valid JSON"), ("/frobnicate", "! unknown command /frobnicate (try /help)"),
        ] as [(String, String)])
    func badCommands(_ line: String, _ message: String) throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        console.handle("hello")
        let before = console.session
        let reply = console.handle(line)
        #expect(reply.lines.count == 1)
        #expect(reply.lines.first?.hasPrefix(message) == true, "\(reply.lines)")
        #expect(!reply.quit)
        #expect(console.session == before)
    }

    @Test("/reset starts a new session: context and pending ask are gone")
    func reset() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        console.handle("hello")
        console.handle("Ada")
        console.handle("hello")
        #expect(console.session.waiting != nil)
        let reply = console.handle("/reset")
        #expect(reply.lines == ["! new session console-2: context cleared"])
        #expect(console.session.context.isEmpty)
        #expect(console.session.waiting == nil)
        #expect(console.handle("/context").lines == ["{}"])
        #expect(console.handle("Bob").lines == ["bot> Name?"])
    }

    @Test("/quit and /exit end the conversation; /help lists the commands; empty lines do nothing")
    func quitHelpEmpty() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        #expect(console.handle("/quit").quit)
        #expect(console.handle("  /exit ").quit)
        #expect(console.handle("/help").lines == FlowConsole.help)
        #expect(console.handle("").lines.isEmpty)
        #expect(console.handle("   ").lines.isEmpty)
        #expect(console.session.waiting == nil)
    }

    @Test("// sends a text that starts with /")
    func slashText() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        console.handle("hi")
        #expect(console.handle("//slash") == .init(lines: ["bot> Hi /slash"]))
    }

    @Test("multi-line texts are indented under bot>, and a step-limit error prints as error>")
    func multiLineAndErrors() throws {
        var console = FlowConsole(flow: try Flow.make(Self.flow))
        let reply = console.handle("loop")
        #expect(
            reply.lines == [
                "bot> line one", "     line two",
                "error> flow 'test' stopped at node 'spin' (test.yaml:23): more than 1000 steps in one run; is there a loop?",
            ])
    }

    @Test("an output with neither text nor data still shows")
    func emptyOutput() {
        #expect(FlowConsole.lines(for: OutputDraft(text: nil, data: nil)) == ["bot> "])
        #expect(FlowConsole.lines(for: OutputDraft(text: "", data: ["a": 1])) == ["bot> ", #"     data: {"a":1}"#])
    }
}
