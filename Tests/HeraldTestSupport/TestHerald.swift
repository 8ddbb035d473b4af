import Foundation
import HeraldCore
import HeraldHTTP
import HeraldServer
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// Runs services for the length of a test: a real receiver and a real Herald on 127.0.0.1,
/// both on free ports, stopped gracefully afterwards.
public enum TestServices {
    public static let logger: Logger = {
        var logger = Logger(label: "herald-test")
        logger.logLevel = ProcessInfo.processInfo.environment["HERALD_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }()

    /// Runs `services` while `body` runs.
    public static func run<T: Sendable>(_ services: [any Service], logger: Logger = logger, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let serviceGroup = ServiceGroup(configuration: .init(services: services, logger: logger))
            group.addTask { try await serviceGroup.run() }
            do {
                let value = try await body()
                await serviceGroup.triggerGracefulShutdown()
                try await group.waitForAll()
                return value
            } catch {
                await serviceGroup.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Starts a receiver, then a Herald whose configuration `makeConfiguration` builds from the
    /// receiver's URL, and runs `body` with both.
    public static func withHerald<T: Sendable>(
        receiver: TestReceiver = TestReceiver(),
        logger: Logger = logger,
        clock: HeraldClock = .system,
        _ makeConfiguration: @Sendable (String) throws -> HeraldConfiguration,
        _ body: @Sendable (TestHerald) async throws -> T
    ) async throws -> T {
        try await run([receiver.application(logger: logger)], logger: logger) {
            try await receiver.waitUntilListening()
            var configuration = try makeConfiguration(receiver.url)
            configuration.listen = ListenAddress(host: "127.0.0.1", port: 0)
            if configuration.adminListen != nil { configuration.adminListen = ListenAddress(host: "127.0.0.1", port: 0) }
            let expected = configuration.adminListen == nil ? 1 : 2
            let herald = try await Herald.start(configuration: configuration, clock: clock, logger: logger)
            let ports = Mutex<[HeraldListener: Int]>([:])
            let app = buildApplication(herald: herald) { listener, port in ports.withLock { $0[listener] = port } }
            return try await run([app], logger: logger) {
                // A guard against hangs: a PostgreSQL Herald migrates a new database first, slow when
                // the whole suite runs at once.
                try await receiver.wait(timeout: .seconds(90)) { _ in ports.withLock { $0.count } >= expected }
                let (main, admin) = ports.withLock { ($0[.main]!, $0[.admin]) }
                return try await body(TestHerald(herald: herald, receiver: receiver, port: main, adminPort: admin ?? main))
            }
        }
    }
}

/// A running Herald in a test, with its receiver.
public struct TestHerald: Sendable {
    public let herald: Herald
    public let receiver: TestReceiver
    public let port: Int
    public let adminPort: Int

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var adminURL: String { "http://127.0.0.1:\(adminPort)" }

    /// POSTs JSON to an admin route (`/notify/demo`, `/admin/v1/...`) with the admin key.
    public func admin(_ method: String, _ path: String, json: String? = nil) async throws -> HTTPResult {
        var headers = ["X-API-Key": Fixtures.adminKey]
        if json != nil { headers["Content-Type"] = "application/json" }
        return try await HTTP.request(method, adminURL + path, body: json.map { Array($0.utf8) }, headers: headers)
    }

    /// POSTs JSON to a path of the main listener.
    public func post(_ path: String, json: String, headers: [String: String] = [:]) async throws -> HTTPResult {
        try await HTTP.request("POST", baseURL + path, body: Array(json.utf8), headers: ["Content-Type": "application/json"].merging(headers) { $1 })
    }

    /// A user message to an endpoint.
    public func send(_ urlToken: String, user: String = "user-1", session: String, text: String? = nil, data: JSON? = nil,
                     headers: [String: String] = [:], query: String = "") async throws -> HTTPResult {
        var body: JSONObject = ["userId": .string(user), "sessionId": .string(session)]
        if let text { body["text"] = .string(text) }
        if let data { body["data"] = data }
        return try await post("/\(urlToken)\(query)", json: JSON.object(body).jsonString, headers: headers)
    }
}

/// Status, headers (lowercased names) and body of an HTTP answer.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var bytes: [UInt8]

    public var json: JSON { (try? JSON.parse(bytes)) ?? .null }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    /// `error.message` of an error body.
    public var errorMessage: String? { json["error"]?["message"]?.stringValue }
}
