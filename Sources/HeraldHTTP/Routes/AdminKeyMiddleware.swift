import HTTPTypes
import HeraldCore
import Hummingbird

/// Every admin route needs `X-API-Key` with one of the configured admin keys, compared in
/// constant time. Missing or wrong: 401, before anything else about the request is looked at.
/// Which scope a route needs is checked by its handler (``AdminScopes``): 403.
struct AdminKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: AdminKeys

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        _ = try AdminScopes.key(of: request, keys.current)
        return try await next(request, context)
    }
}
