import HeraldCore
import HeraldWebhook
import Instrumentation
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// Turns `tracing:` on (SPEC §15): swift-otel's tracer, exporting over OTLP/HTTP, becomes the
/// process's tracer, and ``HeraldTracing`` starts making spans. The tracer's service exports
/// spans in batches and flushes the last ones when Herald stops.
enum TracingBootstrap {
    private static let bootstrapped = Mutex(false)

    /// The tracer's service; `nil` when this process's tracer was set up before (a second
    /// Herald in one process, as in tests: it traces into the first one's).
    static func start(_ settings: TracingSettings, logger: Logger) throws -> (any Service)? {
        try bootstrapped.withLock { done throws -> (any Service)? in
            guard !done else { return nil }
            var configuration = OTel.Configuration.default
            configuration.serviceName = "herald"
            configuration.resourceAttributes["service.version"] = HeraldVersion.current
            configuration.logs.enabled = false
            configuration.metrics.enabled = false
            configuration.traces.enabled = true
            configuration.traces.exporter = .otlp
            let base = settings.endpoint.hasSuffix("/") ? String(settings.endpoint.dropLast()) : settings.endpoint
            configuration.traces.otlpExporter.endpoint = base.hasSuffix("/v1/traces") ? base : base + "/v1/traces"
            configuration.traces.otlpExporter.protocol = settings.otlpProtocol == .json ? .httpJSON : .httpProtobuf
            configuration.traces.otlpExporter.headers = settings.headers.map { ($0.name, $0.value.value) }
            configuration.traces.sampler = .parentBasedTraceIDRatio(ratio: settings.sampleRatio) ?? .parentBasedAlwaysOn
            configuration.traces.batchSpanProcessor.scheduleDelay = settings.exportInterval
            configuration.diagnosticLogger = .custom(logger)
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(backend.factory)
            HeraldTracing.enable()
            done = true
            return backend.service
        }
    }
}
