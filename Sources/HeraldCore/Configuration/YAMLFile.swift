import Foundation
import Yams

/// A problem in a file a user wrote (a config or a flow): where it is, and why.
/// Its description is `file:line: reason`, the form editors and CI logs link to.
public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String

    public init(file: String, line: Int?, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { "\(file):\(line): \(reason)" } else { "\(file): \(reason)" }
    }
}

/// Reads a YAML file into Yams nodes, keeping line numbers for every error. Flows, the
/// configuration and playbooks are read with it, so their errors look alike.
public struct YAMLFile {
    /// The file's path, as given; every error names it.
    public let path: String
    /// The document's root node.
    public let root: Node

    /// Reads and parses the file at `path`.
    public init(path: String) throws(FileError) {
        try self.init(path: path, text: try Self.text(path: path))
    }

    /// The text of the file at `path`, or an error saying why it cannot be read.
    public static func text(path: String) throws(FileError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FileError(file: path, line: nil, reason: "cannot read the file (\(Self.describe(error)))")
        }
    }

    /// Parses `text` as the contents of `path`.
    public init(path: String, text: String) throws(FileError) {
        self.path = path
        do {
            guard let root = try Yams.compose(yaml: text) else {
                throw FileError(file: path, line: nil, reason: "the file is empty")
            }
            self.root = root
        } catch let error as FileError {
            throw error
        } catch let error as YamlError {
            throw Self.fileError(path: path, text: text, error)
        } catch {
            throw FileError(file: path, line: nil, reason: "not valid YAML: \(error)")
        }
    }

    private static func fileError(path: String, text: String, _ error: YamlError) -> FileError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) \($0.text)" } ?? problem
            return FileError(file: path, line: mark.line, reason: "not valid YAML: \(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let line = duplicates.sorted().lazy.compactMap {
                secondOccurrence(of: $0, mappingAt: context.mark.line, column: context.mark.column, in: text)
            }.first
            return FileError(
                file: path, line: line ?? context.mark.line,
                reason: "duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        default:
            return FileError(file: path, line: nil, reason: "not valid YAML: \(error)")
        }
    }

    /// The line of the second `key:` of a block mapping that starts at `line`/`column`. Yams
    /// reports a duplicate key at the start of its mapping; the author wants the line to delete.
    /// `nil` for flow-style mappings and anything this simple scan cannot follow.
    static func secondOccurrence(of key: String, mappingAt line: Int, column: Int, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = column - 1
        var found = 0
        for number in max(line, 1)...max(line, lines.count) where number <= lines.count {
            let characters = Array(lines[number - 1])
            let content = characters.firstIndex { !$0.isWhitespace }
            guard let content, characters[content] != "#" else { continue }
            // On the first line the mapping may follow "- "; after it, less indentation ends it.
            if number > line, content < indent { return nil }
            guard characters.count > indent, content <= indent else { continue }
            let rest = String(characters[indent...])
            if [key + ":", "\"\(key)\":", "'\(key)':"].contains(where: { rest.hasPrefix($0) }) || rest.hasPrefix(key + " :") {
                found += 1
                if found == 2 { return number }
            }
        }
        return nil
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }

    /// An error at `node`'s line.
    public func error(_ node: Node?, _ reason: String) -> FileError {
        FileError(file: path, line: node?.mark?.line, reason: reason)
    }

    /// The ordered pairs of a mapping node, or an error naming `what`.
    public func mapping(_ node: Node, _ what: String) throws(FileError) -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let mapping) = node else { throw error(node, "\(what) must be a mapping") }
        var pairs: [(key: String, keyNode: Node, value: Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error(key, "keys in \(what) must be plain strings") }
            pairs.append((scalar.string, key, value))
        }
        return pairs
    }

    /// The items of a sequence node, or an error naming `what`.
    public func sequence(_ node: Node, _ what: String) throws(FileError) -> [Node] {
        guard case .sequence(let sequence) = node else { throw error(node, "\(what) must be a list") }
        return Array(sequence)
    }

    /// A scalar's text (not a plain `null`), or an error naming `what`.
    public func string(_ node: Node, _ what: String) throws(FileError) -> String {
        guard case .scalar(let scalar) = node, node.tag != Tag(.null) || scalar.style != .plain else {
            throw error(node, "\(what) must be a string")
        }
        return scalar.string
    }

    /// A boolean scalar, or an error naming `what`.
    public func bool(_ node: Node, _ what: String) throws(FileError) -> Bool {
        guard let value = node.bool else { throw error(node, "\(what) must be true or false") }
        return value
    }

    /// A whole-number scalar, or an error naming `what`.
    public func int(_ node: Node, _ what: String) throws(FileError) -> Int {
        guard let value = node.int else { throw error(node, "\(what) must be a whole number") }
        return value
    }

    /// A literal value: scalars by their resolved YAML type, mappings and lists recursively.
    public func json(_ node: Node) -> JSON {
        switch node {
        case .scalar(let scalar):
            // By the resolved tag, so a quoted "5" or an explicit `!!str 5` stays a string.
            switch node.tag {
            case Tag(.null) where scalar.style == .plain: return .null
            case Tag(.bool) where scalar.style == .plain: return node.bool.map(JSON.bool) ?? .string(scalar.string)
            case Tag(.int) where scalar.style == .plain: return node.int.map { .number(Double($0)) } ?? .string(scalar.string)
            case Tag(.float) where scalar.style == .plain:
                guard let float = node.float, float.isFinite else { return .string(scalar.string) }
                return .number(float)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping { object[key.string ?? ""] = json(value) }
            return .object(object)
        case .sequence(let sequence):
            return .array(sequence.map { json($0) })
        case .alias:
            return .null
        }
    }
}
