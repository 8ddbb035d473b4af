import Foundation
import HeraldCore
import HeraldTestSupport

/// The channels' own Python SDKs (Twilio's RequestValidator, Slack's SignatureVerifier),
/// through scripts/channel_sdk.py: tests sign requests with them instead of with Herald's code.
enum ChannelSDK {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs one operation of scripts/channel_sdk.py, on a thread of its own: it blocks until
    /// Python answers, and Python may be waiting for a test server that needs the cooperative
    /// pool (2 threads on a 2-core machine).
    static func call(_ request: JSON) async throws -> JSON {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSON, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try callBlocking(request) }) }
            thread.start()
        }
    }

    private static func callBlocking(_ request: JSON) throws -> JSON {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.root + "/scripts/channel_sdk.py"]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(request.serialized()))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let answer = try? JSON.parse(Array(data)) else {
            throw Failure(
                description:
                    "scripts/channel_sdk.py failed (\(process.terminationStatus)): \(errorText) — run scripts/setup.sh --test to install twilio and slack_sdk"
            )
        }
        return answer
    }

    /// Twilio's signature (X-Twilio-Signature) for a POST of `params` to `url`, and the form body.
    static func twilioSign(authToken: String, url: String, params: [String: String]) async throws -> (signature: String, body: String) {
        var object = JSONObject()
        for (name, value) in params { object[name] = .string(value) }
        let answer = try await call(["op": "twilio-sign", "authToken": .string(authToken), "url": .string(url), "params": .object(object)])
        return (answer["signature"]?.stringValue ?? "", answer["body"]?.stringValue ?? "")
    }

    /// Slack's X-Slack-Signature for `body` sent at `timestamp`.
    static func slackSign(signingSecret: String, timestamp: String, body: String) async throws -> String {
        let answer = try await call([
            "op": "slack-sign", "signingSecret": .string(signingSecret), "timestamp": .string(timestamp), "body": .string(body),
        ])
        return answer["signature"]?.stringValue ?? ""
    }
}

/// Decodes an `application/x-www-form-urlencoded` body as a receiver would.
func decodeForm(_ bytes: [UInt8]) -> [(String, String)] {
    var components = URLComponents()
    components.percentEncodedQuery = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "+", with: "%20")
    return (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }
}
