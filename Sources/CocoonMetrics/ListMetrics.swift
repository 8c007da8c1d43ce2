import CocoonCore
import Foundation

/// The per-list metrics of METRICS.md §3–5 (per user; averaged with ``Averages``). Every
/// function follows the specification exactly: distances `1 − cos` on unit embeddings in
/// Double (C3, C8), entropies in bits, calibration in nats, multi-topic items per C9.
/// `nil` means "undefined, excluded from the mean" (C1, C6).
public enum ListMetrics {
    /// `ild_cosine`: mean `1 − cos` over unordered pairs; 1 item → 0; empty → nil.
    ///
    /// The pairs' cosines sum to `(‖Σ ê‖² − Σ ‖ê‖²) / 2` (each cross term of the square of the
    /// sum is one pair's cosine, twice), so the mean is `1 − (‖Σ ê‖² − Σ ‖ê‖²) / (n(n − 1))` from one pass over the
    /// list: the recorder's `consumed_ild_delta` takes it over whole histories every ten steps.
    /// It equals the pairwise mean up to rounding (``ildCosinePairwise(_:_:)``).
    ///
    /// - Complexity: O(|L| d).
    public static func ildCosine(_ list: ArraySlice<Int32>, _ g: ItemGeometry) -> Double? {
        let n = list.count
        if n == 0 { return nil }
        if n == 1 { return 0 }
        let d = g.dimension
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { sum in
            let squares = sumUnitRows(list, g, into: sum)
            return ildCosine(sumSquaredNorm: fourLaneDot(d) { sum[$0] } _: { sum[$0] }, squaredNorms: squares, count: n)
        }
    }

    /// Writes Σ ê_i over `items` into `sum` (d long; set, not added to) and returns Σ ‖ê_i‖²,
    /// item by item in order: the two sums ILD's one-pass form needs.
    @inline(__always)
    static func sumUnitRows<S: Sequence<Int32>>(_ items: S, _ g: ItemGeometry, into sum: UnsafeMutableBufferPointer<Double>) -> Double {
        let d = g.dimension
        sum.update(repeating: 0)
        var squares = 0.0
        g.unit.withUnsafeBufferPointer { unit in
            g.unitSquaredNorms.withUnsafeBufferPointer { norms in
                for i in items {
                    let row = unit.baseAddress! + Int(i) * d
                    for j in 0..<d { sum[j] += row[j] }
                    squares += norms[Int(i)]
                }
            }
        }
        return squares
    }

    /// `ild_cosine` of n ≥ 2 items from their sums: `1 − (‖Σ ê‖² − Σ ‖ê‖²)/(n(n − 1))` (the
    /// recorder has the slate's sum of unit vectors at hand for other metrics).
    static func ildCosine(sumSquaredNorm norm2: Double, squaredNorms squares: Double, count n: Int) -> Double {
        1 - (norm2 - squares) / Double(n * (n - 1))
    }

    /// `ild_cosine` by its definition: the mean of `1 − cos` over the n(n − 1)/2 pairs (the
    /// reference the one-pass ``ildCosine(_:_:)`` is tested against).
    ///
    /// - Complexity: O(|L|² d).
    public static func ildCosinePairwise(_ list: ArraySlice<Int32>, _ g: ItemGeometry) -> Double? {
        let n = list.count
        if n == 0 { return nil }
        if n == 1 { return 0 }
        var s = 0.0
        let items = Array(list)
        for a in 0..<n { for b in (a + 1)..<n { s += 1 - g.cosine(Int(items[a]), Int(items[b])) } }
        return s / Double(n * (n - 1) / 2)
    }

