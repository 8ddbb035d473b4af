import Metrics

/// Receipts and status events (SPEC §12).
///
/// A channel's receipt is a store change through the writer, keyed by the channel's message id
/// that the delivery recorded; the store moves the output's status forward only, so receipts
/// may come in any order, twice, or before the send's own answer. Where the endpoint has a
/// `statusWebhook`, each move is announced as an output of type ``OutputType/status`` in the
/// output's session: recorded, ordered and retried like any output, and sent to that webhook.
extension SessionRegistry {
    /// Records a channel's receipts, then announces the statuses they lead to. Returns once
    /// both are durable, so a channel that gets an error sends them again.
    public func report(_ reports: [StatusReport]) async throws(HeraldError) {
        guard !reports.isEmpty else { return }
        do {
            for report in reports {
                try await writer.commit(.status(report))
                statusMetrics.record(urlToken: report.urlToken, report.receipt.status)
            }
        } catch {
            throw .unavailable("the store could not record the status, nothing was changed; retry the request (\(error))")
        }
        for report in reports where endpoints[report.urlToken]?.statusWebhook != nil {
            let record = try await storeRead { try await store.delivery(urlToken: report.urlToken, channelMessageId: report.channelMessageId) }
            // No output has this message id yet: the send's answer is still on its way, and its
            // record announces the status the receipt left.
            if let record { try await announce(record) }
        }
    }

    /// Records the final answer to an output's delivery (accepted or given up) and, where the
    /// endpoint has a `statusWebhook`, announces the status it leads to.
    public func finishDelivery(_ update: DeliveryUpdate) async throws(HeraldError) {
        let record: DeliveryRecord?
        do {
            try await writer.commit(.delivery(update))
            record = try await store.delivery(outputId: update.outputId)
        } catch {
            throw .unavailable("the store could not record the delivery: \(error)")
        }
        if let record { try await announce(record) }
    }

    /// Makes a status event for the output's status as the store has it now: `{outputId,
    /// status, at, error?}` in an output of type `status`, which goes to the endpoint's
    /// `statusWebhook`. Events of one session are made one at a time, each from a fresh read,
    /// so they never go backwards; a repeated receipt repeats the event (at least once).
    public func announce(_ record: DeliveryRecord) async throws(HeraldError) {
        let output = record.output
        guard output.type.isForUser, let endpoint = endpoints[output.session.urlToken], endpoint.statusWebhook != nil else { return }
        let key = output.session
        do {
            try await announcements.withTurn(key) {
                // Read again inside the turn: another announcement of this session may have
                // recorded a later status meanwhile.
                let current = try await self.store.delivery(outputId: output.id) ?? record
                let status = current.outputStatus
                guard status != .pending else { return }
                var event: JSONObject = [
                    "outputId": .string(output.id), "status": .string(status.rawValue),
                    "at": .string((current.receipt.flatMap { $0.status == status ? $0.at : nil } ?? current.deliveredAt ?? self.clock.now()).iso8601),
                ]
                if let error = current.statusError { event["error"] = .string(error) }
                let data = JSON.object(event)
                _ = try await self.change(key, endpoint: endpoint, idempotency: nil) { existing, now throws(HeraldError) -> Change in
                    // Receipts often come after the session expired or ended (a notify read hours
                    // later): the event then goes out through a session record that is already
                    // idle, so it starts no conversation and the sweeper removes it.
                    let idle = now.adding(milliseconds: -endpoint.sessionTTL.milliseconds - 1000)
                    var session = existing ?? Session(key: key, userId: output.userId, now: idle)
                    let statusOutput = session.nextOutput(.status, text: nil, data: data, at: now)
                    return Change(session: session, input: nil, outputs: [statusOutput])
                }
            }
        } catch let error as HeraldError {
            throw error
        } catch {
            throw .unavailable("the store is not available: \(error)")
        }
    }
}

/// `herald_output_status_total{url_token, status}`: how often outputs reached each status,
/// from deliveries (sent, failed) and channel receipts (delivered, read, failed).
public struct OutputStatusMetrics: Sendable {
    private let counters: PerEndpoint<[OutputStatus: Counter]>

    public init(urlTokens: [String]) {
        counters = PerEndpoint(urlTokens) { urlToken in
            Dictionary(
                uniqueKeysWithValues: OutputStatus.allCases.map {
                    ($0, Counter(label: "herald_output_status_total", dimensions: [("url_token", urlToken), ("status", $0.rawValue)]))
                })
        }
    }

    public func record(urlToken: String, _ status: OutputStatus) {
        counters[urlToken][status]?.increment()
    }
}
