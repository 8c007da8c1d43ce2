import CocoonMath
import Foundation

/// System exposure metrics of METRICS.md §6, from the exposure counts `x_i` of every catalog
/// item (zeros included).
public struct ExposureMetrics: Sendable, Equatable {
    /// `aggregate_diversity`: distinct recommended items.
    public let aggregateDiversity: Int
    /// `catalog_coverage`: aggregate diversity / n.
    public let catalogCoverage: Double
    /// `gini_exposure`: `Σ (2i − n − 1) x_(i) / (n Σ x)` over x ascending; nil without exposure.
    public let gini: Double?
    /// `entropy_exposure_bits`; nil without exposure.
    public let entropyBits: Double?
    /// `entropy_exposure_normalised` = bits / log2 n; nil without exposure or when n = 1.
    public let entropyNormalised: Double?

    /// The exposure counts of the slates of `rows` (row r's slate is `slates[r·k ..< (r + 1)·k]`,
    /// k = `slateSize`): how often each of `itemCount` items was recommended. Counted per worker
    /// over blocks of `blockSize` rows, then added up: integer counts, the same whatever the
    /// split.
    ///
    /// - Complexity: O(rows · k + workers · itemCount).
    public static func counts(
        slates: [Int32], slateSize k: Int, rows: [Int], itemCount: Int, executor: BlockExecutor, blockSize: Int
    ) -> [Int] {
        let blocks = BlockExecutor.blocks(count: rows.count, blockSize: blockSize)
        let partial = (0..<executor.workers).map { _ in SharedArray<Int>(repeating: 0, count: itemCount) }
        executor.forEach(blockCount: blocks.count) { b, w in
            partial[w].withUnsafeMutableBufferPointer(0..<itemCount) { mine in
                slates.withUnsafeBufferPointer { sl in
                    for j in blocks[b] {
                        let r = rows[j]
                        for p in 0..<k { mine[Int(sl[r * k + p])] += 1 }
                    }
                }
            }
        }
        var counts = [Int](repeating: 0, count: itemCount)
        for part in partial { part.withSpan(0..<itemCount) { x in for i in 0..<itemCount { counts[i] += x[i] } } }
        return counts
    }

    /// Computes the metrics from exposure counts.
    ///
    /// - Complexity: O(n log n).
    public init(counts x: [Int]) {
        let n = x.count
        let total = x.reduce(0, +)
        aggregateDiversity = x.filter { $0 > 0 }.count
        catalogCoverage = n > 0 ? Double(aggregateDiversity) / Double(n) : 0
        guard total > 0 else {
            gini = nil
            entropyBits = nil
            entropyNormalised = nil
            return
        }
        let sorted = x.sorted()
        var s = 0.0
        for (j, v) in sorted.enumerated() { s += Double(2 * (j + 1) - n - 1) * Double(v) }
        gini = s / (Double(n) * Double(total))
        var h = 0.0
        for v in x where v > 0 {
            let p = Double(v) / Double(total)
            h -= p * log2(p)
        }
        entropyBits = h
        entropyNormalised = n > 1 ? h / log2(Double(n)) : nil
    }

    /// The Lorenz curve of exposure: cumulative share of exposure against the cumulative share
    /// of items (ascending), `n + 1` points from (0, 0) to (1, 1); nil without exposure.
    public static func lorenz(counts x: [Int]) -> [(Double, Double)]? {
        let total = x.reduce(0, +)
        guard total > 0 else { return nil }
        var pts: [(Double, Double)] = [(0, 0)]
        var acc = 0
        for (j, v) in x.sorted().enumerated() {
            acc += v
            pts.append((Double(j + 1) / Double(x.count), Double(acc) / Double(total)))
        }
        return pts
    }
}

/// Cross-user homogeneity (METRICS.md §7): Jaccard similarities over user pairs.
public enum Homogeneity {
    /// Jaccard of two sorted, duplicate-free sets; nil when both are empty.
    public static func jaccard(_ a: [Int32], _ b: [Int32]) -> Double? {
        if a.isEmpty && b.isEmpty { return nil }
        var i = 0
        var j = 0
        var inter = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                inter += 1
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return Double(inter) / Double(a.count + b.count - inter)
    }

