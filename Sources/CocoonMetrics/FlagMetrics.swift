import CocoonCore

/// "Not interested" metrics of METRICS.md §9 for one pair of lists: `L_u(r)` (where the flags
/// were given) and `L_u(s)` (s > r).
public struct FlagMetrics: Sendable {
    /// Flags counted (r < s).
    public let flagCount: Int
    /// `flag_reexposure_rate`: share of flags whose item is in `L_u(s)`; nil without flags.
    public let reexposureRate: Double?
    /// `flag_topic_share_delta`: mean over flags of share_g(L_u(s)) − share_g(L_u(r)).
    public let delta: Double?
    /// `flag_topic_share_did`: the delta minus the same change for unflagged users.
    public let did: Double?
    /// Flags with both lists non-empty.
    public let deltaCount: Int
    /// Per user: mean delta over the user's flags (nil for users without a counted flag).
    public let perUserDelta: [Double?]

    /// - Parameters:
    ///   - flags: (user index, item, topic of the item).
    ///   - after: `L_u(s)` per user index.
    ///   - before: `L_u(r)` per user index.
    public init(flags: [(Int, Int32, Int32)], after: [[Int32]], before: [[Int32]], topics: TopicTable) {
        func share(_ l: [Int32], _ g: Int32) -> Double {
            Double(l.filter { topics.topics(of: Int($0)).contains(g) }.count) / Double(l.count)
        }
        flagCount = flags.count
        reexposureRate = flags.isEmpty ? nil : Double(flags.filter { after[$0.0].contains($0.1) }.count) / Double(flags.count)
        let flagged = Set(flags.map(\.0))
        let controls = (0..<after.count).filter { !flagged.contains($0) && !after[$0].isEmpty && !before[$0].isEmpty }
        var deltas: [Double] = []
        var dids: [Double] = []
        var perUser = [[Double]](repeating: [], count: after.count)
        for (u, _, g) in flags {
            guard !after[u].isEmpty, !before[u].isEmpty else { continue }
            let d = share(after[u], g) - share(before[u], g)
            deltas.append(d)
            perUser[u].append(d)
            if !controls.isEmpty {
                let base = controls.reduce(0.0) { $0 + share(after[$1], g) - share(before[$1], g) } / Double(controls.count)
                dids.append(d - base)
            }
        }
        deltaCount = deltas.count
        delta = deltas.isEmpty ? nil : deltas.reduce(0, +) / Double(deltas.count)
        did = dids.isEmpty ? nil : dids.reduce(0, +) / Double(dids.count)
        perUserDelta = perUser.map { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) }
    }
}
