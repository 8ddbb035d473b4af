import HeraldCore

/// One line of the explanation of a failed check, as a diff: what the playbook expected (`-`),
/// what Herald produced (`+`), and what agreed (no sign), under headings per output.
public enum DiffLine: Sendable, Hashable {
    /// `output 2:`: which output the lines below are about.
    case heading(String)
    /// A check that held, for orientation.
    case same(String)
    /// What the playbook expected (and did not get).
    case expected(String)
    /// What Herald produced instead.
    case got(String)
    /// A hint on the difference.
    case note(String)

    /// The line as printed: `- ` expected, `+ ` got, two spaces for the rest; headings flush.
    public var rendered: String {
        switch self {
        case .heading(let text): text
        case .same(let text): "  " + text
        case .expected(let text): "- " + text
        case .got(let text): "+ " + text
        case .note(let text): "  (" + text + ")"
        }
    }
}

/// The verdict of one check: `nil` when it held, else a headline and the diff.
public struct CheckFailure: Sendable, Hashable {
    /// What went wrong, in one line, saying how to read the diff.
    public var headline: String
    public var diff: [DiffLine]
}

/// One field an expectation looked at, both ways round.
struct FieldComparison: Hashable {
    var holds: Bool
    var expected: String
    var got: String
    var note: String?

    var lines: [DiffLine] {
        guard !holds else { return [.same(expected)] }
        return [.expected(expected), .got(got)] + (note.map { [.note($0)] } ?? [])
    }
}

extension OutputExpectation {
    /// Every check against `output`, in the order written.
    func compare(_ output: ObservedOutput) -> [FieldComparison] {
        checks.flatMap { $0.compare(output) }
    }

    func matches(_ output: ObservedOutput) -> Bool {
        compare(output).allSatisfy(\.holds)
    }

    /// What the playbook asked for, one line per check.
    var expectedLines: [DiffLine] {
        checks.isEmpty ? [.expected("any output")] : checks.map { .expected($0.expectedText) }
    }
}

extension OutputCheck {
    /// The check as the diff shows it on the expected side.
    var expectedText: String {
        switch self {
        case .text(let text): "text: " + describe(text)
        case .contains(let part): "text contains: " + JSON.string(part).jsonString
        case .matches(let pattern): "text matches: /" + pattern.source + "/"
        case .data(let data): "data: " + data.jsonString
        case .rich(let key, let value): "\(key): " + value.jsonString
        case .type(let type): "type: " + type.rawValue
        case .source(let source): "source: " + source.rawValue
        }
    }

    func compare(_ output: ObservedOutput) -> [FieldComparison] {
        let gotText = "text: " + describe(output.text)
        switch self {
        case .text(let text):
            return [FieldComparison(holds: output.text == text, expected: expectedText, got: gotText)]
        case .contains(let part):
            return [FieldComparison(holds: output.text?.contains(part) ?? false, expected: expectedText, got: gotText)]
        case .matches(let pattern):
            let found = output.text.map { (try? pattern.regex.firstMatch(in: $0)) != nil } ?? false
            return [FieldComparison(holds: found, expected: expectedText, got: gotText)]
        case .data(let data):
            return compareSubset(data, output.data, path: "data")
        case .rich(let key, let value):
            return compareSubset(value, output.rich[key], path: key)
        case .type(let type):
            return [FieldComparison(holds: output.type == type, expected: expectedText, got: "type: " + output.type.rawValue)]
        case .source(let source):
            let got = "source: " + (output.source?.rawValue ?? "(none: a notify has no source)")
            return [FieldComparison(holds: output.source == source, expected: expectedText, got: got)]
        }
    }
}

/// `"text"` as JSON, or `(none)`.
func describe(_ text: String?) -> String {
    text.map { JSON.string($0).jsonString } ?? "(none)"
}

