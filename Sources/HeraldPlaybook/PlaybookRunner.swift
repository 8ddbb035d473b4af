import Foundation
import HeraldCore

/// Runs playbooks through a ``PlaybookDriver``: conversation after conversation, step after
/// step, each on its session; the first failing step of a conversation ends it.
public struct PlaybookRunner: Sendable {
    public let driver: any PlaybookDriver

    public init(driver: any PlaybookDriver) {
        self.driver = driver
    }

    /// Reads each file and runs it, handing each result to `report` as it is ready; a file
    /// that cannot be read is a result with its errors.
    public func run(files: [String], report: (PlaybookResult) -> Void = { _ in }) async -> [PlaybookResult] {
        var results: [PlaybookResult] = []
        for file in files {
            let check = Playbook.check(path: file)
            let result: PlaybookResult
            if let playbook = check.playbook {
                result = await run(playbook)
            } else {
                let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                result = PlaybookResult(file: file, name: name, urlToken: nil, conversations: [], errors: check.errors.map(\.description))
            }
            report(result)
            results.append(result)
        }
        return results
    }

    /// Checks that Herald has the playbook's endpoint, then runs its conversations in order.
    public func run(_ playbook: Playbook) async -> PlaybookResult {
        let clock = ContinuousClock()
        let start = clock.now
        var result = PlaybookResult(file: playbook.file, name: playbook.name, urlToken: playbook.urlToken, conversations: [], errors: [])
        do {
            try await driver.checkEndpoint(playbook.urlToken)
        } catch {
            // Nothing can pass: every conversation fails with the reason.
            result.conversations = playbook.conversations.map { conversation in
                ConversationResult(
                    name: conversation.name, line: conversation.line, sessionId: "", steps: conversation.steps.count,
                    failure: StepFailure(step: nil, line: conversation.line, action: "start", kind: .error, headline: error.description, diff: []),
                    duration: .zero)
            }
            result.duration = clock.now - start
            return result
        }
        // The playbook's stand-ins answer its flow's calls.
        let runner = PlaybookRunner(driver: driver.answeringCalls(from: playbook.mocks))
        var previous: SessionAddress?
        for (index, conversation) in playbook.conversations.enumerated() {
            let session: SessionAddress
            let userId = conversation.userId ?? playbook.userId
            switch conversation.session {
            case .fresh:
                session = SessionAddress(urlToken: playbook.urlToken, sessionId: Self.freshSessionId(playbook, index), userId: userId)
            case .named(let sessionId):
                session = SessionAddress(urlToken: playbook.urlToken, sessionId: sessionId, userId: userId)
            case .continuePrevious:
                session = SessionAddress(
                    urlToken: playbook.urlToken, sessionId: previous?.sessionId ?? Self.freshSessionId(playbook, index),
                    userId: conversation.userId ?? previous?.userId ?? userId)
            }
            if let reason = skipReason(conversation, of: playbook, after: result.conversations.last) {
                result.conversations.append(
                    ConversationResult(
                        name: conversation.name, line: conversation.line, sessionId: "", steps: conversation.steps.count, failure: nil,
                        duration: .zero, skipped: reason))
                previous = session
                continue
            }
            var conversationResult = await runner.run(conversation, in: session)
            if conversation.session == .continuePrevious, let before = result.conversations.last, !before.passed {
                // Its state is whatever the failed conversation left: say so next to the failure.
                conversationResult.failure?.diff.append(.note("this conversation continues '\(before.name)', which failed"))
            }
            result.conversations.append(conversationResult)
            previous = session
        }
        result.duration = clock.now - start
        return result
    }

    /// Why a conversation cannot run with this driver: it lets time pass and Herald's clock is
    /// not the playbook's (a running server), its playbook answers calls with stand-ins a
    /// running server does not use, or it continues one that was skipped.
    private func skipReason(_ conversation: Conversation, of playbook: Playbook, after previous: ConversationResult?) -> String? {
        if !driver.letsTimePass, conversation.steps.contains(where: { if case .wait = $0.action { true } else { false } }) {
            return "it lets time pass (wait), which needs a self-contained run (herald test --config FILE)"
        }
        if !driver.answersCallsFromStandIns, !playbook.mocks.mocks.isEmpty {
            return "its flow's calls are answered by the playbook's mock: stand-ins, which needs a self-contained run (herald test --config FILE)"
        }
        if conversation.session == .continuePrevious, let previous, previous.skipped != nil {
            return "it continues '\(previous.name)', which was skipped"
        }
        return nil
    }

    func run(_ conversation: Conversation, in session: SessionAddress) async -> ConversationResult {
        let clock = ContinuousClock()
        let start = clock.now
        let failure = await failure(of: conversation, in: session)
        return ConversationResult(
            name: conversation.name, line: conversation.line, sessionId: session.sessionId, steps: conversation.steps.count, failure: failure,
            duration: clock.now - start)
    }

