extension Receipt {
    /// The answer to an accepted message: `{"sessionId", "inputId"}` (or `"outputId"` for a
    /// notify, `"scheduledId"` and `"dueAt"` for a scheduled one), with `"outputs"` (each as its
    /// webhook body in Herald's format) when the caller asked to wait. Outputs made after a
    /// flow's `call` come later, through the webhook only.
    public func json(wait: Bool) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("sessionId", sessionId)
        if let scheduled {
            writer.field("scheduledId", scheduled.id)
            writer.field("dueAt", scheduled.dueAt.iso8601)
        } else if let inputId {
            writer.field("inputId", inputId)
        } else if let output = outputs.first {
            writer.field("outputId", output.id)
        }
        if wait {
            writer.key("outputs")
            writer.raw("[")
            // A flow's call is not said to anyone: the outputs that follow its answer are
            // delivered to the webhook when it comes.
            var first = true
            for output in outputs where output.type != .call {
                if !first { writer.raw(",") }
                first = false
                writer.append(json: output.webhookBody(format: .herald))
            }
            writer.raw("]")
            writer.comma()
        }
        writer.endObject()
        return writer.bytes
    }
}

extension IdempotencyRequest.Answer {
    /// The HTTP status the answer is replayed with.
    var status: Int {
        switch self {
        case .receipt(_, let status): status
        case .channelInput: 200
        }
    }

    /// The body recorded for `receipt`, which a repeat of the request gets byte for byte.
    func body(for receipt: Receipt) -> [UInt8] {
        switch self {
        case .receipt(let wait, _): receipt.json(wait: wait)
        case .channelInput: Array((receipt.inputId ?? "").utf8)
        }
    }
}
