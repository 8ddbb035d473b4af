/// Endpoints and flows managed through the admin API (SPEC §14): `PUT`/`DELETE
/// /admin/v1/endpoints/{urlToken}`, `POST /admin/v1/flows`. Each change is checked like a
/// config file's endpoint, written to the store, and served at once here (and, on PostgreSQL,
/// by every instance within 2 s, ``refreshIfChanged()``). Changes are made one at a time, with
/// reloads.
extension ConfigurationReloader {
    /// How `PUT` names an endpoint's flow.
    public enum FlowSource: Sendable, Hashable {
        /// A flow stored with `POST /admin/v1/flows`: the endpoint follows the name's newest version.
        case name(String)
        /// The flow's YAML text: checked and stored under its version.
        case yaml(String)
        /// A version stored already (what `GET` shows of an endpoint whose flow was given inline).
        case version(String)
    }

    /// Makes or replaces the endpoint `urlToken` from `settings` (the fields of a config file's
    /// endpoint, without `flow`) and `flow`. A secret given as `"***"` keeps the stored one (what
    /// `GET` shows can be sent back). Returns the endpoint as served, and whether it is new.
    public func putEndpoint(
        _ urlToken: String, settings: JSONObject, flow source: FlowSource, by keyName: String
    ) async throws(EndpointChangeError) -> (endpoint: LiveEndpoint, created: Bool) {
        try await inTurn { () async throws(EndpointChangeError) -> (endpoint: LiveEndpoint, created: Bool) in
            try self.checkNotInFile(urlToken)
            let stored = try await self.storeCall { try await self.store.endpointDefinitions() }.first { $0.urlToken == urlToken }
            var settings = settings
            settings["urlToken"] = .string(urlToken)
            settings = try Self.keepingSecrets(settings, stored: stored.flatMap { $0.deleted ? nil : $0.settings.objectValue })
            let reference: FlowReference
            switch source {
            case .name(let name):
                reference = .name(name)
            case .version(let version):
                reference = .version(version)
            case .yaml(let yaml):
                let check = Flow.check(yaml: yaml, file: "api/\(urlToken).yaml")
                guard let flow = check.flow else {
                    throw EndpointChangeError(.invalid, "flow.yaml: " + check.errors.map(Self.describe).joined(separator: "; "), errors: check.errors)
                }
                try await self.storeCall { try await self.store.saveFlows([StoredFlow(flow)].compactMap { $0 }) }
                self.live.remember([flow])
                reference = .version(flow.version)
            }
            var definition = EndpointDefinition(urlToken: urlToken, settings: .object(settings), flow: reference, updatedBy: keyName)
            // Checked as it will be served, before anything is stored.
            do {
                _ = try await self.compile(definition)
            } catch let error as FileError {
                throw EndpointChangeError(.invalid, Self.describe(error), errors: [error])
            } catch let error as FlowNotFound {
                throw EndpointChangeError(.invalid, error.description)
            } catch {
                throw EndpointChangeError(.invalid, "\(error)")
            }
            definition = try await self.storeCall { try await self.store.saveEndpoint(definition) }
            let snapshot = try await self.mergeAndPublish()
            guard let served = snapshot.endpoint(urlToken) else {
                throw EndpointChangeError(.unavailable, "urlToken: '\(urlToken)' was stored but is not served; see the log")
            }
            return (served, stored == nil || stored?.deleted == true)
        }
    }

    /// Stops serving an endpoint made through the admin API: new messages get 404, its queued
    /// outputs are still delivered (its definition stays in the store, marked deleted, for them).
    public func deleteEndpoint(_ urlToken: String, by keyName: String) async throws(EndpointChangeError) {
        try await inTurn { () async throws(EndpointChangeError) in
            try self.checkNotInFile(urlToken)
            let stored = try await self.storeCall { try await self.store.endpointDefinitions() }.first { $0.urlToken == urlToken }
            guard var definition = stored, !definition.deleted else { throw EndpointChangeError(.notFound, "urlToken: no endpoint '\(urlToken)'") }
            definition.deleted = true
            definition.updatedAt = .now()
            definition.updatedBy = keyName
            _ = try await self.storeCall { try await self.store.saveEndpoint(definition) }
            _ = try await self.mergeAndPublish()
        }
    }

    /// Checks a flow and stores it under `name`: endpoints that name it start new sessions on
    /// this version. Returns the name with its version, the flow, and the endpoints following it.
    public func storeFlow(name: String, yaml: String) async throws(EndpointChangeError) -> (name: FlowName, flow: Flow, endpoints: [String]) {
        try await inTurn { () async throws(EndpointChangeError) -> (name: FlowName, flow: Flow, endpoints: [String]) in
            let check = Flow.check(yaml: yaml, file: "flows/\(name).yaml")
            guard let flow = check.flow else {
                throw EndpointChangeError(.invalid, "yaml: " + check.errors.map(Self.describe).joined(separator: "; "), errors: check.errors)
            }
            try await self.storeCall { try await self.store.saveFlows([StoredFlow(flow)].compactMap { $0 }) }
            self.live.remember([flow])
            let named = try await self.storeCall { try await self.store.nameFlow(FlowName(name: name, version: flow.version)) }
            let snapshot = try await self.mergeAndPublish()
            let following = snapshot.endpoints.values.filter { $0.definition?.flow == .name(name) }.map(\.endpoint.urlToken).sorted()
            return (named, flow, following)
        }
    }

