import CocoonCore
import CocoonMath
import Foundation

extension MetricRecorder {
    /// Per-user list metrics of a step: metric id → values aligned with `s.users`.
    ///
    /// Each user's slate is read once into per-block scratch buffers (topic shares, the sum of
    /// the slate's unit vectors, relevance flags), and the history-side inputs come from
    /// accumulators kept up to date by ``absorb(_:)`` (topic counts, sums of unit vectors), so
    /// the cost per user is O(k·d + |G|) whatever the history length. ILD and unexpectedness
    /// use sums of unit vectors (Σ_{a<b} ê_a·ê_b = (‖Σ ê‖² − Σ‖ê‖²)/2, Σ_i ê_i·m = (Σ ê)·m),
    /// which equal the pairwise definitions of ``ListMetrics`` up to rounding (≈ 1e-15); the
    /// other metrics are summed in the reference order and agree to the last bit.
    func listMetrics(_ s: StepSnapshot) -> [String: [Double?]] {
        let ids = metricIDs.filter { MetricCatalog.kind(of: $0) == .list }
        if ids.isEmpty || s.users.isEmpty { return [:] }
        let n = s.users.count
        let k = s.slateSize
        let c = run.world.catalog
        let t = c.topics
        let gCount = t.count
        let geo = geometry!
        let d = geo.dimension
        let multiTopic = t.isMultiTopic
        let pop = PopularitySnapshot(count: itemCount, users: itemUsers, historyUsers: historyUsers)
        let tail = pop.tailSet()
        let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
        let out = SharedArray<Double>(repeating: .nan, count: n * ids.count)
        let histCount = historyCount, rel = relevant, ideal = idealDCG, relTopics = relevantTopicCount
        let counts = topicCounts, unitSums = sumUnit
        // Metric ids resolved once per step, not compared as strings per user.
        let known = ["ild_cosine", "ild_topic", "topic_coverage", "list_topic_entropy_bits", "calibration_kl", "profile_topic_coverage",
                     "novelty_miuf", "arp", "tail_percentage", "unexpectedness", "serendipity_unexp_x_rel", "alpha_ndcg_at10",
                     "subtopic_recall_at10", "eild_cosine_rel_logdisc"]
        let codes = ids.map { known.firstIndex(of: $0) ?? -1 }
        let needSum = codes.contains(0) || codes.contains(9)
        // log2(users(i) / |U_H|) per item, once per step (cold items count as one user).
        let logShare: [Double] = codes.contains(6) && historyUsers > 0
            ? itemUsers.map { log2(Double(max($0, 1)) / Double(historyUsers)) } : []
        let needShares = codes.contains { [2, 3, 4].contains($0) }
        let needRelevance = codes.contains { [10, 11, 12, 13].contains($0) }
        executor.forEach(blockCount: blocks.count) { b, _ in
            var q = [Double](repeating: 0, count: gCount)  // the slate's topic shares
            var p = [Double](repeating: 0, count: gCount)  // the history's topic shares
            var present = [Bool](repeating: false, count: gCount)
            var topicRun = [Int](repeating: 0, count: gCount)
            var slateSum = [Double](repeating: 0, count: d)  // Σ ê_i over the slate
            var isRel = [Bool](repeating: false, count: k)
            var items = [Int32](repeating: 0, count: k)
            for row in blocks[b] {
                let u = Int(s.users[row])
                for x in 0..<k { items[x] = s.slates[row * k + x] }
                let list = s.slates[(row * k)..<((row + 1) * k)]
                let hCount = histCount[u]
                var squares = 0.0  // Σ ‖ê_i‖² (1 per item, 0 for a zero embedding)
                if needSum {
                    for j in 0..<d { slateSum[j] = 0 }
                    geo.unit.withUnsafeBufferPointer { unit in
                        for i in items {
                            let row = unit.baseAddress! + Int(i) * d
                            for j in 0..<d {
                                let x = row[j]
                                slateSum[j] += x
                                squares += x * x
                            }
                        }
                    }
                }
                if needShares {
                    for x in 0..<gCount { q[x] = 0 }
                    for i in items { t.accumulate(item: Int(i), into: &q) }
                    let kk = Double(k)
                    for x in 0..<gCount { q[x] = q[x] / kk }
                }
                if needRelevance {
                    for x in 0..<k { isRel[x] = rel[u].sortedContains(items[x]) }
                }
                for (j, code) in codes.enumerated() {
                    var v = Double.nan
                    switch code {
                    case 0:  // ild_cosine: 1 − mean pairwise cosine
                        if k == 1 { v = 0 } else if k > 1 {
                            var norm2 = 0.0
                            for j in 0..<d { norm2 += slateSum[j] * slateSum[j] }
                            v = 1 - (norm2 - squares) / Double(k * (k - 1))
                        }
                    case 1:  // ild_topic
                        if multiTopic {
                            v = ListMetrics.ildTopic(list, t) ?? .nan
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
                    case 2:  // topic_coverage
                        if k > 0 {
                            var present = 0
                            for x in 0..<gCount where q[x] > 0 { present += 1 }
                            v = Double(present) / Double(gCount)
                        }
                    case 3:  // list_topic_entropy_bits
                        if k > 0 { v = ListMetrics.entropyBits(q) }
                    case 4:  // calibration_kl
                        if k > 0 && hCount > 0 {
                            let nh = Double(hCount)
                            for x in 0..<gCount { p[x] = counts[u * gCount + x] / nh }
                            v = ListMetrics.calibrationKL(p: p, q: q)
                        }
                    case 5:  // profile_topic_coverage
                        if k > 0 && hCount > 0 {
                            for x in 0..<gCount { present[x] = false }
                            for i in items { for g in t.topics(of: Int(i)) { present[Int(g)] = true } }
                            var inHistory = 0, both = 0
                            for x in 0..<gCount where counts[u * gCount + x] > 0 {
                                inHistory += 1
                                if present[x] { both += 1 }
                            }
                            v = Double(both) / Double(inHistory)
                        }
                    case 6:  // novelty_miuf
                        if k > 0 && !logShare.isEmpty {
                            var sum = 0.0
                            for i in items { sum = sum - logShare[Int(i)] }
                            v = sum / Double(k)
                        }
                    case 7: if k > 0 { v = Double(list.reduce(0) { $0 + pop.count[Int($1)] }) / Double(k) }
                    case 8:
                        if k > 0 {
                            var inTail = 0
                            for i in items where tail[Int(i)] { inTail += 1 }
                            v = Double(inTail) / Double(k)
                        }
                    case 9:  // unexpectedness: mean of 1 − ê_i·m_u, m_u = Σ_H ê / |H|
                        if k > 0 && hCount > 0 {
                            var dot = 0.0
                            for jj in 0..<d { dot += slateSum[jj] * unitSums[u * d + jj] }
                            v = 1 - dot / (Double(hCount) * Double(k))
                        }
                    case 10:  // serendipity_unexp_x_rel
                        if k > 0 && hCount > 0 {
                            var sum = 0.0
                            let nh = Double(hCount)
                            for x in 0..<k where isRel[x] {
                                let i = Int(items[x])
                                var dot = 0.0
                                for jj in 0..<d { dot += geo.unit[i * d + jj] * (unitSums[u * d + jj] / nh) }
                                sum += 1 - dot
                            }
                            v = sum / Double(k)
                        }
                    case 11:  // alpha_ndcg_at10
                        if !rel[u].isEmpty && ideal[u] > 0 {
                            v = ListMetrics.alphaDCG(list, isRelevant: isRel, t) / ideal[u]
                        }
                    case 12:  // subtopic_recall_at10
                        if !rel[u].isEmpty {
                            for x in 0..<gCount { present[x] = false }
                            var hit = 0
                            for x in 0..<min(k, 10) where isRel[x] {
                                for g in t.topics(of: Int(items[x])) where !present[Int(g)] {
                                    present[Int(g)] = true
                                    hit += 1
                                }
                            }
                            v = Double(hit) / Double(relTopics[u])
                        }
                    case 13:  // eild_cosine_rel_logdisc
                        v = ListMetrics.eild(count: k, isRelevant: isRel) { geo.cosine(Int(items[$0]), Int(items[$1])) } ?? .nan
                    default: break
                    }
                    out[row * ids.count + j] = v
                }
            }
        }
        let flat = out.toArray()
        var result: [String: [Double?]] = [:]
        for (j, id) in ids.enumerated() {
            result[id] = (0..<n).map { r in
                let x = flat[r * ids.count + j]
                return x.isNaN ? nil : x
            }
        }
        return result
    }

    /// The value of one metric for one group at the snapshot's step.
    func value(_ id: String, group: MetricGroup, groupIndex gi: Int, snapshot s: StepSnapshot, perUser: [String: [Double?]])
        -> Double?
    {
        let t = s.step
        let members = group.members
        let c = run.world.catalog
        let k = s.slateSize
        switch MetricCatalog.kind(of: id) {
        case .list?:
            guard let values = perUser[id] else { return nil }
            var sum = 0.0
            var n = 0
            for (row, u) in s.users.enumerated() where members[Int(u)] {
                if let v = values[row] {
                    sum += v
                    n += 1
                }
            }
            return n > 0 ? sum / Double(n) : nil
        case .pooled?:
            if t == 0 { return nil }
            let rows = s.users.indices.filter { members[Int(s.users[$0])] }
            if rows.isEmpty { return nil }
            switch id {
            case "aggregate_diversity", "catalog_coverage", "gini_exposure", "entropy_exposure_bits",
                "entropy_exposure_normalised", "personalization":
                // The exposure counts are shared by these metrics: counted once per step and group.
                let x: [Int]
                if let cached = exposureCache[gi] {
                    x = cached
                } else {
                    var counts = [Int](repeating: 0, count: c.count)
                    for r in rows { for p in 0..<k { counts[Int(s.slates[r * k + p])] += 1 } }
                    exposureCache[gi] = counts
                    x = counts
                }
                let e = ExposureMetrics(counts: x)
                switch id {
                case "aggregate_diversity": return Double(e.aggregateDiversity)
                case "catalog_coverage": return e.catalogCoverage
                case "gini_exposure": return e.gini
                case "entropy_exposure_bits": return e.entropyBits
                case "entropy_exposure_normalised": return e.entropyNormalised
                default: return Homogeneity.personalization(exposure: x, listLengths: rows.map { _ in k }, k: k)
                }
            case "rec_jaccard_all_pairs":
                // Validated slates hold distinct items: sorting makes them sets (once per step,
                // by insertion into one flat buffer).
                if sortedSlatesCache == nil {
                    var flat = s.slates
                    flat.withUnsafeMutableBufferPointer { f in
                        for r in s.users.indices { f[(r * k)..<((r + 1) * k)].insertionSort() }
                    }
                    sortedSlatesCache = flat
                }
                let sorted = sortedSlatesCache!
                var members = [Int32]()
                members.reserveCapacity(rows.count * k)
                for r in rows { members.append(contentsOf: sorted[(r * k)..<((r + 1) * k)]) }
                return pairwise(flat: members, offsets: (0...rows.count).map { $0 * k }, id: id, step: t, group: gi)
            case "flag_reexposure_rate", "flag_topic_share_delta", "flag_topic_share_did":
                return flagMetric(id, group: group, groupIndex: gi, snapshot: s)
            default: return nil
            }
        case .state?:
            let users = (0..<members.count).filter { members[$0] }
            switch id {
            case "interaction_jaccard_all_pairs":
                return t == 0 ? nil : pairwise(users.map { consumedSet[$0] }, id: id, step: t, group: gi)
            case "interaction_jaccard_nn_pairs":
                if t == 0 || nearest.isEmpty { return nil }
                let nn = nearest[gi]
                let v = users.compactMap { u in nn[u].flatMap { Homogeneity.jaccard(consumedSet[u], consumedSet[$0]) } }
                return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
            case "centroid_drift_cosine", "centroid_drift_l2":
                // Both from one pass over the users (the same sums as StateMetrics.driftCosine
                // and driftL2, without per-user arrays).
                if userValueCache[id] == nil {
                    let n = run.world.users.count, d = geometry.dimension
                    let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
                    let cosines = SharedArray<Double>(repeating: .nan, count: n)
                    let distances = SharedArray<Double>(repeating: .nan, count: n)
                    executor.forEach(blockCount: blocks.count) { b, _ in
                        for u in blocks[b] {
                            let h = self.historyCount[u]
                            guard h > 0, let c0 = self.centroid0[u] else { continue }
                            let nh = Double(h)
                            var na = 0.0, nb = 0.0, dot = 0.0, l2 = 0.0
                            for j in 0..<d {
                                let x = self.sumRaw[u * d + j] / nh
                                na += x * x
                                nb += c0[j] * c0[j]
                                dot += x * c0[j]
                                l2 += (x - c0[j]) * (x - c0[j])
                            }
                            let sa = na.squareRoot(), sb = nb.squareRoot()
                            if sa != 0 && sb != 0 { cosines[u] = 1 - dot / (sa * sb) }
                            distances[u] = l2.squareRoot()
                        }
                    }
                    userValueCache["centroid_drift_cosine"] = cosines.toArray().map { $0.isNaN ? nil : $0 }
                    userValueCache["centroid_drift_l2"] = distances.toArray().map { $0.isNaN ? nil : $0 }
                }
                return mean(users.map { userValueCache[id]![$0] })
            case "profile_topic_entropy_delta":
                let gCount = c.topics.count
                return groupMean(id, users) { u in
                    guard let h0 = self.entropy0[u] else { return nil }
                    // ListMetrics.entropyBits(topicShares(u)) without the array.
                    let total = Double(self.historyCount[u])
                    var h = 0.0
                    for q in 0..<gCount {
                        let x = total > 0 ? self.topicCounts[u * gCount + q] / total : self.topicCounts[u * gCount + q]
                        if x > 0 { h -= x * log2(x) }
                    }
                    return h - h0
                }
            case "consumed_ild_delta":
                guard t == run.steps || t % 10 == 0, t > 0 else { return nil }
                return groupMean(id, users) { u in
                    guard let a = ListMetrics.ildCosine(self.consumed[u][...], self.geometry), let b = self.seedILD[u] else { return nil }
                    return a - b
                }
            case "population_total_variance_ratio":
                let both = users.filter { centroid0[$0] != nil }
                if variance0Cache[gi] == nil { variance0Cache[gi] = .some(StateMetrics.totalVariance(both.map { centroid0[$0]! })) }
                guard let v0 = variance0Cache[gi]!, v0 > 0 else { return nil }
                return centroidTotalVariance(both).map { $0 / v0 }
            case "population_mean_pairwise_cosine_distance":
                return centroidMeanPairwiseCosineDistance(users)
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
            return groupMean(id, (0..<members.count).filter { members[$0] }) { u in
                MetricRecorder.cocoonRatio(
                    Array(acc[(u * gCount)..<((u + 1) * gCount)]),
                    intrinsic: Array(mix[(u * gCount)..<((u + 1) * gCount)]))
            }
        case nil:
            return nil
        }
    }

    /// H2(counts normalised) / H2(π); nil when π has no entropy or counts are empty.
    static func cocoonRatio(_ counts: [Double], intrinsic: [Float]) -> Double? {
        let total = counts.reduce(0, +)
        let hInt = ListMetrics.entropyBits(intrinsic.map(Double.init))
        guard total > 0, hInt > 0 else { return nil }
        return ListMetrics.entropyBits(counts.map { $0 / total }) / hInt
    }

    /// `f(u)` for every user of `users`, computed on the executor in user blocks; the values
    /// come back in `users` order, so anything summed from them does not depend on workers.
    func eachUser(_ users: [Int], _ f: @escaping @Sendable (Int) -> Double?) -> [Double?] {
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: blockSize)
        let out = SharedArray<Double>(repeating: .nan, count: users.count)
        executor.forEach(blockCount: blocks.count) { b, _ in
            for j in blocks[b] { out[j] = f(users[j]) ?? .nan }
        }
        return out.toArray().map { $0.isNaN ? nil : $0 }
    }

    /// The mean over a group's users of a per-user value. The values do not depend on the
    /// group, so they are computed once per step for every user (on the executor) and each
    /// group sums its members in user order — the same sum as computing them per group.
    func groupMean(_ id: String, _ users: [Int], _ f: @escaping @Sendable (Int) -> Double?) -> Double? {
        if userValueCache[id] == nil { userValueCache[id] = eachUser(Array(0..<run.world.users.count), f) }
        let all = userValueCache[id]!
        return mean(users.map { all[$0] })
    }

    /// `StateMetrics.totalVariance` of the current centroids of `users` (all with a history),
    /// read from the running sums without building per-user arrays (same sums, same order).
    func centroidTotalVariance(_ users: [Int]) -> Double? {
        if users.isEmpty { return nil }
        let d = geometry.dimension
        return sumRaw.withUnsafeBufferPointer { raw in
            var mean = [Double](repeating: 0, count: d)
            for u in users {
                let nh = Double(historyCount[u])
                for j in 0..<d { mean[j] += raw[u * d + j] / nh }
            }
            let n = Double(users.count)
            for j in 0..<d { mean[j] = mean[j] / n }
            var s = 0.0
            for u in users {
                let nh = Double(historyCount[u])
                for j in 0..<d {
                    let x = raw[u * d + j] / nh - mean[j]
                    s += x * x
                }
            }
            return s / n
        }
    }

    /// `StateMetrics.meanPairwiseCosineDistance` of the current centroids of `users` (users
    /// without a history or with a zero centroid left out), from the running sums.
    func centroidMeanPairwiseCosineDistance(_ users: [Int]) -> Double? {
        let d = geometry.dimension
        return sumRaw.withUnsafeBufferPointer { raw in
            var sum = [Double](repeating: 0, count: d)
            var c = [Double](repeating: 0, count: d)
            var count = 0
            for u in users {
                let h = historyCount[u]
                if h == 0 { continue }
                let nh = Double(h)
                var norm2 = 0.0
                for j in 0..<d {
                    c[j] = raw[u * d + j] / nh
                    norm2 += c[j] * c[j]
                }
                let norm = norm2.squareRoot()
                if norm == 0 { continue }
                for j in 0..<d { sum[j] += c[j] / norm }
                count += 1
            }
            if count < 2 { return nil }
            var sq = 0.0
            for j in 0..<d { sq += sum[j] * sum[j] }
            return 1 - (sq - Double(count)) / (Double(count) * Double(count - 1))
        }
    }

    func mean(_ v: [Double?]) -> Double? {
        var s = 0.0
        var n = 0
        for x in v {
            if let x {
                s += x
                n += 1
            }
        }
        return n > 0 ? s / Double(n) : nil
    }

    /// Exact all-pairs Jaccard up to ``exactPairLimit`` sets, else a seeded sample.
    func pairwise(_ sets: [[Int32]], id: String, step: Int, group: Int) -> Double? {
        if sets.count <= exactPairLimit {
            return Homogeneity.meanPairwiseJaccard(sets, itemCount: run.world.catalog.count)
        }
        sampled.insert(id)
        return Homogeneity.sampledPairwiseJaccard(sets, sampleSize: pairSample, seed: pairSeed(id, step, group), executor: executor)
    }

    /// The same for sets stored flat (set j at `flat[offsets[j]..<offsets[j + 1]]`).
    func pairwise(flat: [Int32], offsets: [Int], id: String, step: Int, group: Int) -> Double? {
        let count = offsets.count - 1
        if count <= exactPairLimit {
            let sets = (0..<count).map { Array(flat[offsets[$0]..<offsets[$0 + 1]]) }
            return Homogeneity.meanPairwiseJaccard(sets, itemCount: run.world.catalog.count)
        }
        sampled.insert(id)
        return Homogeneity.sampledPairwiseJaccard(flat: flat, offsets: offsets, sampleSize: pairSample, seed: pairSeed(id, step, group), executor: executor)
    }

    /// The seed of a metric's pair sample at a step for a group.
    func pairSeed(_ id: String, _ step: Int, _ group: Int) -> Seed { seed.derive("pairs." + id).derive(step).derive(group) }

    /// METRICS.md §9 at step s for the group's flags with r < s. The DiD control is the mean
    /// change over the group's users with no flag before s (sums kept per step, so the cost
    /// is O(flags · k) per step).
    func flagMetric(_ id: String, group: MetricGroup, groupIndex gi: Int, snapshot s: StepSnapshot) -> Double? {
        let t = s.step
        let topics = run.world.catalog.topics
        if id == "flag_reexposure_rate" {
            var eligible = 0, shown = 0
            for f in flags where f.r < t && group.members[Int(f.user)] {
                eligible += 1
                if slate(of: f.user, at: t)?.contains(f.item) ?? false { shown += 1 }
            }
            return eligible > 0 ? Double(shown) / Double(eligible) : nil
        }
        if let cached = flagCache[gi] { return id == "flag_topic_share_delta" ? cached.delta : cached.did }
        func share(_ l: ArraySlice<Int32>, _ g: Int32) -> Double {
            var hits = 0
            for i in l where topics.topics(of: Int(i)).contains(g) { hits += 1 }
            return Double(hits) / Double(l.count)
        }
        func controlMean(_ step: Int, _ g: Int) -> Double? {
            let n = shareCount[gi][step] - excludedCount[gi][step]
            guard n > 0 else { return nil }
            return (shareSum[gi][step][g] - excludedSum[gi][step][g]) / Double(n)
        }
        // Both metrics in one pass over the group's flags (summed in flag order).
        var deltaSum = 0.0, didSum = 0.0
        var deltaCount = 0, didCount = 0
        for f in flags where f.r < t && group.members[Int(f.user)] {
            guard let now = slate(of: f.user, at: t), let then = slate(of: f.user, at: f.r), !now.isEmpty, !then.isEmpty else { continue }
            let d = share(now, f.topic) - share(then, f.topic)
            deltaSum += d
            deltaCount += 1
            if let a = controlMean(t, Int(f.topic)), let b = controlMean(f.r, Int(f.topic)) {
                didSum += d - (a - b)
                didCount += 1
            }
        }
        let result = (delta: deltaCount > 0 ? deltaSum / Double(deltaCount) : nil, did: didCount > 0 ? didSum / Double(didCount) : nil)
        flagCache[gi] = result
        return id == "flag_topic_share_delta" ? result.delta : result.did
    }
}

/// Item popularity as of a step (counts, distinct users, |U_H|).
struct PopularitySnapshot {
    let count: [Int]
    let users: [Int]
    let historyUsers: Int

    func noveltyMIUF(_ list: ArraySlice<Int32>) -> Double? {
        if list.isEmpty || historyUsers == 0 { return nil }
        return list.reduce(0.0) { $0 - log2(Double(max(users[Int($1)], 1)) / Double(historyUsers)) } / Double(list.count)
    }

    func tailSet() -> [Bool] {
        let interacted = count.indices.filter { count[$0] > 0 }.sorted {
            count[$0] != count[$1] ? count[$0] < count[$1] : $0 < $1
        }
        var t = [Bool](repeating: false, count: count.count)
        if !interacted.isEmpty { for i in interacted.prefix(max(Int(0.2 * Double(interacted.count)), 1)) { t[i] = true } }
        return t
    }
}