    /// Runs the steps; the first one that fails ends the conversation and is returned.
    private func failure(of conversation: Conversation, in session: SessionAddress) async -> StepFailure? {
        if case .named = conversation.session {
            do {
                try await driver.endSession(session)
            } catch {
                return StepFailure(
                    step: nil, line: conversation.line, action: "start", kind: .error,
                    headline: "could not end session '\(session.sessionId)' to start afresh: \(error)", diff: [])
            }
        }
        var lastOutputs: [ObservedOutput] = []
        for (index, step) in conversation.steps.enumerated() {
            func failure(_ kind: StepFailure.Kind, _ headline: String, _ diff: [DiffLine] = []) -> StepFailure {
                StepFailure(step: index + 1, line: step.line, action: step.summary, kind: kind, headline: headline, diff: diff)
            }
            do {
                if let action = step.action {
                    switch action {
                    case .user(let message): lastOutputs = try await driver.send(message, source: .user, to: session)
                    case .inject(let message): lastOutputs = try await driver.send(message, source: .inject, to: session)
                    case .notify(let message): lastOutputs = try await driver.notify(message, to: session)
                    case .wait(let duration): lastOutputs = try await driver.wait(duration, in: session)
                    }
                }
                if let expectation = step.outputs, let mismatch = expectation.check(lastOutputs) {
                    return failure(.mismatch, mismatch.headline, mismatch.diff)
                }
                if !step.context.isEmpty, let mismatch = step.context.check(try await driver.context(of: session)) {
                    return failure(.mismatch, mismatch.headline, mismatch.diff)
                }
            } catch {
                return failure(.error, "the step could not run: \(error)")
            }
        }
        return nil
    }

    /// `playbook-<name>-<n>-<random>`: unique per run, and recognisable in Herald's admin API.
    static func freshSessionId(_ playbook: Playbook, _ index: Int) -> String {
        let name = String(playbook.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }.prefix(64))
        let random = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        return "playbook-\(name)-\(index + 1)-\(random)"
    }
}

/// How one playbook went.
public struct PlaybookResult: Sendable {
    public var file: String
    public var name: String
    /// `nil` when the file could not be read.
    public var urlToken: String?
    public var conversations: [ConversationResult]
    /// Why the file could not be read (`file:line: reason`); its conversations did not run.
    public var errors: [String]
    /// How long the whole playbook took.
    public var duration: Duration = .zero

    public init(file: String, name: String, urlToken: String?, conversations: [ConversationResult], errors: [String]) {
        self.file = file
        self.name = name
        self.urlToken = urlToken
        self.conversations = conversations
        self.errors = errors
    }

    /// Conversations that passed.
    public var passed: Int { conversations.count { $0.passed } }
    /// Failed conversations; an unreadable file counts as one.
    public var failed: Int { conversations.count { $0.failure != nil } + (errors.isEmpty ? 0 : 1) }
    /// Conversations this driver could not run (``ConversationResult/skipped``).
    public var skipped: Int { conversations.count { $0.skipped != nil } }
}

/// How one conversation went.
public struct ConversationResult: Sendable {
    public var name: String
    public var line: Int
    /// The session it talked in (empty when it never started).
    public var sessionId: String
    /// How many steps it has.
    public var steps: Int
    /// The step that failed; `nil` when every step passed.
    public var failure: StepFailure?
    public var duration: Duration
    /// Why it did not run, when it did not: it lets time pass against a running server.
    public var skipped: String?

    public init(
        name: String, line: Int, sessionId: String, steps: Int, failure: StepFailure?, duration: Duration, skipped: String? = nil
    ) {
        self.name = name
        self.line = line
        self.sessionId = sessionId
        self.steps = steps
        self.failure = failure
        self.duration = duration
        self.skipped = skipped
    }

    public var passed: Bool { failure == nil && skipped == nil }
}

/// The step that ended a conversation, and why.
public struct StepFailure: Sendable, Hashable {
    /// A check did not hold (`mismatch`), or the step could not run at all (`error`).
    public enum Kind: String, Sendable, Hashable {
        case mismatch
        case error
    }

    /// 1-based; `nil` when the conversation failed before its first step.
    public var step: Int?
    /// The step's line in the playbook file.
    public var line: Int
    /// What the step did, like `user "hi"`.
    public var action: String
    public var kind: Kind
    public var headline: String
    public var diff: [DiffLine]

    public init(step: Int?, line: Int, action: String, kind: Kind, headline: String, diff: [DiffLine]) {
        self.step = step
        self.line = line
        self.action = action
        self.kind = kind
        self.headline = headline
        self.diff = diff
    }

    /// `step 2 (file:14): user "hi"`.
    public func location(file: String) -> String {
        guard let step else { return "\(file):\(line)" }
        return "step \(step) (\(file):\(line)): \(action)"
    }
}

extension Step {
    /// What the step does, in a line: `user "hi"`, `inject data {...}`, `check`.
    var summary: String {
        guard let action else {
            return [outputs == nil ? nil : "expect", context.isEmpty ? nil : "context"].compactMap { $0 }.joined(separator: " + ")
        }
        let message = action.message
        var parts = [action.kind]
        if case .wait(let duration) = action { parts.append(duration.configText) }
        if let text = message.text { parts.append(JSON.string(text).jsonString) }
        if let data = message.data { parts.append("data " + data.jsonString) }
        for (key, value) in message.rich { parts.append("\(key) " + value.jsonString) }
        let line = parts.joined(separator: " ")
        return line.count > 160 ? line.prefix(159) + "…" : line
    }
}