/// Compares `actual` with `expected` the way `data:` and `context:` do, leaf by leaf under
/// `path`: an object needs the expected keys (others may be there), a list as many elements,
/// each matching, and any other value must be equal; an expected `null` also accepts a missing
/// value.
func compareSubset(_ expected: JSON, _ actual: JSON?, path: String) -> [FieldComparison] {
    let got = path + ": " + (actual?.jsonString ?? "(missing)")
    switch expected {
    case .object(let object) where !object.isEmpty:
        if let actual, actual.objectValue == nil, !actual.isNull {
            return [
                FieldComparison(
                    holds: false, expected: path + ": " + expected.jsonString, got: got, note: "expected an object, got a \(actual.typeName)")
            ]
        }
        return object.flatMap { key, value in compareSubset(value, actual?[key], path: path + "." + key) }
    case .object:
        return [FieldComparison(holds: actual?.objectValue != nil, expected: path + ": {}", got: got)]
    case .array(let elements):
        guard let actualElements = actual?.arrayValue, actualElements.count == elements.count else {
            let note = actual?.arrayValue.map { "expected \(elements.count) element\(elements.count == 1 ? "" : "s"), got \($0.count)" }
            return [FieldComparison(holds: false, expected: path + ": " + expected.jsonString, got: got, note: note)]
        }
        return zip(elements, actualElements).enumerated().flatMap { index, pair in compareSubset(pair.0, pair.1, path: "\(path).\(index)") }
    default:
        let holds = expected.isNull ? (actual ?? .null).isNull : actual == expected
        return [FieldComparison(holds: holds, expected: path + ": " + expected.jsonString, got: got, note: holds ? nil : typeHint(expected, actual))]
    }
}

/// The classic YAML slip: `orderId: 123456` is a number, and the flow stored the text "123456".
private func typeHint(_ expected: JSON, _ actual: JSON?) -> String? {
    switch (expected, actual) {
    case (.number, .string(let text)) where JSON.number(Double(text) ?? .nan) == expected:
        return "the playbook has a number and Herald a string: quote it in YAML to expect the string, like \"\(text)\""
    case (.string(let text), .number) where Double(text).map(JSON.number) == actual:
        return "the playbook has a string and Herald a number: write it without quotes to expect the number"
    default:
        return nil
    }
}

extension ObservedOutput {
    /// The output as the diff shows it on the got side.
    var lines: [DiffLine] {
        var lines: [DiffLine] = []
        if type != .output { lines.append(.got("type: " + type.rawValue)) }
        lines.append(.got("text: " + describe(text)))
        if let data { lines.append(.got("data: " + data.jsonString)) }
        for (key, value) in rich { lines.append(.got("\(key): " + value.jsonString)) }
        return lines
    }
}

extension OutputsExpectation {
    /// `nil` when the outputs are as expected.
    func check(_ outputs: [ObservedOutput]) -> CheckFailure? {
        switch self {
        case .nothing:
            guard !outputs.isEmpty else { return nil }
            return CheckFailure(
                headline: "expected no output, got \(count(outputs.count, "output")) (+ got)",
                diff: outputs.enumerated().flatMap { index, output in [.heading("output \(index + 1):")] + output.lines })
        case .some(let expectation):
            guard !outputs.contains(where: expectation.matches) else { return nil }
            guard !outputs.isEmpty else {
                return CheckFailure(headline: "expected an output, got none (- expected)", diff: expectation.expectedLines)
            }
            let headline =
                outputs.count == 1
                ? "the output does not match (- expected, + got)"
                : "none of the \(outputs.count) outputs matches (- expected, + got)"
            return CheckFailure(
                headline: headline,
                diff: outputs.enumerated().flatMap { index, output in
                    [.heading("output \(index + 1):")] + expectation.compare(output).flatMap(\.lines)
                })
        case .exactly(let expectations):
            let pairs = align(expectations, outputs)
            guard expectations.count != outputs.count || pairs.contains(where: { !$0.holds }) else { return nil }
            let headline: String
            if expectations.count != outputs.count {
                headline = "expected \(count(expectations.count, "output")), got \(outputs.count) (- expected, + got)"
            } else if outputs.count == 1 {
                headline = "the output does not match (- expected, + got)"
            } else {
                headline = "the outputs do not match (- expected, + got)"
            }
            return CheckFailure(headline: headline, diff: pairs.flatMap(\.lines))
        }
    }

