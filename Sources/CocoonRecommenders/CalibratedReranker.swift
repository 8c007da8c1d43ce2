import CocoonCore
import Foundation

/// Steck's calibrated recommendations (RecSys 2018), greedy, METRICS.md §10.4:
/// add the candidate maximising `(1 − λ)·Σ_{I∪{i}} s − λ·C_KL(p, q̃(I∪{i}))`, where q is the
/// topic distribution of `I ∪ {i}` (uniform weights), `q̃ = (1 − α)q + αp` and
/// `C_KL = Σ_{g: p(g)>0} p(g)·ln(p(g)/q̃(g))`. Without a history it returns the base order.
///
/// - Complexity: O(N·M·|G|) time, O(|G|) memory.
public struct CalibratedReranker: Reranker {
    public let name = "calibrated"
    /// λ: weight of calibration (default 0.5).
    public var lambda: Double
    /// α: smoothing of q (default 0.01).
    public var alpha: Double

    public init(lambda: Double = 0.5, alpha: Double = 0.01) {
        self.lambda = lambda
        self.alpha = alpha
    }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        guard let p = input.profile, p.contains(where: { $0 > 0 }) else {
            return RerankOutput(items: Array(input.items.prefix(n)), fallback: true)
        }
        let g = topics.count
        let support = (0..<g).filter { p[$0] > 0 }
        let inSupport = (0..<g).map { p[$0] > 0 }
        let cand = CandidateSet(input.items, geometry: geometry, topics: topics, needsGram: false)
        var counts = [Double](repeating: 0, count: g)   // Σ p(g|i) over I
        var scoreSum = 0.0
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        var termBase = [Double](repeating: 0, count: g)
        func term(_ t: Int, _ count: Double, _ size: Double) -> Double {
            p[t] * log(p[t] / ((1 - alpha) * (count / size) + alpha * p[t]))
        }
        // A candidate with `share` topics adds 1/share to each of them. Topic t's term with that
        // much more is computed when a candidate of t with `share` topics is first looked at in
        // a pick, and kept for the pick (slot t·(maxShare + 1) + share, stamped with the pick),
        // not for every profile topic or anew per candidate: the logarithms were most of the
        // re-ranker's time. The same function of the same values (a single-topic item adds
        // 1/1 = 1), so the same bits.
        let maxShare = cand.multiTopic ? (0..<m).reduce(1) { max($0, cand.topicsOf($1).count) } : 1
        var plusPick = [Int](repeating: -1, count: g * (maxShare + 1))
        var plusTerm = [Double](repeating: 0, count: plusPick.count)
        while selected.count < n {
            let pick = selected.count
            var best = -1
            var bestValue = -Double.infinity
            let size1 = Double(selected.count + 1)
            // KL(p ‖ q̃(I ∪ {i})) = Σ_t term(t) where only the candidate's topics change count.
            var baseSum = 0.0
            for t in support {
                termBase[t] = term(t, counts[t], size1)
                baseSum += termBase[t]
            }
            func plus(_ t: Int, _ share: Int) -> Double {
                let slot = t * (maxShare + 1) + share
                if plusPick[slot] != pick {
                    plusTerm[slot] = term(t, counts[t] + 1 / Double(share), size1)
                    plusPick[slot] = pick
                }
                return plusTerm[slot]
            }
            for c in 0..<m where !taken[c] {
                var kl = baseSum
                if !cand.multiTopic {
                    let t = Int(cand.primary[c])
                    if inSupport[t] { kl = baseSum - termBase[t] + plus(t, 1) }
                } else {
                    let ts = cand.topicsOf(c)
                    for t32 in ts where inSupport[Int(t32)] {
                        let t = Int(t32)
                        kl += plus(t, ts.count) - termBase[t]
                    }
                }
                let v = (1 - lambda) * (scoreSum + input.scores[c]) - lambda * kl
                if best < 0 || v > bestValue {
                    best = c
                    bestValue = v
                }
            }
            taken[best] = true
            selected.append(input.items[best])
            scoreSum += input.scores[best]
            let ts = cand.topicsOf(best)
            for t in ts { counts[Int(t)] += 1 / Double(ts.count) }
        }
        return RerankOutput(items: selected, fallback: false)
    }
}

/// xQuAD (Santos, Macdonald & Ounis 2010) with topics as aspects, METRICS.md §10.5:
/// `f(i|S) = (1 − λ)·s_i + λ·Σ_{a∈topics(i)} p_u(a)·1[no item of S has topic a]`.
/// Without a history it returns the base order.
///
/// - Complexity: O(N·M) time (single-topic items), O(|G|) memory.
public struct XQuADReranker: Reranker {
    public let name = "xquad"
    /// λ: weight of aspect coverage (default 0.5).
    public var lambda: Double

    public init(lambda: Double = 0.5) { self.lambda = lambda }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        guard let p = input.profile, p.contains(where: { $0 > 0 }) else {
            return RerankOutput(items: Array(input.items.prefix(n)), fallback: true)
        }
        var covered = [Bool](repeating: false, count: topics.count)
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        while selected.count < n {
            var best = -1
            var bestValue = -Double.infinity
            for c in 0..<m where !taken[c] {
                var diversity = 0.0
                for a in topics.topics(of: Int(input.items[c])) where !covered[Int(a)] { diversity += p[Int(a)] }
                let v = (1 - lambda) * input.scores[c] + lambda * diversity
                if best < 0 || v > bestValue {
                    best = c
                    bestValue = v
                }
            }
            taken[best] = true
            selected.append(input.items[best])
            for a in topics.topics(of: Int(input.items[best])) { covered[Int(a)] = true }
        }
        return RerankOutput(items: selected, fallback: false)
    }
}
