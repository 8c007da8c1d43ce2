import CocoonCore
import CocoonMath
import Foundation

extension MetricRecorder {
    /// Per-user list metrics of a step: metric id → values aligned with `s.users`.
    func listMetrics(_ s: StepSnapshot) -> [String: [Double?]] {
        let ids = metricIDs.filter { MetricCatalog.kind(of: $0) == .list }
        if ids.isEmpty || s.users.isEmpty { return [:] }
        let n = s.users.count
        let k = s.slateSize
        let c = run.world.catalog
        let t = c.topics
        let g = geometry!
        let pop = PopularitySnapshot(count: itemCount, users: itemUsers, historyUsers: historyUsers)
        let tail = pop.tailSet()
        let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
        let out = SharedArray<Double>(repeating: .nan, count: n * ids.count)
        let hist = history, rel = relevant, relSets = relevantSets, ideal = idealDCG
        // Metric ids resolved once per step, not compared as strings per user.
        let known = ["ild_cosine", "ild_topic", "topic_coverage", "list_topic_entropy_bits", "calibration_kl", "profile_topic_coverage",
                     "novelty_miuf", "arp", "tail_percentage", "unexpectedness", "serendipity_unexp_x_rel", "alpha_ndcg_at10",
                     "subtopic_recall_at10", "eild_cosine_rel_logdisc"]
        let codes = ids.map { known.firstIndex(of: $0) ?? -1 }
        executor.forEach(blockCount: blocks.count) { b, _ in
            for row in blocks[b] {
                let u = Int(s.users[row])
                let list = s.slates[(row * k)..<((row + 1) * k)]
                var meanUnit: [Double]?? = nil
                for (j, code) in codes.enumerated() {
                    let v: Double?
                    switch code {
                    case 0: v = ListMetrics.ildCosine(list, g)
                    case 1: v = ListMetrics.ildTopic(list, t)
                    case 2: v = ListMetrics.topicCoverage(list, t)
                    case 3: v = ListMetrics.topicEntropy(list, t)
                    case 4: v = ListMetrics.calibrationKL(list, history: hist[u], t)
                    case 5: v = ListMetrics.profileTopicCoverage(list, history: hist[u], t)
                    case 6: v = pop.noveltyMIUF(list)
                    case 7: v = list.isEmpty ? nil : Double(list.reduce(0) { $0 + pop.count[Int($1)] }) / Double(list.count)
                    case 8:
                        v = list.isEmpty ? nil : Double(list.filter { tail[Int($0)] }.count) / Double(list.count)
                    case 9:
                        if meanUnit == nil { meanUnit = .some(ListMetrics.meanUnit(hist[u], g)) }
                        v = ListMetrics.unexpectedness(list, meanUnit: meanUnit!, g)
                    case 10:
                        if meanUnit == nil { meanUnit = .some(ListMetrics.meanUnit(hist[u], g)) }
                        v = ListMetrics.serendipity(list, meanUnit: meanUnit!, relevant: relSets[u], g)
                    case 11:
                        v = rel[u].isEmpty || ideal[u] <= 0 ? nil : ListMetrics.alphaDCG(list, relevant: relSets[u], t) / ideal[u]
                    case 12: v = ListMetrics.subtopicRecall(list, relevant: rel[u], t)
                    case 13: v = ListMetrics.eild(list, relevant: relSets[u], g)
                    default: v = nil
                    }
                    out[row * ids.count + j] = v ?? .nan
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
                // Validated slates hold distinct items: sorting makes them sets.
                let sets = rows.map { r in s.slates[(r * k)..<((r + 1) * k)].sorted() }
                return pairwise(sets, id: id, step: t, group: gi)
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
            case "centroid_drift_cosine":
                return mean(eachUser(users) { StateMetrics.driftCosine(self.centroid0[$0], self.centroid($0)) })
            case "centroid_drift_l2":
                return mean(eachUser(users) { StateMetrics.driftL2(self.centroid0[$0], self.centroid($0)) })
            case "profile_topic_entropy_delta":
                return mean(eachUser(users) { u in self.entropy0[u].map { ListMetrics.entropyBits(self.topicShares(u)) - $0 } })
            case "consumed_ild_delta":
                guard t == run.steps || t % 10 == 0, t > 0 else { return nil }
                return mean(
                    eachUser(users) { u in
                        guard let a = ListMetrics.ildCosine(self.consumed[u][...], self.geometry), let b = self.seedILD[u] else { return nil }
                        return a - b
                    })
            case "population_total_variance_ratio":
                let both = users.filter { centroid0[$0] != nil }
                guard let v0 = StateMetrics.totalVariance(both.map { centroid0[$0]! }), v0 > 0 else { return nil }
                return StateMetrics.totalVariance(both.map { centroid($0)! }).map { $0 / v0 }
            case "population_mean_pairwise_cosine_distance":
                return StateMetrics.meanPairwiseCosineDistance(users.compactMap { centroid($0) })
            case "cluster_calinski_harabasz", "cluster_davies_bouldin":
                let idx = users.filter { !history[$0].isEmpty }
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
            return mean(
                eachUser((0..<members.count).filter { members[$0] }) { u in
                    MetricRecorder.cocoonRatio(
                        Array(acc[(u * gCount)..<((u + 1) * gCount)]),
                        intrinsic: Array(mix[(u * gCount)..<((u + 1) * gCount)]))
                })
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
        var r = seed.stream("pairs." + id, step, group)
        return Homogeneity.sampledPairwiseJaccard(sets, sampleSize: pairSample, using: &r, executor: executor)
    }

    /// METRICS.md §9 at step s for the group's flags with r < s. The DiD control is the mean
    /// change over the group's users with no flag before s (sums kept per step, so the cost
    /// is O(flags · k) per step).
    func flagMetric(_ id: String, group: MetricGroup, groupIndex gi: Int, snapshot s: StepSnapshot) -> Double? {
        let t = s.step
        let topics = run.world.catalog.topics
        let eligible = flags.filter { $0.r < t && group.members[Int($0.user)] }
        if eligible.isEmpty { return nil }
        func share(_ l: ArraySlice<Int32>, _ g: Int32) -> Double {
            Double(l.filter { topics.topics(of: Int($0)).contains(g) }.count) / Double(l.count)
        }
        if id == "flag_reexposure_rate" {
            let shown = eligible.filter { slate(of: $0.user, at: t)?.contains($0.item) ?? false }.count
            return Double(shown) / Double(eligible.count)
        }
        func controlMean(_ step: Int, _ g: Int) -> Double? {
            let n = shareCount[gi][step] - excludedCount[gi][step]
            guard n > 0 else { return nil }
            return (shareSum[gi][step][g] - excludedSum[gi][step][g]) / Double(n)
        }
        var deltas: [Double] = [], dids: [Double] = []
        for f in eligible {
            guard let now = slate(of: f.user, at: t), let then = slate(of: f.user, at: f.r), !now.isEmpty, !then.isEmpty else { continue }
            let d = share(now, f.topic) - share(then, f.topic)
            deltas.append(d)
            if let a = controlMean(t, Int(f.topic)), let b = controlMean(f.r, Int(f.topic)) { dids.append(d - (a - b)) }
        }
        if id == "flag_topic_share_delta" { return deltas.isEmpty ? nil : deltas.reduce(0, +) / Double(deltas.count) }
        return dids.isEmpty ? nil : dids.reduce(0, +) / Double(dids.count)
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
