import Crypto
import Foundation
import HeraldCore

/// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
/// `"{webhook-id}.{webhook-timestamp}.{body}"`, standard base64, prefixed `v1,`.
public enum WebhookSignature {
    /// The `Webhook-Signature` value for one attempt.
    public static func sign(id: String, timestamp: Int64, body: [UInt8], key: WebhookSigningKey) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key.bytes))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Checks a `Webhook-Signature` header (which may list several space-separated
    /// signatures) against the body, in constant time per candidate.
    public static func verify(id: String, timestamp: Int64, body: [UInt8], header: String, key: WebhookSigningKey) -> Bool {
        let expected = Array(sign(id: id, timestamp: timestamp, body: body, key: key).utf8)
        return header.split(separator: " ").contains { candidate in
            constantTimeEqual(Array(candidate.utf8), expected)
        }
    }
}