    /// `ild_topic`: share of unordered pairs with different topics (Jaccard distance of the
    /// topic sets for multi-topic items); 1 item → 0; empty → nil.
    ///
    /// - Complexity: O(|L| + |G|) for single-topic catalogs, O(|L|²) otherwise.
    public static func ildTopic(_ list: ArraySlice<Int32>, _ t: TopicTable) -> Double? {
        let n = list.count
        if n == 0 { return nil }
        if n == 1 { return 0 }
        let items = Array(list)
        if !t.isMultiTopic {
            var counts: [Int32: Int] = [:]
            for i in items { counts[t.primary[Int(i)], default: 0] += 1 }
            let same = counts.values.reduce(0) { $0 + $1 * ($1 - 1) }
            return 1 - Double(same) / Double(n * (n - 1))
        }
        var s = 0.0
        for a in 0..<n {
            for b in (a + 1)..<n {
                let x = Set(t.topics(of: Int(items[a])))
                let y = Set(t.topics(of: Int(items[b])))
                s += 1 - Double(x.intersection(y).count) / Double(x.union(y).count)
            }
        }
        return s / Double(n * (n - 1) / 2)
    }

    /// The topic distribution of a list of items (each item adds 1/|topics(i)| per topic,
    /// divided by the list length), or nil when empty.
    public static func topicDistribution<S: Collection<Int32>>(_ items: S, _ t: TopicTable) -> [Double]? {
        if items.isEmpty { return nil }
        var p = [Double](repeating: 0, count: t.count)
        t.accumulate(items: items, into: &p)
        let n = Double(items.count)
        return p.map { $0 / n }
    }

    /// Shannon entropy in bits of a distribution (positive entries only).
    public static func entropyBits(_ p: [Double]) -> Double {
        var h = 0.0
        for x in p where x > 0 { h -= x * log2(x) }
        return h
    }

    /// `list_topic_entropy_bits`: H2 of the list's topic shares; empty → nil.
    public static func topicEntropy(_ list: ArraySlice<Int32>, _ t: TopicTable) -> Double? {
        topicDistribution(list, t).map(entropyBits)
    }

    /// The set of topics of a list of items (union of topic sets), as a flag per topic.
    static func topicSet<S: Sequence<Int32>>(_ items: S, _ t: TopicTable) -> [Bool] {
        var present = [Bool](repeating: false, count: t.count)
        for i in items { t.forEachTopic(of: Int(i)) { g in present[Int(g)] = true } }
        return present
    }

    /// `topic_coverage`: |topics(L)| / |G|; empty → nil.
    public static func topicCoverage(_ list: ArraySlice<Int32>, _ t: TopicTable) -> Double? {
        if list.isEmpty { return nil }
        return Double(topicSet(list, t).filter { $0 }.count) / Double(t.count)
    }

    /// `profile_topic_coverage`: |topics(L) ∩ topics(H)| / |topics(H)|; empty L or H → nil.
    public static func profileTopicCoverage(_ list: ArraySlice<Int32>, history: [Int32], _ t: TopicTable) -> Double? {
        if list.isEmpty || history.isEmpty { return nil }
        let l = topicSet(list, t)
        let h = topicSet(history, t)
        let hn = h.filter { $0 }.count
        let both = zip(l, h).filter { $0 && $1 }.count
        return Double(both) / Double(hn)
    }

    /// `calibration_kl` (Steck 2018): `Σ_{p(g)>0} p(g) ln(p(g)/q̃(g))`, `q̃ = (1−α)q + αp`,
    /// α = 0.01; empty L or H → nil.
    public static func calibrationKL(_ list: ArraySlice<Int32>, history: [Int32], _ t: TopicTable, alpha: Double = 0.01)
        -> Double?
    {
        guard let q = topicDistribution(list, t), let p = topicDistribution(history, t) else { return nil }
        return calibrationKL(p: p, q: q, alpha: alpha)
    }

    /// KL(p ‖ (1−α)q + αp) in nats over the support of p.
    public static func calibrationKL(p: [Double], q: [Double], alpha: Double = 0.01) -> Double {
        var kl = 0.0
        for g in p.indices where p[g] > 0 {
            kl += p[g] * log(p[g] / ((1 - alpha) * q[g] + alpha * p[g]))
        }
        return kl
    }

