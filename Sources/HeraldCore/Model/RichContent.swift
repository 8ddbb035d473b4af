/// The channel-neutral vocabulary of rich outputs (SPEC §12): quick replies, buttons,
/// attachments, a card, and a WhatsApp-style message template. One type everywhere an output
/// is made — a flow's `say`/`ask`, `notify` and broadcast, an operator's `reply` — checked once
/// (``parse(_:allowTemplate:)``), carried on ``Output``, and rendered per channel by the channel
/// files (which see it as `output.quickReplies`, `output.buttons`, ...).
public struct RichContent: Sendable, Hashable {
    /// Suggested answers; a pressed one comes back as the user's message.
    public var quickReplies: [QuickReply]
    /// Buttons that answer with a payload, or open a URL.
    public var buttons: [Button]
    /// Images, files, audio and video, by URL.
    public var attachments: [Attachment]
    /// A card: a title, an optional subtitle and image, and its own buttons.
    public var card: Card?
    /// A pre-approved message template (WhatsApp requires one to start a conversation); notify
    /// only.
    public var template: MessageTemplate?

    public init(
        quickReplies: [QuickReply] = [], buttons: [Button] = [], attachments: [Attachment] = [], card: Card? = nil,
        template: MessageTemplate? = nil
    ) {
        self.quickReplies = quickReplies
        self.buttons = buttons
        self.attachments = attachments
        self.card = card
        self.template = template
    }

    /// Nothing rich: a plain text/data output.
    public var isEmpty: Bool {
        quickReplies.isEmpty && buttons.isEmpty && attachments.isEmpty && card == nil && template == nil
    }

    /// A suggested answer: `payload` is what the flow gets as `input.data.payload` when pressed
    /// (the title when none is given).
    public struct QuickReply: Sendable, Hashable {
        public var title: String
        public var payload: String

        public init(title: String, payload: String? = nil) {
            self.title = title
            self.payload = payload ?? title
        }
    }

    /// A button: it answers with a payload like a quick reply, or opens a URL.
    public struct Button: Sendable, Hashable {
        public enum Action: Sendable, Hashable {
            case payload(String)
            case url(String)
        }

        public var title: String
        public var action: Action

        public init(title: String, action: Action) {
            self.title = title
            self.action = action
        }

        public var payload: String? {
            if case .payload(let payload) = action { return payload }
            return nil
        }

        public var url: String? {
            if case .url(let url) = action { return url }
            return nil
        }
    }

    public enum AttachmentType: String, Sendable, Hashable, CaseIterable {
        case image, file, audio, video
    }

    /// A file the user gets by URL.
    public struct Attachment: Sendable, Hashable {
        public var type: AttachmentType
        public var url: String
        /// The file name to show (documents).
        public var name: String?
        public var caption: String?

        public init(type: AttachmentType, url: String, name: String? = nil, caption: String? = nil) {
            self.type = type
            self.url = url
            self.name = name
            self.caption = caption
        }
    }

    public struct Card: Sendable, Hashable {
        public var title: String
        public var subtitle: String?
        public var imageUrl: String?
        public var buttons: [Button]

        public init(title: String, subtitle: String? = nil, imageUrl: String? = nil, buttons: [Button] = []) {
            self.title = title
            self.subtitle = subtitle
            self.imageUrl = imageUrl
            self.buttons = buttons
        }
    }

    /// A message template by name and language, with its body parameters in order.
    public struct MessageTemplate: Sendable, Hashable {
        public var name: String
        public var language: String
        public var parameters: [String]

        public init(name: String, language: String, parameters: [String] = []) {
            self.name = name
            self.language = language
            self.parameters = parameters
        }
    }
}

// MARK: - Limits

extension RichContent {
    /// The field names this vocabulary adds to an output's body.
    public static let fieldNames = ["quickReplies", "buttons", "attachments", "card", "template"]

