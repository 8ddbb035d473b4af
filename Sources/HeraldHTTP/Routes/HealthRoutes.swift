import HeraldCore
import Hummingbird

/// `GET /healthz` (the process answers) and `GET /readyz` (the store answers too).
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
    }
}
