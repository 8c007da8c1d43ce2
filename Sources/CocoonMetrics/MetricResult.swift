import CocoonCore

/// One metric's value with what is behind it: per-user values, a series over steps,
/// nearest-neighbour pairs, the users counted and left out (C1).
public struct MetricResult: Sendable {
    /// Stable snake_case id (METRICS.md).
    public let id: String
    /// The value (nil = undefined).
    public var value: Double?
    /// Whether the value is an integer count.
    public var isCount = false
    /// Per-user values in user order (nil = undefined for that user).
    public var perUser: [(String, Double?)]? = nil
    /// A series (e.g. steps 1…T, or windows).
    public var series: [Double?]? = nil
    /// Nearest-neighbour pairs (user ids).
    public var pairs: [(String, String)]? = nil
    /// Users with a defined value and users left out.
    public var nUsers: Int? = nil
    public var nExcluded: Int? = nil
    /// Compatibility-only outputs are never thresholds or headlines.
    public var compatibilityOnly = false
    /// Whether the value comes from a seeded sample of pairs.
    public var sampled = false
    /// Extra named values (e.g. a metric at round 0 and at T).
    public var extra: [(String, Double?)] = []

    public init(id: String, value: Double?) {
        self.id = id
        self.value = value
    }

    /// A per-user metric: the plain mean over defined values (C1).
    public static func mean(_ id: String, users: [String], values: [Double?]) -> MetricResult {
        let defined = values.compactMap { $0 }
        var r = MetricResult(id: id, value: defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count))
        r.perUser = Array(zip(users, values))
        r.nUsers = defined.count
        r.nExcluded = values.count - defined.count
        return r
    }

    /// The JSON form: `value` (and `reference`, the same number, so the file has the nesting
    /// of expected-public.json), then the details.
    public var json: JSONValue {
        var o: [(String, JSONValue)] = []
        let v: JSONValue = isCount ? (value.map { .int(Int($0)) } ?? .null) : .num(value)
        o.append(("value", v))
        o.append(("reference", v))
        if let n = nUsers { o.append(("n_users", .int(n))) }
        if let n = nExcluded { o.append(("n_excluded", .int(n))) }
        if compatibilityOnly { o.append(("compatibility_only", .bool(true))) }
        if sampled { o.append(("sampled", .bool(true))) }
        for (k, x) in extra { o.append((k, .num(x))) }
        if let s = series { o.append(("series", .array(s.map { JSONValue.num($0) }))) }
        if let p = pairs {
            o.append(("pairs", .array(p.map { JSONValue.array([JSONValue.userID($0.0), JSONValue.userID($0.1)]) })))
        }
        if let pu = perUser { o.append(("per_user", .object(pu.map { ($0.0, JSONValue.num($0.1)) }))) }
        return .object(o)
    }
}

extension JSONValue {
    /// A user id as a number when it is an integer, else a string.
    static func userID(_ s: String) -> JSONValue {
        if let i = Int(s) { return .int(i) }
        return .string(s)
    }
}
