import HeraldCore
import Hummingbird
import NIOCore

/// `GET /healthz` (the process answers), `GET /readyz` (the store answers too) and
/// `GET /openapi.yaml` (the description of every route), on every listener, without a key.
struct HealthRoutes<Context: RequestContext> {
    let herald: Herald

    func addRoutes(to router: Router<Context>) {
        router.get("healthz") { _, _ in
            Response.json(.ok, ["status": "ok"])
        }
        router.get("readyz") { _, _ in
            do {
                try await herald.store.ping()
                return Response.json(.ok, ["status": "ready"])
            } catch {
                return Response.json(.serviceUnavailable, ["status": "unavailable", "error": ["message": "store: not reachable"]])
            }
        }
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
    }
}
