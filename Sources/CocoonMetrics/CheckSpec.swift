import CocoonCore

/// A comparison a check applies to its observed value.
public enum CheckComparator: String, Sendable, Codable, CaseIterable {
    case atLeast = ">="
    case atMost = "<="
    case equal = "=="
    case within = "within"

    /// Whether `value` passes against `threshold` (and `upper` for `within`).
    public func holds(_ value: Double, _ threshold: Double, _ upper: Double?) -> Bool {
        switch self {
        case .atLeast: return value >= threshold
        case .atMost: return value <= threshold
        case .equal: return value == threshold
        case .within: return value >= threshold && value <= (upper ?? threshold)
        }
    }
}

/// One check of a scenario: a figure, summarised by a statistic over users, compared with a
/// threshold on the conservative end of its bootstrap interval (or on the raw value for a
/// hard rule).
public struct CheckSpec: Sendable, Equatable, Codable {
    /// Unique id within the scenario (e.g. `S01-median-ratio`).
    public var id: String
    /// Human-readable name.
    public var name: String
    /// The clause the check tests (defaults to the scenario's).
    public var clause: String? = nil
    /// The clause in English (defaults to the scenario's).
    public var clauseEnglish: String? = nil
    /// The figure (see ``Figure``).
    public var figure: String
    /// Summary over users.
    public var statistic: Statistic = .mean
    /// Comparison.
    public var comparator: CheckComparator = .atLeast
    /// Threshold (lower bound for `within`).
    public var threshold: Double = 0
    /// Upper bound for `within`.
    public var upper: Double? = nil
    /// Users: `population`, `arm:treated`, `segment:minor`, ….
    public var group: String = "population"
    /// A hard rule compares the raw value (no interval): hard-zero counts.
    public var hard: Bool = false
    /// Window [from, to] in steps (default: every step), relative to an intervention's start
    /// when `after` is set (offset 1 = the intervention's step, i.e. the first slate after it).
    public var from: Int? = nil
    public var to: Int? = nil
    /// Name of the intervention the window is relative to.
    public var after: String? = nil
    /// Figure parameters.
    public var target: String? = nil
    public var similarity: Double = 0.9
    public var memory: Int = 100
    public var consumed: Int = 30
    public var topic: String? = nil
    /// Only users with this persona (`seeking` or `regular`).
    public var persona: String? = nil
    /// The baseline run the figure compares with (`popularity`, `random`, `personalisation-off`).
    public var baseline: String? = nil

    public init(id: String, name: String, figure: String) {
        self.id = id
        self.name = name
        self.figure = figure
    }

    /// The rule as text, e.g. `>= 0.8`, `within [0.9, 1.1]`.
    public var ruleText: String {
        if comparator == .within { return "within [\(Format.number(threshold)), \(Format.number(upper ?? threshold))]" }
        return "\(comparator.rawValue) \(Format.number(threshold))"
    }
}
