import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// Traces end to end (SPEC §15), on the real binary: `herald serve` exports its spans over
/// OTLP/HTTP (JSON) to a collector stand-in, continues the caller's `traceparent`, and sends its
/// attempt's `traceparent` to the webhook; JSON log lines carry the trace id.
@Suite(.serialized) struct TracingTests {
    static let callerTrace = "0af7651916cd43dd8448eb211c80319c"
    static let callerSpan = "b7ad6b7169203331"
    static let schedulerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let text = "a text that must never be an attribute"

    /// A span as the collector got it, ids in hex.
    struct ExportedSpan {
        var name: String
        var traceId: String
        var spanId: String
        var parentSpanId: String?
        var attributes: [String: JSON]
        var links: [String]

        init?(_ json: JSON) {
            guard let name = json["name"]?.stringValue, let trace = json["traceId"].flatMap(Self.hex), let span = json["spanId"].flatMap(Self.hex)
            else { return nil }
            self.name = name
            traceId = trace
            spanId = span
            parentSpanId = json["parentSpanId"].flatMap(Self.hex)
            var attributes: [String: JSON] = [:]
            for attribute in json["attributes"]?.arrayValue ?? [] {
                guard let key = attribute["key"]?.stringValue, let value = attribute["value"]?.objectValue else { continue }
                // {"stringValue": …} or {"intValue": "202"} (OTLP/JSON writes 64-bit integers as strings).
                for (kind, item) in value {
                    attributes[key] = kind == "intValue" ? (item.stringValue.flatMap(Double.init).map(JSON.number) ?? item) : item
                }
            }
            self.attributes = attributes
            links = (json["links"]?.arrayValue ?? []).compactMap { $0["traceId"].flatMap(Self.hex) }
        }

        /// OTLP/JSON as swift-otel writes it carries ids as base64; hex ones are taken as they are.
        static func hex(_ value: JSON) -> String? {
            guard let text = value.stringValue, !text.isEmpty else { return nil }
            if text.count == 32 || text.count == 16, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            guard let data = Data(base64Encoded: text) else { return nil }
            return data.map { String(format: "%02x", $0) }.joined()
        }
    }

    static func spans(_ collector: TestReceiver) -> [ExportedSpan] {
        collector.all.filter { $0.path == "/v1/traces" }.flatMap { request in
            (request.body["resourceSpans"]?.arrayValue ?? []).flatMap { resource in
                (resource["scopeSpans"]?.arrayValue ?? []).flatMap { scope in (scope["spans"]?.arrayValue ?? []).compactMap(ExportedSpan.init) }
            }
        }
    }

    @Test func oneMessageIsOneTraceFromTheCallerToTheWebhook() async throws {
        let collector = TestReceiver()
        let webhook = TestReceiver()
        try await TestServices.run([collector.application(logger: TestServices.logger), webhook.application(logger: TestServices.logger)]) {
            try await collector.waitUntilListening()
            try await webhook.waitUntilListening()
            let directory = try Fixtures.temporaryDirectory()
            let port = try freePort()
            let yaml = """
                listen: 127.0.0.1:\(port)
                admin: { keys: ["\(Fixtures.adminKey)"] }
                storage: sqlite:\(directory)/herald.sqlite
                log: { format: json }
                tracing:
                  otlp: { endpoint: "\(collector.url.dropLast("/hook".count))", protocol: http/json, headers: { X-Collector-Key: collector-secret } }
                  sampleRatio: 1
                  exportInterval: 100ms
                endpoints:
                  - urlToken: demo
                    flow: \(Fixtures.root)/examples/flows/echo.yaml
                    webhook: { url: "\(webhook.url)", user: bot, password: hook-password-4711 }
                """
            try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
            let herald = try HeraldProcess(
                ["serve", "--config", directory + "/herald.yaml", "--log-level", "debug"], logPath: directory + "/serve.log")
            defer { herald.stop() }
            try await herald.waitUntilHealthy("http://127.0.0.1:\(port)/healthz")

            let body = #"{"userId":"u","sessionId":"s1","text":"\#(Self.text)"}"#
            let sent = try await HTTP.request(
                "POST", "http://127.0.0.1:\(port)/demo", body: Array(body.utf8),
                headers: ["Content-Type": "application/json", "traceparent": "00-\(Self.callerTrace)-\(Self.callerSpan)-01"])
            #expect(sent.status == 202)
            // A notify scheduled under another trace: its firing links to it.
            let scheduled = #"{"userId":"u","sessionId":"s1","text":"later","delay":"1s"}"#
            let schedule = try await HTTP.request(
                "POST", "http://127.0.0.1:\(port)/notify/demo", body: Array(scheduled.utf8),
                headers: [
                    "Content-Type": "application/json", "X-API-Key": Fixtures.adminKey, "traceparent": "00-\(Self.schedulerTrace)-00f067aa0ba902b7-01",
                ])
            #expect(schedule.status == 202)

            let delivered = try await webhook.waitForAccepted(2)
            let first = try #require(delivered.first { $0.text == "You said: \(Self.text)" })
            let traceparent = try #require(first.headers["traceparent"])
            let parts = traceparent.split(separator: "-").map(String.init)
            try #require(parts.count == 4)
            #expect(parts[1] == Self.callerTrace)

            let spans = try await collector.wait(timeout: .seconds(20)) { _ in
                Self.spans(collector).contains { $0.name == "herald.deliver" && $0.traceId == Self.callerTrace }
                    && Self.spans(collector).contains { $0.name == "herald.turn" && !$0.links.isEmpty }
            }.isEmpty ? [] : Self.spans(collector)
            let trace = spans.filter { $0.traceId == Self.callerTrace }
            let request = try #require(trace.first { $0.parentSpanId == Self.callerSpan })
            #expect(request.attributes["http.response.status_code"] == 202)
            let turn = try #require(trace.first { $0.name == "herald.turn" })
            #expect(turn.parentSpanId == request.spanId)
            #expect(turn.attributes["herald.url_token"] == "demo")
            #expect(turn.attributes["herald.flow.nodes"] == "#1")
            #expect(trace.contains { $0.name == "herald.commit" && $0.parentSpanId == turn.spanId })
            let attempt = try #require(trace.first { $0.name == "herald.deliver" })
            #expect(attempt.parentSpanId == turn.spanId)
            #expect(attempt.spanId == parts[2])
            #expect(attempt.attributes["http.response.status_code"] == 200)
            #expect(attempt.attributes["herald.output_id"]?.stringValue == first.webhookId)

            let fired = try #require(spans.first { $0.name == "herald.turn" && $0.links.contains(Self.schedulerTrace) })
            #expect(fired.attributes["herald.scheduled_id"]?.stringValue != nil)

            // Texts and secrets are never attributes, nor sent anywhere but where they belong.
            let exported = collector.all.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(!exported.contains(Self.text))
            #expect(!exported.contains("hook-password-4711"))
            #expect(collector.all.first?.headers["x-collector-key"] == "collector-secret")

            // JSON logs: every line parses, and the lines logged in the message's turn carry its trace.
            let lines = herald.log.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(!lines.isEmpty)
            for line in lines { #expect((try? JSON.parse(Array(line.utf8))) != nil, "not JSON: \(line)") }
            let traced = lines.compactMap { try? JSON.parse(Array($0.utf8)) }.filter { $0["trace_id"]?.stringValue == Self.callerTrace }
            #expect(traced.contains { $0["message"] == "turn recorded" && $0["span_id"]?.stringValue == turn.spanId })
            #expect(!herald.log.contains("collector-secret"))
        }
    }
}
