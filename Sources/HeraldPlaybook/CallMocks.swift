import HeraldCore

/// The stand-ins a playbook declares for the APIs its flow calls (`mock:`), so conversations
/// with `call` nodes run in milliseconds without a network (SPEC §13). A self-contained run
/// (``InProcessDriver``) answers every call from them; against a running server the real calls
/// are made.
///
/// ```yaml
/// mock:
///   "https://orders.example.com/orders/*":
///     json: {status: shipped}
///   "POST http://127.0.0.1:8080/v1/chat/completions":
///     json: {choices: [{message: {role: assistant, content: "Hello!"}}]}
///   "https://flaky.example.com/*": {status: 503}
///   "https://slow.example.com/*": {error: timeout}
/// ```
public struct CallMocks: Sendable {
    /// One `pattern: answer` entry.
    public struct Mock: Sendable {
        /// `*` matches any run of characters; an optional method first (`POST https://…`).
        public var pattern: String
        public var method: String?
        public var answer: CallAnswer
        public var line: Int?

        public init(pattern: String, method: String? = nil, answer: CallAnswer, line: Int? = nil) {
            self.pattern = pattern
            self.method = method
            self.answer = answer
            self.line = line
        }
    }

    public var mocks: [Mock]

    public init(_ mocks: [Mock] = []) {
        self.mocks = mocks
    }

    /// The answer of the first mock that matches the request, in file order; a failed call
    /// (the flow goes on at `onError`) when none does.
    public func answer(_ request: CallRequest?) -> CallAnswer {
        guard let request else { return .failed("the call's output holds no request") }
        for mock in mocks where mock.method.map({ $0 == request.method }) ?? true {
            if Self.matches(request.url, mock.pattern) { return mock.answer }
        }
        return .failed("no stand-in in the playbook's mock: matches \(request.method) \(request.url)")
    }

    /// Glob matching: `*` is any run of characters (none included), everything else itself.
    static func matches(_ text: String, _ pattern: String) -> Bool {
        let text = Array(text.utf8)
        let pattern = Array(pattern.utf8)
        var (t, p) = (0, 0)
        var star: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, t)
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                t += 1
                p += 1
            } else if let backtrack = star {
                p = backtrack.pattern + 1
                t = backtrack.text + 1
                star = (backtrack.pattern, backtrack.text + 1)
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
