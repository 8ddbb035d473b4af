import Foundation
import HeraldCore
import HeraldPlaybook
import HeraldTestSupport
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What a user reads: the console report of a broken expectation, the summary line, and the
/// JUnit XML a CI system reads.
@Suite struct PlaybookReportTests {
    static let brokenPlaybook = """
        endpoint: steps
        conversations:
          - name: greets
            steps:
              - user: hello
                expect: "You said: hello"
          - name: passes data & <marks>
            steps:
              - user: { text: order, data: { orderId: "123456", carrier: DHL } }
                expect:
                  - text: "You said: my order"
                    data: { orderId: 123456, carrier: DHL }
          - name: two outputs
            steps:
              - user: two
                expect:
                  - first
                  - { text: "the second", data: { n: 2 } }
        """

    @Test func aBrokenExpectationReadsAsADiffUnderItsStep() async throws {
        let result = try await PlaybookFixtures.run(Self.brokenPlaybook, file: "playbooks/echo.yaml")
        #expect(
            result.report == """
                playbooks/echo.yaml (endpoint steps)
                  PASS  greets
                  FAIL  passes data & <marks>
                        step 1 (playbooks/echo.yaml:9): user "order" data {"orderId":"123456","carrier":"DHL"}
                        the output does not match (- expected, + got):
                          output 1:
                          - text: "You said: my order"
                          + text: "You said: order"
                          - data.orderId: 123456
                          + data.orderId: "123456"
                            (the playbook has a number and Herald a string: quote it in YAML to expect the string, like "123456")
                            data.carrier: "DHL"
                  FAIL  two outputs
                        step 1 (playbooks/echo.yaml:15): user "two"
                        the outputs do not match (- expected, + got):
                          output 1:
                            text: "first"
                          output 2:
                          - text: "the second"
                          + text: "second"
                            data.n: 2
                """)
        #expect(ConsoleReport.summary([result], duration: .milliseconds(1234)) == "1 passed, 2 failed (1.23s)")
    }

    @Test func anUnreadablePlaybookIsReportedWithItsErrorsAndCountsAsAFailure() async throws {
        let file = try temporaryFile("broken.yaml", "endpoint: steps\nconversations:\n  - steps:\n      - usr: hi\n")
        let results = try await InProcessDriver.run(configuration: try PlaybookFixtures.configuration(), logger: TestServices.logger) { driver in
            await PlaybookRunner(driver: driver).run(files: [file])
        }
        #expect(results.count == 1)
        #expect(results[0].failed == 1)
        #expect(
            ConsoleReport.lines(for: results[0]) == [
                "\(file): cannot be read",
                "  \(file):4: unknown key 'usr' in a step (expected one of user, inject, notify, wait, expect, expectNothing, context)",
            ])
    }

    @Test func junitHasASuitePerPlaybookACasePerConversationAndTheDiffInTheFailure() async throws {
        let broken = try temporaryFile("broken.yaml", "endpoint: steps\nconversations: []\n")
        let good = try temporaryFile("echo.yaml", Self.brokenPlaybook)
        let missingKey = try temporaryFile(
            "refused.yaml",
            "endpoint: steps\nconversations:\n  - name: refused\n    steps: [{ user: name }, { user: hi }]\n  - name: other user\n    continue: true\n    userId: someone-else\n    steps: [{ user: hi }]\n"
        )
        let results = try await InProcessDriver.run(configuration: try PlaybookFixtures.configuration(), logger: TestServices.logger) { driver in
            await PlaybookRunner(driver: driver).run(files: [good, broken, missingKey])
        }
        let xml = JUnitReport.xml(results, duration: .milliseconds(1500))
        let document = try XMLDocument(xmlString: xml, options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        #expect(root.attribute(forName: "tests")?.stringValue == "6")
        #expect(root.attribute(forName: "failures")?.stringValue == "2")
        #expect(root.attribute(forName: "errors")?.stringValue == "2")
        #expect(root.attribute(forName: "time")?.stringValue == "1.500")

        let suites = root.elements(forName: "testsuite")
        #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == [good, broken, missingKey])
        #expect(suites.map { $0.attribute(forName: "tests")?.stringValue } == ["3", "1", "2"])
        #expect(suites.map { $0.attribute(forName: "failures")?.stringValue } == ["2", "0", "0"])
        #expect(suites.map { $0.attribute(forName: "errors")?.stringValue } == ["0", "1", "1"])

        let cases = suites[0].elements(forName: "testcase")
        #expect(cases.map { $0.attribute(forName: "name")?.stringValue } == ["greets", "passes data & <marks>", "two outputs"])
        #expect(cases.allSatisfy { $0.attribute(forName: "classname")?.stringValue == "echo" })
        #expect(cases[0].children?.isEmpty ?? true)
        let failure = try #require(cases[1].elements(forName: "failure").first)
        #expect(failure.attribute(forName: "type")?.stringValue == "mismatch")
        #expect(
            failure.attribute(forName: "message")?.stringValue
                == #"step 1 (\#(good):9): user "order" data {"orderId":"123456","carrier":"DHL"}: the output does not match (- expected, + got)"#)
        let text = try #require(failure.stringValue)
        #expect(text.contains("\n  - text: \"You said: my order\"\n  + text: \"You said: order\"\n"))
        #expect(text == results[0].conversations[1].failure?.report(file: good))

        let unreadable = try #require(suites[1].elements(forName: "testcase").first?.elements(forName: "error").first)
        #expect(unreadable.attribute(forName: "message")?.stringValue == "\(broken):2: conversations: the list is empty")

        let refused = suites[2].elements(forName: "testcase")
        #expect(refused[0].children?.isEmpty ?? true)
        let error = try #require(refused[1].elements(forName: "error").first)
        #expect(error.attribute(forName: "type")?.stringValue == "error")
        #expect(error.stringValue?.contains("belongs to another user than 'someone-else'") == true)
    }

    @Test func aSkippedConversationSaysWhyAndIsNeitherPassedNorFailed() throws {
        let result = PlaybookResult(
            file: "f.yaml", name: "f", urlToken: "demo",
            conversations: [
                ConversationResult(name: "runs", line: 1, sessionId: "s", steps: 1, failure: nil, duration: .zero),
                ConversationResult(name: "waits", line: 5, sessionId: "", steps: 2, failure: nil, duration: .zero, skipped: "it lets time pass"),
            ], errors: [])
        #expect((result.passed, result.failed, result.skipped) == (1, 0, 1))
        #expect(ConsoleReport.lines(for: result) == ["f.yaml (endpoint demo)", "  PASS  runs", "  SKIP  waits (it lets time pass)"])
        #expect(ConsoleReport.summary([result], duration: .zero) == "1 passed, 0 failed, 1 skipped (0.00s)")
        let document = try XMLDocument(xmlString: JUnitReport.xml([result], duration: .zero), options: [])
        let skipped = try document.nodes(forXPath: "//testcase[@name='waits']/skipped/@message")
        #expect(skipped.map { $0.stringValue } == ["it lets time pass"])
        #expect(try document.nodes(forXPath: "//testsuite/@skipped").map { $0.stringValue } == ["1"])
    }

    @Test func junitDropsCharactersXMLCannotCarry() throws {
        let failure = StepFailure(step: 1, line: 3, action: "user \"a\u{1}b\"", kind: .mismatch, headline: "x < y & \"z\"", diff: [.got("tab\there")])
        let result = PlaybookResult(
            file: "f.yaml", name: "f", urlToken: "demo",
            conversations: [ConversationResult(name: "n\u{0}", line: 1, sessionId: "s", steps: 1, failure: failure, duration: .zero)], errors: [])
        let document = try XMLDocument(xmlString: JUnitReport.xml([result], duration: .zero), options: [])
        let testcase = try #require(document.rootElement()?.elements(forName: "testsuite").first?.elements(forName: "testcase").first)
        #expect(testcase.attribute(forName: "name")?.stringValue == "n")
        let element = try #require(testcase.elements(forName: "failure").first)
        #expect(element.attribute(forName: "message")?.stringValue == #"step 1 (f.yaml:3): user "ab": x < y & "z""#)
        #expect(element.stringValue?.contains("+ tab\there") == true)
    }
}
