import CocoonCore
import CocoonMetrics

/// `junit.xml`: one `<testsuite>` per scenario, one `<testcase>` per check. A FAIL carries a
/// `<failure>` with the figures (observed, interval, rule, baselines); NOT APPLICABLE is
/// `<skipped>`; an aborted run adds an `<error>` test case `run` with the step and message.
public enum JUnitReport {
    /// One scenario's report.
    public static func render(_ card: Scorecard) -> String {
        let s = suite(card)
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cocoon\" tests=\"\(s.tests)\" failures=\"\(s.failures)\" errors=\"\(s.errors)\" skipped=\"\(s.skipped)\">\n" + s.xml + "</testsuites>\n"
    }

    /// A suite's report: every scenario's test suite, and an error suite for each scenario
    /// that could not run.
    public static func render(suite cards: [(name: String, card: Scorecard?, error: String?)]) -> String {
        var body = ""
        var tests = 0, failures = 0, errors = 0, skipped = 0
        for c in cards {
            if let card = c.card {
                let s = suite(card)
                body += s.xml
                tests += s.tests
                failures += s.failures
                errors += s.errors
                skipped += s.skipped
            } else {
                let msg = c.error ?? "the scenario did not run"
                body += "  <testsuite name=\"\(attr(c.name))\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n"
                body += "    <testcase classname=\"cocoon.\(attr(c.name))\" name=\"run\"><error message=\"\(attr(msg))\" type=\"ERROR\">\(text(msg))</error></testcase>\n  </testsuite>\n"
                tests += 1
                errors += 1
            }
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cocoon\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\">\n" + body + "</testsuites>\n"
    }

    static func suite(_ card: Scorecard) -> (xml: String, tests: Int, failures: Int, errors: Int, skipped: Int) {
        let name = card.scenario.name
        let counts = card.counts
        let errors = card.aborted == nil ? 0 : 1
        let tests = card.checks.count + errors
        var x = "  <testsuite name=\"\(attr(name))\" tests=\"\(tests)\" failures=\"\(counts.fail)\" errors=\"\(errors)\" skipped=\"\(counts.notApplicable)\">\n"
        x += "    <properties>\n"
        let props: [(String, String)] = [
            ("recommender", card.recommender), ("seeds", card.seeds.map(String.init).joined(separator: " ")),
            ("users", String(card.users)), ("steps", String(card.steps)), ("clause", card.scenario.clause),
            ("clause_en", card.scenario.clauseEnglish), ("scenario_sha256", card.scenario.sha256),
        ]
        for (k, v) in props { x += "      <property name=\"\(k)\" value=\"\(attr(v))\"/>\n" }
        x += "    </properties>\n"
        for r in card.checks {
            x += "    <testcase classname=\"cocoon.\(attr(name))\" name=\"\(attr(r.spec.id + ": " + r.spec.name))\">"
            switch r.verdict {
            case .pass:
                x += "<system-out>\(text(figures(r)))</system-out>"
            case .fail:
                let obs = r.observed.map { Format.short($0) } ?? "—"
                x += "<failure message=\"\(attr("observed \(obs), rule \(r.spec.ruleText)"))\" type=\"FAIL\">\(text(figures(r)))</failure>"
            case .notApplicable:
                x += "<skipped message=\"\(attr("not applicable: " + (r.note ?? "")))\"/>"
            }
            x += "</testcase>\n"
        }
        if let a = card.aborted {
            x += "    <testcase classname=\"cocoon.\(attr(name))\" name=\"run\"><error message=\"\(attr("aborted at step \(a.step): \(a.message)"))\" type=\"ABORTED\">\(text(a.message))</error></testcase>\n"
        }
        x += "  </testsuite>\n"
        return (x, tests, counts.fail, errors, counts.notApplicable)
    }

    /// The figures of a check as readable lines.
    static func figures(_ r: CheckResult) -> String {
        var lines = [
            "verdict: \(r.verdict.rawValue)",
            "clause: \(r.clause)" + (r.clauseEnglish.isEmpty ? "" : " / \(r.clauseEnglish)"),
            "rule: \(HTMLReport.ruleDescription(r))",
            "observed: \(r.observed.map { Format.number($0) } ?? "undefined")",
        ]
        if let ci = r.interval { lines.append("95% interval: [\(Format.number(ci.lower)), \(Format.number(ci.upper))]") }
        if let d = r.decisive { lines.append("decided on: \(Format.number(d))") }
        lines.append("samples: \(r.samples) (\(HTMLReport.scope(r.spec)))")
        for b in r.baselines { lines.append("baseline \(b.name): \(b.value.map { Format.number($0) } ?? "undefined")") }
        if let n = r.note { lines.append("note: \(n)") }
        return lines.joined(separator: "\n")
    }

    /// Escapes an attribute value (line breaks kept as character references).
    static func attr(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            case "\t": out += "&#9;"
            default:
                // XML 1.0 forbids most control characters, even escaped.
                if u.value < 0x20 { out += "?" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }

    /// Escapes element text.
    static func text(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\n", "\t", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 { out += "?" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
