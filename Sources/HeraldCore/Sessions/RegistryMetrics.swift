import Metrics

/// Input and output counters per endpoint, made once so recording only increments.
struct RegistryMetrics: Sendable {
    private let inputs: [String: [InputSource: Counter]]
    private let outputs: [String: [OutputType: Counter]]

    init(urlTokens: [String]) {
        var inputs: [String: [InputSource: Counter]] = [:]
        var outputs: [String: [OutputType: Counter]] = [:]
        for urlToken in urlTokens {
            inputs[urlToken] = Dictionary(
                uniqueKeysWithValues: InputSource.allCases.map {
                    ($0, Counter(label: "herald_inputs_total", dimensions: [("url_token", urlToken), ("source", $0.rawValue)]))
                })
            outputs[urlToken] = Dictionary(
                uniqueKeysWithValues: OutputType.allCases.map {
                    ($0, Counter(label: "herald_outputs_total", dimensions: [("url_token", urlToken), ("type", $0.rawValue)]))
                })
        }
        self.inputs = inputs
        self.outputs = outputs
    }

    func record(_ commit: SessionCommit) {
        let urlToken = commit.session.key.urlToken
        if let input = commit.input { inputs[urlToken]?[input.source]?.increment() }
        for output in commit.outputs { outputs[urlToken]?[output.type]?.increment() }
    }
}
