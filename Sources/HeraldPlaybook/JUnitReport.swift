/// The results as JUnit XML (`herald test --junit FILE`), the format CI systems read: one
/// `<testsuite>` per playbook file, one `<testcase>` per conversation. A check that did not hold
/// is a `<failure>`, a step that could not run (Herald refused it or was unreachable) or an
/// unreadable playbook an `<error>`; either carries the headline as `message` and the whole
/// explanation, diff included, as its text.
public enum JUnitReport {
    /// The XML document, `duration` being the whole run's.
    public static func xml(_ results: [PlaybookResult], duration: Duration) -> String {
        let cases = results.reduce(0) { $0 + max($1.conversations.count, $1.errors.isEmpty ? 0 : 1) }
        let failures = results.reduce(0) { $0 + $1.conversations.count { $0.failure?.kind == .mismatch } }
        let errors = results.reduce(0) { $0 + errorCount($1) }
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml +=
            #"<testsuites name="herald test" tests="\#(cases)" failures="\#(failures)" errors="\#(errors)" time="\#(seconds(duration, digits: 3))">"#
        xml += "\n"
        for result in results { xml += suite(result) }
        xml += "</testsuites>\n"
        return xml
    }

    private static func errorCount(_ result: PlaybookResult) -> Int {
        result.conversations.count { $0.failure?.kind == .error } + (result.errors.isEmpty ? 0 : 1)
    }

    private static func suite(_ result: PlaybookResult) -> String {
        let className = escape(result.name)
        guard result.errors.isEmpty else {
            let message = escape(result.errors.first ?? "")
            return """
                  <testsuite name="\(escape(result.file))" tests="1" failures="0" errors="1" time="0.000">
                    <testcase name="read playbook" classname="\(className)" time="0.000">
                      <error message="\(message)" type="playbook">\(escape(result.errors.joined(separator: "\n"), attribute: false))</error>
                    </testcase>
                  </testsuite>

                """
        }
        let failures = result.conversations.count { $0.failure?.kind == .mismatch }
        var xml =
            #"  <testsuite name="\#(escape(result.file))" tests="\#(result.conversations.count)" failures="\#(failures)" errors="\#(errorCount(result))" skipped="\#(result.skipped)" time="\#(seconds(result.duration, digits: 3))">"#
            + "\n"
        for conversation in result.conversations {
            let head =
                #"    <testcase name="\#(escape(conversation.name))" classname="\#(className)" time="\#(seconds(conversation.duration, digits: 3))""#
            if let reason = conversation.skipped {
                xml += head + ">\n" + #"      <skipped message="\#(escape(reason))"/>"# + "\n    </testcase>\n"
                continue
            }
            guard let failure = conversation.failure else {
                xml += head + "/>\n"
                continue
            }
            let element = failure.kind == .mismatch ? "failure" : "error"
            let message = escape(failure.location(file: result.file) + ": " + failure.headline)
            xml += head + ">\n"
            xml += #"      <\#(element) message="\#(message)" type="\#(failure.kind.rawValue)">"#
            xml += escape(failure.report(file: result.file), attribute: false) + "</\(element)>\n"
            xml += "    </testcase>\n"
        }
        xml += "  </testsuite>\n"
        return xml
    }

    /// Text for XML attribute values (and, with `attribute: false`, element content): `&`, `<`,
    /// `>` (and in attributes `"`) as entities, line breaks in attributes as character
    /// references so they survive attribute normalisation, and characters XML 1.0 cannot carry
    /// dropped.
    static func escape(_ text: String, attribute: Bool = true) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"" where attribute: escaped += "&quot;"
            case "\n", "\t", "\r":
                if attribute { escaped += "&#\(scalar.value);" } else { escaped.unicodeScalars.append(scalar) }
            default:
                let value = scalar.value
                let allowed = value >= 0x20 && !(0xD800...0xDFFF).contains(value) && value != 0xFFFE && value != 0xFFFF
                if allowed { escaped.unicodeScalars.append(scalar) }
            }
        }
        return escaped
    }
}
