import HeraldCore
import HeraldPlaybook
import Testing

/// Reading playbook files: the shapes every step kind takes, and every mistake reported as
/// `file:line: reason`.
@Suite struct PlaybookLoadingTests {
    func errors(_ yaml: String) -> [String] {
        Playbook.check(yaml: yaml, file: "p.yaml").errors.map(\.description)
    }

    @Test func readsEveryStepKindAndCheck() throws {
        let playbook = try Playbook.load(
            yaml: """
                name: shapes
                endpoint: demo
                userId: u-1
                conversations:
                  - name: all
                    userId: u-2
                    steps:
                      - user: 123456
                        expect: "You said: 123456"
                      - inject: { text: hi, data: { event: x } }
                        expectNothing: true
                      - notify: { text: note, attachments: [{ type: image, url: "https://example.com/a.png" }] }
                        expect:
                          - { text: null, type: notify }
                          - { contains: [a, b], matches: '^a', data: { k: 1 }, attachments: [{ type: image }], source: inject }
                          - {}
                      - context: { context.survey.rating: 4, order: { id: "1" } }
                  - name: again
                    continue: true
                    steps: [{ user: hi }]
                  - session: s-1
                    steps: [{ user: hi }]
                """, file: "shapes.yaml")
        #expect(playbook.name == "shapes")
        #expect(playbook.urlToken == "demo")
        #expect(playbook.userId == "u-1")
        #expect(playbook.conversations.map(\.name) == ["all", "again", "conversation 3"])
        #expect(playbook.conversations.map(\.session) == [.fresh, .continuePrevious, .named("s-1")])
        #expect(playbook.conversations[0].userId == "u-2")
        let steps = playbook.conversations[0].steps
        #expect(steps.map(\.line) == [8, 10, 12, 17])
        guard case .user(let user) = steps[0].action else { Issue.record("not a user step"); return }
        #expect(user == PlaybookMessage(text: "123456"))
        guard case .inject(let inject) = steps[1].action, case .nothing = steps[1].outputs else { Issue.record("not inject"); return }
        #expect(inject == PlaybookMessage(text: "hi", data: ["event": "x"]))
        guard case .notify(let notify) = steps[2].action, case .exactly(let outputs) = steps[2].outputs else {
            Issue.record("not notify")
            return
        }
        #expect(notify.rich["attachments"] == [["type": "image", "url": "https://example.com/a.png"]])
        #expect(outputs.map(\.checks.count) == [2, 6, 0])
        #expect(steps[3].action == nil)
        #expect(steps[3].context.map(\.path) == [["survey", "rating"], ["order"]])
        #expect(steps[3].context.map(\.value) == [4, ["id": "1"]])
    }

    @Test func aFileNameIsTheDefaultName() throws {
        let playbook = try Playbook.load(yaml: "endpoint: demo\nconversations: [{ steps: [{ user: hi }] }]", file: "dir/my-flow.yaml")
        #expect(playbook.name == "my-flow")
        #expect(playbook.userId == Playbook.defaultUserId)
    }

