/// Where an output is on its way to the user (SPEC §12): `pending → sent → delivered → read`,
/// or `failed`. `sent` means the webhook or the channel's API accepted it; `delivered` and
/// `read` come from the channel's receipts (WhatsApp statuses, Twilio status callbacks).
///
/// Status only moves forward, by ``rank``: a receipt that arrives late, twice, or before the
/// send's own answer never moves an output back. `failed` ranks above everything: once the
/// channel says a message failed, a late `sent` does not revive it.
public enum OutputStatus: String, Sendable, Hashable, CaseIterable {
    case pending
    case sent
    case delivered
    case read
    case failed

    /// The order statuses may only move forward in.
    public var rank: Int {
        switch self {
        case .pending: 0
        case .sent: 1
        case .delivered: 2
        case .read: 3
        case .failed: 4
        }
    }

    /// The later of two statuses.
    public func advanced(to other: OutputStatus) -> OutputStatus {
        other.rank > rank ? other : self
    }

    /// The status an output's own delivery gives it, before any receipt: accepted is `sent`,
    /// given up is `failed`, anything else still `pending`.
    public init(_ delivery: DeliveryStatus) {
        switch delivery {
        case .pending, .failed: self = .pending
        case .delivered: self = .sent
        case .dead: self = .failed
        }
    }

    /// The one rule every store uses: an output's status is the later of what its delivery
    /// says and what the channel's receipts said.
    public static func of(delivery: DeliveryStatus, receipt: OutputReceipt?) -> OutputStatus {
        let own = OutputStatus(delivery)
        guard let receipt else { return own }
        return own.advanced(to: receipt.status)
    }

    /// A channel's word for a status, as the channel files map it (`sent`, `delivered`, `read`,
    /// `failed`; `undelivered` is Twilio's failure).
    public init?(channelWord word: String) {
        switch word.lowercased() {
        case "sent", "accepted", "queued", "sending": self = .sent
        case "delivered": self = .delivered
        case "read", "seen": self = .read
        case "failed", "undelivered": self = .failed
        default: return nil
        }
    }

    /// SQL that ranks a status column the same way (`CASE column WHEN 'sent' THEN 1 ...`), so the
    /// SQL stores compare statuses by this one rule.
    public static func sqlRank(of column: String) -> String {
        "(CASE \(column) " + allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }.joined(separator: " ") + " ELSE -1 END)"
    }
}

/// What a channel's receipts said of an output: the furthest status, when it was reached, and
/// the channel's error for `failed`.
public struct OutputReceipt: Sendable, Hashable {
    public var status: OutputStatus
    public var at: Timestamp
    public var error: String?

    public init(status: OutputStatus, at: Timestamp, error: String? = nil) {
        self.status = status
        self.at = at
        self.error = error
    }

    /// The receipt after `report`: forward only, whatever the order reports arrive in.
    public func merging(_ report: OutputReceipt) -> OutputReceipt {
        report.status.rank > status.rank ? report : self
    }
}

/// A channel's report on one of its messages (a WhatsApp `statuses` entry, a Twilio status
/// callback), keyed by the channel's id for the message, which Herald recorded with the
/// attempt that sent it.
public struct StatusReport: Sendable, Hashable {
    public var urlToken: String
    /// The channel's id of the message (`wamid.…`, `SM…`).
    public var channelMessageId: String
    public var receipt: OutputReceipt

    public init(urlToken: String, channelMessageId: String, receipt: OutputReceipt) {
        self.urlToken = urlToken
        self.channelMessageId = channelMessageId
        self.receipt = receipt
    }
}
