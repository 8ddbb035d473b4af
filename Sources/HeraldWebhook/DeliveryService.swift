import Foundation
import HeraldChannels
import HeraldCore
import Logging
import ServiceLifecycle
import Synchronization

/// Takes jobs from the ``Outbox``, POSTs them with the ``WebhookClient``, and reports each
/// attempt to the outbox (what next) and to the store (the attempt log).
///
/// What an answer means (SPEC §4): 2xx delivered; 408, 425, 429, 5xx, timeouts and connection
/// errors retried on the endpoint's schedule, honouring `Retry-After` (429 and timeouts at least
/// `throttleDelay` out); 410 pauses the endpoint; any other status, 3xx included (redirects are
/// not followed), is dead at once.
public final class DeliveryService: Service, Sendable {
    /// The endpoints, with their signing keys and compiled channels, as they are at each
    /// attempt: an output waiting for a retry goes out with its endpoint's settings of then.
    let live: LiveConfiguration
    let outbox: Outbox
    let writer: StoreWriter
    let client: any WebhookClient
    let logger: Logger
    let metrics: DeliveryMetrics
    /// Attempts started and not yet recorded (deliveries, and calls until their answer is in
    /// the session).
    let inFlight = Atomic<Int>(0)
    private let statusMetrics: OutputStatusMetrics
    /// Where the final answers of endpoints with a `statusWebhook` go, to be recorded and
    /// announced (``SessionRegistry/finishDelivery(_:)``) off the client's thread.
    let registry: SessionRegistry?
    private let finished: AsyncStream<DeliveryUpdate>
    private let finishedInput: AsyncStream<DeliveryUpdate>.Continuation

    /// `channels` maps the `urlToken` of each channel endpoint to its compiled channel; the
    /// others get Herald's own webhook POST.
    /// `registry` makes the status events of endpoints with a `statusWebhook`; without it none
    /// are made.
    public convenience init(
        endpoints: [Endpoint], channels: [String: Channel] = [:], outbox: Outbox, writer: StoreWriter, client: any WebhookClient,
        registry: SessionRegistry? = nil, logger: Logger
    ) {
        self.init(
            live: LiveConfiguration(HeraldConfiguration(endpoints: endpoints), channels: channels), outbox: outbox, writer: writer, client: client,
            registry: registry, logger: logger)
    }