    /// The mean unit vector of a history (m_u of §4.3), or nil when empty.
    public static func meanUnit(_ history: [Int32], _ g: ItemGeometry) -> [Double]? {
        if history.isEmpty { return nil }
        let d = g.dimension
        var m = [Double](repeating: 0, count: d)
        for i in history { for j in 0..<d { m[j] += g.unit[Int(i) * d + j] } }
        let n = Double(history.count)
        return m.map { $0 / n }
    }

    /// `unexpectedness`: mean over the list of `1 − ê_i · m_u`; empty L or H → nil.
    public static func unexpectedness(_ list: ArraySlice<Int32>, meanUnit m: [Double]?, _ g: ItemGeometry) -> Double? {
        guard let m, !list.isEmpty else { return nil }
        let d = g.dimension
        var s = 0.0
        for i in list {
            var dot = 0.0
            for j in 0..<d { dot += g.unit[Int(i) * d + j] * m[j] }
            s += 1 - dot
        }
        return s / Double(list.count)
    }

    /// `serendipity_unexp_x_rel`: mean over the list of `(1 − ê_i·m_u)·rel(u,i)`; no relevant
    /// items → 0; empty L or H → nil.
    public static func serendipity(_ list: ArraySlice<Int32>, meanUnit m: [Double]?, relevant: Set<Int32>, _ g: ItemGeometry)
        -> Double?
    {
        guard let m, !list.isEmpty else { return nil }
        let d = g.dimension
        var s = 0.0
        for i in list where relevant.contains(i) {
            var dot = 0.0
            for j in 0..<d { dot += g.unit[Int(i) * d + j] * m[j] }
            s += 1 - dot
        }
        return s / Double(list.count)
    }

    /// `eild_cosine_rel_logdisc` (Vargas & Castells 2011, binary relevance, log discount).
    public static func eild(_ list: ArraySlice<Int32>, relevant: Set<Int32>, _ g: ItemGeometry) -> Double? {
        let items = Array(list)
        return eild(count: items.count, isRelevant: items.map { relevant.contains($0) }) { g.cosine(Int(items[$0]), Int(items[$1])) }
    }

    /// EILD of a list of `count` items given which positions are relevant and the cosine of
    /// two positions (the recorder passes cosines it has already computed for the list).
    public static func eild(count n: Int, isRelevant: [Bool], cosine: (Int, Int) -> Double) -> Double? {
        eild(count: n, isRelevant: isRelevant, discounts: eildDiscounts(n), cosine: cosine)
    }

    /// The rank discounts of EILD for lists of n items: `1 / log2(k + 2)` for k in 0..<n.
    public static func eildDiscounts(_ n: Int) -> [Double] { (0..<max(n, 0)).map { 1 / log2(Double($0 + 2)) } }

    /// The same with the discounts computed once (``eildDiscounts(_:)`` of n), for many lists
    /// of one length: the same values, summed in the same order.
    public static func eild(count n: Int, isRelevant: [Bool], discounts disc: [Double], cosine: (Int, Int) -> Double) -> Double? {
        if n == 0 { return nil }
        if n == 1 { return 0 }
        precondition(disc.count >= n, "\(disc.count) discounts for a list of \(n)")
        var norm = 0.0
        for k in 0..<n { norm += disc[k] }
        var total = 0.0
        for k in 0..<n where isRelevant[k] {
            var num = 0.0
            var den = 0.0
            for l in 0..<n where l != k && isRelevant[l] {
                let w = disc[max(0, l - k - 1)]
                num += w * (1 - cosine(k, l))
                den += w
            }
            if den > 0 { total += disc[k] * (num / den) }
        }
        return total / norm
    }

    /// `subtopic_recall_at10`: |topics(L@k ∩ Rel)| / |topics(Rel)|; Rel empty → nil.
    public static func subtopicRecall(_ list: ArraySlice<Int32>, relevant: [Int32], _ t: TopicTable, k: Int = 10) -> Double? {
        if relevant.isEmpty { return nil }
        let rel = Set(relevant)
        let hit = topicSet(list.prefix(k).filter { rel.contains($0) }, t).filter { $0 }.count
        let all = topicSet(relevant, t).filter { $0 }.count
        return Double(hit) / Double(all)
    }

