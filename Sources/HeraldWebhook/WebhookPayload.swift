import HeraldCore

/// The JSON body of a webhook POST for one output (SPEC §3).
public enum WebhookPayload {
    public static func body(for output: Output, format: WebhookFormat) -> [UInt8] {
        var writer = JSONWriter(capacity: 320)
        switch format {
        case .herald:
            writer.beginObject()
            writer.field("id", output.id)
            writer.field("type", output.type.rawValue)
            writer.field("urlToken", output.session.urlToken)
            writer.field("userId", output.userId)
            writer.field("sessionId", output.session.sessionId)
            writer.field("seq", output.seq)
            if let text = output.text { writer.field("text", text) }
            if let data = output.data { writer.field("data", data) }
            if let attachments = output.attachments { writer.field("attachments", .array(attachments)) }
            if let inputId = output.inputId { writer.field("inputId", inputId) }
            if let source = output.source { writer.field("source", source.rawValue) }
            if let scheduledId = output.scheduledId {
                writer.field("scheduledId", scheduledId)
                if output.late { writer.field("late", .bool(true)) }
            }
            if let name = output.operatorName { writer.field("operator", name) }
            writer.field("timestamp", output.timestamp.iso8601)
            writer.endObject()
        case .cognigy:
            // Cognigy's Webhook Endpoint shape, so existing receivers work unchanged.
            writer.beginObject()
            writer.field("userId", output.userId)
            writer.field("sessionId", output.session.sessionId)
            writer.key("AIOutput")
            writer.beginObject()
            if let text = output.text { writer.field("text", text) }
            var data = output.data?.objectValue ?? (output.data.map { ["value": $0] } ?? JSONObject())
            if let attachments = output.attachments { data["_attachments"] = .array(attachments) }
            writer.field("data", .object(data))
            writer.field("traceId", output.id)
            writer.field("source", "bot")
            writer.endObject()
            writer.comma()
            writer.endObject()
        }
        return writer.bytes
    }
}
