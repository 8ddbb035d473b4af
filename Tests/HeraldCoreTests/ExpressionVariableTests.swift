import HeraldCore
import Testing

/// Expressions with named roots (`Expression(parsing:variables:)`), as channel files use them.
@Suite struct ExpressionVariableTests {
    @Test("named roots read Scope.variables; paths, indexes and functions work on them")
    func namedRoots() throws {
        let scope = Scope(variables: [
            "request": ["headers": ["x-token": "abc"], "body": ["items": [["id": 7], ["id": 8]]]],
            "vars": ["apiBase": "https://api.example.com"],
        ])
        let roots: Set<String> = ["request", "vars"]
        #expect(try Expression(parsing: "request.headers['x-token'] == 'abc'", variables: roots).evaluate(in: scope) == .bool(true))
        #expect(try Expression(parsing: "request.body.items[1].id + 1", variables: roots).evaluate(in: scope) == .number(9))
        #expect(try Expression(parsing: "len(request.body.items)", variables: roots).evaluate(in: scope) == .number(2))
        #expect(try Expression(parsing: "request.missing.deeper", variables: roots).evaluate(in: scope) == .null)
        #expect(try Template(parsing: "{{ vars.apiBase }}/send", variables: roots).render(in: scope) == "https://api.example.com/send")
        let at = Scope(variables: [:], now: Timestamp(milliseconds: 1_733_100_000_000))
        #expect(try Expression(parsing: "now()", variables: roots).evaluate(in: at) == .string("2024-12-02T00:40:00.000Z"))
    }

    @Test("with named roots, input/context/session and unknown names are errors; without, flows are unchanged")
    func onlyNamedRoots() throws {
        #expect(throws: ExpressionError.self) { try Expression(parsing: "input.text", variables: ["request"]) }
        #expect(throws: ExpressionError.self) { try Expression(parsing: "vars.x", variables: ["request"]) }
        #expect(throws: ExpressionError.self) { try Expression(parsing: "request.x") }
        _ = try Expression(parsing: "input.text == context.x")
    }
}
