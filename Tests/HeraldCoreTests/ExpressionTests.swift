import Testing

@testable import HeraldCore

/// One expression and the value it must evaluate to against ``Fixture``.
struct ExpressionCase: Sendable, CustomTestStringConvertible {
    var source: String
    var expected: JSON

    init(_ source: String, _ expected: JSON) {
        self.source = source
        self.expected = expected
    }

    var testDescription: String { "\(source) → \(expected.jsonString)" }
}

@Suite("Expressions")
struct ExpressionTests {
    @Test(
        "literals",
        arguments: [
            ExpressionCase("42", 42), ExpressionCase("3.25", 3.25), ExpressionCase("-7", -7), ExpressionCase("007", 7),
            ExpressionCase("'single'", "single"), ExpressionCase("\"double\"", "double"), ExpressionCase("''", ""),
            ExpressionCase(#"'it\'s'"#, "it's"), ExpressionCase(#""say \"hi\"""#, "say \"hi\""), ExpressionCase(#"'a\nb'"#, "a\nb"),
            ExpressionCase(#"'tab\tx'"#, "tab\tx"), ExpressionCase(#"'back\\slash'"#, "back\\slash"),
            ExpressionCase(#"'\d+\.\s'"#, "\\d+\\.\\s"), ExpressionCase(#""\"""#, "\""), ExpressionCase(#"'\\d'"#, "\\d"),
            ExpressionCase("true", true), ExpressionCase("false", false), ExpressionCase("null", nil),
            ExpressionCase("'ünïcødé ✓'", "ünïcødé ✓"),
        ])
    func literals(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "paths read input, context and session",
        arguments: [
            ExpressionCase("input.text", "Hello World"), ExpressionCase("input.source", "user"), ExpressionCase("input.id", "in_1"),
            ExpressionCase("input.userId", "user-42"), ExpressionCase("input.data.n", 5), ExpressionCase("input.data.order.id", "A-1"),
            ExpressionCase("input.data.order.items.0.sku", "x1"), ExpressionCase("input.data.order.items[1].qty", 1),
            ExpressionCase("input.data.matrix.1.0", 3), ExpressionCase("input.data.matrix[1][1]", 4),
            ExpressionCase("input.data['order-id']", 7), ExpressionCase(#"input.data["order"]["id"]"#, "A-1"),
            ExpressionCase("input.data.tags[context.i]", "b"), ExpressionCase("context.obj[context.key]", 1),
            ExpressionCase("input.data.tags[context.i - 1]", "a"),
            ExpressionCase("context.name", "Ada"), ExpressionCase("context.obj.b.c", "deep"), ExpressionCase("context.list.2", "three"),
            ExpressionCase("session.id", "conv-7"), ExpressionCase("session.userId", "user-42"), ExpressionCase("session.urlToken", "demo"),
            ExpressionCase("session", ["id": "conv-7", "userId": "user-42", "urlToken": "demo"]),
            ExpressionCase("input.data.order.items[0]", ["sku": "x1", "qty": 2]),
        ])
    func paths(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "a missing path is null, never an error",
        arguments: [
            "context.missing", "context.missing.deeper.still", "context.nothing", "context.nothing.x", "input.data.nope", "input.nope",
            "session.nope", "context.name.first", "context.list.9", "context.list[-1]", "context.list[0.5]", "context.list[true]",
            "context.list[null]", "input.data.tags.x", "context.count.x", "input.data.order.items.5.sku", "context.obj[context.missing]",
        ])
    func missingPaths(_ source: String) throws {
        #expect(try Fixture.evaluate(source) == .null)
    }

    @Test("input.text and input.data are null when the input has none")
    func absentInputFields() throws {
        let input = Fixture.input(text: nil, data: nil)
        #expect(try Fixture.evaluate("input.text", input: input) == .null)
        #expect(try Fixture.evaluate("input.data", input: input) == .null)
        #expect(try Fixture.evaluate("input.data.x.y", input: input) == .null)
        #expect(try Fixture.evaluate("input.source", input: Fixture.input(source: .inject)) == "inject")
        #expect(try Fixture.evaluate("input", input: input) == ["text": nil, "data": nil, "source": "user", "id": "in_1", "userId": "user-42"])
    }

    @Test(
        "== and != compare by value and never across types",
        arguments: [
            ExpressionCase("1 == 1", true), ExpressionCase("1 == 1.0", true), ExpressionCase("1 == 2", false),
            ExpressionCase("'a' == 'a'", true), ExpressionCase("'a' == 'A'", false), ExpressionCase("true == true", true),
            ExpressionCase("null == null", true), ExpressionCase("context.missing == null", true), ExpressionCase("context.nothing == null", true),
            ExpressionCase("1 == '1'", false), ExpressionCase("0 == false", false), ExpressionCase("'' == null", false),
            ExpressionCase("context.numeric == 42", false), ExpressionCase("number(context.numeric) == 42", true),
            ExpressionCase("context.obj == context.obj", true), ExpressionCase("input.data.tags == input.data.tags", true),
            ExpressionCase("context.list == input.data.tags", false), ExpressionCase("context.emptyObj == context.emptyList", false),
            ExpressionCase("1 != 2", true), ExpressionCase("1 != '1'", true), ExpressionCase("null != null", false),
            ExpressionCase("'x' != 'x'", false), ExpressionCase("context.missing != null", false), ExpressionCase("context.name != null", true),
        ])
    func equality(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "< <= > >= order two numbers or two strings, else are false",
        arguments: [
            ExpressionCase("1 < 2", true), ExpressionCase("2 < 1", false), ExpressionCase("2 < 2", false),
            ExpressionCase("2 <= 2", true), ExpressionCase("3 <= 2", false), ExpressionCase("3 > 2", true), ExpressionCase("2 > 2", false),
            ExpressionCase("2 >= 2", true), ExpressionCase("1 >= 2", false), ExpressionCase("-1 < 0", true), ExpressionCase("2.5 > 2", true),
            ExpressionCase("'apple' < 'banana'", true), ExpressionCase("'b' > 'a'", true), ExpressionCase("'a' <= 'a'", true),
            ExpressionCase("'a' >= 'b'", false), ExpressionCase("'B' < 'a'", true), ExpressionCase("'10' < '9'", true),
            ExpressionCase("'2' < 10", false), ExpressionCase("'2' >= 10", false), ExpressionCase("10 > '2'", false),
            ExpressionCase("null < 1", false), ExpressionCase("null >= 0", false), ExpressionCase("null <= null", false),
            ExpressionCase("true > false", false), ExpressionCase("context.list < context.list", false),
            ExpressionCase("context.count > 2", true), ExpressionCase("context.missing > 2", false),
        ])
    func ordering(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "arithmetic on numbers; + also joins text; anything else is null",
        arguments: [
            ExpressionCase("1 + 2", 3), ExpressionCase("0.5 + 0.25", 0.75), ExpressionCase("'a' + 'b'", "ab"), ExpressionCase("'n=' + 5", "n=5"),
            ExpressionCase("5 + 'x'", "5x"), ExpressionCase("'x' + null", "x"), ExpressionCase("'x' + true", "xtrue"),
            ExpressionCase("'tags: ' + input.data.tags", #"tags: ["a","b"]"#), ExpressionCase("1 + null", nil), ExpressionCase("true + 1", nil),
            ExpressionCase("null + null", nil), ExpressionCase("context.list + 1", nil),
            ExpressionCase("7 - 2", 5), ExpressionCase("2 - 7", -5), ExpressionCase("'7' - 2", nil), ExpressionCase("null - 1", nil),
            ExpressionCase("3 * 4", 12), ExpressionCase("'3' * 4", nil), ExpressionCase("7 / 2", 3.5), ExpressionCase("1 / 0", nil),
            ExpressionCase("0 / 0", nil), ExpressionCase("'6' / 2", nil), ExpressionCase("7 % 3", 1), ExpressionCase("-7 % 3", -1),
            ExpressionCase("7.5 % 2", 1.5), ExpressionCase("5 % 0", nil), ExpressionCase("true % 2", nil),
            ExpressionCase("-input.data.n", -5), ExpressionCase("-'x'", nil), ExpressionCase("-context.missing", nil), ExpressionCase("- -3", 3),
            ExpressionCase("context.count + 1", 4), ExpressionCase("input.data.order.items.0.qty * 10", 20),
        ])
    func arithmetic(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test("overflow gives null rather than infinity")
    func overflow() throws {
        let huge = "9" + String(repeating: "0", count: 300)
        #expect(try Fixture.evaluate("\(huge) * \(huge)") == .null)
        #expect(try Fixture.evaluate("\(huge) * 10000 * 1000 + \(huge) * 10000 * 1000") == .null)
        #expect(try Fixture.evaluate("-\(huge) * 10000 * 1000 - \(huge) * 10000 * 1000") == .null)
        let big = try #require(try Fixture.evaluate("\(huge) * 10000 * 1000").numberValue)
        #expect(big.isFinite && big > 8.99e307)
        #expect(try Fixture.evaluate("\(huge) * 1") == .number(9e300))
    }

    @Test(
        "&& || ! work on truthiness and give booleans",
        arguments: [
            ExpressionCase("true && true", true), ExpressionCase("true && false", false), ExpressionCase("false && true", false),
            ExpressionCase("false || true", true), ExpressionCase("false || false", false), ExpressionCase("true || false", true),
            ExpressionCase("!true", false), ExpressionCase("!false", true), ExpressionCase("'x' && 1", true), ExpressionCase("'' || 0", false),
            ExpressionCase("!null", true), ExpressionCase("!context.missing", true), ExpressionCase("!''", true), ExpressionCase("!'x'", false),
            ExpressionCase("null || 'x'", true), ExpressionCase("context.name && context.count", true),
            ExpressionCase("context.zero || context.empty", false), ExpressionCase("!!context.name", true),
        ])
    func logic(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "precedence: || < && < == != < < <= > >= < + - < * / % < unary",
        arguments: [
            ExpressionCase("1 + 2 * 3", 7), ExpressionCase("(1 + 2) * 3", 9), ExpressionCase("10 - 4 - 3", 3), ExpressionCase("12 / 3 / 2", 2),
            ExpressionCase("2 + 3 % 2", 3), ExpressionCase("(2 + 3) % 2", 1), ExpressionCase("-2 * 3", -6), ExpressionCase("-(2 + 3)", -5),
            ExpressionCase("1 + 2 == 3", true), ExpressionCase("1 < 2 == 2 < 3", true), ExpressionCase("1 == 1 && 2 == 3", false),
            ExpressionCase("true || false && false", true), ExpressionCase("(true || false) && false", false),
            ExpressionCase("false && true || true", true), ExpressionCase("!true == false", true), ExpressionCase("!(1 == 2)", true),
            ExpressionCase("!0 + 1", nil), ExpressionCase("'a' + 'b' == 'ab'", true), ExpressionCase("len('abc') * 2 + 1", 7),
            ExpressionCase("1 + 1 < 3 && 'a' != 'b' || false", true), ExpressionCase("((((1))))", 1),
            ExpressionCase("  1   +\t2  ", 3),
        ])
    func precedence(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "truthiness: null, false, 0, \"\", [] and {} are false",
        arguments: [
            (JSON.null, false), (false, false), (true, true), (0, false), (1, true), (-1, true), (0.5, true), ("", false), (" ", true),
            ("0", true), ("false", true), ([], false), ([0], true), ([:], false), (["a": nil], true),
        ] as [(JSON, Bool)])
    func truthiness(_ value: JSON, _ truthy: Bool) throws {
        #expect(value.isTruthy == truthy)
        #expect(try Fixture.evaluate("!!context.v", context: ["v": value]) == .bool(truthy))
        #expect(try Fixture.evaluate("context.v && true", context: ["v": value]) == .bool(truthy))
    }

    @Test(
        "a bad expression names the problem and its column",
        arguments: [
            ("", "empty expression", 1), ("   ", "empty expression", 1), ("1 +", "expected a value but the expression ended", 4),
            ("(1 + 2", "expected ')' but found end of expression", 7), ("1 2", "unexpected number 2", 3),
            ("input.text = 'x'", "'=' is not an operator; use '==' to compare", 12), ("true & false", "'&' is not an operator; use '&&'", 6),
            ("true | false", "'|' is not an operator; use '||'", 6), ("foo", "unknown name 'foo'", 1), ("1 + bar.baz", "unknown name 'bar'", 5),
            ("shout(1)", "unknown function 'shout'", 1), ("lower()", "lower() takes 1 argument, got 0", 1),
            ("contains('a')", "contains() takes 2 arguments, got 1", 1), ("now(1)", "now() takes 0 arguments, got 1", 1),
            ("'abc", "unterminated string", 1), ("x == 'abc", "unknown name 'x'", 1), ("1 == 'abc", "unterminated string", 6),
            ("input.", "expected a name after '.' but found end of expression", 7), ("input.text.'x'", "expected a name after '.'", 12),
            ("#", "unexpected character '#'", 1), ("context.list[1", "expected ']' but found end of expression", 15),
            ("matches(input.text, '[')", "invalid regular expression \"[\"", 1), ("1 + )", "expected a value but found ')'", 5),
            ("input.text ==", "expected a value but the expression ended", 14), ("lower(1,)", "expected a value but found ')'", 9),
            ("1" + String(repeating: "0", count: 400), "is too large", 1), ("true.x", "unexpected '.'", 5),
            ("(1))", "unexpected ')'", 4), ("input..text", "expected a name after '.' but found '.'", 7),
        ] as [(String, String, Int)])
    func parseErrors(_ source: String, _ reason: String, _ column: Int) throws {
        let error = try #require(Fixture.parseError(source))
        #expect(error.reason.contains(reason), "reason was: \(error.reason)")
        #expect(error.column == column)
        #expect(error.description == "\(error.reason) (column \(column))")
    }

    @Test(
        "nesting deeper than the limit is an error, not a stack overflow",
        arguments: [
            String(repeating: "(", count: 250) + "1" + String(repeating: ")", count: 250),
            String(repeating: "(", count: 100_000),
            String(repeating: "!", count: 300) + "true",
            "1" + String(repeating: " + 1", count: 300),
            String(repeating: "lower(", count: 300) + "'x'" + String(repeating: ")", count: 300),
            String(repeating: "context.list[", count: 300) + "0" + String(repeating: "]", count: 300),
        ])
    func depthLimit(_ source: String) throws {
        let error = try #require(Fixture.parseError(source))
        #expect(error.reason.contains("nested too deeply"), "reason was: \(error.reason)")
    }

    @Test("nesting within the limit parses and evaluates")
    func deepButAllowed() throws {
        #expect(try Fixture.evaluate(String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150)) == 1)
        #expect(try Fixture.evaluate("1" + String(repeating: " + 1", count: 150)) == 151)
        #expect(try Fixture.evaluate(String(repeating: "!", count: 150) + "true") == true)
        #expect(try Fixture.evaluate(String(repeating: "-", count: 150) + "2") == 2)
        // Signs on a number literal fold into it, so any number of them is fine.
        #expect(try Fixture.evaluate(String(repeating: "-", count: 100_001) + "2") == -2)
        // list[0] is 1, list[1] is 2, list[2] is "three", list["three"] is null, and null from there on.
        #expect(try Fixture.evaluate(String(repeating: "context.list[", count: 3) + "0" + String(repeating: "]", count: 3)) == "three")
        #expect(try Fixture.evaluate(String(repeating: "context.list[", count: 150) + "0" + String(repeating: "]", count: 150)) == .null)
    }

    @Test("an expression keeps its source as its description")
    func description() throws {
        let expression = try Expression(parsing: "lower(input.text) == 'yes'")
        #expect(expression.description == "lower(input.text) == 'yes'")
        #expect(expression.source == expression.description)
    }
}
