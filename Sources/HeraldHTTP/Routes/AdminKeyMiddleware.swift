import HTTPTypes
import HeraldCore
import Hummingbird

/// Every admin route needs `X-API-Key` with one of the configured admin keys, compared in
/// constant time. Missing or wrong: 401, before anything else about the request is looked at.
struct AdminKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: [[UInt8]]

    init(keys: [Secret]) {
        self.keys = keys.map { Array($0.value.utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let given = request.headers[.apiKey] else {
            throw APIError(.unauthorized, "X-API-Key: header is required for admin routes")
        }
        guard matchesAnyKey(given, keys) else { throw APIError(.unauthorized, "X-API-Key: not a valid admin key") }
        return try await next(request, context)
    }
}
