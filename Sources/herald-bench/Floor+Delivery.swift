import DequeModule
import HeraldCore
import HeraldWebhook
import Synchronization

/// POSTs committed outputs with Herald's libcurl client, at most `concurrency` at once (the
/// rest wait in order), and hands each outcome to the writer. Like Herald's delivery service,
/// no task waits for a POST: the client calls back on its own thread, which records the
/// attempt and starts the next waiting output.
final class FloorDelivery: Sendable {
    private struct State {
        var waiting = Deque<Output>()
        var inFlight = 0
    }

    private let url: String
    private let client: CurlWebhookClient
    private let writer: FloorWriter
    private let concurrency: Int
    private let state = Mutex(State())

    init(url: String, client: CurlWebhookClient, writer: FloorWriter, concurrency: Int) {
        self.url = url
        self.client = client
        self.writer = writer
        self.concurrency = concurrency
    }

    /// Sends a committed output now, or once a POST in flight has finished.
    func send(_ output: Output) {
        let now = state.withLock { state -> Bool in
            guard state.inFlight < concurrency else {
                state.waiting.append(output)
                return false
            }
            state.inFlight += 1
            return true
        }
        if now { post(output) }
    }

    private func post(_ output: Output) {
        let started = Timestamp.now()
        let request = WebhookRequest(
            url: url, headers: [("Webhook-Id", output.id), ("Webhook-Timestamp", String(started.seconds))], body: output.webhookBody(format: .herald))
        client.start(request) { result in
            // Stopped while in flight: the output stays pending in the file, as in Herald.
            if case .failure(let error) = result, error == .shutdown { return }
            self.writer.submit(DeliveryAttempt(outputId: output.id, startedAt: started, result: result))
            let next = self.state.withLock { state -> Output? in
                if let next = state.waiting.popFirst() { return next }
                state.inFlight -= 1
                return nil
            }
            if let next { self.post(next) }
        }
    }
}
