import Instrumentation
import ServiceContextModule
import Synchronization
import Tracing

/// Herald's tracing (SPEC §15): spans for a request's turn, its commit and each delivery
/// attempt, through swift-distributed-tracing's global tracer (which `herald serve` bootstraps
/// with swift-otel when the configuration has `tracing:`). Off by default: every traced place
/// checks ``isEnabled`` first, so tracing off costs one atomic load.
///
/// An output carries the W3C `traceparent` of the turn that made it (``Output/traceparent``),
/// so its delivery attempts, made later on another thread, join the request's trace; a
/// scheduled message keeps the one of the request that scheduled it and its firing links to it.
/// Attributes are ids, counts, sizes and status codes only: never texts, data or secrets.
public enum HeraldTracing {
    private static let enabled = Atomic<Bool>(false)

    /// Whether spans are made. Set once, at start-up, after the tracer is bootstrapped.
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    public static func enable() {
        enabled.store(true, ordering: .relaxed)
    }

    /// The current span's context as a W3C `traceparent`, or `nil` (tracing off, no span).
    public static func currentTraceparent() -> String? {
        guard isEnabled, let context = ServiceContext.current else { return nil }
        return traceparent(of: context)
    }

    /// `context` as a W3C `traceparent`, or `nil` when it holds no span.
    public static func traceparent(of context: ServiceContext) -> String? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryCarrier())
        return carrier["traceparent"]
    }

    /// The context a `traceparent` stands for (a new top-level one when `nil`).
    public static func context(traceparent: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let traceparent {
            InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryCarrier())
        }
        return context
    }

    /// The headers that carry `span`'s context to the receiver (`traceparent`, `tracestate`).
    public static func headers(for span: any Span) -> [(name: String, value: String)] {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(span.context, into: &carrier, using: DictionaryCarrier())
        return carrier.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// Injects into and extracts from a `[String: String]`.
struct DictionaryCarrier: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }

    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