    /// Pairs expectations with outputs: the longest run that matches in order stays paired, and
    /// what lies between two matched pairs is paired by position, so one extra or missing output
    /// shows as just that instead of shifting every later comparison.
    private func align(_ expectations: [OutputExpectation], _ outputs: [ObservedOutput]) -> [AlignedOutput] {
        let matches = expectations.map { expectation in outputs.map(expectation.matches) }
        // Longest common subsequence over "matches".
        var table = Array(repeating: Array(repeating: 0, count: outputs.count + 1), count: expectations.count + 1)
        for i in stride(from: expectations.count - 1, through: 0, by: -1) {
            for j in stride(from: outputs.count - 1, through: 0, by: -1) {
                table[i][j] = matches[i][j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var aligned: [AlignedOutput] = []
        var pendingExpected: [Int] = []
        var pendingOutputs: [Int] = []
        func flush() {
            for k in 0..<max(pendingExpected.count, pendingOutputs.count) {
                let e = k < pendingExpected.count ? pendingExpected[k] : nil
                let o = k < pendingOutputs.count ? pendingOutputs[k] : nil
                aligned.append(
                    AlignedOutput(
                        number: o.map { $0 + 1 }, expectedNumber: e.map { $0 + 1 }, expectation: e.map { expectations[$0] },
                        output: o.map { outputs[$0] }))
            }
            pendingExpected.removeAll()
            pendingOutputs.removeAll()
        }
        var i = 0
        var j = 0
        while i < expectations.count || j < outputs.count {
            if i < expectations.count, j < outputs.count, matches[i][j], table[i][j] == table[i + 1][j + 1] + 1 {
                flush()
                aligned.append(AlignedOutput(number: j + 1, expectedNumber: i + 1, expectation: expectations[i], output: outputs[j]))
                i += 1
                j += 1
            } else if j < outputs.count, i == expectations.count || table[i][j + 1] >= table[i + 1][j] {
                pendingOutputs.append(j)
                j += 1
            } else {
                pendingExpected.append(i)
                i += 1
            }
        }
        flush()
        return aligned
    }
}

/// An expected output and the output it is compared with; either may be missing.
private struct AlignedOutput {
    var number: Int?
    var expectedNumber: Int?
    var expectation: OutputExpectation?
    var output: ObservedOutput?

    var holds: Bool {
        guard let expectation, let output else { return false }
        return expectation.matches(output)
    }

    var lines: [DiffLine] {
        switch (expectation, output) {
        case (let expectation?, let output?):
            return [.heading("output \(number!):")] + expectation.compare(output).flatMap(\.lines)
        case (let expectation?, nil):
            return [.heading("output \(expectedNumber!): missing")] + expectation.expectedLines
        case (nil, let output?):
            return [.heading("output \(number!): not expected")] + output.lines
        case (nil, nil):
            return []
        }
    }
}

extension [ContextExpectation] {
    /// `nil` when the context holds every expected value; `context` is `nil` when there is no
    /// session.
    func check(_ context: JSONObject?) -> CheckFailure? {
        let root = JSON.object(context ?? JSONObject())
        let comparisons = flatMap { expectation in
            compareSubset(expectation.value, root.value(at: expectation.path.map { Substring($0) }), path: expectation.path.joined(separator: "."))
        }
        guard comparisons.contains(where: { !$0.holds }) else { return nil }
        var diff: [DiffLine] = context == nil ? [.note("there is no such session, so its context is empty")] : []
        diff += comparisons.flatMap(\.lines)
        return CheckFailure(headline: "the context does not match (- expected, + got)", diff: diff)
    }
}

/// `1 output`, `2 outputs`.
func count(_ number: Int, _ noun: String) -> String {
    "\(number) \(noun)\(number == 1 ? "" : "s")"
}
