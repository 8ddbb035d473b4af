/// What `herald test` prints: a line per conversation (`PASS` / `FAIL`), under each failure
/// the step, what went wrong and the diff, and at the end `N passed, N failed`.
///
/// ```
/// examples/playbooks/echo.yaml (endpoint demo)
///   PASS  says back what the user said
///   FAIL  passes the data through
///         step 2 (examples/playbooks/echo.yaml:14): user "hi"
///         the output does not match (- expected, + got):
///           output 1:
///           - text: "You said: hello"
///           + text: "You said: hi"
///
/// 1 passed, 1 failed (0.02s)
/// ```
public enum ConsoleReport {
    /// The lines for one playbook.
    public static func lines(for result: PlaybookResult) -> [String] {
        guard result.errors.isEmpty else {
            return ["\(result.file): cannot be read"] + result.errors.map { "  " + $0 }
        }
        var lines = ["\(result.file)" + (result.urlToken.map { " (endpoint \($0))" } ?? "")]
        // Herald unreachable, or without the endpoint: one reason, said once.
        let reasons = Set(result.conversations.map { $0.failure?.step == nil ? $0.failure?.headline : nil })
        if result.conversations.count > 1, reasons.count == 1, let reason = reasons.first ?? nil {
            return lines + ["  cannot run: \(reason)"] + result.conversations.map { "  FAIL  \($0.name)" }
        }
        for conversation in result.conversations {
            if let reason = conversation.skipped {
                lines.append("  SKIP  \(conversation.name) (\(reason))")
                continue
            }
            guard let failure = conversation.failure else {
                lines.append("  PASS  \(conversation.name)")
                continue
            }
            lines.append("  FAIL  \(conversation.name)")
            lines += failure.lines(file: result.file).map { "        " + $0 }
        }
        return lines
    }

    /// `3 passed, 1 failed (0.42s)`.
    public static func summary(_ results: [PlaybookResult], duration: Duration) -> String {
        let passed = results.reduce(0) { $0 + $1.passed }
        let failed = results.reduce(0) { $0 + $1.failed }
        let skipped = results.reduce(0) { $0 + $1.skipped }
        return "\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : "") + " (\(seconds(duration, digits: 2))s)"
    }

    /// The whole report: every playbook, a blank line, the summary.
    public static func render(_ results: [PlaybookResult], duration: Duration) -> String {
        (results.flatMap(lines(for:)) + ["", summary(results, duration: duration)]).joined(separator: "\n")
    }
}

extension StepFailure {
    /// Where, what went wrong, and the diff indented under it.
    public func lines(file: String) -> [String] {
        [location(file: file), diff.isEmpty ? headline : headline + ":"] + diff.map { "  " + $0.rendered }
    }

    /// ``lines(file:)`` as one text.
    public func report(file: String) -> String {
        lines(file: file).joined(separator: "\n")
    }
}

/// `1.234` for a duration, with `digits` decimals.
func seconds(_ duration: Duration, digits: Int) -> String {
    let components = duration.components
    let value = Double(components.seconds) + Double(components.attoseconds) / 1e18
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = Int((value * scale).rounded())
    let whole = rounded / Int(scale)
    let fraction = String(rounded % Int(scale))
    return digits == 0 ? "\(whole)" : "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}