    @Test(arguments: [
        ("conversations: [{ steps: [{ user: hi }] }]", "p.yaml:1: a playbook needs 'endpoint:', the urlToken of the endpoint it talks to"),
        ("endpoint: demo", "p.yaml:1: a playbook needs 'conversations:', a list of conversations"),
        ("endpoint: demo\nconversations: []", "p.yaml:2: conversations: the list is empty"),
        (
            "endpoint: demo\nconversation: []",
            "p.yaml:2: unknown key 'conversation' in the playbook (expected one of name, description, endpoint, userId, mock, conversations)"
        ),
        (
            "endpoint: demo\nconversations:\n  - name: a\n    steps:\n      - user: hi\n        expcet: x",
            "p.yaml:6: unknown key 'expcet' in a step (expected one of user, inject, notify, wait, expect, expectNothing, context)"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        inject: hi",
            "p.yaml:5: a step sends one message, but 'user' and 'inject' are both here; make them two steps"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - expect: hi",
            "p.yaml:4: expect checks the outputs of a message, but no user, inject or notify step comes before it"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expect: { matches: '^[0-9' }",
            "p.yaml:5: expect.matches: '^[0-9' is not a valid regular expression"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expect: { type: reply }",
            "p.yaml:5: expect.type: 'reply' is not one of output, notify, error"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expect: { source: bot }",
            "p.yaml:5: expect.source: 'bot' is not one of user, inject"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expect: { txt: hi }",
            "p.yaml:5: unknown key 'txt' in an expected output (expected one of text, contains, matches, data, type, source, quickReplies, buttons, attachments, card, template)"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: { text: hi, data: [1] }",
            "p.yaml:4: user.data must be a mapping (a JSON object)"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - inject: { attachments: [] }",
            "p.yaml:4: unknown key 'attachments' in inject (expected one of text, data)"
        ),
        ("endpoint: demo\nconversations:\n  - steps:\n      - user: ''", "p.yaml:4: user: needs a non-empty text or data"),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expectNothing: false",
            "p.yaml:5: expectNothing: write 'expectNothing: true', or leave it out"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        expect: x\n        expectNothing: true",
            "p.yaml:6: 'expect' and 'expectNothing' are both here; a step has one of them"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: hi\n        context: { 'a..b': 1 }",
            "p.yaml:5: context: 'a..b' is not a path (names separated by single dots, like survey.rating)"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - {}",
            "p.yaml:4: a step needs a message (user, inject or notify), a wait, or a check (expect, expectNothing, context)"
        ),
        (
            "endpoint: demo\nconversations:\n  - continue: true\n    steps: [{ user: hi }]",
            "p.yaml:3: continue: true carries on the previous conversation's session, but this is the first one"
        ),
        (
            "endpoint: demo\nconversations:\n  - steps: [{ user: hi }]\n  - session: s\n    continue: true\n    steps: [{ user: hi }]",
            "p.yaml:4: a conversation either names its session (session:) or continues the previous one (continue: true), not both"
        ),
        (
            "endpoint: demo\nconversations:\n  - name: a\n    steps: [{ user: hi }]\n  - name: a\n    steps: [{ user: hi }]",
            "p.yaml:5: duplicate conversation name 'a' (first on line 3)"
        ),
        ("endpoint: demo\nconversations:\n  - name: a\n  - steps: []", "p.yaml:3: conversation 'a' needs 'steps:', a list of steps"),
        ("endpoint: demo\nendpoint: other\nconversations: []", "p.yaml:2: duplicate key 'endpoint'"),
        (
            "endpoint: demo\nconversations:\n  - steps:\n      - user: \"hi\n",
            "p.yaml:5: not valid YAML: found unexpected end of stream while scanning a quoted scalar"
        ),
    ])
    func reportsMistakesWithTheirLine(yaml: String, expected: String) {
        let errors = errors(yaml)
        #expect(errors.first?.hasPrefix(expected) == true, "got \(errors)")
    }

    @Test func reportsEveryBrokenStepNotOnlyTheFirst() {
        let errors = errors(
            """
            endpoint: demo
            conversations:
              - name: one
                steps:
                  - user: hi
                    expcet: x
                  - user: hi
                    expect: { type: reply }
              - name: two
                steps:
                  - inject: hi
                    notify: hi
            """)
        #expect(errors.count == 3)
        #expect(errors.map { $0.split(separator: ":").prefix(2).joined(separator: ":") } == ["p.yaml:6", "p.yaml:8", "p.yaml:12"])
    }

    @Test func anUnreadableFileSaysSo() {
        let check = Playbook.check(path: "/nonexistent/playbook.yaml")
        #expect(check.playbook == nil)
        #expect(check.errors.first?.description.hasPrefix("/nonexistent/playbook.yaml: cannot read the file") == true)
    }

    @Test func theExamplePlaybooksLoad() throws {
        let files = PlaybookFixtures.examplePlaybooks
        #expect(files.count == 7)
        for file in files {
            let check = Playbook.check(path: file)
            #expect(check.errors.isEmpty, "\(check.errors)")
        }
    }
}
