import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// One content rule for every store (SPEC §8): a message is either accepted by every store and
/// read back identical — from the webhook and from the admin API — or rejected with the same
/// 400 by every store. Never a 503 for content.
@Suite struct ContentConformanceTests {
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var userId: String
        var sessionId: String
        var text: String?
        var data: JSON?
        /// A raw body, for what a `JSON` value cannot express (an unpaired surrogate).
        var raw: String?

        init(_ description: String, userId: String = "u", sessionId: String, text: String? = nil, data: JSON? = nil, raw: String? = nil) {
            self.description = description
            self.userId = userId
            self.sessionId = sessionId
            self.text = text
            self.data = data
            self.raw = raw
        }

        var body: String {
            if let raw { return raw }
            var object: JSONObject = ["userId": .string(userId), "sessionId": .string(sessionId)]
            if let text { object["text"] = .string(text) }
            if let data { object["data"] = data }
            return JSON.object(object).jsonString
        }
    }

    static func nested(_ depth: Int) -> JSON {
        var value: JSON = .string("bottom")
        for _ in 0..<depth { value = ["d": value] }
        return value
    }

    static let controls = String((1..<32).map { Character(Unicode.Scalar(UInt8($0))) })
    static let megabyte = String(repeating: "0123456789abcdef", count: 65_536)  // 1 MiB

    static let cases: [Case] = [
        Case("NUL in text", sessionId: "nul-text", text: "a\u{0}b\u{0}"),
        Case("control characters in text", sessionId: "controls", text: controls),
        Case("NUL in ids", userId: "user\u{0}1", sessionId: "session\u{0}1", text: "hi"),
        Case("control characters in ids", userId: "u\u{1}\u{1f}", sessionId: "s\u{7}\t\n", text: "hi"),
        Case("NUL and controls in data keys and values", sessionId: "nul-data", data: ["k\u{0}ey": "v\u{0}al\u{1b}", "\u{0}": ["\u{0}", 1]]),
        Case("emoji and other non-BMP text", userId: "𝒰😀", sessionId: "🎉-𝄞", text: "héllo 😀 𝄞 中文 \u{200D}", data: ["😀": "𐍈"]),
        Case("1 MiB of data", sessionId: "big", data: ["blob": .string(megabyte)]),
        Case("deep nesting", sessionId: "deep", data: nested(200)),
        Case("ids of the maximum length", userId: String(repeating: "u", count: 256), sessionId: String(repeating: "é", count: 128), text: "max"),
        Case("an id over the maximum length", sessionId: String(repeating: "s", count: 257), text: "too long"),
        Case("nesting over the parser's limit", sessionId: "too-deep", data: nested(300)),
        Case("an unpaired surrogate", sessionId: "surrogate", raw: #"{"userId":"u","sessionId":"sur","text":"a\ud800b"}"#),
        Case("a NUL byte outside a string", sessionId: "raw-nul", raw: "{\"userId\":\"u\",\"sessionId\":\"x\",\u{0}\"text\":\"a\"}"),
    ]

    /// What one store made of one case.
    struct Result: Sendable, Equatable {
        var status: Int
        var error: String?
    }

    static func storages() throws -> [(String, StorageLocation)] {
        [
            ("memory", .memory),
            ("sqlite", .sqlite(path: try Fixtures.temporaryDirectory() + "/herald.sqlite")),
            ("postgres", .postgres(url: Secret(try PostgresTestDatabase.create()))),
        ]
    }

    @Test func everyStoreAcceptsAndReturnsTheSameContentOrRejectsItTheSameWay() async throws {
        var results: [String: [String: Result]] = [:]
        for (name, storage) in try Self.storages() {
            results[name] = try await TestServices.withHerald({ url in
                var configuration = try Fixtures.configuration(url: url, storage: storage)
                configuration.maxBodySize = 2 << 20
                return configuration
            }) { herald in
                var results: [String: Result] = [:]
                for testCase in Self.cases {
                    let response = try await herald.post("/demo", json: testCase.body)
                    #expect(response.status != 503, "\(name): \(testCase): \(response.text)")
                    results[testCase.description] = Result(status: response.status, error: response.errorMessage)
                    guard response.status == 202 else { continue }
                    // The webhook gets exactly what was sent.
                    let arrivals = try await herald.receiver.wait(timeout: .seconds(20)) { all in
                        all.contains { $0.sessionId == testCase.sessionId }
                    }
                    let body = try #require(arrivals.last { $0.sessionId == testCase.sessionId }?.body)
                    #expect(body["userId"]?.stringValue == testCase.userId, "\(name): \(testCase)")
                    if let text = testCase.text { #expect(body["text"]?.stringValue == "You said: \(text)", "\(name): \(testCase)") }
                    #expect(body["data"] == testCase.data, "\(name): \(testCase)")
                    // The admin API reads the stored input back identical.
                    let path = "/admin/v1/sessions/demo/" + Self.percentEncoded(testCase.sessionId)
                    let session = try await HTTP.get(herald.adminURL + path, headers: ["X-API-Key": Fixtures.adminKey])
                    #expect(session.status == 200, "\(name): \(testCase): \(session.text)")
                    #expect(session.json["sessionId"]?.stringValue == testCase.sessionId, "\(name): \(testCase)")
                    #expect(session.json["userId"]?.stringValue == testCase.userId, "\(name): \(testCase)")
                    let inputs = session.json["messages"]?.arrayValue?.filter { $0["kind"]?.stringValue == "input" } ?? []
                    #expect(inputs.count == 1, "\(name): \(testCase)")
                    #expect(inputs.first?["text"]?.stringValue == testCase.text, "\(name): \(testCase)")
                    #expect(inputs.first?["userId"]?.stringValue == testCase.userId, "\(name): \(testCase)")
                    #expect((inputs.first?["data"] ?? .null) == (testCase.data ?? .null), "\(name): \(testCase)")
                }
                return results
            }
        }
        let memory = try #require(results["memory"])
        for testCase in Self.cases {
            let outcome = memory[testCase.description]
            #expect(outcome?.status == 202 || outcome?.status == 400, "\(testCase): \(String(describing: outcome))")
            for name in ["sqlite", "postgres"] {
                #expect(results[name]?[testCase.description] == outcome, "\(name) differs from memory for \(testCase)")
            }
        }
        // The cases meant to be refused are refused, and say why.
        for rejected in ["an id over the maximum length", "nesting over the parser's limit", "an unpaired surrogate", "a NUL byte outside a string"] {
            #expect(memory[rejected]?.status == 400, "\(rejected)")
        }
        #expect(memory["an id over the maximum length"]?.error?.hasPrefix("sessionId:") == true)
    }

    static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }
}
