import CocoonCore
import CocoonMetrics
import Foundation

/// A regression comparison of two scorecards (`cocoon compare`): every metric's final value
/// for one group, and every check's observed value and verdict.
///
/// A metric regresses when it moves in its worse direction (``MetricCatalog/direction(of:)``)
/// by more than its tolerance, relative to the baseline value (absolute when the baseline is
/// 0). A check regresses when it passed in the baseline and does not pass in the candidate.
/// Neutral metrics are reported as `changed`, never as a regression.
public struct Comparison: Sendable {
    /// One row of the table.
    public struct Row: Sendable, Equatable {
        public enum Verdict: String, Sendable {
            case same = "same"
            case improved = "improved"
            case changed = "changed"
            case regression = "REGRESSION"
            case missing = "missing"
        }
        /// `metric[group]` or `check:ID`.
        public let key: String
        public let baseline: Double?
        public let candidate: Double?
        /// Relative change (absolute when the baseline is 0).
        public let change: Double?
        public let tolerance: Double
        public let verdict: Verdict
        /// Extra text (a check's verdicts).
        public let detail: String
    }

    public let baselineName: String
    public let candidateName: String
    public let rows: [Row]
    /// Warnings (different scenarios, seeds, …).
    public let warnings: [String]

    public var regressions: [Row] { rows.filter { $0.verdict == .regression } }

    /// The default relative tolerance (10%, the S04 regression rule).
    public static let defaultTolerance = 0.10