    /// Channel-neutral limits, far above what any channel shows; each channel file handles its
    /// own, smaller limits (docs/channels.md).
    public static let maxChoices = 100
    public static let maxAttachments = 10
    public static let maxTitleLength = 256
    public static let maxPayloadLength = 1024
    public static let maxURLLength = 2048
}

/// A rich field that does not follow the vocabulary; the message starts with the field's path
/// (`quickReplies[1].title: is required`), for a 400 or a flow's file:line error. Only
/// ``RichContent/parse(_:allowTemplate:prefix:)`` makes one (with the memberwise initialiser).
public struct RichContentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public var description: String { "\(field): \(reason)" }
}

// MARK: - Parsing and JSON

extension RichContent {
    /// Reads the vocabulary's fields from a request body or an evaluated flow message; other
    /// keys of `object` are ignored. `template` is refused unless `allowTemplate` (notify only).
    public static func parse(_ object: JSONObject, allowTemplate: Bool = true, prefix: String = "") throws(RichContentError) -> RichContent {
        var content = RichContent()
        func field(_ name: String) -> String { prefix + name }
        if let value = object["quickReplies"], !value.isNull {
            let items = try list(value, field("quickReplies"), max: maxChoices)
            for (index, item) in items.enumerated() {
                let path = "\(field("quickReplies"))[\(index)]"
                let members = try members(item, path, allowed: ["title", "payload"])
                let title = try text(members["title"], path + ".title", required: true, max: maxTitleLength)!
                let payload = try text(members["payload"], path + ".payload", required: false, max: maxPayloadLength)
                content.quickReplies.append(QuickReply(title: title, payload: payload))
            }
        }
        if let value = object["buttons"], !value.isNull {
            content.buttons = try buttons(value, field("buttons"))
        }
        if let value = object["attachments"], !value.isNull {
            let items = try list(value, field("attachments"), max: maxAttachments)
            for (index, item) in items.enumerated() {
                let path = "\(field("attachments"))[\(index)]"
                let members = try members(item, path, allowed: ["type", "url", "name", "caption"])
                let typeName = try text(members["type"], path + ".type", required: true, max: 16)!
                guard let type = AttachmentType(rawValue: typeName) else {
                    throw RichContentError(field: path + ".type", reason: "'\(typeName)' is not one of image, file, audio, video")
                }
                let url = try self.url(members["url"], path + ".url", required: true)!
                let name = try text(members["name"], path + ".name", required: false, max: maxTitleLength)
                let caption = try text(members["caption"], path + ".caption", required: false, max: 4096)
                content.attachments.append(Attachment(type: type, url: url, name: name, caption: caption))
            }
        }
        if let value = object["card"], !value.isNull {
            let path = field("card")
            let members = try members(value, path, allowed: ["title", "subtitle", "imageUrl", "buttons"])
            let title = try text(members["title"], path + ".title", required: true, max: maxTitleLength)!
            let subtitle = try text(members["subtitle"], path + ".subtitle", required: false, max: 4096)
            let imageUrl = try url(members["imageUrl"], path + ".imageUrl", required: false)
            var buttons: [Button] = []
            if let value = members["buttons"], !value.isNull { buttons = try self.buttons(value, path + ".buttons") }
            content.card = Card(title: title, subtitle: subtitle, imageUrl: imageUrl, buttons: buttons)
        }
        if let value = object["template"], !value.isNull {
            let path = field("template")
            guard allowTemplate else {
                throw RichContentError(field: path, reason: "only a notify can send a message template")
            }
            let members = try members(value, path, allowed: ["name", "language", "parameters"])
            let name = try text(members["name"], path + ".name", required: true, max: 512)!
            let language = try text(members["language"], path + ".language", required: true, max: 32)!
            var parameters: [String] = []
            if let value = members["parameters"], !value.isNull {
                for (index, item) in try list(value, path + ".parameters", max: maxChoices).enumerated() {
                    switch item {
                    case .string(let text): parameters.append(text)
                    case .number: parameters.append(item.text)
                    default:
                        throw RichContentError(field: "\(path).parameters[\(index)]", reason: "must be a string or a number, not \(item.typeName)")
                    }
                }
            }
            content.template = MessageTemplate(name: name, language: language, parameters: parameters)
        }
        return content
    }