    /// Mean Jaccard over all unordered pairs of the given sets (pairs of two empty sets left
    /// out), exactly, through an inverted index: only pairs that share an item need an
    /// intersection; nil for fewer than 2 sets or no counted pair.
    ///
    /// - Complexity: O(Σ_i x_i² + |U|) where x_i is the number of sets holding item i.
    public static func meanPairwiseJaccard(_ sets: [[Int32]], itemCount: Int) -> Double? {
        let n = sets.count
        if n < 2 { return nil }
        let empty = sets.filter { $0.isEmpty }.count
        let pairs = n * (n - 1) / 2 - empty * (empty - 1) / 2
        if pairs == 0 { return nil }
        // Inverted index in CSR form: holders of item i at start[i]..<start[i+1], ascending.
        var start = [Int32](repeating: 0, count: itemCount + 1)
        for s in sets { for i in s { start[Int(i) + 1] += 1 } }
        for i in 0..<itemCount { start[i + 1] += start[i] }
        var fill = start
        var holders = [Int32](repeating: 0, count: Int(start[itemCount]))
        for (u, s) in sets.enumerated() {
            for i in s {
                holders[Int(fill[Int(i)])] = Int32(u)
                fill[Int(i)] += 1
            }
        }
        let sizes = sets.map { Int32($0.count) }
        var total = 0.0
        var inter = [Int32](repeating: 0, count: n)
        var touched = [Int32](repeating: 0, count: n)
        start.withUnsafeBufferPointer { st in
            holders.withUnsafeBufferPointer { h in
                inter.withUnsafeMutableBufferPointer { c in
                    touched.withUnsafeMutableBufferPointer { tb in
                        for u in 0..<n {
                            var nt = 0
                            for i in sets[u] {
                                var j = Int(st[Int(i)])
                                let end = Int(st[Int(i) + 1])
                                // Holders are ascending: skip those ≤ u.
                                while j < end && Int(h[j]) <= u { j += 1 }
                                while j < end {
                                    let v = Int(h[j])
                                    if c[v] == 0 { tb[nt] = Int32(v); nt += 1 }
                                    c[v] += 1
                                    j += 1
                                }
                            }
                            let su = sizes[u]
                            for t in 0..<nt {
                                let v = Int(tb[t])
                                let x = c[v]
                                total += Double(x) / Double(su + sizes[v] - x)
                                c[v] = 0
                            }
                        }
                    }
                }
            }
        }
        return total / Double(pairs)
    }

    /// The same mean over a seeded sample of `sampleSize` pairs of distinct sets, drawn with
    /// replacement (for very large populations); the caller reports it as sampled. With
    /// `members`, over the sets `sets[members[j]]` (sorted, duplicate-free), read in place: the
    /// recorder's consumed sets, which a step would otherwise gather into a new array and
    /// flatten (4 bytes an item of every member's history) for the few sets the sample reads.
    public static func sampledPairwiseJaccard(
        _ sets: [[Int32]], members: [Int]? = nil, sampleSize: Int, seed: Seed, executor: BlockExecutor? = nil
    ) -> Double? {
        sampledMeanJaccard(NestedSets(sets: sets, members: members), sampleSize: sampleSize, seed: seed, executor: executor)
    }

    /// The same for sets stored flat: set j is `flat[offsets[j]..<offsets[j + 1]]` (sorted,
    /// duplicate-free).
    ///
    /// The pairs come in fixed chunks of 8,192, chunk c drawn from its own stream
    /// (`seed.stream("pairs", c)`) on the executor; the chunk sums are added in chunk order, so
    /// the value depends on the seed only, never on the number of workers.
    public static func sampledPairwiseJaccard(
        flat: [Int32], offsets: [Int], sampleSize: Int, seed: Seed, executor: BlockExecutor? = nil
    ) -> Double? {
        sampledMeanJaccard(FlatSets(flat: flat, offsets: offsets), sampleSize: sampleSize, seed: seed, executor: executor)
    }

    /// The same for sets of one size k in any order, e.g. a step's slates: set j is
    /// `flat[r·k..<(r + 1)·k]` with r = `rows[j]` (r = j without `rows`), duplicate-free. A
    /// sampled pair of short sets is intersected by comparing every pair of elements (longer
    /// ones are sorted in scratch space), so the caller keeps no sorted copy (4 bytes an item:
    /// 40 MB for a million 10-item slates). Same pairs, same value as the sorted sets.
    public static func sampledPairwiseJaccard(
        flat: [Int32], setSize k: Int, rows: [Int]? = nil, sampleSize: Int, seed: Seed, executor: BlockExecutor? = nil
    ) -> Double? {
        sampledMeanJaccard(FlatSets(flat: flat, setSize: k, rows: rows), sampleSize: sampleSize, seed: seed, executor: executor)
    }

    /// Sets a sample of pairs reads: set j as a buffer, and whether every set is sorted.
    protocol PairSets: Sendable {
        var count: Int { get }
        var sorted: Bool { get }
        func withSet<R>(_ j: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R
    }

    /// Sorted sets in their own arrays, optionally a subset of them (`members`).
    struct NestedSets: PairSets {
        let sets: [[Int32]]
        let members: [Int]?
        var count: Int { members?.count ?? sets.count }
        var sorted: Bool { true }
        @inline(__always) func withSet<R>(_ j: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R {
            sets[members?[j] ?? j].withUnsafeBufferPointer(body)
        }
    }

