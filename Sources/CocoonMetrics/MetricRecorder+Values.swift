import CocoonCore
import CocoonMath
import Foundation

/// The group means of a step's list metrics: one row per group, one column per metric, nil
/// where no member's value is defined.
struct ListValues {
    var ids: [String] = []
    var means: [[Double?]] = []
    /// Whether the pass also added the step's consumption to the history vector sums
    /// (`sumRaw`, `sumUnit`), which ``MetricRecorder/absorb(_:vectorSumsAdded:)`` then skips.
    var addedVectorSums = false

    /// The column of metric `id`, or nil when it was not computed.
    func column(of id: String) -> Int? { ids.firstIndex(of: id) }
}

/// Each group's sums of per-user list-metric values, added to chunk by chunk in row order.
struct ListSums {
    let groups: Int
    let metrics: Int
    var sums: [Double]
    var counts: [Int]

    init(groups: Int, metrics m: Int) {
        self.groups = groups
        metrics = m
        sums = [Double](repeating: 0, count: groups * m)
        counts = [Int](repeating: 0, count: groups * m)
    }

    /// Adds the rows `rows` (values in `values`, row `rows.lowerBound` first, NaN: undefined)
    /// of the members of each group, row by row in order: each group's column is summed in user
    /// order, as one pass over the whole step's values would.
    mutating func add(_ values: UnsafeBufferPointer<Double>, rows: Range<Int>, users: [Int32], members: [[Bool]]) {
        let m = metrics
        sums.withUnsafeMutableBufferPointer { sum in
            counts.withUnsafeMutableBufferPointer { n in
                for (gi, member) in members.enumerated() {
                    let s0 = sum.baseAddress! + gi * m, n0 = n.baseAddress! + gi * m
                    for row in rows where member[Int(users[row])] {
                        let r = values.baseAddress! + (row - rows.lowerBound) * m
                        for j in 0..<m {
                            let x = r[j]
                            if !x.isNaN {
                                s0[j] += x
                                n0[j] += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// Per group, every column's mean (nil when no value was defined).
    var means: [[Double?]] {
        (0..<groups).map { gi in
            (0..<metrics).map { j in counts[gi * metrics + j] > 0 ? sums[gi * metrics + j] / Double(counts[gi * metrics + j]) : nil }
        }
    }
}

extension MetricRecorder {
    /// Per-user list metrics of a step, rows aligned with `s.users`.
    ///
    /// Each user's slate is read once into per-block scratch buffers (topic shares, the sum of
    /// the slate's unit vectors, relevance flags), and the history-side inputs come from
    /// accumulators kept up to date by ``absorb(_:vectorSumsAdded:)`` (topic counts, sums of unit vectors), so
    /// the cost per user is O(k·d + |G|) whatever the history length. ILD and unexpectedness
    /// use sums of unit vectors (Σ_{a<b} ê_a·ê_b = (‖Σ ê‖² − Σ‖ê‖²)/2, Σ_i ê_i·m = (Σ ê)·m),
    /// which equal the pairwise definitions of ``ListMetrics`` up to rounding (≈ 1e-15); the
    /// other metrics are summed in the reference order and agree to the last bit.
    func listMetrics(_ s: StepSnapshot) -> ListValues {
        let ids = metricIDs.filter { MetricCatalog.kind(of: $0) == .list }
        if ids.isEmpty || s.users.isEmpty { return ListValues() }
        let n = s.users.count
        let k = s.slateSize
        let c = run.world.catalog
        let t = c.topics
        let gCount = t.count
        let geo = geometry!
        let d = geo.dimension
        let multiTopic = t.isMultiTopic
        let interactions = itemCount
        let tail = Popularity.tail(counts: interactions)
        let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
        // The users go by chunks of blocks: the chunk's values into a buffer on the executor,
        // then added to each group's sums in row order on one thread, beside the next chunk's
        // computation (``BlockExecutor/overlapping(_:with:)``), which writes the other of two
        // buffers. (A buffer of every user's values was 12.8 MB of fresh pages a step at W2's
        // 100,000 users and 16 metrics; a chunk of 32 blocks is 1 MB there. Chunks of 8 blocks
        // left the second worker idle at the end of each chunk four times as often: 0.5% more
        // idle core time at W2.)
        let chunkBlocks = 32
        let outs = (0..<2).map { _ in SharedArray<Double>(repeating: .nan, count: min(n, chunkBlocks * blockSize) * ids.count) }
        let members = groups.map(\.members)
        var sums = ListSums(groups: members.count, metrics: ids.count)
        let histCount = historyCount, rel = relevant, ideal = idealDCG, relTopics = relevantTopicCount
        let counts = topicCounts
        // Metric ids resolved once per step, not compared as strings per user.
        let codes = ids.map { ListMetricID(rawValue: $0) }
        let needSum = codes.contains(.ildCosine) || codes.contains(.unexpectedness)
        // log2(users(i) / |U_H|) per item, once per step (cold items count as one user).
        let logShare: [Double] = codes.contains(.novelty) && historyUsers > 0
            ? itemUsers.map { log2(Double(max($0, 1)) / Double(historyUsers)) } : []
        let needShares = codes.contains { [.topicCoverage, .entropy, .calibration].contains($0) }
        let needHistoryShares = codes.contains { [.calibration, .profileCoverage].contains($0) }
        let eildDiscounts = codes.contains(.eild) ? ListMetrics.eildDiscounts(k) : []
        let needRelevance = codes.contains { [.serendipity, .alphaNDCG, .subtopicRecall, .eild].contains($0) }
        // The step's consumption joins the history vector sums here, user by user right after
        // the user's list metrics (which read the sums before it), while the slate's rows are in
        // cache; `absorb` then skips them.
        let addRaw = needCentroids, addUnit = needUnitSums
        let outcomes = s.outcomes
        let unitRows = geo.unit, rawRows = geo.raw
        // Per worker, per item: the row (+1) whose relevant items were last marked (rows are
        // distinct within a step, so a table needs no clearing between users).
        let relStamps = (0..<executor.workers).map { _ in SharedArray<Int32>(repeating: 0, count: needRelevance ? c.count : 0) }
        func addToSums(_ chunk: (values: SharedArray<Double>, rows: Range<Int>)) {
            chunk.values.withUnsafeMutableBufferPointer(0..<chunk.values.count) { values in
                sums.add(UnsafeBufferPointer(values), rows: chunk.rows, users: s.users, members: members)
            }
        }
        var pending: (values: SharedArray<Double>, rows: Range<Int>)? = nil
        sumRaw.fillInParallel { rawOut in sumUnit.fillInParallel { unitSums in
        for (index, chunk) in stride(from: 0, to: blocks.count, by: chunkBlocks).enumerated() {
        let chunkRows = blocks[chunk].lowerBound..<blocks[min(chunk + chunkBlocks, blocks.count) - 1].upperBound
        let out = outs[index % 2], previous = pending
        executor.overlapping({ if let previous { addToSums(previous) } }, with: {
        executor.forEach(blockCount: min(chunkBlocks, blocks.count - chunk)) { b, w in
            var q = [Double](repeating: 0, count: gCount)  // the slate's topic shares
            var p = [Double](repeating: 0, count: gCount)  // the history's topic shares
            var present = [Bool](repeating: false, count: gCount)
            var topicRun = [Int](repeating: 0, count: gCount)
            var slateSum = [Double](repeating: 0, count: d)  // Σ ê_i over the slate
            var historyMean = [Double](repeating: 0, count: d)  // m_u, for serendipity
            var isRel = [Bool](repeating: false, count: k)
            var seenTopics: [Int] = []  // α-nDCG's per-topic counts
            let relStamp = relStamps[w]
            var items = [Int32](repeating: 0, count: k)
            let block = blocks[chunk + b]
            for row in block {
                let u = Int(s.users[row])
                if needSum && (row - block.lowerBound) & 3 == 0 {
                    // The next four users' slates: their unit rows come from memory, not cache.
                    let ahead = min(row + 4, block.upperBound)..<min(row + 8, block.upperBound)
                    if !ahead.isEmpty {
                        Prefetch.rows(of: unitRows, s.slates[(ahead.lowerBound * k)..<(ahead.upperBound * k)], rowLength: d)
                    }
                }
                // And the raw rows of what the user two rows on consumed (added to the centroid
                // sums below), and that user's own sums (per-user state, not in cache).
                if row + 2 < block.upperBound {
                    let ahead = Int(s.users[row + 2])
                    if addRaw {
                        var consumed = false
                        for x in ((row + 2) * k)..<((row + 3) * k) where outcomes[x] == .consumed {
                            Prefetch.row(of: rawRows, Int(s.slates[x]), rowLength: d)
                            consumed = true
                        }
                        if consumed { Prefetch.row(of: rawOut, ahead, rowLength: d) }
                    }
                    if addUnit { Prefetch.row(of: unitSums, ahead, rowLength: d) }
                    if needHistoryShares { Prefetch.row(of: counts, ahead, rowLength: gCount) }
                    // Its relevant items (an array of their own, read for the stamps below).
                    if needRelevance { Prefetch.start(ofElement: ahead, of: rel, bytes: 160) }
                }
                for x in 0..<k { items[x] = s.slates[row * k + x] }
                let hCount = histCount[u]
                // Σ ‖ê_i‖² (1 per item up to rounding) and Σ ê_i into slateSum.
                let squares = needSum ? slateSum.withUnsafeMutableBufferPointer { ListMetrics.sumUnitRows(items, geo, into: $0) } : 0
                if needShares {
                    for x in 0..<gCount { q[x] = 0 }
                    t.accumulate(items: items, into: &q)
                    let kk = Double(k)
                    for x in 0..<gCount { q[x] = q[x] / kk }
                }
                // Whether u has relevant items (read once: each read of `rel[u]` retained its array).
                var hasRelevant = false
                if needRelevance {
                    // Mark u's relevant items with u's stamp, then look the slate up: no search.
                    let stamp = Int32(row + 1)
                    rel[u].withUnsafeBufferPointer { r in
                        hasRelevant = !r.isEmpty
                        for i in r { relStamp[Int(i)] = stamp }
                    }
                    for x in 0..<k { isRel[x] = relStamp[Int(items[x])] == stamp }
                }
                // By index: iterating the shared array made an iterator that retained it, per
                // user, a reference count the worker threads contend for.
                for j in 0..<codes.count {
                    let code = codes[j]
                    var v = Double.nan
                    switch code {
                    case .ildCosine?:  // 1 − mean pairwise cosine
                        if k == 1 { v = 0 } else if k > 1 {
                            let norm2 = fourLaneDot(d) { slateSum[$0] } _: { slateSum[$0] }
                            v = ListMetrics.ildCosine(sumSquaredNorm: norm2, squaredNorms: squares, count: k)
                        }
                    case .ildTopic?:
                        if multiTopic {
                            v = ListMetrics.ildTopic(items[...], t) ?? .nan
                        } else if k == 1 { v = 0 } else if k > 1 {
                            for i in items { topicRun[Int(t.primary[Int(i)])] += 1 }
                            var same = 0
                            for i in items {
                                let x = Int(t.primary[Int(i)])
                                let cnt = topicRun[x]
                                if cnt > 0 { same += cnt * (cnt - 1); topicRun[x] = 0 }
                            }
                            v = 1 - Double(same) / Double(k * (k - 1))
                        }
                    case .topicCoverage?:
                        if k > 0 {
                            var present = 0
                            for x in 0..<gCount where q[x] > 0 { present += 1 }
                            v = Double(present) / Double(gCount)
                        }
                    case .entropy?:
                        if k > 0 { v = ListMetrics.entropyBits(q) }
                    case .calibration?:
                        if k > 0 && hCount > 0 {
                            let nh = Double(hCount)
                            for x in 0..<gCount { p[x] = counts[u * gCount + x] / nh }
                            v = ListMetrics.calibrationKL(p: p, q: q)
                        }
                    case .profileCoverage?:
                        if k > 0 && hCount > 0 {
                            for x in 0..<gCount { present[x] = false }
                            for i in items { t.forEachTopic(of: Int(i)) { g in present[Int(g)] = true } }
                            var inHistory = 0, both = 0
                            for x in 0..<gCount where counts[u * gCount + x] > 0 {
                                inHistory += 1
                                if present[x] { both += 1 }
                            }
                            v = Double(both) / Double(inHistory)
                        }
                    case .novelty?:
                        if k > 0 && !logShare.isEmpty {
                            var sum = 0.0
                            for i in items { sum = sum - logShare[Int(i)] }
                            v = sum / Double(k)
                        }
                    case .arp?:
                        if k > 0 {
                            var sum = 0
                            for i in items { sum += interactions[Int(i)] }
                            v = Double(sum) / Double(k)
                        }
                    case .tail?:
                        if k > 0 {
                            var inTail = 0
                            for i in items where tail[Int(i)] { inTail += 1 }
                            v = Double(inTail) / Double(k)
                        }
                    case .unexpectedness?:  // mean of 1 − ê_i·m_u, m_u = Σ_H ê / |H|
                        if k > 0 && hCount > 0 {
                            let dot = fourLaneDot(d) { slateSum[$0] } _: { unitSums[u * d + $0] }
                            v = 1 - dot / (Double(hCount) * Double(k))
                        }
                    case .serendipity?:
                        if k > 0 && hCount > 0 {
                            var sum = 0.0
                            let nh = Double(hCount)
                            var haveMean = false
                            for x in 0..<k where isRel[x] {
                                if !haveMean {
                                    for jj in 0..<d { historyMean[jj] = unitSums[u * d + jj] / nh }
                                    haveMean = true
                                }
                                let i = Int(items[x])
                                sum += 1 - fourLaneDot(d) { unitRows[i * d + $0] } _: { historyMean[$0] }
                            }
                            v = sum / Double(k)
                        }
                    case .alphaNDCG?:
                        if hasRelevant && ideal[u] > 0 {
                            v = ListMetrics.alphaDCG(items[...], isRelevant: isRel, t, seen: &seenTopics) / ideal[u]
                        }
                    case .subtopicRecall?:
                        if hasRelevant {
                            for x in 0..<gCount { present[x] = false }
                            var hit = 0
                            for x in 0..<min(k, 10) where isRel[x] {
                                t.forEachTopic(of: Int(items[x])) { g in
                                    if !present[Int(g)] {
                                        present[Int(g)] = true
                                        hit += 1
                                    }
                                }
                            }
                            v = Double(hit) / Double(relTopics[u])
                        }
                    case .eild?:
                        v = ListMetrics.eild(count: k, isRelevant: isRel, discounts: eildDiscounts) {
                            geo.cosine(Int(items[$0]), Int(items[$1]))
                        } ?? .nan
                    case nil: break
                    }
                    out[(row - chunkRows.lowerBound) * ids.count + j] = v
                }
                // This step's consumption, in slate order (as `absorb` adds it).
                for x in 0..<k where outcomes[row * k + x] == .consumed {
                    let i = Int(items[x])
                    if addRaw { rawRows.withUnsafeBufferPointer { rawOut.add($0, from: i * d, count: d, at: u * d) } }
                    if addUnit { unitRows.withUnsafeBufferPointer { unitSums.add($0, from: i * d, count: d, at: u * d) } }
                }
            }
        }
        })
        pending = (out, chunkRows)
        }
        } }
        if let pending { addToSums(pending) }
        return ListValues(ids: ids, means: sums.means, addedVectorSums: addRaw || addUnit)
    }

    /// The value of one metric for one group at the snapshot's step.
    func value(_ id: String, group: MetricGroup, groupIndex gi: Int, snapshot s: StepSnapshot, perUser: ListValues)
        -> Double?
    {
        let t = s.step
        let members = group.members
        let c = run.world.catalog
        let k = s.slateSize
        switch MetricCatalog.kind(of: id) {
        case .list?:
            guard let j = perUser.column(of: id) else { return nil }
            return perUser.means[gi][j]
        case .pooled?:
            if t == 0 { return nil }
            // The group's rows, in an array of exactly their number (8 bytes a user at a million),
            // once per step and group.
            let rows: [Int]
            if let cached = rowsCache[gi] {
                rows = cached
            } else {
                var list: [Int] = []
                list.reserveCapacity(s.users.reduce(0) { $0 + (members[Int($1)] ? 1 : 0) })
                for (row, u) in s.users.enumerated() where members[Int(u)] { list.append(row) }
                rowsCache[gi] = list
                rows = list
            }
            if rows.isEmpty { return nil }
            switch id {
            case "aggregate_diversity", "catalog_coverage", "gini_exposure", "entropy_exposure_bits",
                "entropy_exposure_normalised", "personalization":
                // The exposure counts and their metrics are shared: computed once per step and group.
                let x: [Int], e: ExposureMetrics
                if let cached = exposureCache[gi] {
                    (x, e) = cached
                } else {
                    let counts = ExposureMetrics.counts(
                        slates: s.slates, slateSize: k, rows: rows, itemCount: c.count, executor: executor,
                        blockSize: 16 * blockSize)
                    x = counts
                    e = ExposureMetrics(counts: counts)
                    exposureCache[gi] = (x, e)
                }
                switch id {
                case "aggregate_diversity": return Double(e.aggregateDiversity)
                case "catalog_coverage": return e.catalogCoverage
                case "gini_exposure": return e.gini
                case "entropy_exposure_bits": return e.entropyBits
                case "entropy_exposure_normalised": return e.entropyNormalised
                default: return Homogeneity.personalization(exposure: x, listLengths: rows.map { _ in k }, k: k)
                }
            case "rec_jaccard_all_pairs":
                // Validated slates hold distinct items: sets of k items each, read in place.
                let whole = rows.count == s.users.count
                if rows.count <= exactPairLimit {
                    let sets = rows.map { r in s.slates[(r * k)..<((r + 1) * k)].sorted() }
                    return Homogeneity.meanPairwiseJaccard(sets, itemCount: run.world.catalog.count)
                }
                sampled.insert(id)
                return Homogeneity.sampledPairwiseJaccard(
                    flat: s.slates, setSize: k, rows: whole ? nil : rows, sampleSize: pairSample, seed: pairSeed(id, t, gi),
                    executor: executor)
            case "flag_reexposure_rate", "flag_topic_share_delta", "flag_topic_share_did":
                return flagMetric(id, group: group, groupIndex: gi, snapshot: s)
            default: return nil
            }
        case .state?:
            let users = memberIndices(group, groupIndex: gi)
            switch id {
            case "interaction_jaccard_all_pairs":
                return t == 0 ? nil : pairwise(consumedSet, members: users, id: id, step: t, group: gi)
            case "interaction_jaccard_nn_pairs":
                if t == 0 { return nil }
                return meanOverNearestPairs(users, group: gi) { u, w in Homogeneity.jaccard(consumedSet[u], consumedSet[w]) }
            case "interaction_jaccard_nn_pairs_minus_ideal":
                // Chaney et al. / T-RECS: the pairs' homogenisation relative to what the same
                // pairs consume under the ideal recommender.
                if t == 0 || referenceSet.isEmpty { return nil }
                return meanOverNearestPairs(users, group: gi) { u, w in
                    guard let a = Homogeneity.jaccard(consumedSet[u], consumedSet[w]),
                          let b = Homogeneity.jaccard(referenceSet[u], referenceSet[w]) else { return nil }
                    return a - b
                }
            case "centroid_drift_cosine", "centroid_drift_l2":
                let values = centroidValues()
                return mean(of: id == "centroid_drift_cosine" ? values.driftCosine : values.driftL2, over: users)
            case "profile_topic_entropy_delta":
                let gCount = c.topics.count
                // The recorder's arrays as local copies (a read of a stored property of the
                // class, per user and topic, was an exclusivity check).
                let entropy0 = self.entropy0, historyCount = self.historyCount, topicCounts = self.topicCounts
                let now = entropyNow, at = entropyAt
                return groupMean(id, users) { u in
                    guard let h0 = entropy0[u] else { return nil }
                    // Unchanged since the user last consumed.
                    let count = historyCount[u]
                    if at[u] == count { return now[u] - h0 }
                    // ListMetrics.entropyBits(topicShares(u)) without the array.
                    let total = Double(count)
                    var h = 0.0
                    for q in 0..<gCount {
                        let x = total > 0 ? topicCounts[u * gCount + q] / total : topicCounts[u * gCount + q]
                        if x > 0 { h -= x * log2(x) }
                    }
                    now[u] = h
                    at[u] = count
                    return h - h0
                }
            case "consumed_ild_delta":
                guard t == run.steps || t % 10 == 0, t > 0 else { return nil }
                return groupMean(id, users) { u in
                    guard let a = ListMetrics.ildCosine(self.consumed[u][...], self.geometry), let b = self.seedILD[u] else { return nil }
                    return a - b
                }
            case "population_total_variance_ratio":
                if variance0Cache[gi] == nil {
                    variance0Cache[gi] = .some(StateMetrics.totalVariance(users.filter { centroid0[$0] != nil }.map { centroid0[$0]! }))
                }
                guard let v0 = variance0Cache[gi]!, v0 > 0 else { return nil }
                return centroidValues().totalVariance[gi].map { $0 / v0 }
            case "population_mean_pairwise_cosine_distance":
                return centroidValues().pairwise[gi]
            case "cluster_calinski_harabasz", "cluster_davies_bouldin":
                let idx = users.filter { historyCount[$0] > 0 }
                let points = idx.map { centroid($0)! }
                let labels = idx.map { StateMetrics.dominantTopic(history[$0], c.topics)! }
                return id == "cluster_calinski_harabasz"
                    ? StateMetrics.calinskiHarabasz(points, labels: labels) : StateMetrics.daviesBouldin(points, labels: labels)
            case "polarization_variance_axis_e0":
                return StateMetrics.polarization(users.compactMap { centroid($0) })
            default: return nil
            }
        case .window?:
            guard t > 0 && t % cocoonWindow == 0 else { return nil }
            let gCount = c.topics.count
            let acc = id == "cocoon_ratio_rec" ? windowRec : windowCons
            let mix = s.intrinsicMix
            return groupMean(id, memberIndices(group, groupIndex: gi)) { u in
                MetricRecorder.cocoonRatio(
                    Array(acc[(u * gCount)..<((u + 1) * gCount)]),
                    intrinsic: mix.row(u))
            }
        case nil:
            return nil
        }
    }

    /// The group's members, ascending (once per step and group).
    func memberIndices(_ group: MetricGroup, groupIndex gi: Int) -> [Int] {
        if let cached = memberCache[gi] { return cached }
        let members = group.members
        let users = (0..<members.count).filter { members[$0] }
        memberCache[gi] = users
        return users
    }

    /// H2(counts normalised) / H2(π); nil when π has no entropy or counts are empty.
    static func cocoonRatio(_ counts: [Double], intrinsic: [Float]) -> Double? {
        let total = counts.reduce(0, +)
        let hInt = ListMetrics.entropyBits(intrinsic.map(Double.init))
        guard total > 0, hInt > 0 else { return nil }
        return ListMetrics.entropyBits(counts.map { $0 / total }) / hInt
    }

    /// `f(u)` for every user, computed on the executor in user blocks, NaN where f is nil (8
    /// bytes a user, written in place: no `[Double?]` copy, which at 100,000 users is 1.6 MB of
    /// fresh pages a metric and step). Anything summed from the values in user order does not
    /// depend on workers.
    func eachUser(_ f: @escaping @Sendable (Int) -> Double?) -> [Double] {
        let n = run.world.users.count
        let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
        var out = [Double](repeating: .nan, count: n)
        out.fillInParallel { out in
            executor.forEach(blockCount: blocks.count) { b, _ in
                for u in blocks[b] { out[u] = f(u) ?? .nan }
            }
        }
        return out
    }

    /// The mean over a group's users of a per-user value. The values do not depend on the
    /// group, so they are computed once per step for every user (on the executor) and each
    /// group sums its members in user order — the same sum as computing them per group.
    func groupMean(_ id: String, _ users: [Int], _ f: @escaping @Sendable (Int) -> Double?) -> Double? {
        if userValueCache[id] == nil { userValueCache[id] = eachUser(f) }
        return mean(of: userValueCache[id]!, over: users)
    }

    /// The mean of `values[u]` over `users`, in their order, NaN values left out (nil when
    /// none is defined).
    func mean(of values: [Double], over users: [Int]) -> Double? {
        var s = 0.0
        var n = 0
        values.withUnsafeBufferPointer { v in
            for u in users {
                let x = v[u]
                if !x.isNaN {
                    s += x
                    n += 1
                }
            }
        }
        return n > 0 ? s / Double(n) : nil
    }

    /// Jaccard over the pairs of the sets `sets[members]`: exact for up to ``exactPairLimit``
    /// members, else a seeded sample that reads the sets in place (a gathered copy of every
    /// member's set is made only for the exact path).
    func pairwise(_ sets: [[Int32]], members: [Int], id: String, step: Int, group: Int) -> Double? {
        if members.count <= exactPairLimit {
            return Homogeneity.meanPairwiseJaccard(members.map { sets[$0] }, itemCount: run.world.catalog.count)
        }
        sampled.insert(id)
        return Homogeneity.sampledPairwiseJaccard(
            sets, members: members, sampleSize: pairSample, seed: pairSeed(id, step, group), executor: executor)
    }

    /// The mean of `value(u, w)` over the group's users u that have a nearest neighbour w (nil
    /// values skipped; nil when none is defined or no pairs were made).
    func meanOverNearestPairs(_ users: [Int], group gi: Int, _ value: @Sendable (Int, Int) -> Double?) -> Double? {
        if nearest.isEmpty { return nil }
        let nn = nearest[gi]
        // The pairs' values on the executor, in user order; summed in that order.
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: blockSize)
        let parts = executor.map(blockCount: blocks.count) { b, _ -> [Double] in
            blocks[b].compactMap { j in nn[users[j]].flatMap { value(users[j], $0) } }
        }
        var sum = 0.0, n = 0
        for part in parts {
            for x in part { sum += x }
            n += part.count
        }
        return n > 0 ? sum / Double(n) : nil
    }

    /// The seed of a metric's pair sample at a step for a group.
    func pairSeed(_ id: String, _ step: Int, _ group: Int) -> Seed { seed.derive("pairs." + id).derive(step).derive(group) }

    /// METRICS.md §9 at step s for the group's flags with r < s. The DiD control is the mean
    /// change over the group's users with no flag before s (sums kept per step, so the cost
    /// is O(flags · k) per step).
    func flagMetric(_ id: String, group: MetricGroup, groupIndex gi: Int, snapshot s: StepSnapshot) -> Double? {
        let t = s.step
        let topics = run.world.catalog.topics
        let members = group.members
        let flagList = flags
        // The loops read local copies (a stored property of the recorder read in them would be
        // an exclusivity check per read).
        let k = run.slateSize, population = excluded.count
        // Step t's slates (none stored: no flag's list is found, as `slate(of:at:)` finds none).
        let stored = t >= 0 && t < usersByStep.count
        let nowSlates = stored ? slatesByStep[t] : [], nowUsers = stored ? usersByStep[t] : []
        @Sendable func nowRows(_ u: Int32) -> Range<Int>? {
            stored ? Self.slateRows(of: u, users: nowUsers, population: population, slateSize: k) : nil
        }
        // The flags (every one so far) in blocks on the executor; what each block finds comes
        // back in flag order, and sums are taken in that order (the same bits for any workers).
        let ranges = BlockExecutor.blocks(count: flagList.count, blockSize: Self.flagBlock)
        if id == "flag_reexposure_rate" {
            let parts = executor.map(blockCount: ranges.count) { b, _ -> (eligible: Int, shown: Int) in
                var eligible = 0, shown = 0
                for f in flagList[ranges[b]] where f.r < t && members[Int(f.user)] {
                    eligible += 1
                    if let rows = nowRows(f.user), nowSlates[rows].contains(f.item) { shown += 1 }
                }
                return (eligible, shown)
            }
            let eligible = parts.reduce(0) { $0 + $1.eligible }, shown = parts.reduce(0) { $0 + $1.shown }
            return eligible > 0 ? Double(shown) / Double(eligible) : nil
        }
        if let cached = flagCache[gi] { return id == "flag_topic_share_delta" ? cached.delta : cached.did }
        let shareSum = self.shareSum[gi], shareCount = self.shareCount[gi]
        let excludedSum = self.excludedSum[gi], excludedCount = self.excludedCount[gi]
        let topicCount = run.world.catalog.topics.count
        @Sendable func controlMean(_ step: Int, _ g: Int) -> Double? {
            let n = shareCount[step] - excludedCount[step]
            guard n > 0 else { return nil }
            return (shareSum[step * topicCount + g] - excludedSum[step * topicCount + g]) / Double(n)
        }
        // Both metrics in one pass over the group's flags: per flag, the change of its topic's
        // share and that change less the control's (nil without a control).
        let parts = executor.map(blockCount: ranges.count) { b, _ -> [(delta: Double, did: Double?)] in
            var out: [(delta: Double, did: Double?)] = []
            out.reserveCapacity(ranges[b].count)
            for f in flagList[ranges[b]] where f.r < t && members[Int(f.user)] {
                guard !f.shareThen.isNaN, let rows = nowRows(f.user), !rows.isEmpty else { continue }
                let d = Self.topicShare(nowSlates[rows], f.topic, topics) - f.shareThen
                if let a = controlMean(t, Int(f.topic)), let c = controlMean(f.r, Int(f.topic)) {
                    out.append((d, d - (a - c)))
                } else {
                    out.append((d, nil))
                }
            }
            return out
        }
        var deltaSum = 0.0, didSum = 0.0
        var deltaCount = 0, didCount = 0
        for part in parts {
            for v in part {
                deltaSum += v.delta
                deltaCount += 1
                if let x = v.did {
                    didSum += x
                    didCount += 1
                }
            }
        }
        let result = (delta: deltaCount > 0 ? deltaSum / Double(deltaCount) : nil, did: didCount > 0 ? didSum / Double(didCount) : nil)
        flagCache[gi] = result
        return id == "flag_topic_share_delta" ? result.delta : result.did
    }

    /// Flags per block of the flag metrics.
    static let flagBlock = 4096
}

/// The per-list metrics ``MetricRecorder/listMetrics(_:)`` computes, by METRICS.md id.
enum ListMetricID: String {
    case ildCosine = "ild_cosine", ildTopic = "ild_topic", topicCoverage = "topic_coverage"
    case entropy = "list_topic_entropy_bits", calibration = "calibration_kl", profileCoverage = "profile_topic_coverage"
    case novelty = "novelty_miuf", arp = "arp", tail = "tail_percentage", unexpectedness = "unexpectedness"
    case serendipity = "serendipity_unexp_x_rel", alphaNDCG = "alpha_ndcg_at10", subtopicRecall = "subtopic_recall_at10"
    case eild = "eild_cosine_rel_logdisc"
}
