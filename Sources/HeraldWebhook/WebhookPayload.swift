import HeraldCore

/// The JSON body of a webhook POST for one output (SPEC §3).
public enum WebhookPayload {
    public static func body(for output: Output, format: WebhookFormat) -> [UInt8] {
        var writer = JSONWriter(capacity: 320)
        // A status event for the endpoint's `statusWebhook` has its own shape in every format.
        if output.type == .status { return statusEvent(output) }
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
            if !output.rich.isEmpty {
                for (key, value) in output.rich.json { writer.field(key, value) }
            }
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
            if !output.rich.isEmpty { data["_cognigy"] = ["_default": .object(cognigyDefault(output))] }
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

    /// `{id, type: "status", urlToken, outputId, sessionId, userId, status, at, error?}`: what
    /// a `statusWebhook` receives when an output's status moves (SPEC §12).
    static func statusEvent(_ event: Output) -> [UInt8] {
        var object: JSONObject = [
            "id": .string(event.id), "type": "status", "urlToken": .string(event.session.urlToken),
            "sessionId": .string(event.session.sessionId), "userId": .string(event.userId),
        ]
        for (key, value) in event.data?.objectValue ?? JSONObject() { object[key] = value }
        return JSON.object(object).serialized()
    }

    /// The rich fields in Cognigy's default rich-content shapes (`_cognigy._default`), which its
    /// webchat and receivers understand: `_quickReplies`, `_buttons`, `_gallery`, and `_image`,
    /// `_video`, `_audio` for the first attachment of that type.
    static func cognigyDefault(_ output: Output) -> JSONObject {
        let rich = output.rich
        let text = JSON.string(output.text ?? "")
        func cognigyButton(_ button: RichContent.Button) -> JSON {
            switch button.action {
            case .payload(let payload): ["type": "postback", "title": .string(button.title), "payload": .string(payload)]
            case .url(let url): ["type": "web_url", "title": .string(button.title), "url": .string(url)]
            }
        }
        var shapes = JSONObject()
        if !rich.quickReplies.isEmpty {
            shapes["_quickReplies"] = [
                "type": "quick_replies", "text": text,
                "quickReplies": .array(
                    rich.quickReplies.map { ["contentType": "postback", "title": .string($0.title), "payload": .string($0.payload)] }),
            ]
        }
        if !rich.buttons.isEmpty {
            shapes["_buttons"] = ["type": "buttons", "text": text, "buttons": .array(rich.buttons.map(cognigyButton))]
        }
        if let card = rich.card {
            var item: JSONObject = ["title": .string(card.title), "subtitle": .string(card.subtitle ?? "")]
            if let imageUrl = card.imageUrl { item["imageUrl"] = .string(imageUrl) }
            item["buttons"] = .array(card.buttons.map(cognigyButton))
            shapes["_gallery"] = ["type": "carousel", "items": [.object(item)]]
        }
        for attachment in rich.attachments {
            switch attachment.type {
            case .image where shapes["_image"] == nil: shapes["_image"] = ["type": "image", "imageUrl": .string(attachment.url)]
            case .video where shapes["_video"] == nil: shapes["_video"] = ["type": "video", "videoUrl": .string(attachment.url)]
            case .audio where shapes["_audio"] == nil: shapes["_audio"] = ["type": "audio", "audioUrl": .string(attachment.url)]
            default: break
            }
        }
        return shapes
    }
}
