import HTTPTypes
import HeraldCore
import Hummingbird
import Logging
import NIOCore

/// An error answer: `{"error": {"message": "..."}}` with the status, the message naming the
/// offending field (`userId: is required`).
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.field("message", message)
        writer.endObject()
        writer.comma()
        writer.endObject()
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    /// The answer to a ``HeraldError``: the one place its codes become statuses.
    static func from(_ error: HeraldError) -> APIError {
        let status: HTTPResponse.Status
        switch error {
        case .unknownEndpoint, .unknownSession, .unknownOutput, .unknownSchedule: status = .notFound
        case .userMismatch, .invalidState: status = .conflict
        default: status = .serviceUnavailable
        }
        return APIError(status, error.message, headers: status == .serviceUnavailable ? [.retryAfter: "1"] : [:])
    }
}

/// Turns every error into a JSON error body: a ``HeraldError`` by its code (404, 409, 503),
/// Hummingbird's own (404 for an unknown route, 413, …) with a message, and anything
/// unexpected is logged and answered 500 without detail. Routes just throw.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HeraldError {
            throw APIError.from(error)
        } catch let error as HTTPError {
            let message: String
            switch error.status {
            case .notFound: message = "no route \(request.method) \(request.uri.path)"
            case .methodNotAllowed: message = "method \(request.method) is not allowed on \(request.uri.path)"
            case .contentTooLarge: message = "body: larger than the limit"
            default: message = error.body ?? error.status.reasonPhrase
            }
            throw APIError(error.status, message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, error.status.reasonPhrase)
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw APIError(.internalServerError, "internal error")
        }
    }
}

extension Response {
    /// A JSON response from bytes written with `JSONWriter`.
    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSON) -> Response {
        json(status, value.serialized())
    }
}
