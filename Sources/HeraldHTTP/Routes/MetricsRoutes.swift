import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// The process-wide Prometheus registry behind swift-metrics. Bootstrapped once, before any
/// counter is made (``Herald/start`` touches it first).
public enum HeraldMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// `GET /metrics`, Prometheus text format.
///
/// `/metrics` names endpoints, so it needs the admin key like the admin API: as `X-API-Key`,
/// or as `Authorization: Bearer <key>` (what Prometheus' `authorization` scrape setting sends).
struct MetricsRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        // Every key has `read`, the scope `/metrics` needs.
        let keys = herald.adminKeys
        let routes = RouteCollection(context: Context.self)
        routes.get("metrics") { request, _ in
            guard Self.authorized(request, keys: keys.current.map { Array($0.key.value.utf8) }) else {
                throw APIError(.unauthorized, "X-API-Key: an admin key is required (or Authorization: Bearer <key>)")
            }
            await refreshGauges()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            HeraldMetrics.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return routes
    }

    static func authorized(_ request: Request, keys: [[UInt8]]) -> Bool {
        var given = request.headers[.apiKey]
        if given == nil, let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            given = String(authorization.dropFirst(7))
        }
        guard let given else { return false }
        return matchesAnyKey(given, keys)
    }

    /// Gauges read at scrape time: the outbox backlog and active sessions per endpoint.
    private func refreshGauges() async {
        let registry = HeraldMetrics.registry
        let backlog = herald.outbox.backlog()
        for endpoint in herald.configuration.endpoints {
            let labels = [("url_token", endpoint.urlToken)]
            registry.makeGauge(name: "herald_outbox_backlog", labels: labels).set(Double(backlog[endpoint.urlToken] ?? 0))
            registry.makeGauge(name: "herald_endpoint_paused", labels: labels).set(herald.outbox.isPaused(endpoint.urlToken) ? 1.0 : 0.0)
            let since = Timestamp.now().adding(milliseconds: -endpoint.sessionTTL.milliseconds)
            if let active = try? await herald.store.countSessions(urlToken: endpoint.urlToken, activeSince: since) {
                registry.makeGauge(name: "herald_active_sessions", labels: labels).set(Double(active))
            }
        }
    }
}

/// The OpenAPI description of every route, shipped as a resource.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml", subdirectory: "Resources"),
            let data = try? Data(contentsOf: url)
        else { return Array("openapi: 3.0.3\ninfo: {title: Herald, version: unknown}\npaths: {}\n".utf8) }
        return Array(data)
    }()
}
