import Instrumentation
import Logging
import ServiceContextModule
import Synchronization
import Tracing

/// A turn as a span (SPEC §15), while tracing is on: `herald.turn` as a child of the request's
/// span, with a `herald.commit` child for the wait until the change is durable. Attributes:
/// the urlToken, session and input ids, the number of outputs, the flow's nodes passed; a
/// scheduled message's turn links to the trace of the request that scheduled it.
extension SessionRegistry {
    func traced(_ key: SessionKey, _ body: (TurnTrace) async throws(HeraldError) -> Receipt) async throws(HeraldError) -> Receipt {
        let span = startSpan("herald.turn", context: ServiceContext.current ?? .topLevel, ofKind: .internal)
        defer { span.end() }
        span.updateAttributes { attributes in
            attributes["herald.url_token"] = key.urlToken
            attributes["herald.session_id"] = key.sessionId
        }
        let trace = TurnTrace(span)
        let result = await ServiceContext.withValue(span.context) { () async -> Result<Receipt, HeraldError> in
            do throws(HeraldError) {
                return .success(try await body(trace))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let receipt):
            span.updateAttributes { attributes in
                if let inputId = receipt.inputId { attributes["herald.input_id"] = inputId }
                attributes["herald.outputs"] = receipt.outputs.count
                let nodes = trace.nodes
                if !nodes.isEmpty { attributes["herald.flow.nodes"] = nodes.joined(separator: ",") }
                if let scheduled = receipt.scheduled { attributes["herald.scheduled_id"] = scheduled.id }
            }
            if let origin = receipt.scheduled?.traceparent, origin != trace.traceparent {
                span.addLink(SpanLink(context: HeraldTracing.context(traceparent: origin), attributes: [:]))
            }
            // Inside the span, so the line carries its trace_id and span_id.
            ServiceContext.withValue(span.context) {
                logger.debug(
                    "turn recorded",
                    metadata: [
                        "urlToken": "\(key.urlToken)", "sessionId": "\(key.sessionId)", "inputId": "\(receipt.inputId ?? "")",
                        "outputs": "\(receipt.outputs.count)",
                    ])
            }
            return receipt
        case .failure(let error):
            // The status only: an error's message may name a user.
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }
}

/// What one traced turn collects on its way: the nodes its flow runs passed (from whichever
/// task runs the flow, the request's or the store's), and the span its outputs descend from.
final class TurnTrace: Sendable {
    @TaskLocal static var current: TurnTrace?

    let span: any Span
    /// The turn span as a `traceparent`, stamped on the turn's outputs.
    let traceparent: String?
    private let passed = Mutex<[String]>([])

    init(_ span: any Span) {
        self.span = span
        self.traceparent = HeraldTracing.traceparent(of: span.context)
    }

    var nodes: [String] { passed.withLock { $0 } }

    func record(_ path: [String]) {
        guard !path.isEmpty else { return }
        passed.withLock { $0 += path }
    }

    /// Runs `body` with `trace` as ``current`` (when there is one).
    static func with<T>(_ trace: TurnTrace?, _ body: () throws(HeraldError) -> T) throws(HeraldError) -> T {
        guard let trace else { return try body() }
        let result = $current.withValue(trace) { () -> Result<T, HeraldError> in
            do throws(HeraldError) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

extension Optional where Wrapped == TurnTrace {
    /// Waits for the commit, as a `herald.commit` span under the turn's while tracing is on.
    func committing(_ wait: () async throws -> Void) async throws {
        guard let trace = self else { return try await wait() }
        let span = startSpan("herald.commit", context: trace.span.context, ofKind: .internal)
        defer { span.end() }
        try await wait()
    }
}
