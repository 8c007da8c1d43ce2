import CocoonMath
import Synchronization

/// The metrics of the users' current history centroids c_u(t) = Σ raw / |H_u|:
/// `centroid_drift_cosine`, `centroid_drift_l2`, `population_total_variance_ratio` and
/// `population_mean_pairwise_cosine_distance`, computed together once per step.
///
/// Users go by chunks, in two passes, every sum in the order — and so with the bits — of
/// ``StateMetrics``' one-thread functions, and nothing summed by one block but a number a
/// user and group:
/// 1. each chunk's centroids, unit centroids and drifts by user blocks; then each group's
///    coordinate sums of its members' centroids (the variance's mean) and unit centroids (the
///    pairwise distance) by blocks of coordinates, every coordinate summed in user order;
/// 2. each member's squared distance from its group's mean by user blocks, added up in user
///    order by one block.
///
/// A chunk's sums (1) or additions (2) are blocks of the same executor call as the next
/// chunk's user blocks (two chunk buffers): one call a chunk, and a worker that comes late to
/// a call still finds work.
struct CentroidValues {
    /// Per user, when asked (NaN: no centroid, or no cosine of a zero vector).
    var driftCosine: [Double] = []
    var driftL2: [Double] = []
    /// Per group: tr Cov of the current centroids of the members that have a seed centroid.
    var totalVariance: [Double?] = []
    /// Per group: `population_mean_pairwise_cosine_distance` of the members' centroids.
    var pairwise: [Double?] = []
}