    /// Reads what ``json`` wrote (a store's column); anything it cannot read is left out rather
    /// than failing the output it belongs to.
    public static func stored(_ value: JSON?) -> RichContent {
        guard case .object(let object)? = value else { return RichContent() }
        var content = RichContent()
        for key in fieldNames {
            guard let field = object[key] else { continue }
            var single = JSONObject()
            single[key] = field
            if let parsed = try? parse(single) {
                content.quickReplies += parsed.quickReplies
                content.buttons += parsed.buttons
                content.attachments += parsed.attachments
                content.card = content.card ?? parsed.card
                content.template = content.template ?? parsed.template
            }
        }
        return content
    }

    /// The fields as JSON, each only when present: how the webhook, the admin API, the stores
    /// and channel files see them.
    public var json: JSONObject {
        var object = JSONObject()
        if !quickReplies.isEmpty {
            object["quickReplies"] = .array(quickReplies.map { ["title": .string($0.title), "payload": .string($0.payload)] })
        }
        if !buttons.isEmpty { object["buttons"] = .array(buttons.map(\.json)) }
        if !attachments.isEmpty { object["attachments"] = .array(attachments.map(\.json)) }
        if let card {
            var value: JSONObject = ["title": .string(card.title)]
            if let subtitle = card.subtitle { value["subtitle"] = .string(subtitle) }
            if let imageUrl = card.imageUrl { value["imageUrl"] = .string(imageUrl) }
            if !card.buttons.isEmpty { value["buttons"] = .array(card.buttons.map(\.json)) }
            object["card"] = .object(value)
        }
        if let template {
            object["template"] = [
                "name": .string(template.name), "language": .string(template.language),
                "parameters": .array(template.parameters.map(JSON.string)),
            ]
        }
        return object
    }

    private static func buttons(_ value: JSON, _ path: String) throws(RichContentError) -> [Button] {
        var result: [Button] = []
        for (index, item) in try list(value, path, max: maxChoices).enumerated() {
            let itemPath = "\(path)[\(index)]"
            let members = try members(item, itemPath, allowed: ["title", "payload", "url"])
            let title = try text(members["title"], itemPath + ".title", required: true, max: maxTitleLength)!
            let payload = try text(members["payload"], itemPath + ".payload", required: false, max: maxPayloadLength, emptyIsAbsent: false)
            let url = try url(members["url"], itemPath + ".url", required: false)
            switch (payload, url) {
            case (let payload?, nil): result.append(Button(title: title, action: .payload(payload)))
            case (nil, let url?): result.append(Button(title: title, action: .url(url)))
            case (nil, nil): throw RichContentError(field: itemPath, reason: "a button needs a payload (it answers) or a url (it opens)")
            case (.some, .some): throw RichContentError(field: itemPath, reason: "a button has a payload or a url, not both")
            }
        }
        return result
    }

    private static func list(_ value: JSON, _ path: String, max: Int) throws(RichContentError) -> [JSON] {
        guard case .array(let items) = value else { throw RichContentError(field: path, reason: "must be an array, not \(value.typeName)") }
        guard items.count <= max else { throw RichContentError(field: path, reason: "at most \(max) items, got \(items.count)") }
        return items
    }

