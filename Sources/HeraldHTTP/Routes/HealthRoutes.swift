import HeraldCore
import Hummingbird
import NIOCore

/// `GET /healthz` (the process answers), `GET /readyz` (the store answers too) and
/// `GET /openapi.yaml` (the description of every route), on every listener, without a key.
struct HealthRoutes<Context: RequestContext> {
    let herald: Herald

    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("healthz") { _, _ in
            Response.json(.ok, ["status": "ok"])
        }
        routes.get("readyz") { _, _ in
            do {
                try await herald.store.ping()
                return Response.json(.ok, ["status": "ready"])
            } catch {
                return Response.json(.serviceUnavailable, ["status": "unavailable", "error": ["message": "store: not reachable"]])
            }
        }
        routes.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        return routes
    }
}
