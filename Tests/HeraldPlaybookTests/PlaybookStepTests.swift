import HeraldCore
import HeraldPlaybook
import HeraldTestSupport
import Testing

/// Each step kind and each check, run in-process against the `steps` test flow: every check is
/// shown to pass when it should and to fail when it should.
@Suite struct PlaybookStepTests {
    @Test func userTextWithExactExpectationPassesAndAWrongTextFails() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: right
                steps:
                  - user: hello
                    expect: "You said: hello"
              - name: wrong
                steps:
                  - user: hello
                    expect: "You said: hallo"
            """)
        #expect(result.conversations.map(\.passed) == [true, false])
        let failure = try #require(result.failure("wrong"))
        #expect(failure.kind == .mismatch)
        #expect(failure.step == 1)
        #expect(failure.diff == [.heading("output 1:"), .expected(#"text: "You said: hallo""#), .got(#"text: "You said: hello""#)])
    }

    @Test func userWithDataMatchesADataSubset() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: subset
                steps:
                  - user: { text: order, data: { orderId: A-1, items: [{ sku: X1, qty: 2 }], extra: true } }
                    expect:
                      - data: { orderId: A-1, items: [{ sku: X1 }] }
              - name: wrong value
                steps:
                  - user: { text: order, data: { orderId: A-1, qty: 2 } }
                    expect: { data: { orderId: A-2, qty: 2 } }
              - name: number is not a string
                steps:
                  - user: { text: order, data: { orderId: "123456" } }
                    expect: { data: { orderId: 123456 } }
              - name: list length
                steps:
                  - user: { text: order, data: { items: [1, 2] } }
                    expect: { data: { items: [1] } }
              - name: data only
                steps:
                  - user: { data: { ping: true } }
                    expect: { text: "You said: ", data: { ping: true } }
            """)
        #expect(result.conversations.map(\.passed) == [true, false, false, false, true])
        #expect(
            result.failure("wrong value")?.diff == [
                .heading("output 1:"), .expected(#"data.orderId: "A-2""#), .got(#"data.orderId: "A-1""#), .same("data.qty: 2"),
            ])
        #expect(
            result.failure("number is not a string")?.diff == [
                .heading("output 1:"), .expected("data.orderId: 123456"), .got(#"data.orderId: "123456""#),
                .note(#"the playbook has a number and Herald a string: quote it in YAML to expect the string, like "123456""#),
            ])
        #expect(
            result.failure("list length")?.diff == [
                .heading("output 1:"), .expected("data.items: [1]"), .got("data.items: [1,2]"), .note("expected 1 element, got 2"),
            ])
    }

    @Test func injectRunsTheFlowAsInjectAndSourceIsChecked() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: inject first
                steps:
                  - inject: { data: { event: shipped } }
                    expect:
                      - text: event shipped
                        data: { event: shipped, count: 3 }
                        source: inject
                        type: output
              - name: wrong source
                steps:
                  - user: hi
                  - inject: { text: ping, data: { event: ping } }
                    expect: { source: user }
            """)
        #expect(result.conversations.map(\.passed) == [true, false])
        #expect(result.failure("wrong source")?.diff == [.heading("output 1:"), .expected("source: user"), .got("source: inject")])
        #expect(result.failure("wrong source")?.action == #"inject "ping" data {"event":"ping"}"#)
    }

    @Test func notifyBypassesTheFlowAndKeepsTheContext() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: notify
                steps:
                  - user: name
                  - user: Ada
                    context: { profile.name: Ada }
                  - notify:
                      text: An agent will call.
                      data: { agent: Bo }
                      attachments: [{ type: image, url: "https://example.com/a.png" }]
                    expect:
                      - type: notify
                        text: An agent will call.
                        data: { agent: Bo }
                        attachments: [{ type: image }]
                    context: { profile: { name: Ada, visits: 1 } }
              - name: notify is not an output
                steps:
                  - notify: hello
                    expect: { type: output }
              - name: notify has no source
                steps:
                  - notify: hello
                    expect: { source: user }
            """)
        #expect(result.conversations.map(\.passed) == [true, false, false])
        #expect(result.failure("notify is not an output")?.diff == [.heading("output 1:"), .expected("type: output"), .got("type: notify")])
        #expect(
            result.failure("notify has no source")?.diff == [
                .heading("output 1:"), .expected("source: user"), .got("source: (none: a notify has no source)"),
            ])
    }

    @Test func oneExpectationFindsAnyOutputAListNeedsExactlyThoseOutputs() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: one among two
                steps:
                  - user: two
                    expect: second
              - name: exactly two
                steps:
                  - user: two
                    expect: [first, { text: second, data: { nested: { deep: "yes" } } }]
              - name: one too few
                steps:
                  - user: two
                    expect: [second]
              - name: one too many
                steps:
                  - user: two
                    expect: [first, second, third]
              - name: none matches
                steps:
                  - user: two
                    expect: third
            """)
        #expect(result.conversations.map(\.passed) == [true, true, false, false, false])
        let tooFew = try #require(result.failure("one too few"))
        #expect(tooFew.headline == "expected 1 output, got 2 (- expected, + got)")
        // The expected output is paired with the output it matches; the other is extra.
        #expect(
            tooFew.diff == [.heading("output 1: not expected"), .got(#"text: "first""#), .heading("output 2:"), .same(#"text: "second""#)])
        let tooMany = try #require(result.failure("one too many"))
        #expect(tooMany.headline == "expected 3 outputs, got 2 (- expected, + got)")
        #expect(tooMany.diff.suffix(2) == [.heading("output 3: missing"), .expected(#"text: "third""#)])
        let none = try #require(result.failure("none matches"))
        #expect(none.headline == "none of the 2 outputs matches (- expected, + got)")
        #expect(
            none.diff == [
                .heading("output 1:"), .expected(#"text: "third""#), .got(#"text: "first""#),
                .heading("output 2:"), .expected(#"text: "third""#), .got(#"text: "second""#),
            ])
    }

    @Test func containsAndMatchesLookInsideTheText() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: hold
                steps:
                  - user: hello world
                    expect: { contains: [said, world], matches: '^You said: h\\w+' }
              - name: contains fails
                steps:
                  - user: hello
                    expect: { contains: bye }
              - name: matches fails
                steps:
                  - user: hello
                    expect: { matches: '^\\d+$' }
            """)
        #expect(result.conversations.map(\.passed) == [true, false, false])
        #expect(
            result.failure("contains fails")?.diff == [.heading("output 1:"), .expected(#"text contains: "bye""#), .got(#"text: "You said: hello""#)])
        #expect(
            result.failure("matches fails")?.diff == [.heading("output 1:"), .expected(#"text matches: /^\d+$/"#), .got(#"text: "You said: hello""#)])
    }

    @Test func expectNothingPassesOnSilenceAndFailsOnAnyOutput() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: silent
                steps:
                  - user: quiet
                    expectNothing: true
              - name: not silent
                steps:
                  - user: hi
                    expectNothing: true
              - name: expected something
                steps:
                  - user: quiet
                    expect: anything
            """)
        #expect(result.conversations.map(\.passed) == [true, false, false])
        let noisy = try #require(result.failure("not silent"))
        #expect(noisy.headline == "expected no output, got 1 output (+ got)")
        #expect(noisy.diff == [.heading("output 1:"), .got(#"text: "You said: hi""#)])
        let silent = try #require(result.failure("expected something"))
        #expect(silent.headline == "expected an output, got none (- expected)")
        #expect(silent.diff == [.expected(#"text: "anything""#)])
    }

    @Test func contextChecksDottedPathsNestedValuesAndAbsence() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: holds
                steps:
                  - user: name
                    expect: ["Your name?"]
                  - user: "42"
                    expect: ["Letters only, please."]
                    context: { profile.name: null }
                  - user: Ada
                    expect: ["Hello Ada"]
                    context:
                      profile.name: Ada
                      context.profile.visits: 1
                      profile: { name: Ada }
                      missing: null
              - name: wrong
                steps:
                  - user: name
                  - user: Ada
                  - context: { profile.name: Bo, profile.visits: 1 }
              - name: no session
                steps:
                  - context: { profile.name: Ada }
            """)
        #expect(result.conversations.map(\.passed) == [true, false, false])
        let wrong = try #require(result.failure("wrong"))
        #expect(wrong.step == 3)
        #expect(wrong.action == "context")
        #expect(wrong.headline == "the context does not match (- expected, + got)")
        #expect(wrong.diff == [.expected(#"profile.name: "Bo""#), .got(#"profile.name: "Ada""#), .same("profile.visits: 1")])
        #expect(
            result.failure("no session")?.diff == [
                .note("there is no such session, so its context is empty"), .expected(#"profile.name: "Ada""#), .got("profile.name: (missing)"),
            ])
    }

    @Test func anErrorOutputOfAFlowThatLoopsIsTypeError() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: loop
                steps:
                  - user: loop
                    expect: [{ type: error, contains: "more than 20 steps" }]
              - name: loop is not an output
                steps:
                  - user: loop
                    expect: { type: output }
            """)
        #expect(result.conversations.map(\.passed) == [true, false])
    }

    @Test func aStepWithoutAMessageChecksTheLastMessagesOutputs() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: separate
                steps:
                  - user: two
                  - expect: first
                  - expect: [first, second]
                  - context: { anything: null }
                  - expect: third
            """)
        let failure = try #require(result.failure("separate"))
        #expect(failure.step == 5)
        #expect(failure.action == "expect")
        #expect(failure.headline == "none of the 2 outputs matches (- expected, + got)")
    }

    @Test func theFirstFailingStepEndsTheConversation() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: stops
                steps:
                  - user: one
                    expect: "You said: one"
                  - user: two
                    expect: nope
                  - user: three
                    expect: also wrong
              - name: next runs
                steps:
                  - user: four
                    expect: "You said: four"
            """)
        #expect(result.failure("stops")?.step == 2)
        #expect(result.failure("stops")?.line == 7)
        #expect(result.conversations.map(\.passed) == [false, true])
        #expect((result.passed, result.failed) == (1, 1))
    }

    @Test func eachConversationHasItsOwnSessionUnlessItContinues() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            userId: tester
            conversations:
              - name: ask
                steps:
                  - user: name
                    expect: "Your name?"
              - name: fresh
                steps:
                  - user: Ada
                    expect: "You said: Ada"
                    context: { profile: null }
              - name: setup
                steps:
                  - user: name
              - name: continued
                continue: true
                steps:
                  - user: Ada
                    expect: "Hello Ada"
              - name: continued again
                continue: true
                steps:
                  - context: { profile.name: Ada }
            """)
        #expect(result.failed == 0, "\(result.report)")
        let ids = result.conversations.map(\.sessionId)
        #expect(Set(ids.prefix(3)).count == 3)
        #expect(ids[2] == ids[3] && ids[3] == ids[4])
        #expect(ids[0].hasPrefix("playbook-test-1-"))
    }

    @Test func aConversationContinuingAFailedOneSaysSo() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            conversations:
              - name: setup
                steps:
                  - user: name
                    expect: wrong
              - name: next
                continue: true
                steps:
                  - user: Ada
                    expect: nope
              - name: fresh
                steps:
                  - user: Ada
                    expect: nope
            """)
        #expect(result.failure("next")?.diff.last == .note("this conversation continues 'setup', which failed"))
        #expect(result.failure("next")?.diff.first == .heading("output 1:"))
        #expect(result.failure("fresh")?.diff.last == .got(#"text: "You said: Ada""#))
    }

    @Test func aNamedSessionIsEndedFirstSoEveryRunStartsTheSame() async throws {
        let playbook = try Playbook.load(
            yaml: """
                endpoint: steps
                conversations:
                  - name: first visit
                    session: fixed-1
                    steps:
                      - user: name
                      - user: Ada
                        context: { profile.visits: 1 }
                  - name: same id again
                    session: fixed-1
                    steps:
                      - context: { profile: null }
                      - user: name
                        expect: ["Your name?"]
                """, file: "named.yaml")
        let results = try await InProcessDriver.run(configuration: try PlaybookFixtures.configuration(), logger: TestServices.logger) { driver in
            [await PlaybookRunner(driver: driver).run(playbook), await PlaybookRunner(driver: driver).run(playbook)]
        }
        for result in results {
            #expect(result.failed == 0, "\(result.report)")
            #expect(result.conversations.map(\.sessionId) == ["fixed-1", "fixed-1"])
        }
    }

    @Test func aConversationsOwnUserIdIsUsed() async throws {
        // The session belongs to its first user; another userId in the same session is refused.
        let result = try await PlaybookFixtures.run(
            """
            endpoint: steps
            userId: alice
            conversations:
              - name: alice
                session: shared
                steps:
                  - user: hi
              - name: bob
                continue: true
                userId: bob
                steps:
                  - user: hi
            """)
        #expect(result.conversations.map(\.passed) == [true, false])
        let failure = try #require(result.failure("bob"))
        #expect(failure.kind == .error)
        #expect(failure.headline == "the step could not run: userId: session 'shared' belongs to another user than 'bob'")
    }

    @Test func anEndpointNotInTheConfigFailsEveryConversation() async throws {
        let result = try await PlaybookFixtures.run(
            """
            endpoint: nowhere
            conversations:
              - name: a
                steps: [{ user: hi }]
              - name: b
                steps: [{ user: hi }]
            """)
        #expect(result.failed == 2)
        #expect(result.failure("a")?.kind == .error)
        #expect(result.failure("b")?.headline == "endpoint 'nowhere' is not in <config> (its endpoints: demo, steps)")
    }
}