    private static func members(_ value: JSON, _ path: String, allowed: Set<String>) throws(RichContentError) -> JSONObject {
        guard case .object(let object) = value else { throw RichContentError(field: path, reason: "must be an object, not \(value.typeName)") }
        for key in object.keys where !allowed.contains(key) {
            throw RichContentError(field: "\(path).\(key)", reason: "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        return object
    }

    /// A string field. Absent is fine unless `required`; an empty string is absent too where
    /// `emptyIsAbsent` (a name, a caption), else an error (a URL, a button's payload).
    private static func text(
        _ value: JSON?, _ path: String, required: Bool, max: Int, emptyIsAbsent: Bool = true
    ) throws(RichContentError) -> String? {
        guard let value, !(required && value.isNull) else {
            if required { throw RichContentError(field: path, reason: "is required") }
            return nil
        }
        guard case .string(let text) = value else { throw RichContentError(field: path, reason: "must be a string, not \(value.typeName)") }
        if text.isEmpty {
            if required || !emptyIsAbsent { throw RichContentError(field: path, reason: "must not be empty") }
            return nil
        }
        // Counted in Unicode code points, as JSON Schema's maxLength counts them.
        let length = text.unicodeScalars.count
        guard length <= max else { throw RichContentError(field: path, reason: "at most \(max) characters, got \(length)") }
        return text
    }

    private static func url(_ value: JSON?, _ path: String, required: Bool) throws(RichContentError) -> String? {
        guard let text = try text(value, path, required: required, max: maxURLLength, emptyIsAbsent: false) else { return nil }
        let lower = text.lowercased()
        let scheme = lower.hasPrefix("https://") ? 8 : lower.hasPrefix("http://") ? 7 : 0
        guard scheme > 0, text.unicodeScalars.count > scheme, !text.contains(where: \.isWhitespace) else {
            throw RichContentError(field: path, reason: "'\(text.prefix(100))' is not an http:// or https:// URL")
        }
        return text
    }
}

extension RichContent.Button {
    var json: JSON {
        switch action {
        case .payload(let payload): ["title": .string(title), "payload": .string(payload)]
        case .url(let url): ["title": .string(title), "url": .string(url)]
        }
    }
}

extension RichContent.Attachment {
    var json: JSON {
        var object: JSONObject = ["type": .string(type.rawValue), "url": .string(url)]
        if let name { object["name"] = .string(name) }
        if let caption { object["caption"] = .string(caption) }
        return .object(object)
    }
}

// MARK: - Text fallbacks

extension RichContent {
    /// Every answer a user can give by pressing something, in order: the quick replies, then
    /// the buttons with a payload, then the card's buttons with a payload.
    public var choices: [QuickReply] {
        quickReplies + (buttons + (card?.buttons ?? [])).compactMap { button in button.payload.map { QuickReply(title: button.title, payload: $0) } }
    }

    /// Every button that opens a URL (the output's, then the card's).
    public var links: [(title: String, url: String)] {
        (buttons + (card?.buttons ?? [])).compactMap { button in button.url.map { (button.title, $0) } }
    }

    /// `text` with everything rich written out as text, for a channel that shows nothing else
    /// (an SMS): the card's title and subtitle, numbered choices (a user answers with the number
    /// or the title), links as `title: url`, and attachments by URL. Nothing is dropped.
    public func fallbackText(_ text: String?) -> String {
        var lines: [String] = []
        if let card {
            lines.append(card.title)
            if let subtitle = card.subtitle { lines.append(subtitle) }
        }
        if let text, !text.isEmpty { lines.append(text) }
        if let template, lines.isEmpty {
            lines.append(([template.name] + template.parameters).joined(separator: " "))
        }
        lines += choices.enumerated().map { "\($0.offset + 1). \($0.element.title)" }
        lines += links.map { "\($0.title): \($0.url)" }
        if let imageUrl = card?.imageUrl { lines.append(imageUrl) }
        lines += attachments.map { attachment in
            let label = attachment.caption ?? attachment.name
            return label.map { "\($0): \(attachment.url)" } ?? attachment.url
        }
        return lines.joined(separator: "\n")
    }
}
