import Testing

@testable import HeraldCore

@Suite("Expression functions")
struct ExpressionFunctionTests {
    @Test(
        "lower, upper and trim take any value's text",
        arguments: [
            ExpressionCase("lower('HeLLo')", "hello"), ExpressionCase("lower(input.text)", "hello world"), ExpressionCase("lower(42)", "42"),
            ExpressionCase("lower(null)", ""), ExpressionCase("lower(true)", "true"), ExpressionCase("lower('ÄÖ')", "äö"),
            ExpressionCase("lower(input.data.tags)", #"["a","b"]"#),
            ExpressionCase("upper('abc')", "ABC"), ExpressionCase("upper(context.missing)", ""), ExpressionCase("upper(2.5)", "2.5"),
            ExpressionCase("upper(context.name)", "ADA"),
            ExpressionCase("trim(context.spaced)", "padded"), ExpressionCase("trim('  ')", ""), ExpressionCase("trim(null)", ""),
            ExpressionCase("trim(' a b ')", "a b"), ExpressionCase("trim(7)", "7"), ExpressionCase(#"trim('\n\tx\n')"#, "x"),
        ])
    func textFunctions(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "contains: substring of a string, element of an array, key of an object",
        arguments: [
            ExpressionCase("contains(input.text, 'World')", true), ExpressionCase("contains(input.text, 'world')", false),
            ExpressionCase("contains(lower(input.text), 'world')", true), ExpressionCase("contains('abc', '')", true),
            ExpressionCase("contains('a1', 1)", true), ExpressionCase("contains('abc', null)", false),
            ExpressionCase("contains('abc', context.missing)", false),
            ExpressionCase("contains(input.data.tags, 'a')", true), ExpressionCase("contains(input.data.tags, 'z')", false),
            ExpressionCase("contains(context.list, 2)", true), ExpressionCase("contains(context.list, '2')", false),
            ExpressionCase("contains(context.obj, 'a')", true), ExpressionCase("contains(context.obj, 'z')", false),
            ExpressionCase("contains(context.obj, 1)", false), ExpressionCase("contains(null, 'a')", false),
            ExpressionCase("contains(123, 2)", false), ExpressionCase("contains(context.emptyList, null)", false),
            ExpressionCase("contains(true, 'true')", false),
        ])
    func contains(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "startsWith and endsWith test strings",
        arguments: [
            ExpressionCase("startsWith(input.text, 'Hello')", true), ExpressionCase("startsWith(input.text, 'World')", false),
            ExpressionCase("startsWith('abc', '')", true), ExpressionCase("startsWith('12x', 12)", true),
            ExpressionCase("startsWith(123, 1)", false), ExpressionCase("startsWith(null, '')", false),
            ExpressionCase("startsWith('a', null)", false), ExpressionCase("startsWith(input.data.tags, 'a')", false),
            ExpressionCase("endsWith(input.text, 'World')", true), ExpressionCase("endsWith(input.text, 'Hello')", false),
            ExpressionCase("endsWith(null, 'x')", false), ExpressionCase("endsWith('x', null)", false),
            ExpressionCase("endsWith('v2', 2)", true), ExpressionCase("endsWith(12, 2)", false),
        ])
    func prefixes(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "matches searches a string with a regular expression",
        arguments: [
            ExpressionCase("matches(input.text, '^Hello')", true), ExpressionCase("matches(input.text, '^World')", false),
            ExpressionCase("matches('A-1', '^[A-Z]-[0-9]+$')", true), ExpressionCase("matches('order 123456 please', '[0-9]{6}')", true),
            ExpressionCase("matches('order 123456 please', '^[0-9]{6}$')", false), ExpressionCase("matches('abc', '(?i)ABC')", true),
            ExpressionCase(#"matches('a1', '\\d')"#, true), ExpressionCase(#"matches('a1', '^\w\d$')"#, true),
            ExpressionCase(#"matches('a.b', 'a\.b')"#, true), ExpressionCase(#"matches('axb', 'a\.b')"#, false),
            ExpressionCase("matches(123, '[0-9]')", false),
            ExpressionCase("matches(string(123), '^[0-9]+$')", true), ExpressionCase("matches(null, '.*')", false),
            ExpressionCase("matches('x', context.missing)", false), ExpressionCase("matches(context.name, context.pattern)", true),
            ExpressionCase("matches('x', context.badPattern)", false), ExpressionCase("matches('Straße', '^\\\\p{L}+$')", true),
        ])
    func matches(_ test: ExpressionCase) throws {
        var context = Fixture.context
        context["pattern"] = "^A"
        context["badPattern"] = "["
        #expect(try Fixture.evaluate(test.source, context: context) == test.expected)
    }

    @Test("matches compiles a computed pattern once and keeps answering the same")
    func matchesCache() throws {
        let expression = try Expression(parsing: "matches(input.text, context.pattern)")
        for _ in 0..<3 {
            #expect(expression.evaluate(in: Fixture.scope(context: ["pattern": "World$"])) == true)
            #expect(expression.evaluate(in: Fixture.scope(context: ["pattern": "^World"])) == false)
        }
    }

    @Test(
        "len counts characters, elements or keys; other values by their text",
        arguments: [
            ExpressionCase("len('abc')", 3), ExpressionCase("len('')", 0), ExpressionCase("len('héllo')", 5), ExpressionCase("len('👍🏽!')", 2),
            ExpressionCase("len(input.data.tags)", 2), ExpressionCase("len(context.obj)", 2), ExpressionCase("len(null)", 0),
            ExpressionCase("len(context.missing)", 0), ExpressionCase("len(12345)", 5), ExpressionCase("len(true)", 4),
            ExpressionCase("len(context.emptyList)", 0), ExpressionCase("len(input.text) > 5", true),
        ])
    func len(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "number reads decimal text, keeps numbers, maps booleans to 1/0, else null",
        arguments: [
            ExpressionCase("number('42')", 42), ExpressionCase("number(context.decimal)", 2.5), ExpressionCase("number('-3.5')", -3.5),
            ExpressionCase("number('1e3')", 1000), ExpressionCase("number('2.5E-1')", 0.25), ExpressionCase("number('.5')", 0.5),
            ExpressionCase("number('+7')", 7), ExpressionCase("number('1.')", 1), ExpressionCase("number(7)", 7),
            ExpressionCase("number(true)", 1), ExpressionCase("number(false)", 0),
            ExpressionCase("number('abc')", nil), ExpressionCase("number('')", nil), ExpressionCase("number(' ')", nil),
            ExpressionCase("number('12abc')", nil), ExpressionCase("number('0x1A')", nil), ExpressionCase("number('inf')", nil),
            ExpressionCase("number('nan')", nil), ExpressionCase("number('1e400')", nil), ExpressionCase("number('-')", nil),
            ExpressionCase("number('e5')", nil), ExpressionCase("number('1e')", nil), ExpressionCase("number('1 2')", nil),
            ExpressionCase("number('1,5')", nil), ExpressionCase("number(null)", nil), ExpressionCase("number(input.data.tags)", nil),
            ExpressionCase("number(context.numeric) + 1", 43),
        ])
    func number(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "string gives a value's text",
        arguments: [
            ExpressionCase("string(42)", "42"), ExpressionCase("string(2.5)", "2.5"), ExpressionCase("string(-0.5)", "-0.5"),
            ExpressionCase("string(true)", "true"), ExpressionCase("string(null)", ""), ExpressionCase("string('x')", "x"),
            ExpressionCase("string(input.data.tags)", #"["a","b"]"#), ExpressionCase("string(input.data.order.items.0)", #"{"sku":"x1","qty":2}"#),
            ExpressionCase("string(1 / 3)", "0.3333333333333333"), ExpressionCase("string(100000000)", "100000000"),
            ExpressionCase("string(123456) == '123456'", true),
        ])
    func string(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test(
        "default replaces null and the empty string, and nothing else",
        arguments: [
            ExpressionCase("default(context.missing, 'x')", "x"), ExpressionCase("default(context.nothing, 1)", 1),
            ExpressionCase("default(context.empty, 'x')", "x"), ExpressionCase("default(context.name, 'x')", "Ada"),
            ExpressionCase("default(context.zero, 5)", 0), ExpressionCase("default(context.off, true)", false),
            ExpressionCase("default(context.emptyList, 1)", []), ExpressionCase("default(null, null)", nil),
            ExpressionCase("default(context.missing, context.name)", "Ada"),
        ])
    func defaultValue(_ test: ExpressionCase) throws {
        #expect(try Fixture.evaluate(test.source) == test.expected)
    }

    @Test("now() is the time the input arrived, in UTC with milliseconds")
    func now() throws {
        #expect(try Fixture.evaluate("now()") == "2026-11-29T10:00:00.123Z")
        let later = Input(
            session: Fixture.key, userId: "u", text: "x", data: nil, source: .user, receivedAt: Fixture.receivedAt.adding(milliseconds: 86_400_000))
        #expect(try Fixture.evaluate("now()", input: later) == "2026-11-30T10:00:00.123Z")
        #expect(try Fixture.evaluate("now() > '2026-01-01'") == true)
    }

    @Test("append adds one element to a list; null is an empty list, any other value a list of one")
    func append() throws {
        #expect(try Fixture.evaluate("append([1, 2], 3)") == [1, 2, 3])
        #expect(try Fixture.evaluate("append(context.missing, 'a')") == ["a"])
        #expect(try Fixture.evaluate("append('x', [1])") == ["x", [1]])
    }

    @Test("urlEncode percent-encodes all but letters, digits and -._~, as UTF-8")
    func urlEncode() throws {
        #expect(try Fixture.evaluate("urlEncode('A 1/2?x=é')") == "A%201%2F2%3Fx%3D%C3%A9")
        #expect(try Fixture.evaluate("urlEncode('a-b_c.d~e')") == "a-b_c.d~e")
        #expect(try Fixture.evaluate("urlEncode(null)") == "")
    }

    @Test("every function of the language is covered above", arguments: FlowFunction.allCases)
    func everyFunctionParses(_ function: FlowFunction) throws {
        let arguments = Array(repeating: "context.name", count: function.arity.lowerBound).joined(separator: ", ")
        let expression = try Expression(parsing: "\(function.rawValue)(\(arguments))")
        // Any value is fine; it must not trap on the fixture.
        _ = expression.evaluate(in: Fixture.scope())
        #expect(
            Set(FlowFunction.allCases.map(\.rawValue))
                == [
                    "lower", "upper", "trim", "contains", "startsWith", "endsWith", "matches", "len", "number", "string", "default", "now", "clip",
                    "clipBytes", "join", "slice", "parseJson", "if", "append", "urlEncode",
                ])
    }
}
