import Foundation
import HeraldChannels
import HeraldCore
import Logging
import Synchronization

/// A flow's call (SPEC §13), made like a delivery: the outbox hands over the call's output, the
/// client makes the request, each attempt is logged, and the final answer goes back into the
/// session (``SessionRegistry/answer(_:with:)``) before the output counts as done. If Herald
/// stops in between, the output is still pending and the call is made again after a restart,
/// with the same `Idempotency-Key` (the output's id); the session takes one answer only.
///
/// What an answer means: 2xx answers the call; connection errors, 408, 425, 429 and 5xx are
/// tried again on the node's `retry`; a timeout, any other status, an answer over 1 MiB or one
/// that says it is JSON but is not fails it, and the flow goes on at `onError`.
extension DeliveryService {
    func call(_ job: DeliveryJob, _ endpoint: Endpoint) {
        let output = job.output
        let started = Timestamp.now()
        guard let call = CallRequest(json: output.data) else {
            return answer(job, .failed("the call's output holds no request"), started: started)
        }
        // The endpoint's rules as they are now, not as they were when the flow ran.
        if let refusal = endpoint.calls.refusal(call.url) {
            return answer(job, .failed("the call was not made: \(refusal)"), started: started)
        }
        var request: WebhookRequest
        do {
            request = try Self.request(for: call, id: output.id, settings: endpoint.calls, environment: ProcessInfo.processInfo.environment)
        } catch {
            return answer(job, .failed("the call was not made: \(error)"), started: started)
        }
        let span = DeliverySpan.start("herald.call", output, attempt: job.entry.attempts + 1, &request)
        inFlight.add(1, ordering: .relaxed)
        client.start(request) { result in
            defer { self.inFlight.subtract(1, ordering: .releasing) }
            span?.end(result)
            // The client stopped: stays pending, made again after a restart.
            if case .failure(let error) = result, error == .shutdown { return }
            self.record(result, of: job, call, started: started)
        }
    }

    private func record(_ result: Result<WebhookResponse, WebhookError>, of job: DeliveryJob, _ call: CallRequest, started: Timestamp) {
        let number = job.entry.attempts + 1
        let now = Timestamp.now()
        var attempt = DeliveryAttempt(
            outputId: job.output.id, number: number, startedAt: started, durationMilliseconds: now.milliseconds - started.milliseconds,
            statusCode: nil, error: nil, responseBody: nil)
        if case .success(let response) = result {
            attempt.statusCode = response.status
            attempt.responseBody = response.body.isEmpty ? nil : String(decoding: response.body.prefix(4096), as: UTF8.self)
        }
        let (answer, retryAfter) = Self.judge(result, of: call, attempt: number)
        attempt.error = answer.error
        if let retryAfter, number < call.retry.maxAttempts {
            let next = now.adding(retryAfter)
            metrics.recordCall(urlToken: job.output.session.urlToken, result: "retry")
            writer.submit(.delivery(DeliveryUpdate(outputId: job.output.id, status: .failed, attempts: number, nextAttemptAt: next, attempt: attempt)))
            outbox.finish(job, .retry(at: next), now: now)
            return
        }
        if retryAfter != nil, number > 1, var error = answer.error {
            error += "; gave up after \(number) attempts"
            attempt.error = error
            var final = answer
            final.error = error
            return self.answer(job, final, attempt: attempt)
        }
        self.answer(job, answer, attempt: attempt)
    }

    /// A call that was not made: its attempt says why, and the flow goes on at `onError`.
    private func answer(_ job: DeliveryJob, _ answer: CallAnswer, started: Timestamp) {
        let attempt = DeliveryAttempt(
            outputId: job.output.id, number: job.entry.attempts + 1, startedAt: started, durationMilliseconds: 0, statusCode: nil,
            error: answer.error, responseBody: nil)
        self.answer(job, answer, attempt: attempt)
    }

    /// Records the answer in the session (the flow goes on), then the call's attempt; the
    /// output is done only once the session has the answer.
    private func answer(_ job: DeliveryJob, _ answer: CallAnswer, attempt: DeliveryAttempt) {
        let output = job.output
        let urlToken = output.session.urlToken
        metrics.recordCall(urlToken: urlToken, result: answer.error == nil ? "answered" : "failed")
        if let error = answer.error {
            logger.warning("call failed", metadata: ["outputId": "\(output.id)", "urlToken": "\(urlToken)", "error": "\(error)"])
        }
        inFlight.add(1, ordering: .relaxed)
        Task {
            defer { inFlight.subtract(1, ordering: .releasing) }
            let status: DeliveryStatus = answer.error == nil ? .delivered : .dead
            do {
                guard let registry else { throw HeraldError.unavailable("no session registry to take the answer") }
                try await registry.answer(output, with: answer)
            } catch {
                // Not recorded (the store failed, or Herald is stopping): the call is made again,
                // with the same Idempotency-Key.
                logger.warning("call answer not recorded; the call will be made again", metadata: ["outputId": "\(output.id)", "error": "\(error)"])
                let next = Timestamp.now().adding(.seconds(1))
                writer.submit(
                    .delivery(DeliveryUpdate(outputId: output.id, status: .failed, attempts: attempt.number, nextAttemptAt: next, attempt: attempt)))
                outbox.finish(job, .retry(at: next))
                return
            }
            writer.submit(.delivery(DeliveryUpdate(outputId: output.id, status: status, attempts: attempt.number, nextAttemptAt: nil, attempt: attempt)))
            outbox.finish(job, status == .delivered ? .delivered : .dead)
        }
    }