    /// `alpha_ndcg_at10` (Clarke et al. 2008), α = 0.5, topics as aspects, greedy ideal list
    /// (ties → smaller item index); Rel empty → nil. Pass `ideal` (from ``alphaIdealDCG``) to
    /// reuse it across lists of the same user.
    public static func alphaNDCG(_ list: ArraySlice<Int32>, relevant: [Int32], _ t: TopicTable, alpha: Double = 0.5, k: Int = 10, ideal: Double? = nil) -> Double? {
        if relevant.isEmpty { return nil }
        let id = ideal ?? alphaIdealDCG(relevant: relevant, t, alpha: alpha, k: k)
        return id > 0 ? alphaDCG(list, relevant: Set(relevant), t, alpha: alpha, k: k) / id : nil
    }

    /// alpha-DCG@k of a ranked list.
    public static func alphaDCG<S: Sequence<Int32>>(_ ranked: S, relevant rel: Set<Int32>, _ t: TopicTable, alpha: Double = 0.5, k: Int = 10) -> Double {
        let items = Array(ranked.prefix(k))
        return alphaDCG(items[...], isRelevant: items.map { rel.contains($0) }, t, alpha: alpha, k: k)
    }

    /// alpha-DCG@k of a ranked list given which positions are relevant.
    public static func alphaDCG(_ ranked: ArraySlice<Int32>, isRelevant: [Bool], _ t: TopicTable, alpha: Double = 0.5, k: Int = 10) -> Double {
        var seen: [Int] = []
        return alphaDCG(ranked, isRelevant: isRelevant, t, alpha: alpha, k: k, seen: &seen)
    }

    /// The same with the per-topic counts in `seen`, scratch space a caller reuses across
    /// lists (reset here; no allocation per list once it has a slot per topic).
    public static func alphaDCG(
        _ ranked: ArraySlice<Int32>, isRelevant: [Bool], _ t: TopicTable, alpha: Double = 0.5, k: Int = 10, seen: inout [Int]
    ) -> Double {
        if seen.count != t.count { seen = [Int](repeating: 0, count: t.count) } else { for g in seen.indices { seen[g] = 0 } }
        var s = 0.0
        for (m, i) in ranked.prefix(k).enumerated() where isRelevant[m] {
            var gain = 0.0
            t.forEachTopic(of: Int(i)) { g in gain += pow(1 - alpha, Double(seen[Int(g)])) }
            t.forEachTopic(of: Int(i)) { g in seen[Int(g)] += 1 }
            s += gain / log2(Double(m + 2))
        }
        return s
    }

    /// The alpha-DCG@k of the greedy ideal list: repeatedly the relevant item with the largest
    /// marginal gain (ties → smaller item index).
    public static func alphaIdealDCG(relevant: [Int32], _ t: TopicTable, alpha: Double = 0.5, k: Int = 10) -> Double {
        var ideal: [Int32] = []
        var seen = [Int](repeating: 0, count: t.count)
        var remaining = relevant.sorted()
        while ideal.count < k && !remaining.isEmpty {
            var best = 0
            var bestGain = -1.0
            for (j, i) in remaining.enumerated() {
                var gain = 0.0
                t.forEachTopic(of: Int(i)) { g in gain += pow(1 - alpha, Double(seen[Int(g)])) }
                if gain > bestGain { best = j; bestGain = gain }
            }
            let pick = remaining.remove(at: best)
            t.forEachTopic(of: Int(pick)) { g in seen[Int(g)] += 1 }
            ideal.append(pick)
        }
        return alphaDCG(ideal, relevant: Set(relevant), t, alpha: alpha, k: k)
    }

