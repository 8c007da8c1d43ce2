import CocoonCore

/// What a re-ranker works on for one user: candidates in base order with their scores.
public struct RerankInput: Sendable {
    /// Candidate items, sorted by (score descending, item index ascending): C in METRICS.md §10.
    public var items: [Int32]
    /// Base scores, aligned with `items`.
    public var scores: [Double]
    /// The user's history topic distribution p_u (nil when the history is empty).
    public var profile: [Double]?

    public init(items: [Int32], scores: [Double], profile: [Double]?) {
        precondition(items.count == scores.count, "one score per candidate")
        self.items = items
        self.scores = scores
        self.profile = profile
    }
}

/// A re-ranker's answer.
public struct RerankOutput: Sendable, Equatable {
    /// The selected items in selection (= rank) order, `min(N, M)` of them.
    public var items: [Int32]
    /// Whether the re-ranker could not apply its objective (e.g. no history) and returned the
    /// base order.
    public var fallback: Bool
    /// How many leading items the objective chose (the rest, if any, is fill).
    public var chosen: Int

    public init(items: [Int32], fallback: Bool, chosen: Int? = nil) {
        self.items = items
        self.fallback = fallback
        self.chosen = chosen ?? items.count
    }
}

/// A diversity re-ranker: takes M candidates and returns a slate of N (METRICS.md §10).
///
/// Ties: every argmax scans the candidates in order and keeps the first strict maximum.
/// Fill: if the re-ranker stops early, the remaining slots take the unselected candidates in
/// candidate order.
public protocol Reranker: Sendable {
    /// The registry name (`mmr`, `dpp`, …).
    var name: String { get }
    /// Whether, as an intermediate stage of a chain, the items it skips are dropped (a filter)
    /// rather than moved to the end.
    var isFilter: Bool { get }

    /// Re-ranks one user's candidates into a slate of `size` items.
    func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput
}

extension Reranker {
    public var isFilter: Bool { false }

    /// Appends unselected candidates in candidate order until `selected` has `size` items.
    static func fill(_ selected: inout [Int32], from items: [Int32], taken: [Bool], size: Int) {
        var j = 0
        while selected.count < size && j < items.count {
            if !taken[j] { selected.append(items[j]) }
            j += 1
        }
    }
}

/// Per-user min–max normalisation of scores to [0, 1] (METRICS.md §10 "Scale"); constant
/// scores become 1.
public func minMaxNormalised(_ s: [Double]) -> [Double] {
    guard let lo = s.min(), let hi = s.max() else { return s }
    if hi == lo { return s.map { _ in 1 } }
    return s.map { ($0 - lo) / (hi - lo) }
}
