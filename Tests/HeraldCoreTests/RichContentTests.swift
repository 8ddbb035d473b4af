import Testing

@testable import HeraldCore

/// The rich output vocabulary (SPEC §12): checked once, carried by flows, written out as text
/// where a channel shows nothing else; and the status rule every store uses.
@Suite("Rich content and output status")
struct RichContentTests {
    @Test
    func aFlowComputesRichFieldsFromTemplatesAndChecksThemWhenTheNodeRuns() throws {
        let flow = try Flow.make(
            """
            nodes:
              - ask:
                  text: "Pick a size"
                  quickReplies: "{{ context.sizes }}"
                  buttons:
                    - { title: "Open {{ context.item }}", url: "https://example.com/{{ context.item }}" }
                into: context.size
              - say:
                  text: "OK"
                  quickReplies: "{{ input.data.bad }}"
            """)
        var conversation = Conversation(flow)
        conversation.session.context = ["sizes": [["title": "S"], ["title": "M", "payload": "size-m"]], "item": "shirt"]
        let asked = try #require(conversation.send("hi").outputs.first)
        #expect(asked.rich.quickReplies == [.init(title: "S"), .init(title: "M", payload: "size-m")])
        #expect(asked.rich.buttons == [.init(title: "Open shirt", action: .url("https://example.com/shirt"))])

        // A template that computes something the vocabulary does not allow stops the run with an
        // error output naming the node and the field.
        let run = conversation.send("M", data: ["bad": "not a list"])
        #expect(run.error?.contains("quickReplies: must be an array, not string") == true, "\(run.error ?? "")")
        #expect(run.outputs.last?.type == .error)
    }

    @Test
    func theFallbackTextWritesOutEverythingAChannelCannotShow() throws {
        let rich = try RichContent.parse([
            "quickReplies": [["title": "Yes"], ["title": "No"]],
            "buttons": [["title": "Docs", "url": "https://example.com/docs"], ["title": "Later", "payload": "later"]],
            "attachments": [["type": "image", "url": "https://example.com/a.png", "caption": "The map"]],
            "card": ["title": "Order A-1", "subtitle": "2 items"],
        ])
        #expect(
            rich.fallbackText("Choose one:") == """
                Order A-1
                2 items
                Choose one:
                1. Yes
                2. No
                3. Later
                Docs: https://example.com/docs
                The map: https://example.com/a.png
                """)
        #expect(rich.choices.map(\.payload) == ["Yes", "No", "later"])
        #expect(RichContent.stored(.object(rich.json)) == rich, "what the stores write reads back the same")
    }

    @Test
    func aStatusMovesOnlyForwardWhateverTheOrderOfReceipts() {
        let at = Timestamp(milliseconds: 1_000)
        let reports: [OutputStatus] = [.read, .sent, .delivered, .read, .sent]
        let receipt = reports.dropFirst().reduce(OutputReceipt(status: reports[0], at: at)) { $0.merging(OutputReceipt(status: $1, at: at)) }
        #expect(receipt.status == .read)
        #expect(OutputStatus.of(delivery: .delivered, receipt: nil) == .sent)
        #expect(OutputStatus.of(delivery: .pending, receipt: receipt) == .read, "a receipt before the send's answer counts")
        #expect(OutputStatus.of(delivery: .dead, receipt: nil) == .failed)
        #expect(OutputStatus.of(delivery: .delivered, receipt: OutputReceipt(status: .failed, at: at)) == .failed)
        #expect(receipt.merging(OutputReceipt(status: .failed, at: at)).status == .failed, "failed is final")
        #expect(OutputStatus(channelWord: "undelivered") == .failed)
        #expect(OutputStatus.sqlRank(of: "s") == "(CASE s WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE -1 END)")
    }

    @Test
    func heraldFlowRunShowsChoicesNumberedAndPressSendsTitleAndPayload() throws {
        var console = FlowConsole(flow: try Flow.load(path: exampleFlowPath("menu.yaml")))
        let asked = console.handle("hi").lines
        #expect(asked.contains("     [1] Margherita  (pizza:margherita)"), "\(asked)")
        #expect(asked.contains("     [3] Just browsing"), "\(asked)")
        let confirm = console.handle("/press 2").lines
        #expect(confirm.first == "bot> One Funghi, 12.50 EUR. Shall I order it?", "\(confirm)")
        #expect(confirm.contains("     link: See the menu <https://example.com/menu>"), "\(confirm)")
        #expect(console.session.context["pizza"] == "pizza:funghi")
        #expect(console.handle("/press 9").lines == ["! /press needs a number from 1 to 2"])
        let ordered = console.handle("/press 1").lines
        #expect(ordered.contains { $0.hasPrefix("     file: receipt.pdf https://example.com/receipts/") }, "\(ordered)")
    }

    @Test
    func aTypedNumberOrTitleAnswersAnAskWithChoicesAsAPressWould() throws {
        let flow = try Flow.load(path: exampleFlowPath("menu.yaml"))
        var conversation = Conversation(flow)
        conversation.send("hi")
        // What an SMS user does with "1. Margherita / 2. Funghi / 3. Just browsing".
        #expect(conversation.say("2") == ["One Funghi, 12.50 EUR. Shall I order it?"])
        #expect(conversation.session.context["pizza"] == "pizza:funghi")
        #expect(conversation.session.context["choice"] == "Funghi")
        // The title works in any case; a text that is neither is left alone.
        #expect(conversation.say("ORDER") == ["Ordered! Your receipt is attached."])
        conversation.send("hi")
        #expect(conversation.say("7") == ["One 7, 12.50 EUR. Shall I order it?"], "no choice 7: the text as typed")
    }
}
