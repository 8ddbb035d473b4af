import Foundation
import HeraldChannels
import HeraldCore
import HeraldTestSupport
import Testing

/// Rich outputs on Twilio (SPEC §12): SMS has no buttons, so choices are a numbered list and
/// links lines of the Body; pictures and files are MediaUrl fields; StatusCallback asks for
/// receipts, which come back as signed status callbacks. Every request is compared with the one
/// Twilio's own SDK builds (Client.messages.create).
@Suite("Twilio rich messages")
struct TwilioRichTests {
    static let callbackUrl = "https://bots.example.com/sms"
    static let channel: Channel = try! ShippedChannel.load(
        "twilio", vars: ["accountSid": TwilioChannelTests.accountSid, "authToken": TwilioChannelTests.authToken, "from": TwilioChannelTests.from],
        callbackUrl: callbackUrl)
    static let to = "+14017122661"

    /// Herald's form, checked byte for byte against the SDK's for the same message.
    static func checkWithSDK(_ text: String?, _ rich: RichContent, body: String?, media: [String]) async throws {
        let request = try channel.request(for: ShippedChannel.output(.notify, to: to, text: text, rich: rich))
        let sdk = try await ChannelSDK.twilioBuild(
            accountSid: TwilioChannelTests.accountSid, authToken: TwilioChannelTests.authToken, to: to, from: TwilioChannelTests.from, body: body,
            mediaUrl: media, statusCallback: callbackUrl)
        #expect(request.url == sdk.url)
        #expect(String(decoding: request.body, as: UTF8.self) == sdk.body)
        #expect(request.user == TwilioChannelTests.accountSid)
    }

    @Test("an ask with quick replies: a numbered list and links in Body; StatusCallback for receipts")
    func quickReplies() async throws {
        let request = try Self.channel.request(for: ShippedChannel.output(to: Self.to, text: "Shall we ship today?", rich: ShippedChannel.quickReplies))
        let form = ShippedChannel.form(request)
        #expect(form.map(\.0) == ["To", "StatusCallback", "From", "Body"])
        #expect(form[1].1 == Self.callbackUrl)
        #expect(form[3].1 == "Shall we ship today?\n1. Yes\n2. No\nOpening hours: https://shop.example.com/hours")
        try await Self.checkWithSDK(
            "Shall we ship today?", ShippedChannel.quickReplies, body: "Shall we ship today?\n1. Yes\n2. No\nOpening hours: https://shop.example.com/hours",
            media: [])
    }

    @Test("a notify with an image: MediaUrl")
    func image() async throws {
        try await Self.checkWithSDK("Your order shipped", ShippedChannel.image, body: "Your order shipped", media: ["https://cdn.example.com/parcel.jpg"])
        // Without text, no Body at all.
        try await Self.checkWithSDK(nil, ShippedChannel.image, body: nil, media: ["https://cdn.example.com/parcel.jpg"])
    }

    @Test("a card: title, subtitle, text and numbered buttons in Body, its image as MediaUrl")
    func card() async throws {
        try await Self.checkWithSDK(
            "Back in stock!", ShippedChannel.card, body: "Blue sneakers\nEUR 89, sizes 38-46\nBack in stock!\n1. Buy\nDetails: https://shop.example.com/sneakers",
            media: ["https://cdn.example.com/sneakers.jpg"])
    }

    @Test("a template is written out as text; a Body over 1600 characters is cut")
    func degrade() throws {
        let template = try Self.channel.request(
            for: ShippedChannel.output(.notify, to: Self.to, text: nil, rich: RichContent(template: .init(name: "order_shipped", language: "en", parameters: ["A-17"]))))
        #expect(ShippedChannel.form(template).first { $0.0 == "Body" }?.1 == "order_shipped A-17")
        let long = try Self.channel.request(for: ShippedChannel.output(to: Self.to, text: String(repeating: "a", count: 2000)))
        #expect(ShippedChannel.form(long).first { $0.0 == "Body" }?.1.count == 1600)
    }

