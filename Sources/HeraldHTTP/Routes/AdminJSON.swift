import HeraldChannels
import HeraldCore
import HeraldWebhook

/// How the admin API shows Herald's things as JSON. Secrets never appear: a set password,
/// API key or signing secret is shown as `"***"`.
enum AdminJSON {
    /// An endpoint as served: its settings (secrets as `"***"`), where it is defined
    /// (`origin`), and its flow's version.
    static func endpoint(_ served: LiveEndpoint, paused: Bool, backlog: Int) -> JSON {
        guard case .object(var object) = endpoint(served.endpoint, channel: served.channel as? HeraldChannels.Channel, paused: paused, backlog: backlog)
        else { return .null }
        var flow = object["flow"]?.objectValue ?? [:]
        flow["version"] = .string(served.endpoint.flow.version)
        switch served.origin {
        case .file(let path):
            object["origin"] = ["type": "file", "file": .string(path)]
        case .api:
            var origin: JSONObject = ["type": "api"]
            if let definition = served.definition {
                origin["updatedAt"] = .string(definition.updatedAt.iso8601)
                origin["updatedBy"] = .string(definition.updatedBy)
                if case .name(let name) = definition.flow { flow["storedName"] = .string(name) }
                flow["file"] = nil
            }
            object["origin"] = .object(origin)
        }
        object["flow"] = .object(flow)
        object["handover"] = handover(served.endpoint.handover)
        return .object(object)
    }

    static func handover(_ handover: HandoverSettings) -> JSON {
        [
            "webhook": handover.webhook.map(webhook) ?? .null,
            "idleTimeout": handover.idleTimeout.map { .string(duration($0)) } ?? .null,
        ]
    }

    static func endpoint(_ endpoint: Endpoint, channel: HeraldChannels.Channel?, paused: Bool, backlog: Int) -> JSON {
        var object: JSONObject = [
            "urlToken": .string(endpoint.urlToken),
            "flow": ["name": .string(endpoint.flow.name), "file": .string(endpoint.flow.file), "nodes": .number(Double(endpoint.flow.nodes.count))],
            "webhook": webhook(endpoint.webhook),
            "apiKeys": .array(endpoint.apiKeys.map { _ in "***" }),
            "sessionTTL": .string(duration(endpoint.sessionTTL)),
            "paused": .bool(paused),
            "backlog": .number(Double(backlog)),
        ]
        if let statusWebhook = endpoint.statusWebhook { object["statusWebhook"] = webhook(statusWebhook) }
        // What the flow's calls may reach; the secrets by name only.
        var secrets = JSONObject()
        for name in endpoint.calls.secrets.keys.sorted() { secrets[name] = "***" }
        object["calls"] = [
            "allow": .array(endpoint.calls.allow.map(JSON.string)), "maxCallsPerTurn": .number(Double(endpoint.calls.maxCallsPerTurn)),
            "secrets": .object(secrets),
        ]
        if let channel {
            // Secret variables (tokens, signing secrets) as "***"; the others as configured.
            var vars = JSONObject()
            for variable in channel.variables { vars[variable.name] = channel.shownValue(of: variable.name) }
            object["channel"] = ["name": .string(channel.name), "file": .string(channel.file), "vars": .object(vars)]
        }
        return .object(object)
    }

    /// A webhook's settings, its password and signing secret as `"***"`.
    static func webhook(_ webhook: WebhookSettings) -> JSON {
        var hook: JSONObject = [
            "url": .string(redactedURL(webhook.url)),
            "format": .string(webhook.format.rawValue),
            "connectTimeout": .string(duration(webhook.connectTimeout)),
            "timeout": .string(duration(webhook.timeout)),
            "concurrency": .number(Double(webhook.concurrency)),
            "retry": [
                "schedule": .array(webhook.retry.schedule.map { .string(duration($0)) }),
                "maxAttempts": webhook.retry.maxAttempts.map { .number(Double($0)) } ?? .null,
                "maxAge": .string(duration(webhook.retry.maxAge)),
            ],
        ]
        hook["user"] = webhook.user.map(JSON.string) ?? .null
        hook["password"] = webhook.password == nil ? .null : "***"
        hook["signingSecret"] = webhook.signingSecret == nil ? .null : "***"
        return .object(hook)
    }