    /// Every flow name with the version it stands for.
    public func flowNames() async throws(EndpointChangeError) -> [FlowName] {
        try await storeCall { try await self.store.flowNames() }
    }

    // MARK: Helpers

    /// Config-file endpoints are changed in the file (and a reload), never through the API.
    private func checkNotInFile(_ urlToken: String) throws(EndpointChangeError) {
        guard let served = live.snapshot.endpoint(urlToken), case .file(let path) = served.origin else { return }
        throw EndpointChangeError(
            .conflict, "urlToken: endpoint '\(urlToken)' is defined in \(path); change it there and reload (it is read-only through the API)")
    }

    private func storeCall<T>(_ body: () async throws -> T) async throws(EndpointChangeError) -> T {
        do {
            return try await body()
        } catch {
            throw EndpointChangeError(.unavailable, "store: not available, nothing changed (\(error))")
        }
    }

    private func mergeAndPublish() async throws(EndpointChangeError) -> ConfigurationSnapshot {
        try await storeCall { try await self.refreshInTurn() }
    }

    /// `file:line: reason` as an API message: the field first (`webhook.url: …`), and for a
    /// flow given inline, its line.
    public static func describe(_ error: FileError) -> String {
        var reason = error.reason
        if reason.hasPrefix("endpoint.") { reason.removeFirst("endpoint.".count) }
        guard error.file != "endpoint", let line = error.line else { return reason }
        return "line \(line): \(reason)"
    }

    /// The secrets of a definition: a value of `"***"` (what `GET` shows) means "keep the stored
    /// one"; without a stored one it is refused, so `***` never becomes a password.
    static func keepingSecrets(_ settings: JSONObject, stored: JSONObject?) throws(EndpointChangeError) -> JSONObject {
        var settings = settings
        func keep(_ path: ArraySlice<String>, _ name: String, in object: inout JSONObject, stored: JSONObject?) throws(EndpointChangeError) {
            guard let first = path.first else { return }
            if path.count == 1 {
                guard object[first] == "***" else { return }
                guard let value = stored?[first], value != "***" else {
                    throw EndpointChangeError(.invalid, "\(name): '***' keeps the stored secret, but none is stored; give the value")
                }
                object[first] = value
                return
            }
            guard var inner = object[first]?.objectValue else { return }
            try keep(path.dropFirst(), name, in: &inner, stored: stored?[first]?.objectValue)
            object[first] = .object(inner)
        }
        for webhook in [["webhook"], ["statusWebhook"], ["handover", "webhook"]] {
            for secret in ["password", "signingSecret"] {
                let path = webhook + [secret]
                try keep(path[...], path.joined(separator: "."), in: &settings, stored: stored)
            }
        }
        if case .array(var keys)? = settings["apiKeys"] {
            let storedKeys = stored?["apiKeys"]?.arrayValue ?? []
            for index in keys.indices where keys[index] == "***" {
                guard storedKeys.indices.contains(index), storedKeys[index] != "***" else {
                    throw EndpointChangeError(.invalid, "apiKeys[\(index)]: '***' keeps the stored key, but none is stored there; give the value")
                }
                keys[index] = storedKeys[index]
            }
            settings["apiKeys"] = .array(keys)
        }
        if var vars = settings["channelVars"]?.objectValue {
            let storedVars = stored?["channelVars"]?.objectValue
            for (name, value) in vars where value == "***" {
                guard let kept = storedVars?[name], kept != "***" else {
                    throw EndpointChangeError(.invalid, "channelVars.\(name): '***' keeps the stored value, but none is stored; give the value")
                }
                vars[name] = kept
            }
            settings["channelVars"] = .object(vars)
        }
        if var calls = settings["calls"]?.objectValue, var secrets = calls["secrets"]?.objectValue {
            let storedSecrets = stored?["calls"]?["secrets"]?.objectValue
            for (name, value) in secrets where value == "***" {
                guard let kept = storedSecrets?[name], kept != "***" else {
                    throw EndpointChangeError(.invalid, "calls.secrets.\(name): '***' keeps the stored value, but none is stored; give the value")
                }
                secrets[name] = kept
            }
            calls["secrets"] = .object(secrets)
            settings["calls"] = .object(calls)
        }
        return settings
    }
}

/// Why an endpoint or flow change through the admin API was refused; nothing changed.
public struct EndpointChangeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The definition is wrong (400): the message names the field.
        case invalid
        /// The endpoint is the config file's (409).
        case conflict
        /// No such endpoint (404).
        case notFound
        /// The store did not answer (503).
        case unavailable
    }

    public var kind: Kind
    /// Starts with the field at fault.
    public var message: String
    /// A flow's problems, each with its line.
    public var errors: [FileError]

    public init(_ kind: Kind, _ message: String, errors: [FileError] = []) {
        self.kind = kind
        self.message = message
        self.errors = errors
    }

    public var description: String { message }
}
