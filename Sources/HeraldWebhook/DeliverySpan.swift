import HeraldCore
import Instrumentation
import ServiceContextModule
import Tracing

/// One delivery attempt (or call) as a client span, while tracing is on (SPEC §15): a child of
/// the turn that made the output, whose context the request carries to the receiver as
/// `traceparent`, so the receiver's trace joins. Attributes are the ids, the attempt number,
/// the method, the server's host and port, sizes and the status code: never the URL's path
/// (a channel's may hold its token), headers or body.
struct DeliverySpan: Sendable {
    let span: any Span

    /// Starts the span and adds its `traceparent` to `request`; `nil` while tracing is off.
    static func start(_ name: String, _ output: Output, attempt: Int, _ request: inout WebhookRequest) -> DeliverySpan? {
        guard HeraldTracing.isEnabled else { return nil }
        let span = startSpan(name, context: HeraldTracing.context(traceparent: output.traceparent), ofKind: .client)
        let server = CallRequest.host(of: request.url)
        span.updateAttributes { attributes in
            attributes["herald.output_id"] = output.id
            attributes["herald.url_token"] = output.session.urlToken
            attributes["herald.session_id"] = output.session.sessionId
            attributes["herald.output.type"] = output.type.rawValue
            attributes["herald.attempt"] = attempt
            attributes["http.request.method"] = request.method
            if let server {
                attributes["server.address"] = server.host
                if let port = server.port { attributes["server.port"] = port }
            }
            attributes["http.request.body.size"] = request.body.count
        }
        request.headers += HeraldTracing.headers(for: span)
        return DeliverySpan(span: span)
    }

    func end(_ result: Result<WebhookResponse, WebhookError>) {
        switch result {
        case .success(let response):
            span.updateAttributes { attributes in
                attributes["http.response.status_code"] = response.status
                attributes["http.response.body.size"] = response.body.count
            }
            if response.status >= 400 { span.setStatus(SpanStatus(code: .error)) }
        case .failure(let error):
            span.updateAttributes { $0["error.type"] = error.kind }
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }
}

extension WebhookError {
    /// What kind of failure, without libcurl's words (which may name the URL): `timeout`,
    /// `connection_failed`, `tls`, `invalid_url`, `transport`, `shutdown`.
    var kind: String {
        switch code {
        case .timeout: "timeout"
        case .connectionFailed: "connection_failed"
        case .tls: "tls"
        case .invalidURL: "invalid_url"
        case .transport: "transport"
        case .shutdown: "shutdown"
        }
    }
}