    /// What an attempt's result means: the answer, and how long to wait before trying again
    /// when the call may be tried again (the caller checks `maxAttempts`).
    static func judge(_ result: Result<WebhookResponse, WebhookError>, of call: CallRequest, attempt number: Int) -> (CallAnswer, Duration?) {
        switch result {
        case .failure(let error):
            if error == .timeout { return (.failed("no answer within \(call.timeout.configText) (\(error))", attempts: number), nil) }
            return (.failed(error.description, attempts: number), error.isRetryable ? call.retry.delay(after: number) : nil)
        case .success(let response):
            let answer = Self.answer(response, attempts: number)
            guard [408, 425, 429].contains(response.status) || (500..<600).contains(response.status) else { return (answer, nil) }
            // Retry-After is honoured up to 30 s; beyond that the user would wait too long.
            let asked = Self.retryAfter(response.retryAfter) ?? .zero
            return (answer, max(call.retry.delay(after: number), min(asked, .seconds(30))))
        }
    }

    /// Makes `call` (with its retries) and waits for its answer: `herald flow run`, which
    /// answers a call before it reads the next line.
    public static func call(_ call: CallRequest, id: String, client: any WebhookClient, settings: CallSettings = .unrestricted) -> CallAnswer {
        let request: WebhookRequest
        do {
            request = try Self.request(for: call, id: id, settings: settings, environment: ProcessInfo.processInfo.environment)
        } catch {
            return .failed("the call was not made: \(error)")
        }
        var number = 1
        while true {
            let done = DispatchSemaphore(value: 0)
            let box = Mutex<Result<WebhookResponse, WebhookError>?>(nil)
            client.start(request) { result in
                box.withLock { $0 = result }
                done.signal()
            }
            done.wait()
            let (answer, retryAfter) = judge(box.withLock { $0 }!, of: call, attempt: number)
            guard let retryAfter, number < call.retry.maxAttempts else { return answer }
            Thread.sleep(forTimeInterval: Double(retryAfter.milliseconds) / 1000)
            number += 1
        }
    }

    /// What a response means for the flow: its body as JSON (or text), or why it failed.
    static func answer(_ response: WebhookResponse, attempts: Int) -> CallAnswer {
        let status = response.status
        guard response.body.count <= CallRequest.maxAnswerBytes else {
            return .failed("the answer is larger than 1 MiB", status: status, attempts: attempts)
        }
        var body: JSON?
        if !response.body.isEmpty {
            let saysJSON = response.contentType?.lowercased().contains("json") ?? false
            do {
                body = try JSON.parse(response.body)
            } catch {
                if saysJSON { return .failed("the answer is not valid JSON: \(error)", status: status, attempts: attempts) }
                guard let text = String(validating: response.body, as: UTF8.self) else {
                    return .failed("the answer is neither JSON nor UTF-8 text", status: status, attempts: attempts)
                }
                body = .string(text)
            }
        }
        return CallAnswer(status: status, body: body, attempts: attempts)
    }

    /// The HTTP request of a call: its headers with `Idempotency-Key`, its `${NAME}` secrets
    /// resolved, its body encoded.
    static func request(for call: CallRequest, id: String, settings: CallSettings, environment: [String: String]) throws -> WebhookRequest {
        var headers: [(name: String, value: String)] = [("Idempotency-Key", id), ("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")]
        var body: [UInt8] = []
        switch call.body {
        case .json(let value): body = Array(value.jsonString.utf8)
        case .form(let fields):
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            var object = JSONObject()
            for field in fields { object[field.name] = .string(field.value) }
            body = Array(FormEncoding.encode(object).utf8)
        case nil: break
        }
        for header in call.headers { headers.append((header.name, header.value)) }
        for header in call.secretHeaders { headers.append((header.name, try settings.resolve(header.value, environment: environment))) }
        var user: String?
        var password: Secret?
        switch call.auth {
        case .bearer(let token): headers.append(("Authorization", "Bearer " + (try settings.resolve(token, environment: environment))))
        case .basic(let name, let secret):
            user = name
            password = Secret(try settings.resolve(secret, environment: environment))
        case nil: break
        }
        // A value rendered from the user's text must not add headers of its own.
        if let broken = headers.first(where: { $0.value.contains(where: { $0 == "\r" || $0 == "\n" }) }) {
            throw CallHeaderError(name: broken.name)
        }
        var request = WebhookRequest(
            url: call.url, headers: headers, body: body, user: user, password: password, connectTimeout: min(call.timeout, .seconds(5)),
            timeout: call.timeout)
        request.method = call.method
        request.maxResponseBytes = CallRequest.maxAnswerBytes + 1
        return request
    }
}

/// A call's header value holds a line break.
struct CallHeaderError: Error, CustomStringConvertible {
    var name: String
    var description: String { "header '\(name)' holds a line break" }
}
