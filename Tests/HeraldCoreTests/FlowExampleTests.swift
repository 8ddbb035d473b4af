import Testing

@testable import HeraldCore

/// Scripted conversations over `examples/flows/`, run through ``FlowEngine`` with the session
/// state carried from one input to the next.
@Suite("Example flows")
struct FlowExampleTests {
    static func example(_ name: String) throws -> Flow {
        try Flow.load(path: exampleFlowPath(name))
    }

    // MARK: echo.yaml

    @Test("echo answers every input with its text and data")
    func echo() throws {
        var conversation = Conversation(try Self.example("echo.yaml"))
        #expect(conversation.send("hello", data: ["key": "value"]).outputs == [OutputDraft(text: "You said: hello", data: ["key": "value"])])
        #expect(conversation.send("just text").outputs == [OutputDraft(text: "You said: just text", data: nil)])
        #expect(
            conversation.send(nil, data: ["n": 1, "deep": ["a": [1, 2]]]).outputs == [
                OutputDraft(text: "You said: ", data: ["n": 1, "deep": ["a": [1, 2]]])
            ])
        #expect(conversation.send("from a back-end", source: .inject).outputs.map(\.text) == ["You said: from a back-end"])
        #expect(conversation.session.context.isEmpty)
        #expect(conversation.session.waiting == nil)
    }

    // MARK: order-status.yaml

    static let shipped: JSON = ["event": "shipped", "orderId": "123456", "carrier": "DHL"]

    @Test("order-status: asks for a valid order number, then tells the user when the back-end injects 'shipped'")
    func orderStatusHappyPath() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        let prompt = "Hi! Which order should I keep an eye on? Send me its number (6 digits, like 123456)."
        let retry = "That is not an order number: it has 6 digits, like 123456. Which order is it?"

        #expect(conversation.say("hi") == [prompt])
        #expect(conversation.session.waiting == FlowWait(nodeId: "ask-order"))
        #expect(conversation.say("12345") == [retry])
        #expect(conversation.say("order 123456") == [retry])
        #expect(conversation.session.waiting == FlowWait(nodeId: "ask-order", retries: 2))

        let confirmed = conversation.send(" 123456 ")
        #expect(
            confirmed.outputs == [
                OutputDraft(text: "Thanks! I'll let you know as soon as order 123456 ships.", data: ["orderId": "123456", "status": "watching"])
            ])
        #expect(confirmed.waiting == nil)
        #expect(conversation.session.context["orderId"] == "123456")
        #expect(conversation.session.context["watchingSince"]?.stringValue?.hasPrefix("2026-11-29T10:00:") == true)

        #expect(
            conversation.say("any news?") == [
                "I'm keeping an eye on order 123456 and will message you when it ships. (Say \"new\" to track another order.)"
            ])

        let event = conversation.send(nil, data: Self.shipped, source: .inject)
        #expect(
            event.outputs == [
                OutputDraft(
                    text: "Good news: your order 123456 has shipped with DHL!", data: ["event": "shipped", "orderId": "123456", "carrier": "DHL"])
            ])
        // The order is done: the context is cleared and the next message starts over.
        #expect(conversation.session.context.isEmpty)
        #expect(conversation.say("hello again") == [prompt])
    }

    @Test("order-status: the back-end may send the order id as a number, and leave out the carrier")
    func orderStatusNumericId() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        conversation.send("hi")
        conversation.send("654321")
        let event = conversation.send(nil, data: ["event": "shipped", "orderId": 654321], source: .inject)
        #expect(
            event.outputs == [
                OutputDraft(
                    text: "Good news: your order 654321 has shipped with our carrier!",
                    data: ["event": "shipped", "orderId": "654321", "carrier": nil])
            ])
    }

    @Test("order-status: an event for another order, or with no order remembered, keeps the context")
    func orderStatusOtherOrder() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        #expect(conversation.say(nil, data: ["event": "shipped", "orderId": "111111"], source: .inject) == ["Order 111111 has shipped."])
        #expect(conversation.session.context.isEmpty)

        conversation.send("hi")
        conversation.send("123456")
        #expect(conversation.say(nil, data: ["event": "shipped", "orderId": "999999"], source: .inject) == ["Order 999999 has shipped."])
        #expect(conversation.session.context["orderId"] == "123456")
    }

    @Test("order-status: unknown events are ignored silently")
    func orderStatusUnknownEvent() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        conversation.send("hi")
        conversation.send("123456")
        let before = conversation.session.context
        #expect(conversation.send(nil, data: ["event": "delayed", "orderId": "123456"], source: .inject).outputs.isEmpty)
        #expect(conversation.send("not json data", source: .inject).outputs.isEmpty)
        #expect(conversation.session.context == before)
    }

    @Test("order-status: 'new' forgets the order and asks for another")
    func orderStatusNewOrder() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        conversation.send("hi")
        conversation.send("123456")
        #expect(conversation.say("  NEW ") == ["Hi! Which order should I keep an eye on? Send me its number (6 digits, like 123456)."])
        #expect(conversation.session.context["orderId"] == .null)
        #expect(conversation.say("222222") == ["Thanks! I'll let you know as soon as order 222222 ships."])
        #expect(
            conversation.say(nil, data: ["event": "shipped", "orderId": "222222"], source: .inject) == [
                "Good news: your order 222222 has shipped with our carrier!"
            ])
    }

    @Test("order-status: an inject while the order number is still being asked answers the ask (and fails its check)")
    func orderStatusInjectDuringAsk() throws {
        var conversation = Conversation(try Self.example("order-status.yaml"))
        conversation.send("hi")
        #expect(
            conversation.say(nil, data: Self.shipped, source: .inject) == [
                "That is not an order number: it has 6 digits, like 123456. Which order is it?"
            ])
        #expect(conversation.session.waiting?.nodeId == "ask-order")
    }

    // MARK: survey.yaml

    @Test("survey: validated answers, re-prompts, and a summary as text and data")
    func surveyHappyPath() throws {
        var conversation = Conversation(try Self.example("survey.yaml"))
        #expect(
            conversation.say("hi") == [
                "Hi! Three quick questions about your last order, so we can do better.", "First, what is your first name?",
            ])
        #expect(conversation.say("42") == ["Just your first name, please (letters only)."])
        #expect(conversation.say("Zoë") == ["Thanks, Zoë! How would you rate your order, from 1 (bad) to 5 (great)?"])
        #expect(conversation.say("7") == ["Please answer with a number from 1 to 5."])
        #expect(conversation.say("four") == ["Please answer with a number from 1 to 5."])
        #expect(conversation.say("4") == ["Would you recommend us to a friend? (yes/no)"])
        #expect(conversation.say("maybe") == ["Please answer yes or no."])
        #expect(conversation.say("Yes") == ["Anything else you would like to tell us? (say \"no\" to skip)"])

        let summary = conversation.send("Faster delivery, please.")
        #expect(
            summary.outputs == [
                OutputDraft(
                    text: """
                        Thank you, Zoë! Here is what you told us:
                        - rating: 4/5
                        - would recommend us: yes
                        - comment: Faster delivery, please.
                        """,
                    data: ["survey": ["name": "Zoë", "rating": 4, "recommend": true, "comment": "Faster delivery, please."]])
            ])
        #expect(summary.waiting == nil)
        let survey = try #require(conversation.session.context["survey"]?.objectValue)
        #expect(survey["done"] == true)
        #expect(survey["rating"] == 4)
        #expect(survey["recommend"] == true)
    }

    @Test("survey: a low rating asks what went wrong; 'no' to the open question is no comment")
    func surveyBranches() throws {
        var low = Conversation(try Self.example("survey.yaml"))
        low.send("hi")
        low.send("Ada")
        #expect(low.say("1") == ["Would you recommend us to a friend? (yes/no)"])
        #expect(low.say("n") == ["Sorry to hear that. What went wrong?"])
        let summary = low.send("It arrived broken.")
        #expect(summary.outputs.first?.data?["survey"] == ["name": "Ada", "rating": 1, "recommend": false, "comment": "It arrived broken."])

        var skip = Conversation(try Self.example("survey.yaml"))
        skip.send("hi")
        skip.send("Bob")
        skip.send("5")
        skip.send("YES")
        let skipped = skip.send("No")
        #expect(skipped.outputs.first?.text?.hasSuffix("- comment: (none)") == true)
        #expect(skipped.outputs.first?.data?["survey"] == ["name": "Bob", "rating": 5, "recommend": true, "comment": nil])
    }

    @Test("survey: once done it is not asked again, until the user says restart")
    func surveyDoneAndRestart() throws {
        var conversation = Conversation(try Self.example("survey.yaml"))
        for answer in ["hi", "Ada", "3", "no", "nothing"] { conversation.send(answer) }
        #expect(conversation.session.context["survey"]?["done"] == true)
        #expect(
            conversation.say("hello?") == [
                "You have already answered the survey, Ada. Thanks again! (Say \"restart\" to answer it again.)"
            ])
        #expect(
            conversation.say(" Restart ") == [
                "Hi! Three quick questions about your last order, so we can do better.", "First, what is your first name?",
            ])
        #expect(conversation.session.context["survey"] == [:])
        #expect(conversation.say("Eve") == ["Thanks, Eve! How would you rate your order, from 1 (bad) to 5 (great)?"])
    }
}