    static func sessionSummary(_ summary: SessionSummary) -> JSON {
        [
            "urlToken": .string(summary.key.urlToken),
            "sessionId": .string(summary.key.sessionId),
            "userId": .string(summary.userId),
            "createdAt": .string(summary.createdAt.iso8601),
            "updatedAt": .string(summary.updatedAt.iso8601),
            "waitingAt": summary.waitingAt.map(JSON.string) ?? .null,
            "flowVersion": summary.flowVersion.map(JSON.string) ?? .null,
            "outputs": .number(Double(summary.outputs)),
            "mode": summary.handover == nil ? "flow" : "operator",
            "operator": summary.handover.map { .string($0.operatorName) } ?? .null,
        ]
    }

    /// A session's mode after a handover: `{"urlToken", "sessionId", "mode", "operator", "operatorSince"}`.
    static func mode(_ key: SessionKey, _ handover: Handover?) -> JSON {
        [
            "urlToken": .string(key.urlToken),
            "sessionId": .string(key.sessionId),
            "mode": handover == nil ? "flow" : "operator",
            "operator": handover.map { .string($0.operatorName) } ?? .null,
            "operatorSince": handover.map { .string($0.since.iso8601) } ?? .null,
        ]
    }

    static func audit(_ entry: AuditEntry) -> JSON {
        [
            "sequence": .number(Double(entry.sequence)),
            "at": .string(entry.at.iso8601),
            "keyName": .string(entry.keyName),
            "action": .string(entry.action.rawValue),
            "urlToken": entry.urlToken.map(JSON.string) ?? .null,
            "sessionId": entry.sessionId.map(JSON.string) ?? .null,
            "userId": entry.userId.map(JSON.string) ?? .null,
            "outputId": entry.outputId.map(JSON.string) ?? .null,
            "detail": entry.detail.map(JSON.string) ?? .null,
            "targetErased": .bool(entry.targetErased),
        ]
    }

    static func session(_ session: Session, transcript: [TranscriptEntry]) -> JSON {
        [
            "urlToken": .string(session.key.urlToken),
            "sessionId": .string(session.key.sessionId),
            "userId": .string(session.userId),
            "state": "active",
            "context": .object(session.context),
            "waitingAt": session.waiting.map { .string($0.nodeId) } ?? .null,
            // SPEC §14: the flow version the session runs on (its last run's).
            "flowVersion": session.flowVersion.map(JSON.string) ?? .null,
            "nextSeq": .number(Double(session.nextSeq)),
            "createdAt": .string(session.createdAt.iso8601),
            "updatedAt": .string(session.updatedAt.iso8601),
            "mode": .string(session.mode.rawValue),
            "operator": session.handover.map { .string($0.operatorName) } ?? .null,
            "operatorSince": session.handover.map { .string($0.since.iso8601) } ?? .null,
            "scheduled": .array(session.schedules.map { scheduled(ScheduledEntry(session: session.key, userId: session.userId, schedule: $0)) }),
            "messages": .array(transcript.map(message)),
            // SPEC §13: the call the flow waits for, and the inputs queued behind it.
            "waitingForCall": session.waiting?.call.map { .string($0.outputId) } ?? .null,
            "queuedInputs": .number(Double(session.waiting?.call?.queued.count ?? 0)),
        ]
    }

