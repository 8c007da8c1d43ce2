import CocoonCore
import CocoonMath
import CocoonMetrics
import Foundation

/// A parameter sweep: a scenario run at every point of a grid of `--set` values.
public struct Sweep: Sendable {
    /// The grid: key path and its values, in order.
    public let grid: [(key: String, values: [String])]
    /// Every point (one value per grid key), in row-major order of the grid.
    public let points: [[String]]

    /// Parses `KEY=V1,V2,…` arguments.
    ///
    /// - Throws: ``ScenarioError`` for a malformed argument.
    public init(arguments: [String]) throws {
        var grid: [(String, [String])] = []
        for a in arguments {
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex else {
                throw ScenarioError(file: "--grid \(a)", line: 0, column: 0, path: "", message: "expected KEY=V1,V2,…, e.g. --grid recommender.beta=0,1,2")
            }
            let values = Sweep.splitTopLevel(a[a.index(after: eq)...]).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !values.contains(where: \.isEmpty) else {
                throw ScenarioError(file: "--grid \(a)", line: 0, column: 0, path: String(a[..<eq]), message: "empty value in the list")
            }
            grid.append((String(a[..<eq]), values))
        }
        self.grid = grid
        var pts: [[String]] = [[]]
        for (_, values) in grid { pts = pts.flatMap { p in values.map { p + [$0] } } }
        points = pts
    }

    /// Splits a value list at the commas outside brackets and quotes, so a point may be a YAML
    /// flow mapping or list: `recommender={kind: mf, retrainEvery: 0},{kind: random}`.
    static func splitTopLevel(_ text: Substring) -> [String] {
        var out: [String] = []
        var current = ""
        var depth = 0
        var quote: Character? = nil
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "{" || ch == "[" {
                depth += 1
            } else if ch == "}" || ch == "]" {
                depth -= 1
            } else if ch == "," && depth == 0 {
                out.append(current)
                current = ""
                continue
            }
            current.append(ch)
        }
        out.append(current)
        return out
    }

    /// The overrides of point `p`.
    public func overrides(_ p: Int) -> [String] {
        zip(grid, points[p]).map { "\($0.0.key)=\($0.1)" }
    }
}

/// The result of one grid point.
public struct SweepPoint: Sendable {
    public let index: Int
    public let values: [String]
    public let report: RunReport?
    public let error: String?
}

/// Runs a sweep: grid points in parallel (one worker thread each), results in grid order.
public enum SweepRunner {
    /// Runs every point; each point's replicates run in sequence.
    ///
    /// - Parameters:
    ///   - seeds: replicates per point (nil: the scenario's).
    ///   - threads: points run at once.
    public static func run(file: String, sweep: Sweep, baseOverrides: [String], seeds: Int?, threads: Int,
                           options: RunOptions, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> [SweepPoint] {
        // Validate every point before running any.
        var scenarios: [(Scenario, String, [String])] = []
        for p in sweep.points.indices {
            var o = baseOverrides + sweep.overrides(p)
            if let s = seeds { o.append("replicates=\(s)") }
            let (s, text) = try Scenario.load(file, overrides: o)
            scenarios.append((s, text, o))
        }
        let executor = BlockExecutor(workers: threads)
        let prepared = scenarios
        let total = sweep.points.count
        let results = executor.map(blockCount: total) { p, _ -> SweepPoint in
            var o = options
            o.threads = 1
            o.progress = nil
            let (s, text, overrides) = prepared[p]
            let point: SweepPoint
            do {
                let r = try ScenarioRunner.run(s, file: file, text: text, overrides: overrides, options: o)
                point = SweepPoint(index: p, values: sweep.points[p], report: r, error: nil)
            } catch {
                point = SweepPoint(index: p, values: sweep.points[p], report: nil, error: "\(error)")
            }
            progress?(p, total)
            return point
        }
        return results
    }

    /// The tidy table: one row per point × replicate × metric × group (final value), and one
    /// row per point × check (observed value over all replicates, verdict).
    public static func csv(_ points: [SweepPoint], sweep: Sweep) -> String {
        var s = "point," + sweep.grid.map { csvField($0.key) }.joined(separator: ",") + ",replicate,seed,kind,name,group,value,verdict\n"
        for p in points {
            let prefix = "\(p.index)," + p.values.map(csvField).joined(separator: ",")
            guard let r = p.report else {
                s += "\(prefix),,,error,\(csvField(p.error ?? "")),,,ERROR\n"
                continue
            }
            for (j, rep) in r.replicates.enumerated() {
                let rec = rep.recorder
                for (m, id) in rec.metricIDs.enumerated() {
                    for (g, group) in rec.groups.enumerated() {
                        guard let v = rec.series[m][g].last(where: { $0 != nil }) ?? nil else { continue }
                        s += "\(prefix),\(j),\(rep.seed),metric,\(id),\(group.name),\(v),\n"
                    }
                }
            }
            for c in r.scorecard.checks {
                s += "\(prefix),all,,check,\(csvField(c.spec.id)),\(c.spec.group),\(c.observed.map { "\($0)" } ?? ""),\(c.verdict.rawValue)\n"
            }
        }
        return s
    }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