    /// A scorecard that cannot be compared.
    public struct InputError: Error, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "\(file): \(message)" }
    }

    /// Reads a scorecard file.
    public static func load(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(file: path, message: "cannot read the file (does it exist?)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw InputError(file: path, message: "not valid JSON: \(error)")
        }
        guard json["schema"]?.string == Scorecard.schema else {
            throw InputError(file: path, message: "not a Cocoon scorecard (expected \"schema\": \"\(Scorecard.schema)\"); pass the scorecard.json of a run")
        }
        return json
    }

    /// Parses `METRIC=REL` tolerances (`*=REL` sets the default).
    public static func parseTolerances(_ args: [String]) throws -> (byKey: [String: Double], fallback: Double) {
        var out: [String: Double] = [:]
        var fallback = defaultTolerance
        for a in args {
            let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let v = Double(parts[1]), v >= 0, v.isFinite else {
                throw InputError(file: "--tolerance", message: "'\(a)' is not METRIC=REL with REL ≥ 0 (e.g. gini_exposure=0.05, check:S04-jaccard=0, *=0.1)")
            }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if key == "*" { fallback = v } else { out[key] = v }
        }
        return (out, fallback)
    }

    /// Compares two parsed scorecards.
    public static func compare(baseline b: JSONValue, candidate c: JSONValue, group: String = "population",
                               tolerances: [String: Double] = [:], fallback: Double = defaultTolerance) -> Comparison
    {
        var rows: [Row] = []
        var warnings: [String] = []
        let bName = b["scenario"]?["name"]?.string ?? "?"
        let cName = c["scenario"]?["name"]?.string ?? "?"
        if bName != cName { warnings.append("different scenarios: baseline '\(bName)', candidate '\(cName)'") }
        if b["scenario"]?["sha256"]?.string != c["scenario"]?["sha256"]?.string {
            warnings.append("the scenario files differ (sha256); the comparison may mix setups")
        }
        if b["seeds"] != c["seeds"] { warnings.append("different seeds: differences include seed noise") }
        for (name, card) in [("baseline", b), ("candidate", c)] where card["status"]?.string == "aborted" {
            warnings.append("the \(name) run was aborted: \(card["error"]?["message"]?.string ?? "")")
        }
        func tol(_ metric: String, _ key: String) -> Double { tolerances[key] ?? tolerances[metric] ?? fallback }
        // Metrics.
        var metricIDs: [String] = []
        for card in [b, c] {
            if case .object(let pairs)? = card["metrics"] { for (k, _) in pairs where !metricIDs.contains(k) { metricIDs.append(k) } }
        }
        for m in metricIDs {
            let key = "\(m)[\(group)]"
            let bv = b["metrics"]?[m]?[group]?["final"]?.double
            let cv = c["metrics"]?[m]?[group]?["final"]?.double
            let t = tol(m, key)
            guard let bv, let cv else {
                if bv != nil || cv != nil {
                    rows.append(Row(key: key, baseline: bv, candidate: cv, change: nil, tolerance: t, verdict: .missing,
                                    detail: bv == nil ? "not in the baseline" : "not in the candidate"))
                }
                continue
            }
            let change = bv == 0 ? cv - bv : (cv - bv) / abs(bv)
            let verdict: Row.Verdict
            switch MetricCatalog.direction(of: m) {
            case .higher: verdict = change < -t ? .regression : change > t ? .improved : .same
            case .lower: verdict = change > t ? .regression : change < -t ? .improved : .same
            case .neutral: verdict = abs(change) > t ? .changed : .same
            }
            rows.append(Row(key: key, baseline: bv, candidate: cv, change: change, tolerance: t, verdict: verdict,
                            detail: MetricCatalog.direction(of: m) == .neutral ? "" : "\(MetricCatalog.direction(of: m).rawValue) is better"))
        }
        // Checks.
        var checks: [(String, JSONValue?, JSONValue?)] = []
        if case .array(let a)? = b["checks"] { for x in a { checks.append((x["id"]?.string ?? "?", x, nil)) } }
        if case .array(let a)? = c["checks"] {
            for x in a {
                let id = x["id"]?.string ?? "?"
                if let i = checks.firstIndex(where: { $0.0 == id }) { checks[i].2 = x } else { checks.append((id, nil, x)) }
            }
        }
        for (id, bc, cc) in checks {
            let key = "check:\(id)"
            let t = tolerances[key] ?? 0
            let bv = bc?["observed"]?.double, cv = cc?["observed"]?.double
            let bVerdict = bc?["verdict"]?.string ?? "—", cVerdict = cc?["verdict"]?.string ?? "—"
            let change = (bv != nil && cv != nil) ? (bv! == 0 ? cv! - bv! : (cv! - bv!) / abs(bv!)) : nil
            let verdict: Row.Verdict
            if bc == nil || cc == nil {
                verdict = .missing
            } else if bVerdict == "PASS" && cVerdict != "PASS" {
                verdict = .regression
            } else if bVerdict != "PASS" && cVerdict == "PASS" {
                verdict = .improved
            } else {
                verdict = (change.map { abs($0) > t } ?? false) ? .changed : .same
            }
            rows.append(Row(key: key, baseline: bv, candidate: cv, change: change, tolerance: t, verdict: verdict,
                            detail: "\(bVerdict) → \(cVerdict)"))
        }
        return Comparison(baselineName: bName, candidateName: cName, rows: rows, warnings: warnings)
    }

    /// The table as aligned text (or Markdown).
    public func table(markdown: Bool = false) -> String {
        func pct(_ v: Double?) -> String {
            guard let v else { return "—" }
            return (v >= 0 ? "+" : "") + String(format: "%.1f%%", v * 100)
        }
        var cells: [[String]] = [["metric", "baseline", "candidate", "change", "tolerance", "verdict", ""]]
        for r in rows {
            cells.append([
                r.key, r.baseline.map { Format.short($0) } ?? "—", r.candidate.map { Format.short($0) } ?? "—", pct(r.change),
                String(format: "%.0f%%", r.tolerance * 100), r.verdict.rawValue, r.detail,
            ])
        }
        var out: [String]
        if markdown {
            out = cells.enumerated().map { i, row in "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
            out.insert("| --- | ---: | ---: | ---: | ---: | --- | --- |", at: 1)
        } else {
            let widths = (0..<7).map { col in cells.map { $0[col].count }.max() ?? 0 }
            out = cells.map { row in (0..<7).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
                .map { String($0.reversed().drop { $0 == " " }.reversed()) }
        }
        let n = regressions.count
        out.append("")
        out.append(n == 0 ? "no regression beyond tolerance (\(rows.count) rows)" : "\(n) regression\(n == 1 ? "" : "s") beyond tolerance: " + regressions.map(\.key).joined(separator: ", "))
        return out.joined(separator: "\n")
    }
}
