import HeraldCore
import HeraldHTTP
import HeraldServer
import HeraldWebhook
import Logging
import ServiceLifecycle

/// Runs playbooks against a Herald assembled inside the test run (`herald test --config`): the
/// configuration's endpoints and flows on a memory store, with no HTTP server and no webhook
/// deliveries. Messages go straight to the ``SessionRegistry``, and a step's outputs are the
/// ones its receipt lists, so nothing leaves the process.
///
/// Herald's time is a ``ManualClock`` here: it moves only when a `wait` step moves it, so a
/// ten-minute timeout or a reminder a day later is tested in milliseconds.
public struct InProcessDriver: PlaybookDriver {
    /// The Herald the playbooks talk to.
    public let herald: Herald
    /// Herald's time; `wait` steps advance it.
    public let clock: ManualClock
    /// What answers the flow's calls: the playbook's stand-ins.
    public var mocks = CallMocks()

    public var answersCallsFromStandIns: Bool { true }

    public func answeringCalls(from mocks: CallMocks) -> any PlaybookDriver {
        var driver = self
        driver.mocks = mocks
        return driver
    }

    /// Starts Herald from `configuration`, with its storage replaced by memory, runs `body`
    /// with a driver for it, and shuts it down. Only the store writer runs: the delivery
    /// service and its libcurl client do not, so no webhook is ever called.
    public static func run<T>(
        configuration: HeraldConfiguration, logger: Logger, _ body: (InProcessDriver) async throws -> T
    ) async throws -> T {
        var configuration = configuration
        configuration.storage = .memory
        let clock = ManualClock()
        let herald = try await Herald.start(configuration: configuration, clock: HeraldClock(clock, startingAt: .now()), logger: logger)
        // Made with the rest of Herald, never used here: stop its thread.
        herald.client.stop()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let services = ServiceGroup(configuration: .init(services: [herald.writer], logger: logger))
            group.addTask { try await services.run() }
            do {
                try await herald.prepare()
                let value = try await body(InProcessDriver(herald: herald, clock: clock))
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return value
            } catch {
                await services.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    public func checkEndpoint(_ urlToken: String) async throws(DriverError) {
        guard herald.registry.endpoints[urlToken] == nil else { return }
        let known = herald.registry.endpoints.keys.sorted().joined(separator: ", ")
        throw DriverError("endpoint '\(urlToken)' is not in \(herald.configuration.file) (its endpoints: \(known))")
    }

    public func send(_ message: PlaybookMessage, source: InputSource, to session: SessionAddress) async throws(DriverError)
        -> [ObservedOutput]
    {
        let inbound = InboundMessage(
            urlToken: session.urlToken, sessionId: session.sessionId, userId: session.userId, text: message.text, data: message.data,
            source: source, createSession: true)
        return try await outputs { () async throws(HeraldError) in try await herald.registry.receive(inbound) }
    }

    public func notify(_ message: PlaybookMessage, to session: SessionAddress) async throws(DriverError) -> [ObservedOutput] {
        let notification = Notification(
            urlToken: session.urlToken, sessionId: session.sessionId, userId: session.userId, text: message.text, data: message.data,
            rich: (try? RichContent.parse(message.rich)) ?? RichContent(), createSession: true)
        return try await outputs { () async throws(HeraldError) in try await herald.registry.notify(notification) }
    }

    public var letsTimePass: Bool { true }

    /// Moves the clock to each of the session's schedules due within `duration` in turn, fires
    /// it (what it produces may schedule more), then moves it to the end of the wait.
    public func wait(_ duration: Duration, in session: SessionAddress) async throws(DriverError) -> [ObservedOutput] {
        let key = SessionKey(urlToken: session.urlToken, sessionId: session.sessionId)
        let registry = herald.registry
        let end = registry.clock.now().adding(duration)
        var observed: [ObservedOutput] = []
        while true {
            let fired: [Output]
            do {
                guard let due = try await registry.session(key)?.schedules.first?.dueAt, due <= end else { break }
                advance(to: due)
                fired = try await registry.fireDue(key).flatMap(\.outputs)
            } catch {
                throw DriverError(error.message)
            }
            observed += try await settled(fired)
        }
        advance(to: end)
        return observed
    }

    private func advance(to time: Timestamp) {
        let now = herald.registry.clock.now()
        if now < time { clock.advance(by: .milliseconds(time.milliseconds - now.milliseconds)) }
    }

    public func context(of session: SessionAddress) async throws(DriverError) -> JSONObject? {
        do {
            return try await herald.registry.session(SessionKey(urlToken: session.urlToken, sessionId: session.sessionId))?.context
        } catch {
            throw DriverError(error.message)
        }
    }

    public func endSession(_ session: SessionAddress) async throws(DriverError) {
        do {
            try await herald.registry.endSession(SessionKey(urlToken: session.urlToken, sessionId: session.sessionId))
        } catch {
            throw DriverError(error.message)
        }
    }

    private func outputs(_ accept: () async throws(HeraldError) -> Accepted) async throws(DriverError) -> [ObservedOutput] {
        let accepted: Accepted
        do {
            accepted = try await accept()
        } catch {
            throw DriverError(error.message)
        }
        switch accepted {
        case .processed(let receipt): return try await settled(receipt.outputs)
        case .replayed: throw DriverError("Herald replayed an earlier answer instead of processing the message")
        }
    }

    /// The outputs, with each call answered by its stand-in and what the flow then said in
    /// its place, in order: the call itself is not said to the user.
    private func settled(_ outputs: [Output]) async throws(DriverError) -> [ObservedOutput] {
        var observed: [ObservedOutput] = []
        var pending = outputs[...]
        while let output = pending.popFirst() {
            guard output.type == .call else {
                observed.append(ObservedOutput(output))
                continue
            }
            do {
                let receipt = try await herald.registry.answer(output, with: mocks.answer(CallRequest(json: output.data)))
                pending = (receipt?.outputs ?? [])[...] + pending
            } catch {
                throw DriverError(error.message)
            }
        }
        return observed
    }
}
