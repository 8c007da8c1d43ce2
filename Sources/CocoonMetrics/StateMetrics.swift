import CocoonCore
import CocoonMath
import Foundation

/// Temporal, cocoon and population-state metrics (METRICS.md §7.3 and §8). Centroids are
/// means of **raw** embeddings (`c_u(t)`), in Double.
public enum StateMetrics {
    /// The mean raw embedding of `items`, or nil when empty.
    public static func centroid<S: Collection<Int32>>(_ items: S, _ g: ItemGeometry) -> [Double]? {
        if items.isEmpty { return nil }
        let d = g.dimension
        var c = [Double](repeating: 0, count: d)
        for i in items { for j in 0..<d { c[j] += g.raw[Int(i) * d + j] } }
        let n = Double(items.count)
        return c.map { $0 / n }
    }

    static func norm<C: Collection<Double>>(_ a: C) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    static func cosine<A: Collection<Double>, B: Collection<Double>>(_ a: A, _ b: B) -> Double? {
        let na = norm(a)
        let nb = norm(b)
        if na == 0 || nb == 0 { return nil }
        return zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } / (na * nb)
    }

    /// `centroid_drift_l2`: ‖c(T) − c(0)‖.
    public static func driftL2<A: Collection<Double>, B: Collection<Double>>(_ c0: A?, _ cT: B?) -> Double? {
        guard let c0, let cT else { return nil }
        return zip(cT, c0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }

    /// `centroid_drift_cosine`: 1 − cos(c(T), c(0)); a zero centroid → nil.
    public static func driftCosine<A: Collection<Double>, B: Collection<Double>>(_ c0: A?, _ cT: B?) -> Double? {
        guard let c0, let cT, let c = cosine(cT, c0) else { return nil }
        return 1 - c
    }

    /// `population_total_variance_ratio`: tr Cov(c(T)) / tr Cov(c(0)) (population
    /// covariance, ddof 0); denominator 0 → nil.
    public static func totalVariance(_ cs: [[Double]]) -> Double? {
        guard let d = cs.first?.count else { return nil }
        var sums = TotalVarianceSums(dimension: d)
        for c in cs { c.withUnsafeBufferPointer { sums.addToMean($0) } }
        sums.finishMean()
        for c in cs { c.withUnsafeBufferPointer { sums.addToSquares($0) } }
        return sums.value
    }

    /// `population_mean_pairwise_cosine_distance`: mean over unordered pairs of 1 − cos, via
    /// `1 − (‖Σ ĉ‖² − N) / (N(N − 1))`; zero centroids left out; < 2 → nil.
    public static func meanPairwiseCosineDistance(_ cs: [[Double]]) -> Double? {
        guard let d = cs.first?.count else { return nil }
        var sums = PairwiseCosineSums(dimension: d)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { row in
            for c in cs {
                _ = row.initialize(from: c)
                if PairwiseCosineSums.normalize(row) { sums.add(UnsafeBufferPointer(row)) }
            }
        }
        return sums.value
    }

    /// `polarization_variance_axis_e0`: variance (ddof 0) of the first coordinate.
    public static func polarization(_ cs: [[Double]]) -> Double? {
        if cs.isEmpty { return nil }
        let z = cs.map { $0[0] }
        let m = z.reduce(0, +) / Double(z.count)
        return z.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(z.count)
    }

    /// Calinski–Harabasz index of points with labels; nil when K < 2, K ≥ N or the
    /// within-cluster dispersion is 0.
    public static func calinskiHarabasz(_ points: [[Double]], labels: [Int]) -> Double? {
        let n = points.count
        let groups = Dictionary(grouping: points.indices, by: { labels[$0] })
        let k = groups.count
        guard k >= 2, k < n, let d = points.first?.count else { return nil }
        var mu = [Double](repeating: 0, count: d)
        for p in points { for j in 0..<d { mu[j] += p[j] / Double(n) } }
        var between = 0.0
        var within = 0.0
        for key in groups.keys.sorted() {
            let idx = groups[key]!
            var c = [Double](repeating: 0, count: d)
            for i in idx { for j in 0..<d { c[j] += points[i][j] / Double(idx.count) } }
            between += Double(idx.count) * zip(c, mu).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            for i in idx { within += zip(points[i], c).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        }
        guard within > 0 else { return nil }
        return (between / Double(k - 1)) / (within / Double(n - k))
    }

    /// Davies–Bouldin index; nil when K < 2 or K ≥ N; a pair of identical centroids adds 0.
    public static func daviesBouldin(_ points: [[Double]], labels: [Int]) -> Double? {
        let n = points.count
        let groups = Dictionary(grouping: points.indices, by: { labels[$0] })
        let keys = groups.keys.sorted()
        let k = keys.count
        guard k >= 2, k < n, let d = points.first?.count else { return nil }
        var cent: [[Double]] = []
        var scatter: [Double] = []
        for key in keys {
            let idx = groups[key]!
            var c = [Double](repeating: 0, count: d)
            for i in idx { for j in 0..<d { c[j] += points[i][j] / Double(idx.count) } }
            cent.append(c)
            scatter.append(idx.reduce(0.0) { $0 + norm(zip(points[$1], c).map { $0 - $1 }) } / Double(idx.count))
        }
        var total = 0.0
        for l in 0..<k {
            var worst = 0.0
            for m in 0..<k where m != l {
                let dist = norm(zip(cent[l], cent[m]).map { $0 - $1 })
                let r = dist > 0 ? (scatter[l] + scatter[m]) / dist : 0
                worst = max(worst, r)
            }
            total += worst
        }
        return total / Double(k)
    }

    /// The dominant topic of a history (ties → lower index), or nil when empty.
    public static func dominantTopic(_ items: [Int32], _ t: TopicTable) -> Int? {
        guard let p = ListMetrics.topicDistribution(items, t) else { return nil }
        var best = 0
        for g in p.indices where p[g] > p[best] { best = g }
        return best
    }

    /// Nearest neighbour of every centroid by cosine (ties → smaller index, or with `tieSeed`
    /// uniformly at random from the stream `tieSeed.stream("tie", u)`); nil for a missing or
    /// zero centroid, or when no other centroid exists.
    ///
    /// Every similarity is the in-order sum `Σ_j a_j b_j` of the unit centroids, computed eight
    /// candidates at a time (``RowPanels``, the same bits as one at a time); users are
    /// independent, so `executor` takes blocks of them in parallel with the same result.
    ///
    /// - Complexity: O(N² d).
    public static func nearestNeighbours(
        _ cs: [[Double]?], tieSeed: Seed? = nil, executor: BlockExecutor = BlockExecutor(workers: 1)
    ) -> [Int?] {
        let units: [[Double]?] = cs.map { c in
            guard let c else { return nil }
            let n = norm(c)
            return n > 0 ? c.map { $0 / n } : nil
        }
        // The candidates: every user with a unit centroid, in user order.
        let present = units.indices.filter { units[$0] != nil }
        guard let first = present.first else { return units.map { _ in nil } }
        let d = units[first]!.count
        precondition(present.allSatisfy { units[$0]!.count == d }, "centroids of different lengths")
        let panels = RowPanels<Double>(count: present.count, dimension: d) { r, x in units[present[r]]![x] }
        let blocks = BlockExecutor.blocks(count: units.count, blockSize: 256)
        let out = SharedArray<Int>(repeating: -1, count: units.count)
        executor.forEach(blockCount: blocks.count) { b, _ in
            var sims = [Double](repeating: 0, count: max(8, panels.groupCount * 8))
            for u in blocks[b] {
                guard let a = units[u] else { continue }
                sims.withUnsafeMutableBufferPointer { s in
                    a.withUnsafeBufferPointer { panels.dots(with: $0.baseAddress!, into: s.baseAddress!) }
                }
                var best = -1
                var bestSim = -Double.infinity
                var ties = 0
                var rng = tieSeed.map { $0.stream("tie", u) }
                for (r, v) in present.enumerated() where v != u {
                    let s = sims[r]
                    if s > bestSim {
                        bestSim = s
                        best = v
                        ties = 1
                    } else if s == bestSim, rng != nil {
                        // Uniform among equally similar users (reservoir of one).
                        ties += 1
                        if Sample.index(below: ties, using: &rng!) == 0 { best = v }
                    }
                }
                out[u] = best
            }
        }
        return out.toArray().map { $0 >= 0 ? $0 : nil }
    }
}

/// The sums of `population_total_variance_ratio`'s trace `mean_u ‖c_u − c̄‖²`, in two passes
/// over the same points in the same order: the mean (a sum per coordinate), then each point's
/// squared distance from it (summed in coordinate order) added up point by point. Both passes'
/// pieces can be computed anywhere — the mean's coordinates apart from one another, each
/// point's distance on its own — and, added in point order, give the bits of
/// ``StateMetrics/totalVariance(_:)``.
public struct TotalVarianceSums: Sendable {
    public private(set) var count = 0
    private var mean: [Double]
    private var squares = 0.0
    private var meanDone = false

    public init(dimension d: Int) { mean = [Double](repeating: 0, count: d) }

    /// Pass 1 done elsewhere: `sums` are the coordinate sums of `count` points, each coordinate
    /// summed in point order (what `count` calls of ``addToMean(_:)`` leave).
    public init(count: Int, sums: [Double]) {
        precondition(count >= 0, "a count of \(count) points")
        self.count = count
        mean = sums
    }

    /// Pass 1: adds a point to the mean's sums.
    public mutating func addToMean(_ row: UnsafeBufferPointer<Double>) {
        precondition(!meanDone && row.count == mean.count, "a point of \(row.count) coordinates, \(mean.count) expected, before finishMean")
        // Through pointers: one uniqueness check a point instead of one a coordinate, and the
        // coordinates' independent sums run on vectors (the same additions).
        mean.withUnsafeMutableBufferPointer { sum in
            let s = sum.baseAddress!, x = row.baseAddress!
            for j in 0..<sum.count { s[j] = s[j] + x[j] }
        }
        count += 1
    }

    /// Ends pass 1.
    public mutating func finishMean() {
        let n = Double(count)
        for j in 0..<mean.count { mean[j] = mean[j] / n }
        meanDone = true
    }

    /// A point's ‖x − c̄‖², summed in coordinate order (after ``finishMean()``).
    public func squaredDistance(_ row: UnsafeBufferPointer<Double>) -> Double {
        precondition(meanDone && row.count == mean.count, "pass 2 after finishMean, points of \(mean.count) coordinates")
        var total = 0.0
        mean.withUnsafeBufferPointer { mean in
            let m = mean.baseAddress!, x = row.baseAddress!
            for j in 0..<mean.count { total += (x[j] - m[j]) * (x[j] - m[j]) }
        }
        return total
    }

    /// Pass 2: adds a point's ``squaredDistance(_:)``, the points in pass 1's order.
    public mutating func addSquaredDistance(_ value: Double) {
        precondition(meanDone, "pass 2 after finishMean")
        squares += value
    }

    /// Pass 2 for a point at hand.
    public mutating func addToSquares(_ row: UnsafeBufferPointer<Double>) {
        addSquaredDistance(squaredDistance(row))
    }

    /// tr Cov (population, ddof 0); nil without points.
    public var value: Double? { count == 0 ? nil : squares / Double(count) }
}

/// The sum of unit points of `population_mean_pairwise_cosine_distance` (see
/// ``StateMetrics/meanPairwiseCosineDistance(_:)``), for points normalised anywhere and added
/// in order.
public struct PairwiseCosineSums: Sendable {
    public private(set) var count = 0
    private var sum: [Double]

    public init(dimension d: Int) { sum = [Double](repeating: 0, count: d) }

    /// The sums made elsewhere: `sum` of `count` unit points, each coordinate summed in point
    /// order (what `count` calls of ``add(_:)`` leave).
    public init(count: Int, sum: [Double]) {
        precondition(count >= 0, "a count of \(count) points")
        self.count = count
        self.sum = sum
    }

    /// Divides a point by its length in place; false (the point left out) when it is zero.
    public static func normalize(_ row: UnsafeMutableBufferPointer<Double>) -> Bool {
        let length = StateMetrics.norm(row)
        if length == 0 { return false }
        for j in 0..<row.count { row[j] = row[j] / length }
        return true
    }

    /// Adds a normalised point.
    public mutating func add(_ unit: UnsafeBufferPointer<Double>) {
        precondition(unit.count == sum.count, "a point of \(unit.count) coordinates, \(sum.count) expected")
        sum.withUnsafeMutableBufferPointer { sum in
            let s = sum.baseAddress!, x = unit.baseAddress!
            for j in 0..<sum.count { s[j] = s[j] + x[j] }
        }
        count += 1
    }

    /// 1 − (‖Σ ĉ‖² − N) / (N(N − 1)); nil with fewer than two points.
    public var value: Double? {
        let n = count
        if n < 2 { return nil }
        let sq = sum.reduce(0) { $0 + $1 * $1 }
        return 1 - (sq - Double(n)) / (Double(n) * Double(n - 1))
    }
}
