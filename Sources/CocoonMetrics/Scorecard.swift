import CocoonCore
import Foundation

/// Treated-vs-twin exposure of the topics marked "not interested" by a twinned intervention:
/// mean impressions of the marked topics per user and step.
public struct SuppressionCurve: Sendable {
    /// The intervention's name and its first step.
    public var intervention: String
    public var start: Int
    /// The steps shown (from ten steps before the intervention to the end).
    public var steps: [Int]
    public var treated: [Double]
    public var twin: [Double]

    public init(intervention: String, start: Int, steps: [Int], treated: [Double], twin: [Double]) {
        self.intervention = intervention
        self.start = start
        self.steps = steps
        self.treated = treated
        self.twin = twin
    }
}

/// The result of a scenario: checks with verdicts, metric series per group, chart data and
/// the context a reader needs. Its JSON form (`scorecard.json`, schema `cocoon.scorecard/1`,
/// docs/scorecard-schema.md) has a stable key order and no wall-clock or thread-count
/// information, so the same scenario and seed give the same bytes.
public struct Scorecard: Sendable {
    public static let schema = "cocoon.scorecard/1"

    /// Where the scenario came from.
    public struct ScenarioInfo: Sendable {
        public var name: String
        public var description: String
        public var clause: String
        /// The clause in English ("" when none is given).
        public var clauseEnglish = ""
        public var file: String
        public var sha256: String
        public init(name: String, description: String, clause: String, file: String, sha256: String) {
            self.name = name
            self.description = description
            self.clause = clause
            self.file = file
            self.sha256 = sha256
        }
    }

    /// A metric's series for one group, summarised over replicates: the mean per step and a
    /// 95% band (mean ± 1.96·sd/√n, with n ≥ 2 replicates).
    public struct SeriesSummary: Sendable {
        public let metric: String
        public let group: String
        public let mean: [Double?]
        public let lower: [Double?]
        public let upper: [Double?]
        public let sampled: Bool
        /// The last defined mean.
        public var final: Double? { mean.last { $0 != nil } ?? nil }
    }

    public var scenario: ScenarioInfo
    public var recommender: String
    public var seeds: [UInt64]
    public var steps: Int
    public var users: Int
    public var items: Int
    public var slateSize: Int
    public var topicNames: [String]
    public var baselines: [String]
    /// nil when complete; otherwise the step and the error that stopped a replicate.
    public var aborted: (step: Int, message: String)?
    public var checks: [CheckResult]
    public var series: [SeriesSummary]
    /// Share of each topic among the population's impressions per step (steps × topics),
    /// averaged over replicates; step 0 has none.
    public var topicExposure: [[Double]]
    /// Lorenz curve of item exposure over the run (first replicate), ≤ 101 points.
    public var lorenz: [(Double, Double)]
    /// Per-user cocoon ratios at the last complete window (all replicates).
    public var cocoonRatios: [Double]
    /// Treated-vs-twin exposure of the marked topics per step (mean impressions per user).
    public var suppression: SuppressionCurve?
    public var notes: [String]

    public init(scenario: ScenarioInfo, recommender: String, seeds: [UInt64], steps: Int, users: Int, items: Int, slateSize: Int,
                topicNames: [String], baselines: [String], aborted: (step: Int, message: String)?, checks: [CheckResult],
                series: [SeriesSummary], topicExposure: [[Double]], lorenz: [(Double, Double)], cocoonRatios: [Double],
                suppression: SuppressionCurve?, notes: [String]) {
        self.scenario = scenario
        self.recommender = recommender
        self.seeds = seeds
        self.steps = steps
        self.users = users
        self.items = items
        self.slateSize = slateSize
        self.topicNames = topicNames
        self.baselines = baselines
        self.aborted = aborted
        self.checks = checks
        self.series = series
        self.topicExposure = topicExposure
        self.lorenz = lorenz
        self.cocoonRatios = cocoonRatios
        self.suppression = suppression
        self.notes = notes
    }

    /// PASS when no check fails (and one passes), FAIL when one fails, NOT APPLICABLE otherwise.
    public var verdict: Verdict {
        if checks.contains(where: { $0.verdict == .fail }) { return .fail }
        if checks.contains(where: { $0.verdict == .pass }) { return .pass }
        return checks.isEmpty ? .pass : .notApplicable
    }