extension MetricRecorder {
    /// The step's ``CentroidValues`` (computed on the first call of a step).
    func centroidValues() -> CentroidValues {
        if let cached = centroidCache { return cached }
        let wantCosine = metricIDs.contains("centroid_drift_cosine"), wantL2 = metricIDs.contains("centroid_drift_l2")
        let wantVariance = metricIDs.contains("population_total_variance_ratio")
        let wantPairs = metricIDs.contains("population_mean_pairwise_cosine_distance")
        let n = run.world.users.count
        let d = geometry.dimension
        let hc = historyCount, c0 = centroid0, sums = sumRaw
        let members = groups.map(\.members)
        let groupCount = groups.count
        // 16 blocks a chunk: 4,096 users at 256 a block, two buffers of 4 MB at d = 64 (each
        // pass makes an executor call a chunk, and each call ends with a worker waiting for the
        // other: with 8 blocks, W2's 2-worker idle time in the pass was 7.8 core-ms a step,
        // with 16 4.7).
        let chunk = max(min(16 * blockSize, n), 1)
        // Two of each chunk buffer: a chunk's groups' sums (pass 1) or its squared distances'
        // sums (pass 2) go beside the next chunk's centroids, in the same executor call.
        // The chunk's centroids (row r at r · d), then, for the pairwise distance, its unit
        // centroids (at (chunk + r) · d).
        let centroids = (0..<2).map { _ in SharedArray<Double>(repeating: 0, count: (wantPairs ? 2 : 1) * chunk * d) }
        // Per chunk row: 1 has a centroid, 2 also a unit vector (a non-zero centroid).
        let kinds = (0..<2).map { _ in SharedArray<UInt8>(repeating: 0, count: chunk) }
        /// Whether u's centroid enters the variance (a member with a seed centroid always has
        /// a current one: the history only grows).
        @Sendable @inline(__always) func inVariance(_ u: Int) -> Bool { c0[u] != nil && hc[u] > 0 }

        let distanceBuffers = (0..<2).map { _ in SharedArray<Double>(repeating: 0, count: wantVariance ? groupCount * chunk : 0) }
        /// Rows `rows` of chunk `lo..<…`'s centroids into buffer `buffer`; with `drifts`, also the
        /// drifts (written there) and the unit centroids; with `means`, the members' squared
        /// distances from their groups' means (into the buffer's distances).
        @Sendable func fill(
            _ buffer: Int, _ lo: Int, _ rows: Range<Int>,
            drifts: (cosines: ParallelBuffer<Double>, lengths: ParallelBuffer<Double>)?, means: [TotalVarianceSums]? = nil
        ) {
            let centroids = centroids[buffer], kind = kinds[buffer], distances = distanceBuffers[buffer]
            sums.withUnsafeBufferPointer { sums in
                // The block writes its own rows only.
                centroids.withUnsafeMutableBufferPointer(0..<centroids.count) { c in
                    for r in rows {
                        let u = lo + r
                        let h = hc[u]
                        if h == 0 {
                            kind[r] = 0
                            continue
                        }
                        let count = Double(h)
                        // Through pointers, so the division runs on vectors (the same
                        // correctly rounded quotients).
                        let src = sums.baseAddress! + u * d, dst = c.baseAddress! + r * d
                        for j in 0..<d { dst[j] = src[j] / count }
                        kind[r] = 1
                        if let means, inVariance(u) {
                            let row = UnsafeBufferPointer(start: dst, count: d)
                            for gi in 0..<groupCount where members[gi][u] {
                                distances[gi * chunk + r] = means[gi].squaredDistance(row)
                            }
                        }
                        guard let drifts else { continue }
                        // The sums of the drifts and of the length in one loop: four chains
                        // advancing together instead of one after another, each summed in
                        // coordinate order as ``StateMetrics`` sums it (the same bits as
                        // driftCosine, driftL2 and PairwiseCosineSums.normalize).
                        var rr = 0.0, oo = 0.0, ro = 0.0, dd = 0.0
                        if let seed = c0[u], wantCosine || wantL2 {
                            precondition(seed.count == d, "a seed centroid of \(seed.count) coordinates, \(d) expected")
                            seed.withUnsafeBufferPointer { s0 in
                                let o = s0.baseAddress!
                                for j in 0..<d {
                                    let x = dst[j], y = o[j]
                                    rr = rr + x * x
                                    oo = oo + y * y
                                    ro = ro + x * y
                                    dd = dd + (x - y) * (x - y)
                                }
                            }
                            let na = rr.squareRoot(), nb = oo.squareRoot()
                            if wantCosine { drifts.cosines[u] = na == 0 || nb == 0 ? .nan : 1 - ro / (na * nb) }
                            if wantL2 { drifts.lengths[u] = dd.squareRoot() }
                        } else if wantPairs {
                            for j in 0..<d { rr = rr + dst[j] * dst[j] }
                        }
                        let length = rr.squareRoot()
                        if wantPairs && length != 0 {
                            let unit = c.baseAddress! + (chunk + r) * d
                            for j in 0..<d { unit[j] = dst[j] / length }
                            kind[r] = 2
                        }
                    }
                }
            }
        }

        // The groups' coordinate sums by blocks of coordinates. The coordinates' sums are
        // independent of one another, so how they are split changes no bit: one range of whole
        // cache lines a worker.
        let parts = max(1, min(executor.workers, (d + 7) / 8))
        let width = ((d + parts - 1) / parts + 7) / 8 * 8
        let coordinateBlocks = stride(from: 0, to: d, by: width).map { $0..<min($0 + width, d) }
        // Per group, the sums of its members' centroids (at gi · d), then of their unit centroids
        // (at (groupCount + gi) · d).
        let groupSums = SharedArray<Double>(repeating: 0, count: 2 * groupCount * d)
        let counts = SharedArray<Int>(repeating: 0, count: 2 * groupCount)  // variance, pairs
        /// Adds coordinates `js` of chunk `lo..<hi`'s centroids and unit centroids (in buffer
        /// `buffer`) to their groups' sums; the first block of coordinates counts the members.
        @Sendable func addToGroups(_ buffer: Int, _ lo: Int, _ hi: Int, coordinates b: Int) {
            let js = coordinateBlocks[b]
            let centroids = centroids[buffer], kind = kinds[buffer]
            centroids.withUnsafeMutableBufferPointer(0..<centroids.count) { c in
                groupSums.withUnsafeMutableBufferPointer(0..<groupSums.count) { g in
                    for u in lo..<hi {
                        let r = u - lo
                        // The rows eight users on: with two workers, most were written by the
                        // other one, and come from its cache only when asked for.
                        if u + 8 < hi {
                            let ahead = c.baseAddress! + (r + 8) * d + js.lowerBound
                            Prefetch.doubles(at: ahead, count: js.count)
                            if wantPairs { Prefetch.doubles(at: ahead + chunk * d, count: js.count) }
                        }
                        let toMean = wantVariance && inVariance(u)  // a centroid: inVariance needs a history
                        let toPairs = wantPairs && kind[r] == 2
                        if !toMean && !toPairs { continue }
                        let row = c.baseAddress! + r * d
                        for gi in 0..<groupCount where members[gi][u] {
                            if toMean {
                                let m = g.baseAddress! + gi * d
                                for j in js { m[j] = m[j] + row[j] }
                                if b == 0 { counts[2 * gi] += 1 }
                            }
                            if toPairs {
                                let e = g.baseAddress! + (groupCount + gi) * d, unit = c.baseAddress! + (chunk + r) * d
                                for j in js { e[j] = e[j] + unit[j] }
                                if b == 0 { counts[2 * gi + 1] += 1 }
                            }
                        }
                    }
                }
            }
        }

        let chunks = stride(from: 0, to: n, by: chunk).map { $0..<min($0 + chunk, n) }
        /// One executor call per chunk c (buffer c % 2), and one after the last: chunk c − 1's
        /// `tailBlocks` blocks of `tail` (claimed first: the longer ones) beside chunk c's user
        /// blocks of `head`. What `tail` sums is still summed a chunk after the other.
        func pipelined(
            tailBlocks: Int, tail: @Sendable (_ chunk: Int, _ block: Int) -> Void,
            head: @Sendable (_ chunk: Int, _ rows: Range<Int>) -> Void
        ) {
            for c in 0...chunks.count {
                let blocks = c < chunks.count ? BlockExecutor.blocks(count: chunks[c].count, blockSize: blockSize) : []
                let previous = c > 0 ? tailBlocks : 0
                executor.forEach(blockCount: previous + blocks.count) { b, _ in
                    if b < previous { tail(c - 1, b) } else { head(c, blocks[b - previous]) }
                }
            }
        }

        // Pass 1: drifts, the variance's means, the unit sums (each coordinate summed in user order).
        var cosineDrifts = [Double](repeating: .nan, count: wantCosine ? n : 0)
        var lengthDrifts = [Double](repeating: .nan, count: wantL2 ? n : 0)
        cosineDrifts.fillInParallel { cosines in lengthDrifts.fillInParallel { lengths in
            pipelined(
                tailBlocks: wantVariance || wantPairs ? coordinateBlocks.count : 0,
                tail: { c, b in addToGroups(c % 2, chunks[c].lowerBound, chunks[c].upperBound, coordinates: b) },
                head: { c, rows in fill(c % 2, chunks[c].lowerBound, rows, drifts: (cosines, lengths)) })
        } }
        var values = CentroidValues()
        values.driftCosine = cosineDrifts
        values.driftL2 = lengthDrifts
        let all = groupSums.toArray()
        if wantPairs {
            values.pairwise = (0..<groupCount).map { gi in
                let sum = Array(all[((groupCount + gi) * d)..<((groupCount + gi + 1) * d)])
                return PairwiseCosineSums(count: counts[2 * gi + 1], sum: sum).value
            }
        }

        // Pass 2: each member's squared distance from its group's mean (the centroids again),
        // by user blocks, added up in user order by one block a chunk.
        if wantVariance {
            let means = (0..<groupCount).map { gi in
                var v = TotalVarianceSums(count: counts[2 * gi], sums: Array(all[(gi * d)..<((gi + 1) * d)]))
                v.finishMean()
                return v
            }
            let variance = Mutex(means)
            pipelined(
                tailBlocks: 1,
                tail: { c, _ in
                    let rows = chunks[c], distances = distanceBuffers[c % 2]
                    variance.withLock { sums in
                        for gi in 0..<groupCount {
                            let m = members[gi]
                            for u in rows where m[u] && inVariance(u) {
                                sums[gi].addSquaredDistance(distances[gi * chunk + u - rows.lowerBound])
                            }
                        }
                    }
                },
                head: { c, rows in fill(c % 2, chunks[c].lowerBound, rows, drifts: nil, means: means) })
            values.totalVariance = variance.withLock { $0.map(\.value) }
        }
        centroidCache = values
        return values
    }
}
