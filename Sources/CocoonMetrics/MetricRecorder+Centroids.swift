import CocoonMath

/// The metrics of the users' current history centroids c_u(t) = Σ raw / |H_u|:
/// `centroid_drift_cosine`, `centroid_drift_l2`, `population_total_variance_ratio` and
/// `population_mean_pairwise_cosine_distance`, computed together once per step.
///
/// Each of them used to compute every user's centroid itself (d divisions a user; the total
/// variance twice), the two population ones on one thread. Here users go by chunks: the
/// chunk's centroids (and, for the pairwise distance, their unit vectors, and the drifts) are
/// computed on the executor, then added to each group's sums on the calling thread in user
/// order — the order, and so the bits, of ``StateMetrics``' one-thread functions.
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
        let chunk = max(min(8 * blockSize, n), 1)
        let rows = SharedArray<Double>(repeating: 0, count: chunk * d)
        let units = SharedArray<Double>(repeating: 0, count: wantPairs ? chunk * d : 0)
        // Per chunk row: 1 has a centroid, 2 also a unit vector (a non-zero centroid).
        let kind = SharedArray<UInt8>(repeating: 0, count: chunk)
        // The drifts, written in place by the blocks (NaN: none).
        var cosineDrifts = [Double](repeating: .nan, count: wantCosine ? n : 0)
        var lengthDrifts = [Double](repeating: .nan, count: wantL2 ? n : 0)
        let hc = historyCount, c0 = centroid0, sums = sumRaw
        let members = groups.map(\.members)
        var variance = groups.map { _ in TotalVarianceSums(dimension: d) }
        var pairs = groups.map { _ in PairwiseCosineSums(dimension: d) }

        /// Chunk `lo..<hi`'s centroids on the executor; with `drifts`, also the drifts (written
        /// there) and unit vectors.
        func fill(_ lo: Int, _ hi: Int, drifts: (cosines: ParallelBuffer<Double>, lengths: ParallelBuffer<Double>)?) {
            let blocks = BlockExecutor.blocks(count: hi - lo, blockSize: blockSize)
            executor.forEach(blockCount: blocks.count) { b, _ in
                sums.withUnsafeBufferPointer { sums in
                    for r in blocks[b] {
                        let u = lo + r
                        let h = hc[u]
                        if h == 0 {
                            kind[r] = 0
                            continue
                        }
                        let count = Double(h)
                        rows.withUnsafeMutableBufferPointer((r * d)..<((r + 1) * d)) { row in
                            // Through pointers, so the division runs on vectors (the same
                            // correctly rounded quotients).
                            let src = sums.baseAddress! + u * d, dst = row.baseAddress!
                            for j in 0..<d { dst[j] = src[j] / count }
                            kind[r] = 1
                            guard let drifts else { return }
                            // The sums of the drifts and of the unit vector in one loop: four
                            // chains advancing together instead of one after another, each
                            // summed in coordinate order as ``StateMetrics`` sums it (the same
                            // bits as driftCosine, driftL2 and PairwiseCosineSums.normalize).
                            var rr = 0.0, oo = 0.0, ro = 0.0, dd = 0.0
                            if let seed = c0[u] {
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
                                units.withUnsafeMutableBufferPointer((r * d)..<((r + 1) * d)) { unit in
                                    let out = unit.baseAddress!
                                    for j in 0..<d { out[j] = dst[j] / length }
                                }
                                kind[r] = 2
                            }
                        }
                    }
                }
            }
        }

        // Pass 1: drifts, the variance's means, the unit sums. (A member with a seed centroid
        // always has a current one: the history only grows.)
        cosineDrifts.fillInParallel { cosines in lengthDrifts.fillInParallel { lengths in
        for lo in stride(from: 0, to: n, by: chunk) {
            let hi = min(lo + chunk, n)
            fill(lo, hi, drifts: (cosines, lengths))
            if !wantVariance && !wantPairs { continue }
            rows.withUnsafeMutableBufferPointer(0..<(chunk * d)) { rowBuffer in
                units.withUnsafeMutableBufferPointer(0..<units.count) { unitBuffer in
                    for gi in members.indices {
                        let m = members[gi]
                        for u in lo..<hi where m[u] {
                            let r = u - lo
                            if wantVariance && c0[u] != nil && kind[r] > 0 {
                                variance[gi].addToMean(UnsafeBufferPointer(rebasing: rowBuffer[(r * d)..<((r + 1) * d)]))
                            }
                            if wantPairs && kind[r] == 2 {
                                pairs[gi].add(UnsafeBufferPointer(rebasing: unitBuffer[(r * d)..<((r + 1) * d)]))
                            }
                        }
                    }
                }
            }
        }
        } }
        // Pass 2: the squared deviations from each group's mean (the centroids again).
        if wantVariance {
            for gi in variance.indices { variance[gi].finishMean() }
            for lo in stride(from: 0, to: n, by: chunk) {
                let hi = min(lo + chunk, n)
                fill(lo, hi, drifts: nil)
                rows.withUnsafeMutableBufferPointer(0..<(chunk * d)) { rowBuffer in
                    for gi in members.indices {
                        let m = members[gi]
                        for u in lo..<hi where m[u] && c0[u] != nil && kind[u - lo] > 0 {
                            let r = u - lo
                            variance[gi].addToSquares(UnsafeBufferPointer(rebasing: rowBuffer[(r * d)..<((r + 1) * d)]))
                        }
                    }
                }
            }
        }
        var values = CentroidValues()
        values.driftCosine = cosineDrifts
        values.driftL2 = lengthDrifts
        if wantVariance { values.totalVariance = variance.map(\.value) }
        if wantPairs { values.pairwise = pairs.map(\.value) }
        centroidCache = values
        return values
    }
}