    /// Counts of verdicts.
    public var counts: (pass: Int, fail: Int, notApplicable: Int) {
        (
            checks.filter { $0.verdict == .pass }.count, checks.filter { $0.verdict == .fail }.count,
            checks.filter { $0.verdict == .notApplicable }.count
        )
    }

    /// Summarises replicates into series, chart data and the aborted status.
    public static func summarise(_ replicates: [RunArtifacts]) -> (
        series: [SeriesSummary], topicExposure: [[Double]], lorenz: [(Double, Double)], ratios: [Double],
        suppression: SuppressionCurve?, aborted: (Int, String)?
    ) {
        guard let first = replicates.first, let ctx = first.context else { return ([], [], [], [], nil, nil) }
        let rec = first.recorder
        var series: [SeriesSummary] = []
        for (m, id) in rec.metricIDs.enumerated() {
            for (g, group) in rec.groups.enumerated() {
                let runs = replicates.map { $0.recorder.series[m][g] }
                var mean: [Double?] = []
                var lower: [Double?] = []
                var upper: [Double?] = []
                for t in 0...ctx.steps {
                    let v = runs.compactMap { t < $0.count ? $0[t] : nil }
                    guard !v.isEmpty else {
                        mean.append(nil)
                        lower.append(nil)
                        upper.append(nil)
                        continue
                    }
                    let mu = v.reduce(0, +) / Double(v.count)
                    mean.append(mu)
                    if v.count >= 2 {
                        let sd = (v.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(v.count - 1)).squareRoot()
                        let h = 1.96 * sd / Double(v.count).squareRoot()
                        lower.append(mu - h)
                        upper.append(mu + h)
                    } else {
                        lower.append(nil)
                        upper.append(nil)
                    }
                }
                if mean.allSatisfy({ $0 == nil }) { continue }
                series.append(
                    SeriesSummary(
                        metric: id, group: group.name, mean: mean, lower: lower, upper: upper,
                        sampled: replicates.contains { $0.recorder.sampled.contains(id) }))
            }
        }
        // Topic exposure per step (population).
        let world = ctx.world
        let g = world.catalog.topics.count
        var exposure = [[Double]](repeating: [Double](repeating: 0, count: g), count: ctx.steps + 1)
        for r in replicates {
            let w = r.context.world
            for s in r.snapshots where s.step > 0 {
                var row = [Double](repeating: 0, count: g)
                for (j, u) in s.users.enumerated() where w.users.arm[Int(u)] != .twin {
                    w.catalog.topics.accumulate(items: s.slate(row: j), into: &row)
                }
                let total = row.reduce(0, +)
                if total > 0 { for q in 0..<g { exposure[s.step][q] += row[q] / total / Double(replicates.count) } }
            }
        }
        // Lorenz curve of exposure over the run (first replicate).
        var counts = [Int](repeating: 0, count: world.catalog.count)
        for s in first.snapshots {
            for (j, u) in s.users.enumerated() where world.users.arm[Int(u)] != .twin {
                for i in s.slate(row: j) { counts[Int(i)] += 1 }
            }
        }
        var lorenz: [(Double, Double)] = []
        if let full = ExposureMetrics.lorenz(counts: counts) {
            let stride = max(1, (full.count - 1) / 100)
            for j in Swift.stride(from: 0, to: full.count, by: stride) { lorenz.append(full[j]) }
            if lorenz.last!.0 < 1 { lorenz.append(full.last!) }
        }
        // Cocoon ratios at the last complete window.
        var ratios: [Double] = []
        let w = rec.cocoonWindow
        for r in replicates where r.lastStep >= w {
            let end = (r.lastStep / w) * w
            var spec = CheckSpec(id: "ratio", name: "", figure: "cocoon_ratio")
            spec.from = end - w + 1
            spec.to = end
            if let s = try? Figure.samples(spec, r) { ratios += s.map(\.a) }
        }
        // Treated-vs-twin exposure of marked topics around the first twinned marking intervention.
        var suppression: SuppressionCurve? = nil
        if let iv = world.interventions.first(where: { iv in
            if case .notInterested = iv.action { return iv.twins }
            return false
        }) {
            let steps = Array(max(1, iv.start - 10)...ctx.steps)
            var treated = [Double](repeating: 0, count: steps.count)
            var twin = treated
            var pairs = 0
            for r in replicates {
                let world = r.context.world
                var marked: [Int: Set<Int32>] = [:]
                for s in r.snapshots {
                    for c in s.changes where c.intervention == iv.name {
                        marked[Int(c.user), default: []].insert(c.mark?.topic ?? -1)
                    }
                }
                pairs += marked.count
                for u in marked.keys.sorted() {
                    let topics = marked[u]!
                    let v = Int(world.users.counterpart[u])
                    guard v >= 0 else { continue }
                    for (j, t) in steps.enumerated() where t <= r.lastStep {
                        treated[j] += Double(
                            r.slate(u, at: t)?.filter { topics.contains(world.catalog.topics.primary[Int($0)]) }.count ?? 0)
                        twin[j] += Double(
                            r.slate(v, at: t)?.filter { topics.contains(world.catalog.topics.primary[Int($0)]) }.count ?? 0)
                    }
                }
            }
            if pairs > 0 {
                suppression = SuppressionCurve(
                    intervention: iv.name, start: iv.start, steps: steps, treated: treated.map { $0 / Double(pairs) },
                    twin: twin.map { $0 / Double(pairs) })
            }
        }
        let aborted = replicates.compactMap { r -> (Int, String)? in r.outcome?.failure.map { ($0.step, $0.description) } }.first
        return (series, exposure, lorenz, ratios, suppression, aborted)
    }