    @Test("without publicUrl there is no StatusCallback")
    func noCallback() throws {
        let channel = try ShippedChannel.load(
            "twilio", vars: ["accountSid": TwilioChannelTests.accountSid, "authToken": TwilioChannelTests.authToken, "from": TwilioChannelTests.from])
        #expect(ShippedChannel.form(try channel.request(for: ShippedChannel.output(to: Self.to, text: "hi"))).map(\.0) == ["To", "From", "Body"])
    }

    static func signed(_ params: [String: String]) async throws -> ChannelRequest {
        let (signature, body) = try await ChannelSDK.twilioSign(authToken: TwilioChannelTests.authToken, url: callbackUrl, params: params)
        return ShippedChannel.request(form: body, headers: [("X-Twilio-Signature", signature)], url: callbackUrl)
    }

    /// A status callback as Twilio's documentation lists its parameters.
    static func callback(_ status: String, extra: [String: String] = [:]) -> [String: String] {
        [
            "MessageSid": "SM2f0e8ae6ade43cb3c0ce4525424e404f", "SmsSid": "SM2f0e8ae6ade43cb3c0ce4525424e404f", "MessageStatus": status,
            "SmsStatus": status, "AccountSid": TwilioChannelTests.accountSid, "From": TwilioChannelTests.from, "To": to, "ApiVersion": "2010-04-01",
        ].merging(extra) { _, new in new }
    }

    @Test("status callbacks (signed with Twilio's SDK) are receipts; undelivered is failed with the error code; unknown words are skipped")
    func statuses() async throws {
        let now = Timestamp(milliseconds: 1_750_000_000_000)
        let delivered = try Self.channel.receive(try await Self.signed(Self.callback("delivered")), now: now)
        #expect(delivered.messages.isEmpty)
        #expect(delivered.statuses == [ChannelStatus(messageId: "SM2f0e8ae6ade43cb3c0ce4525424e404f", status: .delivered, at: now)])
        #expect(String(decoding: delivered.reply.body, as: UTF8.self) == #"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#)

        let undelivered = try Self.channel.receive(try await Self.signed(Self.callback("undelivered", extra: ["ErrorCode": "30003"])), now: now)
        #expect(undelivered.statuses == [ChannelStatus(messageId: "SM2f0e8ae6ade43cb3c0ce4525424e404f", status: .failed, at: now, error: "30003")])

        let read = try Self.channel.receive(try await Self.signed(Self.callback("read")), now: now)
        #expect(read.statuses.map(\.status) == [.read])

        let scheduled = try Self.channel.receive(try await Self.signed(Self.callback("scheduled")), now: now)
        #expect(scheduled.statuses.isEmpty)

        // An incoming message is a message, not a receipt.
        let inbound = try Self.channel.receive(try await Self.signed(TwilioChannelTests.inbound), now: now)
        #expect(inbound.messages.count == 1)
        #expect(inbound.statuses.isEmpty)

        // A forged callback is 401.
        var forged = try await Self.signed(Self.callback("delivered"))
        forged.body = Array(String(decoding: forged.body, as: UTF8.self).replacingOccurrences(of: "delivered", with: "read").utf8)
        #expect(throws: ChannelRejection(status: 401, reason: "X-Twilio-Signature: does not match")) { try Self.channel.receive(forged, now: now) }
    }

    @Test("the message id of a sent message is the SM sid status callbacks name")
    func messageId() {
        let answer = ChannelResponse(status: 201, retryAfter: nil, body: Array(#"{"sid":"SM2f0e8ae6ade43cb3c0ce4525424e404f","status":"queued"}"#.utf8))
        #expect(Self.channel.messageId(from: answer, for: ShippedChannel.output(to: Self.to, text: "hi")) == "SM2f0e8ae6ade43cb3c0ce4525424e404f")
    }
}
