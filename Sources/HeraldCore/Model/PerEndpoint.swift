import Synchronization

/// Values made per endpoint on first use, such as an endpoint's metrics counters: an endpoint
/// added by a reload or through the admin API is counted like one served since start-up.
public final class PerEndpoint<Value: Sendable>: Sendable {
    private let values = Mutex<[String: Value]>([:])
    private let make: @Sendable (String) -> Value

    /// Makes the values of `urlTokens` now (so they show from the start), others when first used.
    public init(_ urlTokens: [String] = [], make: @escaping @Sendable (String) -> Value) {
        self.make = make
        values.withLock { values in
            for urlToken in urlTokens { values[urlToken] = make(urlToken) }
        }
    }

    public subscript(urlToken: String) -> Value {
        values.withLock { values in
            if let value = values[urlToken] { return value }
            let value = make(urlToken)
            values[urlToken] = value
            return value
        }
    }
}
