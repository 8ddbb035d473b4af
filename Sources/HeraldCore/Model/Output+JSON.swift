/// The JSON an output is sent as (SPEC §3): the body of its webhook POST, and each of the
/// `outputs` in an answer to a caller who waited.
extension Output {
    /// The JSON body of a webhook POST for this output in the endpoint's `format`.
    public func webhookBody(format: WebhookFormat) -> [UInt8] {
        var writer = JSONWriter(capacity: 320)
        // A status event for the endpoint's `statusWebhook` has its own shape in every format.
        if type == .status { return statusEvent() }
        switch format {
        case .herald:
            writer.beginObject()
            writer.field("id", id)
            writer.field("type", type.rawValue)
            writer.field("urlToken", session.urlToken)
            writer.field("userId", userId)
            writer.field("sessionId", session.sessionId)
            writer.field("seq", seq)
            if let text { writer.field("text", text) }
            if let data { writer.field("data", data) }
            if !rich.isEmpty {
                for (key, value) in rich.json { writer.field(key, value) }
            }
            if let inputId { writer.field("inputId", inputId) }
            if let source { writer.field("source", source.rawValue) }
            if let scheduledId {
                writer.field("scheduledId", scheduledId)
                if late { writer.field("late", .bool(true)) }
            }
            if let operatorName { writer.field("operator", operatorName) }
            if let flowVersion { writer.field("flowVersion", flowVersion) }
            writer.field("timestamp", timestamp.iso8601)
            writer.endObject()
        case .cognigy:
            // Cognigy's Webhook Endpoint shape, so existing receivers work unchanged.
            writer.beginObject()
            writer.field("userId", userId)
            writer.field("sessionId", session.sessionId)
            writer.key("AIOutput")
            writer.beginObject()
            if let text { writer.field("text", text) }
            var data = self.data?.objectValue ?? (self.data.map { ["value": $0] } ?? JSONObject())
            if !rich.isEmpty { data["_cognigy"] = ["_default": .object(cognigyDefault())] }
            if let attachments { data["_attachments"] = .array(attachments) }
            writer.field("data", .object(data))
            writer.field("traceId", id)
            writer.field("source", "bot")
            writer.endObject()
            writer.comma()
            writer.endObject()
        }
        return writer.bytes
    }

    /// `{id, type: "status", urlToken, outputId, sessionId, userId, status, at, error?}`: what
    /// a `statusWebhook` receives when an output's status moves (SPEC §12).
    func statusEvent() -> [UInt8] {
        var object: JSONObject = [
            "id": .string(id), "type": "status", "urlToken": .string(session.urlToken),
            "sessionId": .string(session.sessionId), "userId": .string(userId),
        ]
        for (key, value) in data?.objectValue ?? JSONObject() { object[key] = value }
        return JSON.object(object).serialized()
    }

    /// The rich fields in Cognigy's default rich-content shapes (`_cognigy._default`), which its
    /// webchat and receivers understand: `_quickReplies`, `_buttons`, `_gallery`, and `_image`,
    /// `_video`, `_audio` for the first attachment of that type.
    func cognigyDefault() -> JSONObject {
        let text = JSON.string(self.text ?? "")
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
