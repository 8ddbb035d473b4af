import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// Twilio as Twilio talks: form-encoded webhooks signed with X-Twilio-Signature (computed by
/// Twilio's own SDK), answered by Messages API calls to a stand-in api.twilio.com.
@Suite("Twilio channel")
struct TwilioChannelTests {
    static let accountSid = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    static let authToken = "your_auth_token_0123456789abcdef"
    static let from = "+15017122661"
    static let url = ChannelHerald.publicUrl + "/sms"

    static func vars(_ apiBase: String) -> [String: String] {
        ["accountSid": accountSid, "authToken": authToken, "from": from, "apiBase": apiBase]
    }

    /// An inbound MMS as Twilio's webhook request documentation lists its parameters.
    static let inbound: [String: String] = [
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "SmsMessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "AccountSid": accountSid,
        "MessagingServiceSid": "MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "From": "+14017122661",
        "To": from,
        "Body": "Hello Herald & friends: 100% ünïcode ✓",
        "NumMedia": "1",
        "NumSegments": "1",
        "MediaContentType0": "image/jpeg",
        "MediaUrl0":
            "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/MM800f449d0399ed014aae2bcc0cc2f2ec/Media/ME85ebf7e12cb821f84b319340424dcb02",
        "SmsStatus": "received",
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    ]

