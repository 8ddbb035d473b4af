import Metrics

/// Input and output counters per endpoint, made once per endpoint so recording only increments.
struct RegistryMetrics: Sendable {
    private let inputs: PerEndpoint<[InputSource: Counter]>
    private let outputs: PerEndpoint<[OutputType: Counter]>

    init(urlTokens: [String]) {
        inputs = PerEndpoint(urlTokens) { urlToken in
            Dictionary(
                uniqueKeysWithValues: InputSource.allCases.map {
                    ($0, Counter(label: "herald_inputs_total", dimensions: [("url_token", urlToken), ("source", $0.rawValue)]))
                })
        }
        outputs = PerEndpoint(urlTokens) { urlToken in
            Dictionary(
                uniqueKeysWithValues: OutputType.allCases.map {
                    ($0, Counter(label: "herald_outputs_total", dimensions: [("url_token", urlToken), ("type", $0.rawValue)]))
                })
        }
    }

    func record(_ commit: SessionCommit) {
        let urlToken = commit.session.key.urlToken
        if let input = commit.input { inputs[urlToken][input.source]?.increment() }
        guard !commit.outputs.isEmpty else { return }
        let counters = outputs[urlToken]
        for output in commit.outputs { counters[output.type]?.increment() }
    }
}
