import Foundation
import Testing

@testable import HeraldCore

/// The input and context expression tests evaluate against.
enum Fixture {
    static let key = SessionKey(urlToken: "demo", sessionId: "conv-7")
    static let receivedAt = Timestamp(milliseconds: 1_795_946_400_123)  // 2026-11-29T10:00:00.123Z

    static let data: JSON = [
        "order": ["id": "A-1", "items": [["sku": "x1", "qty": 2], ["sku": "y2", "qty": 1]]],
        "n": 5,
        "tags": ["a", "b"],
        "order-id": 7,
        "matrix": [[1, 2], [3, 4]],
    ]

    static let context: JSONObject = [
        "name": "Ada", "count": 3, "empty": "", "zero": 0, "flag": true, "off": false, "nothing": nil,
        "list": [1, 2, "three"], "obj": ["a": 1, "b": ["c": "deep"]], "emptyList": [], "emptyObj": [:], "i": 1, "key": "a",
        "spaced": "  padded  ", "numeric": "42", "decimal": " 2.5 ",
    ]

    static func input(text: String? = "Hello World", data: JSON? = Fixture.data, source: InputSource = .user) -> Input {
        Input(id: "in_1", session: key, userId: "user-42", text: text, data: data, source: source, receivedAt: receivedAt)
    }

    static func scope(input: Input = Fixture.input(), context: JSONObject = Fixture.context) -> Scope {
        Scope(input: input, context: context, session: key, userId: "user-42")
    }

    /// Parses and evaluates `source` against the fixture scope.
    static func evaluate(_ source: String, input: Input = Fixture.input(), context: JSONObject = Fixture.context) throws -> JSON {
        try Expression(parsing: source).evaluate(in: scope(input: input, context: context))
    }

    /// The parse error of `source`, or `nil` when it parses.
    static func parseError(_ source: String) -> ExpressionError? {
        do {
            _ = try Expression(parsing: source)
            return nil
        } catch {
            return error
        }
    }
}

/// A session talking to a flow: each input runs through ``FlowEngine`` and the returned
/// context and waiting point become the session for the next input, as the registry does.
struct Conversation {
    let flow: Flow
    var session: Session
    private var clock = Fixture.receivedAt

    init(_ flow: Flow, userId: String = "user-42") {
        self.flow = flow
        self.session = Session(key: Fixture.key, userId: userId)
    }

    /// Sends one input and returns the run; the session carries its results forward.
    @discardableResult
    mutating func send(_ text: String?, data: JSON? = nil, source: InputSource = .user) -> FlowEngine.Run {
        clock = clock.adding(milliseconds: 1000)
        let input = Input(session: session.key, userId: session.userId, text: text, data: data, source: source, receivedAt: clock)
        let run = FlowEngine.run(flow, session: session, input: input)
        session.context = run.context
        session.waiting = run.waiting
        session.nextSeq += Int64(run.outputs.count)
        return run
    }

    /// The texts of the outputs of one input.
    mutating func say(_ text: String?, data: JSON? = nil, source: InputSource = .user) -> [String] {
        send(text, data: data, source: source).outputs.map { $0.text ?? "" }
    }
}

extension Flow {
    /// Loads YAML in a test; a load error fails the test with its `file:line: reason`.
    static func make(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Flow {
        do {
            return try Flow.load(yaml: yaml, file: "test.yaml")
        } catch {
            Issue.record("flow did not load: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }
}

/// The repository's `examples/flows/` directory, found from this file's path.
func exampleFlowPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/flows/\(name)").path
}
