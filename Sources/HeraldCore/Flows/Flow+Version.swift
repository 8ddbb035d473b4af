import Crypto

extension Flow {
    /// The version of a flow with this text: the first 16 hex digits of its SHA-256. The same
    /// text is the same version on every instance and after every restart, so a session can
    /// name the version it runs on and find it again in the store (SPEC §14).
    public static func version(of text: String) -> String {
        let digest = SHA256.hash(data: Array(text.utf8))
        var hex = ""
        for byte in digest.prefix(8) {
            hex += String(byte >> 4, radix: 16) + String(byte & 0x0f, radix: 16)
        }
        return hex
    }
}

/// A flow version as the store keeps it: its text, from which the flow is loaded again, and
/// the file it first came from (for messages, and the flow's default name).
public struct StoredFlow: Sendable, Hashable {
    /// ``Flow/version(of:)`` of `yaml`.
    public var version: String
    public var yaml: String
    /// The flow file's path, or `api:NAME` for a flow stored through the admin API.
    public var file: String
    public var createdAt: Timestamp

    public init(version: String, yaml: String, file: String, createdAt: Timestamp = .now()) {
        self.version = version
        self.yaml = yaml
        self.file = file
        self.createdAt = createdAt
    }

    /// The version of a loaded flow, for the store; `nil` for a flow built in code.
    public init?(_ flow: Flow, createdAt: Timestamp = .now()) {
        guard !flow.version.isEmpty, let yaml = flow.source else { return nil }
        self.init(version: flow.version, yaml: yaml, file: flow.file, createdAt: createdAt)
    }

    /// The flow, compiled again from its text.
    public func load() throws(FileError) -> Flow {
        try Flow.load(yaml: yaml, file: file)
    }
}