    static let created = TestReceiver.Reply.json(
        201, #"{"sid":"SM2f0e8ae6ade43cb3c0ce4525424e404f","status":"queued","to":"+14017122661","from":"+15017122661"}"#)

    static func send(_ herald: TestHerald, params: [String: String], signedURL: String = url, token: String = authToken) async throws -> HTTPResult {
        let (signature, body) = try await ChannelSDK.twilioSign(authToken: token, url: signedURL, params: params)
        return try await ChannelHerald.post(
            herald, "/sms", body: Array(body.utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": "x"])
    }

    @Test("a signed inbound message is answered with empty TwiML and becomes a Messages API call")
    func inboundToMessagesAPI() async throws {
        let receiver = TestReceiver { _, _ in Self.created }
        try await ChannelHerald.run(channel: "twilio", urlToken: "sms", receiver: receiver, vars: Self.vars) { herald in
            let answer = try await Self.send(herald, params: Self.inbound)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.headers["content-type"]?.hasPrefix("text/xml") == true)
            #expect(answer.text == #"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#)

            let sent = try await receiver.waitForAccepted(1)
            #expect(sent[0].path == "/2010-04-01/Accounts/\(Self.accountSid)/Messages.json")
            #expect(sent[0].headers["content-type"] == "application/x-www-form-urlencoded")
            let basic = "Basic " + Data("\(Self.accountSid):\(Self.authToken)".utf8).base64EncodedString()
            #expect(sent[0].headers["authorization"] == basic)
            let form = decodeForm(sent[0].bytes)
            // With publicUrl, every message asks for status callbacks at the endpoint's URL.
            #expect(form.map(\.0) == ["To", "StatusCallback", "From", "Body"])
            #expect(
                Dictionary(form, uniquingKeysWith: { a, _ in a }) == [
                    "To": "+14017122661", "StatusCallback": Self.url, "From": Self.from, "Body": "You said: Hello Herald & friends: 100% ünïcode ✓",
                ])
            let session = try await herald.herald.registry.session(SessionKey(urlToken: "sms", sessionId: "+14017122661"))
            #expect(session?.userId == "+14017122661")
        }
    }

    @Test("Herald's Messages API call is the one Twilio's own SDK makes (Client.messages.create)")
    func sameAsTwilioSDK() async throws {
        let receiver = TestReceiver { _, _ in Self.created }
        try await ChannelHerald.run(channel: "twilio", urlToken: "sms", receiver: receiver, vars: Self.vars) { herald in
            let apiBase = String(receiver.url.dropLast("/hook".count))
            _ = try await ChannelSDK.call([
                "op": "twilio-send", "accountSid": .string(Self.accountSid), "authToken": .string(Self.authToken), "apiBase": .string(apiBase),
                "to": "+14017122661", "from": .string(Self.from), "body": "You said: Hello Herald & friends: 100% ünïcode ✓",
                "statusCallback": .string(Self.url),
            ])
            let sdk = try #require(try await receiver.waitForAccepted(1).first)
            #expect(try await Self.send(herald, params: Self.inbound).status == 200)
            let herald = try await receiver.waitForAccepted(2)[1]
            #expect(herald.path == sdk.path)
            #expect(herald.headers["authorization"] == sdk.headers["authorization"])
            #expect(herald.headers["content-type"] == sdk.headers["content-type"])
            #expect(String(decoding: herald.bytes, as: UTF8.self) == String(decoding: sdk.bytes, as: UTF8.self))
        }
    }

    @Test("a wrong signature, a signature for another URL or a missing one is 401 and runs nothing")
    func badSignatures() async throws {
        let receiver = TestReceiver { _, _ in Self.created }
        try await ChannelHerald.run(channel: "twilio", urlToken: "sms", receiver: receiver, vars: Self.vars) { herald in
            let otherToken = try await Self.send(herald, params: Self.inbound, token: "not-the-auth-token")
            #expect(otherToken.status == 401)
            #expect(otherToken.errorMessage?.contains("X-Twilio-Signature: does not match") == true)
            let otherURL = try await Self.send(herald, params: Self.inbound, signedURL: "https://bots.example.com/other")
            #expect(otherURL.status == 401)
            var tampered = Self.inbound
            let (signature, _) = try await ChannelSDK.twilioSign(authToken: Self.authToken, url: Self.url, params: tampered)
            tampered["Body"] = "something else"
            let (_, body) = try await ChannelSDK.twilioSign(authToken: Self.authToken, url: Self.url, params: tampered)
            let changed = try await ChannelHerald.post(
                herald, "/sms", body: Array(body.utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature])
            #expect(changed.status == 401)
            let unsigned = try await ChannelHerald.post(
                herald, "/sms", body: Array(body.utf8), headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(unsigned.status == 401)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.isEmpty)
        }
    }

    @Test("a status callback is acknowledged and runs nothing (it is a receipt)")
    func statusCallback() async throws {
        let receiver = TestReceiver { _, _ in Self.created }
        try await ChannelHerald.run(channel: "twilio", urlToken: "sms", receiver: receiver, vars: Self.vars) { herald in
            let status = [
                "MessageSid": "SM2f0e8ae6ade43cb3c0ce4525424e404f", "MessageStatus": "delivered", "SmsStatus": "delivered",
                "AccountSid": Self.accountSid, "From": Self.from, "To": "+14017122661", "ApiVersion": "2010-04-01",
            ]
            let answer = try await Self.send(herald, params: status)
            #expect(answer.status == 200)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.isEmpty)
        }
    }

    @Test("a 400 from the Messages API makes the output dead with Twilio's error in the attempt log")
    func rejectedByTwilio() async throws {
        let receiver = TestReceiver { _, _ in
            .json(
                400,
                #"{"code":21211,"message":"The 'To' number +14017122661 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#
            )
        }
        try await ChannelHerald.run(channel: "twilio", urlToken: "sms", receiver: receiver, vars: Self.vars) { herald in
            #expect(try await Self.send(herald, params: Self.inbound).status == 200)
            try await receiver.wait { $0.count >= 1 }
            let dead = try await waitForDelivery(herald, status: "dead")
            #expect(dead.contains("21211"), "\(dead)")
            #expect(dead.contains(Self.authToken) == false)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.all.count == 1, "not retried")
        }
    }
}

/// Waits until the admin API lists a delivery with `status`, and returns that delivery with
/// its attempt log, as JSON text.
func waitForDelivery(_ herald: TestHerald, status: String) async throws -> String {
    let deadline = ContinuousClock.now + .seconds(10)
    let headers = ["X-API-Key": Fixtures.adminKey]
    while true {
        let listing = try await HTTP.get(herald.adminURL + "/admin/v1/deliveries?status=\(status)", headers: headers)
        if let id = listing.json["deliveries"]?[0]?["outputId"]?.stringValue {
            return try await HTTP.get(herald.adminURL + "/admin/v1/deliveries/\(id)", headers: headers).text
        }
        if ContinuousClock.now > deadline { throw TestTimeout(description: "no \(status) delivery: \(listing.text)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}
