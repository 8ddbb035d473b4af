import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// The channel-file language that renders rich outputs: `let`, `$each` / `$when` / `$index` /
/// `$value`, `output.variants`, `output.messageId`, `reply: {json}` per message rule,
/// `input.statuses`, `endpoint.url`, and the expression functions and list literals they use.
@Suite("Channel file language")
struct ChannelLanguageTests {
    static let header = """
        channel: demo
        vars:
          token: { secret: true }
        input:
          messages:
            - userId: "{{ request.body.user }}"
              sessionId: "{{ request.body.chat }}"
              text: "{{ request.body.text }}"

        """

    static func load(_ text: String, callbackUrl: String? = nil) throws -> Channel {
        try Channel.load(path: "demo.yaml", text: text, vars: ["token": "t0ps3cret"], callbackUrl: callbackUrl)
    }

    static func error(_ text: String) -> FileError? {
        do {
            _ = try Channel.load(path: "demo.yaml", text: text, vars: ["token": "t0ps3cret"])
            return nil
        } catch {
            return error
        }
    }

    static func output(_ text: String?, _ rich: RichContent = RichContent(), data: JSON? = nil) -> Output {
        ShippedChannel.output(to: "s1", text: text, data: data, rich: rich)
    }

    @Test("$each maps lists (nested, filtered, numbered) and is spliced into an enclosing list; $when keeps or drops a value")
    func constructs() throws {
        let channel = try Self.load(
            Self.header + """
                output:
                  url: "https://api.example.com/send"
                  json:
                    rows:
                      - { kind: first }
                      - $each: { choice: output.choices }
                        $index: i
                        $when: choice.payload != 'SKIP'
                        $value: { n: "{{ i + 1 }}", title: "{{ choice.title }}" }
                      - $when: len(output.links) > 0
                        kind: links
                      - $when: false
                        $value: never
                    pairs:
                      $each:
                        row: output.data.grid
                        cell: row
                      $value: "{{ cell }}"
                    titles:
                      $each: { choice: output.choices }
                      $value: "{{ choice.title }}"
                    maybe:
                      $when: output.card != null
                      title: "{{ output.card.title }}"

                """)
        let rich = RichContent(
            quickReplies: [.init(title: "A"), .init(title: "B", payload: "SKIP"), .init(title: "C")],
            buttons: [.init(title: "Docs", action: .url("https://docs.example.com"))])
        let request = try channel.request(for: Self.output("hi", rich, data: ["grid": [[1, 2], [3], 4, nil]]))
        #expect(
            try JSON.parse(request.body)
                == [
                    "rows": [["kind": "first"], ["n": 1, "title": "A"], ["n": 2, "title": "C"], ["kind": "links"]],
                    "pairs": [1, 2, 3, 4], "titles": ["A", "B", "C"],
                ])
        let plain = try channel.request(for: Self.output("hi", RichContent(card: .init(title: "T"))))
        #expect(try JSON.parse(plain.body) == ["rows": [["kind": "first"]], "pairs": [], "titles": [], "maybe": ["title": "T"]])
    }

    @Test("let values are computed in order; the first variant whose when holds replaces url, method, headers and body")
    func letAndVariants() throws {
        let channel = try Self.load(
            Self.header + """
                output:
                  let:
                    count: "{{ len(output.choices) }}"
                    many: "{{ count > 1 }}"
                  url: "https://api.example.com/text"
                  headers: { X-Kind: text }
                  json: { text: "{{ output.text }}", count: "{{ count }}" }
                  variants:
                    - when: many
                      url: "https://api.example.com/menu"
                      method: PUT
                      headers: { X-Kind: menu }
                      form: { text: "{{ output.text }}", n: "{{ count }}" }
                    - when: count > 0
                      url: "https://api.example.com/one"
                  success: response.status == 200 && count >= 0
                  messageId: response.body.id + '/' + count

                """)
        let none = try channel.request(for: Self.output("hi"))
        #expect(none.url == "https://api.example.com/text")
        #expect(none.method == "POST")
        #expect(none.headers.first { $0.name == "X-Kind" }?.value == "text")
        #expect(try JSON.parse(none.body) == ["text": "hi", "count": 0])

        let one = try channel.request(for: Self.output("hi", RichContent(quickReplies: [.init(title: "A")])))
        #expect(one.url == "https://api.example.com/one")
        #expect(try JSON.parse(one.body) == ["text": "hi", "count": 1])

        let two = RichContent(quickReplies: [.init(title: "A"), .init(title: "B")])
        let many = try channel.request(for: Self.output("hi", two))
        #expect(many.url == "https://api.example.com/menu")
        #expect(many.method == "PUT")
        #expect(many.headers.first { $0.name == "X-Kind" }?.value == "menu")
        #expect(String(decoding: many.body, as: UTF8.self) == "text=hi&n=2")

        let answer = ChannelResponse(status: 200, retryAfter: nil, body: Array(#"{"id":"m-1"}"#.utf8))
        #expect(channel.judge(answer, for: Self.output("hi", two)) == .delivered)
        #expect(channel.messageId(from: answer, for: Self.output("hi", two)) == "m-1/2")
    }

    @Test("output sees the rich fields and their views; endpoint.url is the endpoint's address")
    func outputValues() throws {
        let channel = try Self.load(
            Self.header + """
                output:
                  url: "https://api.example.com/send"
                  json:
                    output: "{{ output }}"
                    callback: "{{ endpoint.url }}"

                """, callbackUrl: "https://bots.example.com/demo")
        let rich = RichContent(
            quickReplies: [.init(title: "Yes", payload: "Y")], buttons: [.init(title: "Docs", action: .url("https://docs.example.com"))],
            attachments: [.init(type: .image, url: "https://cdn.example.com/a.png")], card: .init(title: "Card", buttons: [.init(title: "Go", action: .payload("GO"))]))
        let body = try JSON.parse(try channel.request(for: Self.output("Pick", rich)).body)
        #expect(body["callback"] == "https://bots.example.com/demo")
        let output = try #require(body["output"])
        #expect(output["quickReplies"] == [["title": "Yes", "payload": "Y"]])
        #expect(output["buttons"] == [["title": "Docs", "url": "https://docs.example.com"]])
        #expect(output["attachments"] == [["type": "image", "url": "https://cdn.example.com/a.png"]])
        #expect(output["card"] == ["title": "Card", "buttons": [["title": "Go", "payload": "GO"]]])
        #expect(output["choices"] == [["title": "Yes", "payload": "Y"], ["title": "Go", "payload": "GO"]])
        #expect(output["links"] == [["title": "Docs", "url": "https://docs.example.com"]])
        #expect(output["fallbackText"] == "Card\nPick\n1. Yes\n2. Go\nDocs: https://docs.example.com\nhttps://cdn.example.com/a.png")

        // Absent fields are null (left out of the JSON), the views empty.
        let plain = try JSON.parse(try channel.request(for: Self.output(nil)).body)
        #expect(plain["output"]?["choices"] == [])
        #expect(plain["output"]?["links"] == [])
        for field in ["quickReplies", "buttons", "attachments", "card", "template", "fallbackText"] {
            #expect(plain["output"]?[field] == nil, "\(field)")
        }
        // Without publicUrl, endpoint.url is null.
        let noUrl = try Self.load(
            Self.header + "output:\n  url: \"https://api.example.com/send\"\n  json: { callback: \"{{ endpoint.url }}\" }\n")
        #expect(try JSON.parse(try noUrl.request(for: Self.output("hi")).body) == [:])
    }

    @Test("a message rule's let, reply (json) and statuses rules")
    func inputRules() throws {
        let channel = try Self.load(
            """
            channel: demo
            vars:
              token: { secret: true }
            input:
              messages:
                - each: { event: request.body.events }
                  let:
                    words:
                      $each: { word: event.words }
                      $value: "{{ upper(word) }}"
                  when: len(words) > 0
                  userId: "{{ event.user }}"
                  sessionId: "{{ event.user }}"
                  text: "{{ join(words, ' ') }}"
                  data: { payload: "{{ event.payload }}", kept: "{{ event.user }}" }
                  reply:
                    status: 202
                    json: { ack: "{{ event.id }}", none: "{{ event.missing }}" }
              statuses:
                - each: { receipt: request.body.receipts }
                  messageId: "{{ receipt.id }}"
                  status: "{{ receipt.state }}"
                  at: "{{ receipt.at }}"
                  error: "{{ receipt.error }}"
              reply: { status: 200, body: ok }
            output:
              url: "https://api.example.com/send"

            """)
        let body = """
            {"events":[{"id":"e1","user":"u1","words":["a","b"],"payload":"P"},{"id":"e2","user":"u2","words":[]},{"id":"e3","user":"u3","words":"c"}],
             "receipts":[{"id":"m1","state":"delivered","at":1750000000.5},{"id":"m1","state":"READ","at":"2025-06-15T12:00:00Z"},
                         {"id":"m2","state":"undelivered","error":"30003"},{"id":"m3","state":"bounced"},{"id":"","state":"sent"}]}
            """
        let now = Timestamp(milliseconds: 1_760_000_000_000)
        let inbound = try channel.receive(ShippedChannel.request(json: body, headers: []), now: now)
        #expect(inbound.messages.map(\.text) == ["A B", "C"])
        #expect(inbound.messages[0].data == ["payload": "P", "kept": "u1"])
        #expect(inbound.messages[1].data == ["kept": "u3"], "a null member is left out")
        #expect(inbound.reply.status == 202)
        #expect(inbound.reply.contentType == "application/json")
        #expect(try JSON.parse(inbound.reply.body) == ["ack": "e1"])
        #expect(
            inbound.statuses == [
                ChannelStatus(messageId: "m1", status: .delivered, at: Timestamp(milliseconds: 1_750_000_000_500)),
                ChannelStatus(messageId: "m1", status: .read, at: Timestamp(rfc3339: "2025-06-15T12:00:00Z")!),
                ChannelStatus(messageId: "m2", status: .failed, at: now, error: "30003"),
            ])

        // Without a message, the input's reply.
        let quiet = try channel.receive(ShippedChannel.request(json: #"{"receipts":[{"id":"m9","state":"sent"}]}"#, headers: []), now: now)
        #expect(quiet.messages.isEmpty)
        #expect(quiet.statuses.count == 1)
        #expect(quiet.reply.status == 200)
        #expect(quiet.reply.body == Array("ok".utf8))
    }

    @Test("mistakes in the new constructs are file:line errors")
    func mistakes() {
        let output = Self.header + "output:\n  url: \"https://api.example.com/send\"\n"
        let cases: [(String, String, Int, String)] = [
            ("unknown $ key", output + "  json:\n    rows:\n      $for: { x: output.choices }\n", 13, "$for: unknown key"),
            ("$each without $value", output + "  json:\n    rows:\n      $each: { x: output.choices }\n", 13, "$value: is required"),
            ("$index without $each", output + "  json:\n    rows:\n      $when: true\n      $index: i\n", 14, "$index: goes with $each"),
            (
                "plain keys beside $each", output + "  json:\n    rows:\n      $each: { x: output.choices }\n      $value: 1\n      other: 2\n", 15,
                "a $each mapping takes only"
            ),
            ("a root as a loop name", output + "  json:\n    rows:\n      $each: { output: output.choices }\n      $value: 1\n", 13, "not a free name"),
            ("unknown name in $value", output + "  json:\n    rows:\n      $each: { x: output.choices }\n      $value: \"{{ y }}\"\n", 14, "unknown name 'y'"),
            ("let used before it is set", output + "  let:\n    a: \"{{ b }}\"\n    b: 1\n", 12, "unknown name 'b'"),
            ("a variant without when", output + "  variants:\n    - url: \"https://x.example.com\"\n", 12, "variants[0].when: is required"),
            ("an unknown variant key", output + "  variants:\n    - when: true\n      success: true\n", 13, "variants[0].success: unknown key"),
            (
                "a status without status",
                Self.header.replacingOccurrences(of: "input:\n", with: "input:\n  statuses:\n    - messageId: \"{{ request.body.id }}\"\n") + output
                    .dropFirst(Self.header.count), 6, "input.statuses[0].status: is required"
            ),
            ("reply with body and json", Self.header + "      reply: { body: a, json: { a: 1 } }\n" + output.dropFirst(Self.header.count), 9, "one body"),
            ("a list literal left open", output + "  messageId: \"[1, 2\"\n", 11, "output.messageId: bad expression"),
        ]
        for (name, text, line, reason) in cases {
            let found = Self.error(text)
            #expect(found?.line == line, "\(name): \(found?.description ?? "no error")")
            #expect(found?.reason.contains(reason) == true, "\(name): \(found?.description ?? "no error")")
        }
    }

    @Test("the functions channel files use: clip, clipBytes, join, slice, parseJson, if, and list literals")
    func functions() throws {
        func value(_ source: String) throws -> JSON {
            try Expression(parsing: source, variables: ["x"]).evaluate(in: Scope(variables: ["x": ["a": 1]]))
        }
        #expect(try value("clip('héllo world', 5)") == "héllo")
        #expect(try value("clip('héllo world', 8, '…')") == "héllo w…")
        #expect(try value("clip('short', 20, '…')") == "short")
        #expect(try value("clip(12345, 2)") == "12")
        #expect(try value("clip('abc', null)") == "abc")
        #expect(try value("clipBytes('ééé', 5)") == "éé")
        #expect(try value("clipBytes('abc', 64)") == "abc")
        #expect(try value("clipBytes('👍🏽ok', 4)") == "", "never half a character")
        #expect(try value("join(['a', null, '', ['b', ['c']], 3], '-')") == "a-b-c-3")
        #expect(try value("join(null, ',')") == "")
        #expect(try value("slice([1, 2, 3, 4], 1)") == [2, 3, 4])
        #expect(try value("slice([1, 2, 3, 4], 1, 3)") == [2, 3])
        #expect(try value("slice([1, 2, 3, 4], -1)") == [4])
        #expect(try value("slice([1, 2], 5)") == [])
        #expect(try value("slice('hello', 1, 3)") == "el")
        #expect(try value("slice(null, 1)") == .null)
        #expect(try value("parseJson('{\"a\":[1,true]}')") == ["a": [1, true]])
        #expect(try value("parseJson('nope')") == .null)
        #expect(try value("parseJson(x)") == .null, "only text is parsed")
        #expect(try value("if(x.a == 1, 'yes', 'no')") == "yes")
        #expect(try value("if(false, 'yes')") == .null)
        #expect(try value("[]") == [])
        #expect(try value("[1, 'a', x.a, [null],]") == [1, "a", 1, [nil]])
        #expect(try value("len([x, x])") == 2)
        #expect(throws: ExpressionError.self) { try Expression(parsing: "[1, 2") }
        #expect(throws: ExpressionError.self) { try Expression(parsing: "clip('a')") }
    }
}
