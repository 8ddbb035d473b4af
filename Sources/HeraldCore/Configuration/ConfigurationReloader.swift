import Foundation
import Logging
import Synchronization

/// Changes what Herald serves without a restart (SPEC §14): re-reads the config file with its
/// flow and channel files (`SIGHUP`, `POST /admin/v1/reload`, `herald reload`), and merges in
/// the endpoints made through the admin API (when one changes here, or another instance changed
/// one in the shared store).
///
/// All or nothing: everything is read and checked first, and the flow versions are stored;
/// only then is the new ``ConfigurationSnapshot`` published, in one atomic swap. Until then, and
/// whenever anything fails, the old configuration serves unchanged. Changes are made one at a
/// time.
public final class ConfigurationReloader: Sendable {
    /// Compiles a channel endpoint's channel file (HeraldChannels, which the core does not know).
    public typealias ChannelCompiler = @Sendable (ChannelReference) throws(FileError) -> any Sendable

    let live: LiveConfiguration
    let store: any HeraldStore
    let outbox: Outbox
    let compileChannel: ChannelCompiler
    let environment: @Sendable () -> [String: String]
    let logger: Logger
    /// The config file's part, as last read: its settings and its endpoints, compiled.
    private let file: Mutex<(configuration: HeraldConfiguration, endpoints: [LiveEndpoint])>
    /// The store's revision of runtime endpoints and flow names last merged.
    private let mergedRevision = Mutex<Int64>(-1)
    /// One change at a time.
    private let turns = SessionMailbox()
    private static let turn = SessionKey(urlToken: "", sessionId: "configuration")

    /// Starts from what `live` serves now (the config file's endpoints, read at start-up).
    public init(
        live: LiveConfiguration, store: any HeraldStore, outbox: Outbox, compileChannel: @escaping ChannelCompiler,
        environment: @escaping @Sendable () -> [String: String] = { ProcessInfo.processInfo.environment }, logger: Logger
    ) {
        let snapshot = live.snapshot
        self.live = live
        self.store = store
        self.outbox = outbox
        self.compileChannel = compileChannel
        self.environment = environment
        self.logger = logger
        let endpoints = snapshot.configuration.endpoints.compactMap { snapshot.endpoints[$0.urlToken] }
        self.file = Mutex((snapshot.configuration, endpoints))
    }

    /// The config file a reload reads; `nil` for a configuration built in code.
    public var configFile: String? {
        let path = file.withLock { $0.configuration.file }
        return path.hasPrefix("<") ? nil : path
    }

    // MARK: Start-up

    /// Stores the config file's flow versions and serves the endpoints made through the admin
    /// API too. Runs once the store is prepared, before anything is delivered.
    public func start() async throws {
        try await turns.withTurn(Self.turn) {
            let (configuration, endpoints) = file.withLock { $0 }
            try await store.saveFlows(endpoints.compactMap { StoredFlow($0.endpoint.flow) })
            let merged = try await merge(configuration, endpoints)
            publish(configuration, merged)
            for warning in merged.warnings { logger.warning("\(warning)") }
        }
    }

    // MARK: Reload