    /// A pending schedule (`GET /admin/v1/scheduled`, a session's `scheduled`).
    static func scheduled(_ entry: ScheduledEntry) -> JSON {
        let schedule = entry.schedule
        var object: JSONObject = [
            "id": .string(schedule.id),
            "key": schedule.key.map(JSON.string) ?? .null,
            "kind": .string(schedule.kind.name),
            "urlToken": .string(entry.session.urlToken),
            "sessionId": .string(entry.session.sessionId),
            "userId": .string(entry.userId),
            "dueAt": .string(schedule.dueAt.iso8601),
            "createdAt": .string(schedule.createdAt.iso8601),
            "cancelOnUserMessage": .bool(schedule.cancelOnUserMessage),
            "text": schedule.text.map(JSON.string) ?? .null,
            "data": schedule.data ?? .null,
        ]
        if case .timeout(let nodeId) = schedule.kind { object["nodeId"] = .string(nodeId) }
        for (key, value) in schedule.rich.json { object[key] = value }
        return .object(object)
    }

    static func message(_ entry: TranscriptEntry) -> JSON {
        switch entry {
        case .input(let input):
            return [
                "kind": "input",
                "id": .string(input.id),
                "source": .string(input.source.rawValue),
                "userId": .string(input.userId),
                "text": input.text.map(JSON.string) ?? .null,
                "data": input.data ?? .null,
                "at": .string(input.receivedAt.iso8601),
            ]
        case .output(let record):
            var object = delivery(record).objectValue!
            object["kind"] = "output"
            return .object(object)
        }
    }

    static func delivery(_ record: DeliveryRecord, attempts: [DeliveryAttempt]? = nil) -> JSON {
        let output = record.output
        var object: JSONObject = [
            "outputId": .string(output.id),
            "urlToken": .string(output.session.urlToken),
            "sessionId": .string(output.session.sessionId),
            "userId": .string(output.userId),
            "seq": .number(Double(output.seq)),
            "type": .string(output.type.rawValue),
            "text": output.text.map(JSON.string) ?? .null,
            "data": output.data ?? .null,
            "inputId": output.inputId.map(JSON.string) ?? .null,
            "source": output.source.map { .string($0.rawValue) } ?? .null,
            "at": .string(output.timestamp.iso8601),
            "status": .string(record.status.rawValue),
            "attempts": .number(Double(record.attempts)),
            "nextAttemptAt": record.nextAttemptAt.map { .string($0.iso8601) } ?? .null,
            "lastError": record.lastError.map(JSON.string) ?? .null,
            "deliveredAt": record.deliveredAt.map { .string($0.iso8601) } ?? .null,
        ]
        for (key, value) in output.rich.json { object[key] = value }
        if output.type.isForUser {
            // SPEC §12: where the output is on its way to the user, beside its delivery state.
            object["outputStatus"] = .string(record.outputStatus.rawValue)
            if let receipt = record.receipt { object["statusAt"] = .string(receipt.at.iso8601) }
            if let error = record.statusError { object["statusError"] = .string(error) }
            if let messageId = record.channelMessageId { object["channelMessageId"] = .string(messageId) }
        }
        if let scheduledId = output.scheduledId {
            object["scheduledId"] = .string(scheduledId)
            object["late"] = .bool(output.late)
        }
        if let name = output.operatorName { object["operator"] = .string(name) }
        if let version = output.flowVersion { object["flowVersion"] = .string(version) }
        if let attempts { object["attemptLog"] = .array(attempts.map(attempt)) }
        return .object(object)
    }

    static func attempt(_ attempt: DeliveryAttempt) -> JSON {
        [
            "number": .number(Double(attempt.number)),
            "at": .string(attempt.startedAt.iso8601),
            "durationMs": .number(Double(attempt.durationMilliseconds)),
            "statusCode": attempt.statusCode.map { .number(Double($0)) } ?? .null,
            "error": attempt.error.map(JSON.string) ?? .null,
            "responseBody": attempt.responseBody.map(JSON.string) ?? .null,
        ]
    }

    /// `15s`, `500ms`, `30m`: the config's own notation.
    static func duration(_ duration: Duration) -> String {
        duration.configText
    }

    /// A URL with any `user:password@` replaced by `***@`.
    static func redactedURL(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(rest[at...])
    }
}
