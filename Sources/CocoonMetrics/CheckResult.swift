import CocoonCore
import CocoonMath

/// The outcome of a check.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case pass = "PASS"
    case fail = "FAIL"
    case notApplicable = "NOT APPLICABLE"
}

/// A check with its figures and verdict.
public struct CheckResult: Sendable {
    /// The check.
    public let spec: CheckSpec
    /// The clause it tests (the check's, or the scenario's).
    public let clause: String
    /// The clause in English ("" when the scenario gives none).
    public var clauseEnglish = ""
    /// The verdict.
    public let verdict: Verdict
    /// The statistic over all users of all replicates (nil when undefined).
    public let observed: Double?
    /// The user-level bootstrap 95% interval (nil for hard or pooled rules).
    public let interval: (lower: Double, upper: Double)?
    /// The value the decision used: the conservative end of the interval, or the raw value.
    public let decisive: Double?
    /// Samples (users, pairs or flags) behind the figure.
    public let samples: Int
    /// Why the check is NOT APPLICABLE, or a note on the decision.
    public let note: String?
    /// The same figure on the reference baseline runs.
    public let baselines: [(name: String, value: Double?)]

    public init(spec: CheckSpec, clause: String, verdict: Verdict, observed: Double?, interval: (lower: Double, upper: Double)?,
                decisive: Double?, samples: Int, note: String?, baselines: [(name: String, value: Double?)]) {
        self.spec = spec
        self.clause = clause
        self.verdict = verdict
        self.observed = observed
        self.interval = interval
        self.decisive = decisive
        self.samples = samples
        self.note = note
        self.baselines = baselines
    }

    /// Evaluates a check over the replicates.
    ///
    /// - Parameters:
    ///   - resamples: bootstrap resamples.
    ///   - seed: the seed of the bootstrap (derive it from the scenario seed and the check id).
    public static func evaluate(_ spec: CheckSpec, clause: String, replicates: [RunArtifacts], resamples: Int, seed: Seed)
        -> CheckResult
    {
        var strata: [[UserSample]] = []
        var reasons: [String] = []
        for r in replicates {
            do { strata.append(try Figure.samples(spec, r)) } catch let na as Figure.NotApplicable {
                reasons.append(na.reason)
            } catch {
                reasons.append("\(error)")
            }
        }
        var baselineValues: [(String, Double?)] = []
        let names = Array(Set(replicates.flatMap { $0.baselines.keys })).sorted()
        for name in names {
            var s: [UserSample] = []
            for r in replicates {
                guard let b = r.baselines[name] else { continue }
                if let x = try? Figure.samples(spec, b) { s += x }
            }
            baselineValues.append((name, s.isEmpty ? nil : spec.statistic.apply(s)))
        }
        let all = strata.flatMap { $0 }
        guard !strata.isEmpty, let observed = spec.statistic.apply(all) else {
            let why =
                reasons.first ?? (all.isEmpty ? "no users to measure" : "the statistic is undefined (e.g. a zero denominator)")
            return CheckResult(
                spec: spec, clause: clause, verdict: .notApplicable, observed: nil, interval: nil, decisive: nil,
                samples: all.count, note: why, baselines: baselineValues)
        }
        let raw = spec.hard || Figure.pooled.contains(spec.figure) || spec.comparator == .equal
        var interval: (Double, Double)? = nil
        var decisive = observed
        var pass: Bool
        if raw {
            pass = spec.comparator.holds(observed, spec.threshold, spec.upper)
        } else if let ci = Bootstrap.interval(strata, statistic: spec.statistic, resamples: resamples, seed: seed) {
            interval = ci
            switch spec.comparator {
            case .atLeast: decisive = ci.lower
            case .atMost: decisive = ci.upper
            default: decisive = observed
            }
            pass =
                spec.comparator == .within
                ? spec.comparator.holds(ci.lower, spec.threshold, spec.upper)
                    && spec.comparator.holds(ci.upper, spec.threshold, spec.upper)
                : spec.comparator.holds(decisive, spec.threshold, spec.upper)
        } else {
            pass = spec.comparator.holds(observed, spec.threshold, spec.upper)
        }
        let note = reasons.isEmpty ? nil : "\(reasons.count) of \(replicates.count) replicates not measurable: \(reasons[0])"
        return CheckResult(
            spec: spec, clause: clause, verdict: pass ? .pass : .fail, observed: observed, interval: interval,
            decisive: decisive, samples: all.count, note: note, baselines: baselineValues)
    }

    /// The JSON form.
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("id", .string(spec.id)), ("name", .string(spec.name)), ("clause", .string(clause)),
            ("clause_en", .string(clauseEnglish)),
            ("verdict", .string(verdict.rawValue)), ("figure", .string(spec.figure)),
            ("statistic", .string(spec.statistic.rawValue)),
            ("group", .string(spec.group)),
            (
                "rule",
                .object(
                    [("comparator", .string(spec.comparator.rawValue)), ("threshold", .num(spec.threshold))]
                        + (spec.upper.map { [("upper", JSONValue.num($0))] } ?? []))
            ),
            ("hard", .bool(spec.hard)),
            ("observed", .num(observed)),
            ("interval", interval.map { JSONValue.array([.num($0.lower), .num($0.upper)]) } ?? .null),
            ("decisive", .num(decisive)),
            ("samples", .int(samples)),
        ]
        var window: [(String, JSONValue)] = []
        if let a = spec.after { window.append(("after", .string(a))) }
        if let f = spec.from { window.append(("from", .int(f))) }
        if let t = spec.to { window.append(("to", .int(t))) }
        if !window.isEmpty { o.append(("window", .object(window))) }
        if let p = spec.persona { o.append(("persona", .string(p))) }
        if let n = note { o.append(("note", .string(n))) }
        if !baselines.isEmpty { o.append(("baselines", .object(baselines.map { ($0.name, JSONValue.num($0.value)) }))) }
        return .object(o)
    }
}
