import CocoonCore

/// Maximal marginal relevance (Carbonell & Goldstein 1998), METRICS.md §10.1:
/// `i* = argmax λ·s_i − (1 − λ)·max_{j∈S} cos(e_i, e_j)` (the penalty is 0 while S is empty;
/// similarities are signed). Keeps a running max per candidate.
///
/// - Complexity: O(N·M·d) time, O(M) memory.
public struct MMRReranker: Reranker {
    public let name = "mmr"
    /// λ: weight of relevance (default 0.7).
    public var lambda: Double

    public init(lambda: Double = 0.7) { self.lambda = lambda }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        var taken = [Bool](repeating: false, count: m)
        var maxSim = [Double](repeating: -.infinity, count: m)
        var selected: [Int32] = []
        selected.reserveCapacity(n)
        let set = CandidateSet(input.items, geometry: geometry, topics: topics)
        while selected.count < n {
            var best = -1
            var bestValue = -Double.infinity
            for c in 0..<m where !taken[c] {
                let penalty = selected.isEmpty ? 0 : maxSim[c]
                let v = lambda * input.scores[c] - (1 - lambda) * penalty
                if best < 0 || v > bestValue {
                    best = c
                    bestValue = v
                }
            }
            taken[best] = true
            selected.append(input.items[best])
            for c in 0..<m where !taken[c] {
                maxSim[c] = max(maxSim[c], set.cosine(c, best))
            }
        }
        return RerankOutput(items: selected, fallback: false)
    }
}