    /// Re-reads the config file and every flow and channel file, and serves them if all are
    /// valid. Throws ``ReloadRejected`` with every problem (`file:line: reason`) otherwise:
    /// then nothing changed.
    public func reload() async throws(ReloadRejected) -> ReloadReport {
        guard let path = configFile else {
            throw ReloadRejected(errors: [FileError(file: "<config>", line: nil, reason: "Herald was started without a config file")])
        }
        let result: Result<ReloadReport, ReloadRejected> = await turns.withTurn(Self.turn) {
            do throws(ReloadRejected) {
                return .success(try await reloadInTurn(path))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func reloadInTurn(_ path: String) async throws(ReloadRejected) -> ReloadReport {
        let configuration: HeraldConfiguration
        switch HeraldConfiguration.check(path: path, environment: environment()) {
        case .success(let read): configuration = read
        case .failure(let failure): throw ReloadRejected(errors: failure.errors)
        }
        var errors: [FileError] = []
        var endpoints: [LiveEndpoint] = []
        for endpoint in configuration.endpoints {
            do throws(FileError) {
                let channel = try endpoint.channel.map(compileChannel)
                endpoints.append(LiveEndpoint(endpoint, origin: .file(configuration.file), channel: channel))
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw ReloadRejected(errors: errors) }
        let merged: Merged
        do {
            // Stored before they serve: a session that starts on a version can always find it.
            try await store.saveFlows(endpoints.compactMap { StoredFlow($0.endpoint.flow) })
            merged = try await merge(configuration, endpoints)
        } catch {
            throw ReloadRejected(errors: [FileError(file: configuration.file, line: nil, reason: "store: not available, nothing changed (\(error))")])
        }
        let before = live.snapshot
        let previous = file.withLock { $0.configuration }
        let snapshot = publish(configuration, merged)
        file.withLock { $0 = (configuration, endpoints) }
        var report = ReloadReport(generation: snapshot.generation)
        let served = Set(snapshot.endpoints.keys)
        let old = Set(before.endpoints.keys)
        report.added = served.subtracting(old).sorted()
        report.removed = old.subtracting(served).sorted()
        report.reloaded = served.intersection(old).sorted()
        report.flows = configuration.endpoints.map { endpoint in
            let previous = before.endpoints[endpoint.urlToken]?.endpoint.flow.version
            return ReloadReport.FlowVersion(
                urlToken: endpoint.urlToken, version: endpoint.flow.version, changed: previous != nil && previous != endpoint.flow.version)
        }
        report.needsRestart = Self.needsRestart(previous, configuration)
        report.warnings = merged.warnings + configuration.endpoints.flatMap { $0.flow.warnings.map(\.description) }
        logger.info(
            "configuration reloaded",
            metadata: [
                "generation": "\(report.generation)", "added": "\(report.added.joined(separator: ","))",
                "removed": "\(report.removed.joined(separator: ","))",
                "flowsChanged": "\(report.flows.filter(\.changed).map(\.urlToken).joined(separator: ","))",
            ])
        for setting in report.needsRestart { logger.warning("\(setting)") }
        return report
    }

    /// The settings read only at start-up that differ between `old` and `new`.
    static func needsRestart(_ old: HeraldConfiguration, _ new: HeraldConfiguration) -> [String] {
        var settings: [String] = []
        func check(_ key: String, _ before: String, _ after: String) {
            if before != after { settings.append("\(key): \(before) → \(after) takes effect after a restart") }
        }
        check("listen", old.listen.description, new.listen.description)
        check("admin.listen", old.adminListen?.description ?? "(none)", new.adminListen?.description ?? "(none)")
        if old.storage != new.storage { settings.append("storage: \(old.storage) → \(new.storage) takes effect after a restart") }
        check("outboxLease", old.outboxLease.configText, new.outboxLease.configText)
        check("history", old.history.configText, new.history.configText)
        check("log.format", old.log.format.rawValue, new.log.format.rawValue)
        check("log.level", old.log.level ?? "info", new.log.level ?? "info")
        // The tracer is the process's, set up once at start.
        let tracing = { (settings: TracingSettings?) in
            settings.map { "\($0.endpoint) (\($0.otlpProtocol.rawValue), sampleRatio \($0.sampleRatio), every \($0.exportInterval.configText))" } ?? "(off)"
        }
        check("tracing", tracing(old.tracing), tracing(new.tracing))
        return settings
    }

    // MARK: Endpoints made through the admin API

    /// Serves the endpoints made through the admin API as the store has them now (after one
    /// changed here), with the config file's as last read.
    public func refresh() async throws {
        try await turns.withTurn(Self.turn) { _ = try await refreshInTurn() }
    }

    /// Merges and publishes; the caller holds the turn.
    func refreshInTurn() async throws -> ConfigurationSnapshot {
        let (configuration, endpoints) = file.withLock { $0 }
        let merged = try await merge(configuration, endpoints)
        for warning in merged.warnings { logger.warning("\(warning)") }
        return publish(configuration, merged)
    }

    /// Runs `body` in the turn of configuration changes (one at a time, with reloads).
    func inTurn<T: Sendable>(_ body: () async throws(EndpointChangeError) -> T) async throws(EndpointChangeError) -> T {
        let result: Result<T, EndpointChangeError> = await turns.withTurn(Self.turn) {
            do throws(EndpointChangeError) {
                return .success(try await body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Refreshes when the store's revision moved since the last merge (another instance changed
    /// an endpoint or a flow name). Returns whether it did.
    @discardableResult
    public func refreshIfChanged() async throws -> Bool {
        // Not before ``start()`` merged once (the store may still be migrating).
        let merged = mergedRevision.withLock { $0 }
        guard merged >= 0 else { return false }
        let revision = try await store.configurationRevision()
        guard revision != merged else { return false }
        try await refresh()
        return true
    }

    /// Compiles an endpoint definition into the endpoint it serves: its flow (by name or
    /// version, from the store when not loaded here), its settings, its channel.
    public func compile(_ definition: EndpointDefinition, names: [String: FlowName]? = nil) async throws -> LiveEndpoint {
        let flow = try await flow(definition.flow, names: names)
        let configuration = file.withLock { $0.configuration }
        let endpoint = try configuration.endpoint(settings: definition.settings, flow: flow)
        let channel = try endpoint.channel.map(compileChannel)
        return LiveEndpoint(endpoint, origin: .api, channel: channel, definition: definition)
    }

    /// The flow a reference names: the version a name stands for now, loaded here or from the store.
    public func flow(_ reference: FlowReference, names: [String: FlowName]? = nil) async throws -> Flow {
        let version: String
        switch reference {
        case .version(let given):
            version = given
        case .name(let name):
            var known = names
            if known == nil { known = Dictionary(try await store.flowNames().map { ($0.name, $0) }, uniquingKeysWith: { $1 }) }
            guard let named = known?[name] else { throw FlowNotFound(reference: reference) }
            version = named.version
        }
        if case .loaded(let flow) = live.flow(version: version) { return flow }
        guard let stored = try await store.storedFlow(version: version) else { throw FlowNotFound(reference: reference) }
        let flow = try stored.load()
        live.remember([flow])
        return flow
    }

    /// No stored flow has this name or version.
    public struct FlowNotFound: Error, Sendable, CustomStringConvertible {
        public var reference: FlowReference
        public var description: String { "flow: no stored flow with the \(reference)" }
    }

    // MARK: Merging

    private struct Merged {
        var served: [LiveEndpoint]
        var retired: [LiveEndpoint]
        var warnings: [String]
        var revision: Int64
    }

    /// The config file's endpoints, then those made through the admin API (by `urlToken`); a
    /// stored one with the `urlToken` of a file endpoint is not served (the file wins), one that
    /// does not compile any more is left out with a warning. Deleted ones are retired.
    private func merge(_ configuration: HeraldConfiguration, _ fileEndpoints: [LiveEndpoint]) async throws -> Merged {
        let revision = try await store.configurationRevision()
        let definitions = try await store.endpointDefinitions()
        let names = Dictionary(try await store.flowNames().map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let fileTokens = Set(fileEndpoints.map(\.endpoint.urlToken))
        var merged = Merged(served: fileEndpoints, retired: [], warnings: [], revision: revision)
        for definition in definitions {
            if fileTokens.contains(definition.urlToken) {
                if !definition.deleted {
                    merged.warnings.append(
                        "endpoint '\(definition.urlToken)' made through the admin API is not served: \(configuration.file) has an endpoint with that urlToken"
                    )
                }
                continue
            }
            let endpoint: LiveEndpoint
            do {
                endpoint = try await compile(definition, names: names)
            } catch {
                if !definition.deleted {
                    merged.warnings.append("endpoint '\(definition.urlToken)' made through the admin API is not served: \(error)")
                }
                continue
            }
            if definition.deleted {
                merged.retired.append(endpoint)
            } else {
                merged.served.append(endpoint)
            }
        }
        return merged
    }

    @discardableResult
    private func publish(_ configuration: HeraldConfiguration, _ merged: Merged) -> ConfigurationSnapshot {
        let snapshot = live.publish(configuration, endpoints: merged.served, retiring: merged.retired)
        mergedRevision.withLock { $0 = merged.revision }
        outbox.setLimits(Dictionary(merged.served.map { ($0.endpoint.urlToken, $0.endpoint.webhook.concurrency) }, uniquingKeysWith: { $1 }))
        return snapshot
    }
}

/// What a reload changed.
public struct ReloadReport: Sendable {
    /// An endpoint's flow version after the reload.
    public struct FlowVersion: Sendable, Hashable {
        public var urlToken: String
        public var version: String
        /// The endpoint served another version before: new sessions start on this one, sessions
        /// in the middle of the old one finish on it.
        public var changed: Bool
    }

    /// The ``ConfigurationSnapshot/generation`` now served.
    public var generation: Int
    /// Endpoints served now and not before, and the other way round.
    public var added: [String] = []
    public var removed: [String] = []
    /// Endpoints served before and now, with their settings as read now.
    public var reloaded: [String] = []
    /// The config file's endpoints and their flow versions.
    public var flows: [FlowVersion] = []
    /// Settings that changed in the file but are read only at start-up (listen, storage, …).
    public var needsRestart: [String] = []
    /// Things that load but are probably mistakes (an unreachable flow node, a stored endpoint
    /// shadowed by the file).
    public var warnings: [String] = []

    public init(generation: Int) {
        self.generation = generation
    }
}

/// A reload found problems; nothing changed.
public struct ReloadRejected: Error, Sendable, CustomStringConvertible {
    /// Every problem, as `file:line: reason`.
    public var errors: [FileError]

    public init(errors: [FileError]) {
        self.errors = errors
    }

    public var description: String {
        "reload rejected, the configuration in use is unchanged: " + errors.map(\.description).joined(separator: "; ")
    }
}
