import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `herald-bench baseline`: the bare Hummingbird 2 server Herald is measured against.
///
/// It accepts the same `POST /{urlToken}` as Herald and answers the same 202
/// `{"sessionId", "inputId"}`, but does nothing else: it reads the body, picks the session id
/// out of it and answers. No validation, flow, store or delivery. Whatever Herald spends
/// beyond this is the cost of being Herald.
struct Baseline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A bare Hummingbird server answering 202 to POST /{urlToken}.")

    @Option(help: "Port to listen on.")
    var port: Int = 9200

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    func run() async throws {
        var logger = Logger(label: "herald-bench.baseline")
        logger.logLevel = .warning
        let inputs = InputCounter()
        let router = Router()
        router.post(":urlToken") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let sessionId = body.withUnsafeReadableBytes({ ScanJSON.string("sessionId", in: $0) }) else {
                throw HTTPError(.badRequest, message: "sessionId: is required")
            }
            let answer = #"{"sessionId":"\#(sessionId)","inputId":"in_\#(inputs.next())"}"#
            return Response(
                status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        print("herald-bench baseline: listening on http://\(host):\(port)")
        try await app.runService()
    }
}

/// Numbers the accepted inputs.
final class InputCounter: Sendable {
    private let value = Atomic<Int>(0)

    func next() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
