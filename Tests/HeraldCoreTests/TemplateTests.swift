import Testing

@testable import HeraldCore

@Suite("Templates")
struct TemplateTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var source: String
        /// The value (`evaluate`): a single hole keeps its type.
        var value: JSON
        /// The text (`render`), as a `say` text shows it.
        var text: String

        var testDescription: String { source }
    }

    @Test(
        "holes are replaced by their value's text; a template that is one hole keeps the type",
        arguments: [
            Case(source: "Hello {{ context.name }}!", value: "Hello Ada!", text: "Hello Ada!"),
            Case(source: "{{ context.count }}", value: 3, text: "3"),
            Case(source: "{{context.count}}", value: 3, text: "3"),
            Case(source: "{{ input.data.order.items.0 }}", value: ["sku": "x1", "qty": 2], text: #"{"sku":"x1","qty":2}"#),
            Case(source: " {{ context.count }}", value: " 3", text: " 3"),
            Case(source: "{{ context.count }} ", value: "3 ", text: "3 "),
            Case(source: "{{ context.count }}{{ context.count }}", value: "33", text: "33"),
            Case(source: "n={{ context.missing }}.", value: "n=.", text: "n=."),
            Case(source: "{{ context.missing }}", value: nil, text: ""),
            Case(source: "{{ 7 / 2 }}", value: 3.5, text: "3.5"),
            Case(source: "{{ 6 / 2 }} items", value: "3 items", text: "3 items"),
            Case(source: "tags: {{ input.data.tags }}", value: #"tags: ["a","b"]"#, text: #"tags: ["a","b"]"#),
            Case(source: "{{ context.flag }}", value: true, text: "true"),
            Case(source: "flag={{ context.flag }}", value: "flag=true", text: "flag=true"),
            Case(source: "no holes", value: "no holes", text: "no holes"),
            Case(source: "", value: "", text: ""),
            Case(source: #"{{ "}}" }}"#, value: "}}", text: "}}"),
            Case(source: "{{ '{{' }} literal", value: "{{ literal", text: "{{ literal"),
            Case(source: #"{{ 'it\'s }}' }}"#, value: "it's }}", text: "it's }}"),
            Case(source: "a }} b", value: "a }} b", text: "a }} b"),
            Case(source: "{ {{ context.i }} }", value: "{ 1 }", text: "{ 1 }"),
            Case(source: "{{ upper(context.name) + '!' }}", value: "ADA!", text: "ADA!"),
            Case(source: "line one\n{{ context.name }}", value: "line one\nAda", text: "line one\nAda"),
        ])
    func rendering(_ test: Case) throws {
        let template = try Template(parsing: test.source)
        #expect(template.evaluate(in: Fixture.scope()) == test.value)
        #expect(template.render(in: Fixture.scope()) == test.text)
    }

    @Test("isConstant is true only without holes")
    func constant() throws {
        #expect(try Template(parsing: "plain }} text").isConstant)
        #expect(try Template(parsing: "").isConstant)
        #expect(try !Template(parsing: "{{ 1 }}").isConstant)
        #expect(try !Template(parsing: "a {{ 1 }} b").isConstant)
    }

    @Test(
        "a bad template names the problem and its column in the whole string",
        arguments: [
            ("Hello {{ name", "'{{' without a closing '}}'", 7),
            ("Hi {{ }}", "empty expression", 6),
            ("Hi {{ 1 + }}", "expected a value but the expression ended", 11),
            ("{{ a }} and {{ foo( }}", "unknown name 'a'", 4),
            ("{{ 1 }} and {{ foo( }}", "unknown function 'foo'", 16),
            ("{{ 'unterminated }}", "unterminated string", 4),
            ("ok {{ 1 }} {{ input.text = 2 }}", "'=' is not an operator", 26),
        ] as [(String, String, Int)])
    func errors(_ source: String, _ reason: String, _ column: Int) throws {
        do {
            _ = try Template(parsing: source)
            Issue.record("\(source) parsed")
        } catch {
            #expect(error.reason.contains(reason), "reason was: \(error.reason)")
            #expect(error.column == column)
        }
    }

    @Test("a value template evaluates nested objects and lists, keeping key order")
    func valueTemplates() throws {
        let value = ValueTemplate.object([
            (key: "name", value: .template(try Template(parsing: "{{ context.name }}"))),
            (key: "count", value: .template(try Template(parsing: "{{ context.count + 1 }}"))),
            (key: "tags", value: .array([.literal("fixed"), .template(try Template(parsing: "t-{{ input.data.tags.1 }}"))])),
            (key: "missing", value: .template(try Template(parsing: "{{ context.missing }}"))),
        ])
        let result = value.evaluate(in: Fixture.scope())
        #expect(result == ["name": "Ada", "count": 4, "tags": ["fixed", "t-b"], "missing": nil])
        #expect(result.objectValue?.keys == ["name", "count", "tags", "missing"])
        #expect(result.jsonString == #"{"name":"Ada","count":4,"tags":["fixed","t-b"],"missing":null}"#)
    }
}
