import HeraldCore
import Metrics

/// Delivery counters and latency per endpoint, made once per endpoint so the hot path only
/// increments.
struct DeliveryMetrics: Sendable {
    private struct Instruments: Sendable {
        var results: [DeliveryStatus: Counter]
        var latency: Metrics.Timer
        /// Flow calls' attempts by result: `answered` (2xx), `retry`, `failed` (the flow goes
        /// on at `onError`).
        var calls: [String: Counter]
    }

    private let instruments: PerEndpoint<Instruments>

    init(urlTokens: [String]) {
        instruments = PerEndpoint(urlTokens) { urlToken in
            var counters: [DeliveryStatus: Counter] = [:]
            for status in DeliveryStatus.allCases {
                let result = status == .failed ? "retry" : (status == .pending ? "paused" : status.rawValue)
                counters[status] = Counter(label: "herald_delivery_attempts_total", dimensions: [("url_token", urlToken), ("result", result)])
            }
            let latency = Metrics.Timer(
                label: "herald_delivery_duration_seconds", dimensions: [("url_token", urlToken)], preferredDisplayUnit: .seconds)
            var calls: [String: Counter] = [:]
            for result in ["answered", "retry", "failed"] {
                calls[result] = Counter(label: "herald_call_attempts_total", dimensions: [("url_token", urlToken), ("result", result)])
            }
            return Instruments(results: counters, latency: latency, calls: calls)
        }
    }

    func record(urlToken: String, status: DeliveryStatus, duration milliseconds: Int64) {
        let instruments = instruments[urlToken]
        instruments.results[status]?.increment()
        instruments.latency.recordMilliseconds(milliseconds)
    }

    func recordCall(urlToken: String, result: String) {
        instruments[urlToken].calls[result]?.increment()
    }
}