    /// `scorecard.json`.
    public var json: JSONValue {
        let c = counts
        var o: [(String, JSONValue)] = [
            ("schema", .string(Scorecard.schema)),
            (
                "scenario",
                .object([
                    ("name", .string(scenario.name)), ("description", .string(scenario.description)),
                    ("clause", .string(scenario.clause)), ("clause_en", .string(scenario.clauseEnglish)),
                    ("file", .string(scenario.file)), ("sha256", .string(scenario.sha256)),
                ])
            ),
            ("status", .string(aborted == nil ? "complete" : "aborted")),
        ]
        if let a = aborted { o.append(("error", .object([("step", .int(a.step)), ("message", .string(a.message))]))) }
        o += [
            ("verdict", .string(verdict.rawValue)),
            ("summary", .object([("pass", .int(c.pass)), ("fail", .int(c.fail)), ("not_applicable", .int(c.notApplicable))])),
            ("recommender", .string(recommender)),
            ("seeds", .array(seeds.map { JSONValue.int(Int(truncatingIfNeeded: $0)) })),
            ("steps", .int(steps)), ("users", .int(users)), ("items", .int(items)), ("slate_size", .int(slateSize)),
            ("topics", .array(topicNames.map { JSONValue.string($0) })),
            ("baselines", .array(baselines.map { JSONValue.string($0) })),
            ("checks", .array(checks.map(\.json))),
        ]
        var metrics: [(String, JSONValue)] = []
        var byMetric: [String: [(String, JSONValue)]] = [:]
        var order: [String] = []
        for s in series {
            if byMetric[s.metric] == nil { order.append(s.metric) }
            var entry: [(String, JSONValue)] = [("final", .num(s.final)), ("mean", .array(s.mean.map { JSONValue.num($0) }))]
            if s.lower.contains(where: { $0 != nil }) {
                entry.append(("lower", .array(s.lower.map { JSONValue.num($0) })))
                entry.append(("upper", .array(s.upper.map { JSONValue.num($0) })))
            }
            if s.sampled { entry.append(("sampled", .bool(true))) }
            byMetric[s.metric, default: []].append((s.group, .object(entry)))
        }
        for m in order { metrics.append((m, .object(byMetric[m]!))) }
        o.append(("metrics", .object(metrics)))
        var charts: [(String, JSONValue)] = [
            ("topic_exposure", .array(topicExposure.map { row in JSONValue.array(row.map { JSONValue.num($0) }) })),
            ("lorenz", .array(lorenz.map { JSONValue.array([.num($0.0), .num($0.1)]) })),
            ("cocoon_ratios", .array(cocoonRatios.map { JSONValue.num($0) })),
        ]
        if let s = suppression {
            charts.append(
                (
                    "suppression",
                    .object([
                        ("intervention", .string(s.intervention)), ("start", .int(s.start)), ("steps", .array(s.steps.map { JSONValue.int($0) })),
                        ("treated", .array(s.treated.map { JSONValue.num($0) })),
                        ("twin", .array(s.twin.map { JSONValue.num($0) })),
                    ])
                ))
        }
        o.append(("charts", .object(charts)))
        o.append(("notes", .array(notes.map { JSONValue.string($0) })))
        return .object(o)
    }
}