    /// Sets in one flat buffer: either compressed rows (`offsets`, each set sorted) or sets of
    /// one size in any order, possibly a subset of the rows.
    struct FlatSets: PairSets {
        let flat: [Int32]
        let offsets: [Int]
        let setSize: Int
        let rows: [Int]?
        let count: Int
        let sorted: Bool

        init(flat: [Int32], offsets: [Int]) {
            self.flat = flat
            self.offsets = offsets
            setSize = 0
            rows = nil
            count = offsets.count - 1
            sorted = true
        }

        init(flat: [Int32], setSize: Int, rows: [Int]?) {
            self.flat = flat
            offsets = []
            self.setSize = setSize
            self.rows = rows
            count = rows?.count ?? (setSize > 0 ? flat.count / setSize : 0)
            sorted = false
        }

        /// Where set j lies in `flat`.
        @inline(__always) func range(_ j: Int) -> Range<Int> {
            if !offsets.isEmpty { return offsets[j]..<offsets[j + 1] }
            let r = rows?[j] ?? j
            return (r * setSize)..<((r + 1) * setSize)
        }

        @inline(__always) func withSet<R>(_ j: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R {
            let r = range(j)
            return flat.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[r])) }
        }
    }

    /// The seeded sample of pairs of distinct sets (see above).
    static func sampledMeanJaccard<S: PairSets>(_ sets: S, sampleSize: Int, seed: Seed, executor: BlockExecutor?) -> Double? {
        let n = sets.count
        if n < 2 { return nil }
        let chunks = BlockExecutor.blocks(count: sampleSize, blockSize: 8192)
        let sums = SharedArray<Double>(repeating: 0, count: chunks.count)
        let counts = SharedArray<Int>(repeating: 0, count: chunks.count)
        (executor ?? BlockExecutor(workers: 1)).forEach(blockCount: chunks.count) { c, _ in
            var sum = 0.0
            var counted = 0
            var rng = seed.stream("pairs", c)
            var sa: [Int32] = [], sb: [Int32] = []
            for _ in chunks[c] {
                let a = Int(rng.next(upperBound: UInt64(n)))
                var b = Int(rng.next(upperBound: UInt64(n - 1)))
                if b >= a { b += 1 }
                let (inter, total) = sets.withSet(a) { ma in sets.withSet(b) { mb in
                    let total = ma.count + mb.count
                    if total == 0 { return (0, 0) }
                    if ma.count * mb.count <= SmallSets.pairLimit {
                        // Short sets (slates, short histories): every pair of elements compared
                        // (SIMD), no sort or merge.
                        return (SmallSets.intersectionCount(ma, mb), total)
                    } else if sets.sorted {
                        return (sortedIntersection(ma, mb), total)
                    } else {
                        sa.removeAll(keepingCapacity: true)
                        sb.removeAll(keepingCapacity: true)
                        sa.append(contentsOf: ma)
                        sb.append(contentsOf: mb)
                        sa.insertionSort()
                        sb.insertionSort()
                        return (sortedIntersection(sa[...], sb[...]), total)
                    }
                } }
                if total == 0 { continue }
                sum += Double(inter) / Double(total - inter)
                counted += 1
            }
            sums[c] = sum
            counts[c] = counted
        }
        let counted = counts.toArray().reduce(0, +)
        return counted > 0 ? sums.toArray().reduce(0, +) / Double(counted) : nil
    }

    /// |a ∩ b| of two sorted, duplicate-free runs.
    @inline(__always)
    static func sortedIntersection<A: RandomAccessCollection<Int32>, B: RandomAccessCollection<Int32>>(_ a: A, _ b: B) -> Int
    where A.Index == Int, B.Index == Int {
        var i = a.startIndex, j = b.startIndex
        let ie = a.endIndex, je = b.endIndex
        var inter = 0
        while i < ie && j < je {
            let x = a[i], y = b[j]
            if x == y { inter += 1 }
            if x <= y { i += 1 }
            if y <= x { j += 1 }
        }
        return inter
    }

    /// `personalization` (Zhou et al. 2010): `1 − mean_{u≠v} |L_u ∩ L_v| / k` from exposure
    /// counts: `Σ_{u≠v} |∩| = Σ_i x_i² − Σ_u |L_u|`; nil for fewer than 2 users.
    public static func personalization(exposure x: [Int], listLengths: [Int], k: Int) -> Double? {
        let n = listLengths.count
        if n < 2 { return nil }
        let sq = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        let overlap = sq - Double(listLengths.reduce(0, +))
        return 1 - overlap / (Double(n) * Double(n - 1) * Double(k))
    }
}
