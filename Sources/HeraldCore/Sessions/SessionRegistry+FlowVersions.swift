import Logging

/// Sessions keep their flow version (SPEC §14): a session in the middle of a flow goes on with
/// the version it runs on until it is through, while new sessions and sessions between runs
/// take the endpoint's current flow. Versions are content hashes (``Flow/version(of:)``); the
/// store keeps their text, so another instance or a restart finds them again.
extension SessionRegistry {
    /// The flow a run of `session` uses: the version it runs on while it is in the middle of it
    /// (waiting at an `ask`, or with a timeout, reminder or inject pending, or `schedule` is one
    /// of those firing now), else `current`, the endpoint's flow. A version that neither this
    /// process nor the store has gives way to `current`.
    ///
    /// Throws ``HeraldError/flowVersionNotLoaded(_:)`` when the version is not loaded here yet:
    /// the turn is then taken again once it is (``change(_:endpoint:idempotency:_:)``).
    func flow(for session: Session, current: Flow, from schedule: Schedule?) throws(HeraldError) -> Flow {
        let firing = schedule.map { $0.kind != .notify } ?? false
        guard session.continuesFlow || firing, let version = session.flowVersion, version != current.version else { return current }
        switch live.flow(version: version) {
        case .loaded(let flow): return flow
        case .missing: return current
        case .unknown: throw .flowVersionNotLoaded(version)
        }
    }

    /// Loads a flow version from the store, so the turn that needs it can run.
    func loadFlowVersion(_ version: String) async throws(HeraldError) {
        let stored = try await storeRead { try await store.storedFlow(version: version) }
        guard let stored else {
            logger.warning(
                "flow version not in the store; its sessions go on with the endpoint's current flow", metadata: ["flowVersion": "\(version)"])
            return live.rememberMissing(version)
        }
        do {
            live.remember([try stored.load()])
        } catch {
            logger.error("stored flow version does not load", metadata: ["flowVersion": "\(version)", "error": "\(error)"])
            live.rememberMissing(version)
        }
    }
}

extension Session {
    /// In the middle of its flow: waiting at an `ask`, or with a step of it to come (an ask's
    /// timeout, a reminder, a scheduled inject).
    public var continuesFlow: Bool {
        waiting != nil || schedules.contains { $0.kind != .notify }
    }
}
