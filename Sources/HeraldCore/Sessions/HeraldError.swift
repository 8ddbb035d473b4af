/// An error a caller of Herald can act on. A struct around a private code, so new cases can be
/// added without breaking anyone who switches over the public ones.
public struct HeraldError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case unknownEndpoint
        case unknownSession
        case userMismatch
        case unavailable
        case unknownOutput
        case invalidState
        case idempotencyRace
        case unknownSchedule
        case nothingDue
        case flowVersionNotLoaded
    }

    private let code: Code
    /// What went wrong, in words for the API's `error.message`.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: HeraldError, rhs: HeraldError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// No endpoint has this `urlToken`.
    public static func unknownEndpoint(_ urlToken: String) -> HeraldError {
        HeraldError(.unknownEndpoint, "urlToken: no endpoint '\(urlToken)'")
    }

    /// Inject or notify named a session that does not exist (or expired) on the endpoint.
    public static func unknownSession(_ key: SessionKey) -> HeraldError {
        HeraldError(.unknownSession, "sessionId: no active session '\(key.sessionId)' on endpoint '\(key.urlToken)'")
    }

    /// The session belongs to another user.
    public static func userMismatch(_ key: SessionKey, owner: String, given: String) -> HeraldError {
        HeraldError(.userMismatch, "userId: session '\(key.sessionId)' belongs to another user than '\(given)'")
    }

    /// The store could not record the change, or Herald is shutting down; retrying later is safe.
    public static func unavailable(_ reason: String) -> HeraldError {
        HeraldError(.unavailable, reason)
    }

    public static func unknownOutput(_ outputId: String) -> HeraldError {
        HeraldError(.unknownOutput, "outputId: no output '\(outputId)'")
    }

    /// The request is valid but does not fit the current state (retrying a delivered output).
    public static func invalidState(_ reason: String) -> HeraldError {
        HeraldError(.invalidState, reason)
    }

    /// Internal: another instance recorded the same `Idempotency-Key` first; the registry
    /// answers with that instance's answer instead.
    static let idempotencyRace = HeraldError(.idempotencyRace, "Idempotency-Key: recorded concurrently")

    /// No pending schedule has this id (it never existed, fired, or was cancelled).
    public static func unknownSchedule(_ id: String) -> HeraldError {
        HeraldError(.unknownSchedule, "id: no pending schedule '\(id)'")
    }

    /// Internal: the session has no schedule due (another instance, or an earlier pass, fired it).
    static let nothingDue = HeraldError(.nothingDue, "nothing is due")

    /// Internal: the session runs on a flow version not loaded yet; the message is the version.
    static func flowVersionNotLoaded(_ version: String) -> HeraldError {
        HeraldError(.flowVersionNotLoaded, version)
    }

    static let flowVersionNotLoaded = HeraldError(.flowVersionNotLoaded, "")

    public static let unknownEndpoint = HeraldError(.unknownEndpoint, "")
    public static let unknownSchedule = HeraldError(.unknownSchedule, "")
    public static let unknownSession = HeraldError(.unknownSession, "")
    public static let userMismatch = HeraldError(.userMismatch, "")
    public static let unavailable = HeraldError(.unavailable, "")
    public static let unknownOutput = HeraldError(.unknownOutput, "")
    public static let invalidState = HeraldError(.invalidState, "")
}