    /// T-RECS `afsr` (compatibility only): max − min over all attributes and items of the list.
    public static func afsr(_ list: ArraySlice<Int32>, _ g: ItemGeometry) -> Double? {
        if list.isEmpty { return nil }
        var lo = Double.infinity
        var hi = -Double.infinity
        let d = g.dimension
        for i in list {
            for j in 0..<d {
                let v = g.raw[Int(i) * d + j]
                lo = min(lo, v)
                hi = max(hi, v)
            }
        }
        return hi - lo
    }
}

/// Popularity of items in a history (METRICS.md C7, C10): interaction counts, distinct users,
/// and the long-tail set.
public struct Popularity: Sendable {
    /// Interactions per item.
    public let count: [Int]
    /// Distinct users per item.
    public let users: [Int]
    /// Distinct users in the history (|U_H|).
    public let historyUsers: Int
    /// Interactions in the history (|H|).
    public let historyRows: Int
    /// Whether each item is in the tail set.
    public let tail: [Bool]

    /// Builds the statistics from per-user interaction lists.
    public init(histories: [[Int32]], itemCount: Int) {
        var c = [Int](repeating: 0, count: itemCount)
        var u = [Int](repeating: 0, count: itemCount)
        var rows = 0
        var people = 0
        for h in histories {
            if !h.isEmpty { people += 1 }
            rows += h.count
            for i in h { c[Int(i)] += 1 }
            for i in Set(h) { u[Int(i)] += 1 }
        }
        count = c
        users = u
        historyUsers = people
        historyRows = rows
        tail = Popularity.tail(counts: c)
    }

    /// The tail set (C10): the ⌊20%⌋ (at least one) least interacted items among those with
    /// an interaction, ties → smaller index.
    public static func tail(counts c: [Int]) -> [Bool] {
        var t = [Bool](repeating: false, count: c.count)
        // Interacted items by (count, index) ascending: as one 64-bit key each (count above,
        // index below), sorted without a comparison closure — the same order.
        guard c.count <= Int(UInt32.max), c.allSatisfy({ $0 <= Int(UInt32.max) }) else {
            let interacted = c.indices.filter { c[$0] > 0 }.sorted { c[$0] != c[$1] ? c[$0] < c[$1] : $0 < $1 }
            for i in interacted.prefix(max(Int(0.2 * Double(interacted.count)), 1)) where !interacted.isEmpty { t[i] = true }
            return t
        }
        var keys: [UInt64] = []
        keys.reserveCapacity(c.count)
        for (i, x) in c.enumerated() where x > 0 { keys.append(UInt64(x) << 32 | UInt64(i)) }
        keys.sort()
        for key in keys.prefix(max(Int(0.2 * Double(keys.count)), 1)) { t[Int(key & 0xFFFF_FFFF)] = true }
        return t
    }

    /// `novelty_miuf`: mean of −log2(users(i)/|U_H|), cold items count as 1 user.
    public func noveltyMIUF(_ list: ArraySlice<Int32>) -> Double? {
        if list.isEmpty || historyUsers == 0 { return nil }
        return list.reduce(0.0) { $0 - log2(Double(max(users[Int($1)], 1)) / Double(historyUsers)) } / Double(list.count)
    }

    /// `novelty_epc` (compatibility): mean of 1 − users(i)/|U_H| (cold → 1).
    public func noveltyEPC(_ list: ArraySlice<Int32>) -> Double? {
        if list.isEmpty || historyUsers == 0 { return nil }
        return list.reduce(0.0) { $0 + 1 - Double(users[Int($1)]) / Double(historyUsers) } / Double(list.count)
    }

    /// `arp`: mean interaction count (cold → 0).
    public func arp(_ list: ArraySlice<Int32>) -> Double? {
        if list.isEmpty { return nil }
        return Double(list.reduce(0) { $0 + count[Int($1)] }) / Double(list.count)
    }

    /// `tail_percentage`: share of the list in the tail set.
    public func tailPercentage(_ list: ArraySlice<Int32>) -> Double? {
        if list.isEmpty { return nil }
        return Double(list.filter { tail[Int($0)] }.count) / Double(list.count)
    }
}
