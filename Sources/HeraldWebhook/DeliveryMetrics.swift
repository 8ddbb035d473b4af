import HeraldCore
import Metrics

/// Delivery counters and latency per endpoint, made once so the hot path only increments.
struct DeliveryMetrics: Sendable {
    private let results: [String: [DeliveryStatus: Counter]]
    private let latency: [String: Metrics.Timer]
    /// Flow calls' attempts by result: `answered` (2xx), `retry`, `failed` (the flow goes on
    /// at `onError`).
    private let calls: [String: [String: Counter]]

    init(urlTokens: [String]) {
        self.calls = Dictionary(
            uniqueKeysWithValues: urlTokens.map { urlToken in
                (
                    urlToken,
                    Dictionary(
                        uniqueKeysWithValues: ["answered", "retry", "failed"].map {
                            ($0, Counter(label: "herald_call_attempts_total", dimensions: [("url_token", urlToken), ("result", $0)]))
                        })
                )
            })
        var results: [String: [DeliveryStatus: Counter]] = [:]
        var latency: [String: Metrics.Timer] = [:]
        for urlToken in urlTokens {
            var counters: [DeliveryStatus: Counter] = [:]
            for status in DeliveryStatus.allCases {
                let result = status == .failed ? "retry" : (status == .pending ? "paused" : status.rawValue)
                counters[status] = Counter(label: "herald_delivery_attempts_total", dimensions: [("url_token", urlToken), ("result", result)])
            }
            results[urlToken] = counters
            latency[urlToken] = Metrics.Timer(label: "herald_delivery_duration_seconds", dimensions: [("url_token", urlToken)], preferredDisplayUnit: .seconds)
        }
        self.results = results
        self.latency = latency
    }

    func record(urlToken: String, status: DeliveryStatus, duration milliseconds: Int64) {
        results[urlToken]?[status]?.increment()
        latency[urlToken]?.recordMilliseconds(milliseconds)
    }

    func recordCall(urlToken: String, result: String) {
        calls[urlToken]?[result]?.increment()
    }
}
