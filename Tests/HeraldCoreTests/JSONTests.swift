import HeraldCore
import Testing

@Suite struct JSONTests {
    @Test(arguments: [
        (#"{"a":1,"b":[true,false,null],"c":"x"}"#, JSON.object(["a": 1, "b": [true, false, nil], "c": "x"])),
        (#" [ 1.5 , -2e3 , 0 ] "#, JSON.array([1.5, -2000, 0])),
        (#""\u00e9\n\"\\ \ud83d\ude00""#, JSON.string("é\n\"\\ 😀")),
        (#"{}"#, JSON.object([:])),
        ("12345678901234567890", JSON.number(12345678901234567890)),
    ])
    func parses(_ text: String, _ expected: JSON) throws {
        #expect(try JSON.parse(text) == expected)
    }

    @Test(arguments: [
        "", "{", #"{"a":}"#, "[1,]", "tru", #""unterminated"#, #"{"a":1}x"#, "01", "1.", "-", #""\ud800""#, "NaN", "1e999",
        #"{1:2}"#, "\"tab\there\"",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSON.parse(fine)) != nil)
    }

    @Test(arguments: [
        JSON.object(["text": "line\nbreak \"quoted\" \u{1} é", "n": 3, "f": 0.25, "neg": -7, "list": [nil, true]]),
        JSON.array([]), JSON.string(""), JSON.number(1e21),
    ])
    func roundTrips(_ value: JSON) throws {
        #expect(try JSON.parse(value.serialized()) == value)
    }

    @Test func writesIntegersWithoutFractionAndKeepsKeyOrder() {
        let value: JSON = ["z": 1, "a": 2.5, "m": [3]]
        #expect(value.jsonString == #"{"z":1,"a":2.5,"m":[3]}"#)
        #expect(JSON.string("\u{1F}").jsonString == #""\u001f""#)
    }
}