    /// Delivers to the endpoints `live` holds at the time of each attempt (those no longer
    /// served but retired too, so their queued outputs still go out).
    public init(
        live: LiveConfiguration, outbox: Outbox, writer: StoreWriter, client: any WebhookClient, registry: SessionRegistry? = nil, logger: Logger
    ) {
        let endpoints = live.snapshot.configuration.endpoints
        self.live = live
        self.registry = registry
        (self.finished, self.finishedInput) = AsyncStream.makeStream(of: DeliveryUpdate.self)
        self.statusMetrics = OutputStatusMetrics(urlTokens: endpoints.map(\.urlToken))
        self.outbox = outbox
        self.writer = writer
        self.client = client
        self.logger = logger
        self.metrics = DeliveryMetrics(urlTokens: endpoints.map(\.urlToken))
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.announceFinished() }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    let (jobs, nextWake) = self.outbox.take()
                    for job in jobs { self.deliver(job) }
                    if jobs.isEmpty { await self.waitForWork(until: nextWake) }
                }
            }
            // A graceful stop starts nothing new, and lets the attempts in flight finish and be
            // recorded while the writer still runs, so that no other instance (or this one,
            // restarted) sends them again: a rolling restart doubles nothing.
            await self.drainInFlight(upTo: .seconds(10))
            // Answers still in flight may yet be recorded while the writer runs; the stream
            // ends with the service.
            self.finishedInput.finish()
        }
        // Attempts still in flight after that are answered, and recorded, as long as the store
        // writer runs; those the client stops fail with `.shutdown`: their outputs stay pending
        // in the store and go out again after a restart (same Webhook-Id).
    }

    /// Waits until no attempt is in flight, or `limit` has passed.
    private func drainInFlight(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while inFlight.load(ordering: .acquiring) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let left = inFlight.load(ordering: .acquiring)
        if left > 0 { logger.warning("attempts still in flight at the stop; they go out again after the restart", metadata: ["count": "\(left)"]) }
    }

    /// Records and announces the final answers of endpoints with a `statusWebhook`, several
    /// at once (the registry keeps each session's events in order).
    private func announceFinished() async {
        guard let registry else { return }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await update in finished {
                if running >= 64 {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    do {
                        try await registry.finishDelivery(update)
                    } catch {
                        self.logger.warning("status event not made", metadata: ["outputId": "\(update.outputId)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Sleeps until the outbox changes or the next retry falls due.
    private func waitForWork(until wake: Timestamp?) async {
        // No retry scheduled (the usual case under load): no timer task to start and cancel.
        guard let wake else { return await outbox.waitForChange() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.outbox.waitForChange() }
            let delay = max(0, wake.milliseconds - Timestamp.now().milliseconds)
            group.addTask { try? await Task.sleep(for: .milliseconds(delay)) }
            await group.next()
            group.cancelAll()
        }
    }

    /// One attempt for one output: builds the request and starts it. No task waits for the
    /// answer: the client hands it to ``record(_:of:to:channel:started:)`` on its own thread.
    func deliver(_ job: DeliveryJob) {
        let output = job.output
        let number = job.entry.attempts + 1
        guard let served = live.snapshot.delivering(output.session.urlToken) else {
            let attempt = DeliveryAttempt(
                outputId: output.id, number: number, startedAt: .now(), durationMilliseconds: 0, statusCode: nil,
                error: "endpoint '\(output.session.urlToken)' is no longer configured", responseBody: nil)
            writer.submit(.delivery(DeliveryUpdate(outputId: output.id, status: .dead, attempts: number, nextAttemptAt: nil, attempt: attempt)))
            outbox.finish(job, .dead)
            return
        }
        let endpoint = served.endpoint
        // A flow's call goes to the API it names, and its answer back into the session.
        if output.type == .call { return call(job, endpoint) }
        // A user's message during a handover goes to the operators' webhook, and a status event
        // to the status webhook, in Herald's JSON (or its format), never to the user's channel.
        let forOperators = output.type == .userMessage
        let forStatus = output.type == .status
        let sideWebhook = forOperators ? endpoint.handover.webhook : forStatus ? endpoint.statusWebhook : nil
        guard let webhook = forOperators || forStatus ? sideWebhook : endpoint.webhook else {
            let attempt = DeliveryAttempt(
                outputId: output.id, number: number, startedAt: .now(), durationMilliseconds: 0, statusCode: nil,
                error: "endpoint '\(endpoint.urlToken)' has no \(forStatus ? "statusWebhook" : "handover.webhook") any more", responseBody: nil)
            writer.submit(.delivery(DeliveryUpdate(outputId: output.id, status: .dead, attempts: number, nextAttemptAt: nil, attempt: attempt)))
            outbox.finish(job, .dead)
            return
        }
        let started = Timestamp.now()
        let channel = output.type.isForUser ? served.channel as? Channel : nil
        var request: WebhookRequest
        if let channel {
            do {
                let outgoing = try channel.request(for: output)
                var channelRequest = WebhookRequest(
                    url: outgoing.url, headers: outgoing.headers, body: outgoing.body, user: outgoing.user, password: outgoing.password,
                    connectTimeout: webhook.connectTimeout, timeout: webhook.timeout, caBundle: webhook.caBundle)
                channelRequest.method = outgoing.method
                request = channelRequest
            } catch {
                // The channel file cannot make a request of this output: dead, with the reason.
                let attempt = DeliveryAttempt(
                    outputId: output.id, number: number, startedAt: started, durationMilliseconds: 0, statusCode: nil, error: error.reason,
                    responseBody: nil)
                logger.warning(
                    "delivery given up", metadata: ["outputId": "\(output.id)", "urlToken": "\(endpoint.urlToken)", "error": "\(error.reason)"])
                metrics.record(urlToken: endpoint.urlToken, status: .dead, duration: 0)
                writer.submit(.delivery(DeliveryUpdate(outputId: output.id, status: .dead, attempts: number, nextAttemptAt: nil, attempt: attempt)))
                outbox.finish(job, .dead)
                return
            }
        } else {
            let body = output.webhookBody(format: webhook.format)
            var headers: [(name: String, value: String)] = [("Webhook-Id", output.id), ("Webhook-Timestamp", String(started.seconds))]
            if let key = forOperators ? served.handoverSigningKey : forStatus ? served.statusSigningKey : served.signingKey {
                headers.append(("Webhook-Signature", WebhookSignature.sign(id: output.id, timestamp: started.seconds, body: body, key: key)))
            }
            request = WebhookRequest(
                url: webhook.url, headers: headers, body: body, user: webhook.user, password: webhook.password,
                connectTimeout: webhook.connectTimeout, timeout: webhook.timeout, caBundle: webhook.caBundle)
        }

        let span = DeliverySpan.start("herald.deliver", output, attempt: number, &request)
        inFlight.add(1, ordering: .relaxed)
        client.start(request) { result in
            defer { self.inFlight.subtract(1, ordering: .releasing) }
            span?.end(result)
            // The client stopped: stays pending, resumes after restart.
            if case .failure(let error) = result, error == .shutdown { return }
            self.record(result, of: job, to: webhook, channel: channel, started: started)
        }
    }

    /// What the answer to an attempt means: the attempt is logged, the output's status
    /// recorded, and the outbox told what comes next for its session.
    private func record(
        _ result: Result<WebhookResponse, WebhookError>, of job: DeliveryJob, to webhook: WebhookSettings, channel: Channel?, started: Timestamp
    ) {
        let output = job.output
        let number = job.entry.attempts + 1
        let urlToken = output.session.urlToken
        let now = Timestamp.now()
        let verdict =
            channel.map { Self.judge(result, channel: $0, output: output, policy: webhook.retry) } ?? Self.judge(result, policy: webhook.retry)
        var attempt = DeliveryAttempt(
            outputId: output.id, number: number, startedAt: started, durationMilliseconds: now.milliseconds - started.milliseconds,
            statusCode: nil, error: verdict.error, responseBody: nil)
        if case .success(let response) = result {
            attempt.statusCode = response.status
            attempt.responseBody = response.body.isEmpty ? nil : String(decoding: response.body, as: UTF8.self)
        }

        var outcome: DeliveryOutcome
        var status: DeliveryStatus
        var nextAttemptAt: Timestamp?
        switch verdict.kind {
        case .delivered:
            (outcome, status) = (.delivered, .delivered)
        case .dead:
            (outcome, status) = (.dead, .dead)
        case .pause:
            (outcome, status) = (.pauseEndpoint, .pending)
            writer.submit(.endpointPaused(urlToken: urlToken, paused: true))
            logger.error(
                "webhook answered 410 Gone; delivery to this endpoint is paused until an operator resumes it",
                metadata: ["urlToken": "\(urlToken)"])
        case .retry(let atLeast):
            let policy = webhook.retry
            var delay = policy.delay(after: number)
            if let atLeast, atLeast > delay { delay = atLeast }
            let next = now.adding(delay)
            if let maxAttempts = policy.maxAttempts, number >= maxAttempts {
                (outcome, status) = (.dead, .dead)
                attempt.error = "\(verdict.error ?? "failed"); gave up after \(number) attempts"
            } else if next > job.entry.retryWindowStart.adding(policy.maxAge) {
                (outcome, status) = (.dead, .dead)
                attempt.error = "\(verdict.error ?? "failed"); gave up: older than \(policy.maxAge) at the next attempt"
            } else {
                (outcome, status, nextAttemptAt) = (.retry(at: next), .failed, next)
            }
        }
        if status == .dead {
            logger.warning(
                "delivery given up", metadata: ["outputId": "\(output.id)", "urlToken": "\(urlToken)", "error": "\(attempt.error ?? "")"])
        }
        metrics.record(urlToken: urlToken, status: status, duration: now.milliseconds - started.milliseconds)
        var update = DeliveryUpdate(outputId: output.id, status: status, attempts: number, nextAttemptAt: nextAttemptAt, attempt: attempt)
        if status == .delivered, let channel, case .success(let response) = result {
            // The channel's id for the message, so its receipts find this output.
            update.channelMessageId = channel.messageId(
                from: ChannelResponse(status: response.status, retryAfter: response.retryAfter, body: response.body), for: output)
        }
        if output.type.isForUser, status == .delivered || status == .dead {
            statusMetrics.record(urlToken: urlToken, OutputStatus(status))
            if registry != nil, live.snapshot.delivering(urlToken)?.endpoint.statusWebhook != nil {
                finishedInput.yield(update)
                outbox.finish(job, outcome, now: now)
                return
            }
        }
        writer.submit(.delivery(update))
        outbox.finish(job, outcome, now: now)
    }

    struct Verdict {
        enum Kind: Equatable {
            case delivered
            case dead
            case pause
            /// Retry, not sooner than this.
            case retry(atLeast: Duration?)
        }

        var kind: Kind
        var error: String?
    }

    /// What a response or transport error means for delivery.
    static func judge(_ result: Result<WebhookResponse, WebhookError>, policy: RetryPolicy) -> Verdict {
        switch result {
        case .failure(let error):
            if error == .timeout { return Verdict(kind: .retry(atLeast: policy.throttleDelay), error: error.description) }
            if !error.isRetryable { return Verdict(kind: .dead, error: error.description) }
            return Verdict(kind: .retry(atLeast: nil), error: error.description)
        case .success(let response):
            let status = response.status
            switch status {
            case 200..<300:
                return Verdict(kind: .delivered, error: nil)
            case 410:
                return Verdict(kind: .pause, error: "HTTP 410 Gone: endpoint paused")
            case 408, 425, 429, 500..<600:
                var atLeast = retryAfter(response.retryAfter)
                if status == 429, atLeast ?? .zero < policy.throttleDelay { atLeast = policy.throttleDelay }
                return Verdict(kind: .retry(atLeast: atLeast), error: "HTTP \(status)")
            case 300..<400:
                return Verdict(kind: .dead, error: "HTTP \(status): redirects are not followed")
            default:
                return Verdict(kind: .dead, error: "HTTP \(status)")
            }
        }
    }

    /// What a response means for an output of a channel endpoint: the channel's rules first
    /// (its success test, its retry delay), then the usual ones for the status.
    static func judge(_ result: Result<WebhookResponse, WebhookError>, channel: Channel, output: Output, policy: RetryPolicy) -> Verdict {
        guard case .success(let response) = result else {
            var verdict = judge(result, policy: policy)
            verdict.error = verdict.error.map(channel.redact)
            return verdict
        }
        switch channel.judge(ChannelResponse(status: response.status, retryAfter: response.retryAfter, body: response.body), for: output) {
        case .delivered:
            return Verdict(kind: .delivered, error: nil)
        case .dead(let reason):
            return Verdict(kind: .dead, error: reason)
        case .retry(let after, let reason):
            var atLeast = after ?? retryAfter(response.retryAfter)
            if response.status == 429, atLeast ?? .zero < policy.throttleDelay { atLeast = policy.throttleDelay }
            return Verdict(kind: .retry(atLeast: atLeast), error: reason)
        case .byStatus(let reason):
            var verdict = judge(result, policy: policy)
            if let error = verdict.error, error != "HTTP \(response.status)" {
                verdict.error = "\(reason) (\(error))"
            } else if verdict.kind != .delivered {
                verdict.error = reason
            }
            return verdict
        }
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func retryAfter(_ value: String?) -> Duration? {
        guard let value else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int64(date.timeIntervalSinceNow * 1000)))
    }
}
