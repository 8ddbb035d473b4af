import Foundation
import HeraldCore
import Logging

/// Log lines on stderr, one per entry: in `StreamLogHandler`'s text format (`time level label:
/// metadata [source] message`), or as one JSON object a line (`log.format: json`) with
/// `timestamp`, `level`, `label`, `message`, `source` and every metadata key (`urlToken`,
/// `sessionId`, `outputId`, `error`, …) as a member. Metadata is rendered when a line is
/// written, not each time it is set: Hummingbird gives every request a logger with its own
/// request id, so eager rendering cost every request a string build even when nothing was logged.
struct LineLogHandler: LogHandler {
    var label: String
    var logLevel: Logger.Level
    var format: LogSettings.Format
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level, format: LogSettings.Format = .text) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.metadataProvider = LoggingSystem.metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit { all.merge(explicit) { _, new in new } }
        switch format {
        case .text:
            let rendered = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let text = "\(Self.timestamp()) \(level) \(label):\(rendered) [\(source)] \(message)\n"
            FileHandle.standardError.write(Data(text.utf8))
        case .json:
            var object: JSONObject = [
                "timestamp": .string(Timestamp.now().iso8601), "level": .string(level.rawValue), "label": .string(label),
                "message": .string(message.description), "source": .string(source),
            ]
            for (key, value) in all.sorted(by: { $0.key < $1.key }) where object[key] == nil { object[key] = Self.json(value) }
            FileHandle.standardError.write(Data(JSON.object(object).serialized() + [UInt8(ascii: "\n")]))
        }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSON {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary):
            .object(dictionary.sorted { $0.key < $1.key }.reduce(into: JSONObject()) { $0[$1.key] = json($1.value) })
        }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
