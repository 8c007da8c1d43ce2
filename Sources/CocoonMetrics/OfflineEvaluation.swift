import CocoonCore
import Foundation

/// Every METRICS.md metric computed on logged data (`cocoon evaluate`).
///
/// The history `H_u` of every metric is the whole interaction file; the seed history is round
/// 0; the items consumed during the run are rounds 1…T. `L_u(s)` for flag metrics is the
/// evaluated list and `L_u(r)` the earlier list (`--recs-before`).
public struct OfflineEvaluation: Sendable {
    /// The metrics, in report order.
    public let metrics: [MetricResult]
    /// List cutoff k.
    public let k: Int

    /// Computes every metric the data allows.
    public init(_ data: LoggedData, k: Int = 10) {
        self.k = k
        let c = data.catalog
        let t = c.topics
        let g = ItemGeometry(c)
        let users = data.users
        let n = users.count
        let lists = data.lists.map { Array($0.prefix(k)) }
        let hist = data.history.map { $0.map(\.item) }
        let rel = data.relevant
        let pop = Popularity(histories: hist, itemCount: c.count)
        var out: [MetricResult] = []
        func perUser(_ id: String, _ f: (Int) -> Double?) -> MetricResult {
            MetricResult.mean(id, users: users, values: (0..<n).map(f))
        }
        let means = hist.map { ListMetrics.meanUnit($0, g) }

        // §3 list-level.
        out.append(perUser("ild_cosine") { ListMetrics.ildCosine(lists[$0][...], g) })
        out.append(perUser("ild_topic") { ListMetrics.ildTopic(lists[$0][...], t) })
        out.append(perUser("list_topic_entropy_bits") { ListMetrics.topicEntropy(lists[$0][...], t) })
        out.append(perUser("topic_coverage") { ListMetrics.topicCoverage(lists[$0][...], t) })
        out.append(perUser("profile_topic_coverage") { ListMetrics.profileTopicCoverage(lists[$0][...], history: hist[$0], t) })
        out.append(perUser("calibration_kl") { ListMetrics.calibrationKL(lists[$0][...], history: hist[$0], t) })
        if let rel {
            let relSets = rel.map { Set($0) }
            out.append(perUser("alpha_ndcg_at10") { ListMetrics.alphaNDCG(lists[$0][...], relevant: rel[$0], t) })
            out.append(perUser("subtopic_recall_at10") { ListMetrics.subtopicRecall(lists[$0][...], relevant: rel[$0], t) })
            out.append(
                perUser("eild_cosine_rel_logdisc") {
                    lists[$0].isEmpty ? nil : ListMetrics.eild(lists[$0][...], relevant: relSets[$0], g)
                })
            out.append(
                perUser("serendipity_unexp_x_rel") {
                    ListMetrics.serendipity(lists[$0][...], meanUnit: means[$0], relevant: relSets[$0], g)
                })
        }
        // §4 novelty and popularity.
        out.append(perUser("novelty_miuf") { pop.noveltyMIUF(lists[$0][...]) })
        out.append(perUser("unexpectedness") { ListMetrics.unexpectedness(lists[$0][...], meanUnit: means[$0], g) })
        out.append(perUser("arp") { pop.arp(lists[$0][...]) })
        out.append(perUser("tail_percentage") { pop.tailPercentage(lists[$0][...]) })

        // §6 exposure.
        var x = [Int](repeating: 0, count: c.count)
        for l in lists { for i in l { x[Int(i)] += 1 } }
        let e = ExposureMetrics(counts: x)
        var ad = MetricResult(id: "aggregate_diversity", value: Double(e.aggregateDiversity))
        ad.isCount = true
        out.append(ad)
        out.append(MetricResult(id: "catalog_coverage", value: e.catalogCoverage))
        out.append(MetricResult(id: "gini_exposure", value: e.gini))
        out.append(MetricResult(id: "entropy_exposure_bits", value: e.entropyBits))
        out.append(MetricResult(id: "entropy_exposure_normalised", value: e.entropyNormalised))

        // §7 homogeneity.
        let listSets = lists.map { Array(Set($0)).sorted() }
        out.append(
            MetricResult(id: "rec_jaccard_all_pairs", value: Homogeneity.meanPairwiseJaccard(listSets, itemCount: c.count)))
        out.append(
            MetricResult(
                id: "personalization", value: Homogeneity.personalization(exposure: x, listLengths: lists.map(\.count), k: k)))
        let maxRound = data.history.flatMap { $0.map(\.round) }.max() ?? 0
        let seed = data.history.map { $0.filter { $0.round == 0 }.map(\.item) }
        func consumed(upTo r: Int) -> [[Int32]] {
            data.history.map { Array(Set($0.filter { $0.round >= 1 && $0.round <= r }.map(\.item))).sorted() }
        }
        if maxRound >= 1 {
            let cons = (1...maxRound).map(consumed)
            var all = MetricResult(id: "interaction_jaccard_all_pairs", value: nil)
            all.series = cons.map { Homogeneity.meanPairwiseJaccard($0, itemCount: c.count) }
            all.value = all.series!.last!
            out.append(all)
            let nn = StateMetrics.nearestNeighbours(seed.map { StateMetrics.centroid($0, g) })
            func nnMean(_ sets: [[Int32]]) -> Double? {
                let v = (0..<n).compactMap { u -> Double? in nn[u].flatMap { Homogeneity.jaccard(sets[u], sets[$0]) } }
                return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
            }
            var nnr = MetricResult(id: "interaction_jaccard_nn_pairs", value: nil)
            nnr.series = cons.map(nnMean)
            nnr.value = nnr.series!.last!
            nnr.pairs = (0..<n).compactMap { u in nn[u].map { (users[u], users[$0]) } }
            out.append(nnr)
            // T-RECS InteractionSpread (compatibility only).
            var spread = MetricResult(id: "interaction_spread_series", value: nil)
            var old = [Double](repeating: 0, count: c.count)
            spread.series = (1...maxRound).map { r in
                var h = [Double](repeating: 0, count: c.count)
                for hu in data.history { for e in hu where e.round == r { h[Int(e.item)] += 1 } }
                h.sort(by: >)
                let v = OfflineEvaluation.trapezoid(old) - OfflineEvaluation.trapezoid(h)
                old = h
                return v
            }
            spread.value = spread.series!.last!
            spread.compatibilityOnly = true
            out.append(spread)
        }
        var full = MetricResult(
            id: "consumed_jaccard_all_pairs_full_history",
            value: Homogeneity.meanPairwiseJaccard(hist.map { Array(Set($0)).sorted() }, itemCount: c.count))
        full.extra = [("round_0", Homogeneity.meanPairwiseJaccard(seed.map { Array(Set($0)).sorted() }, itemCount: c.count))]
        out.append(full)

        // §8 temporal and cocoon (T = last round).
        let c0 = seed.map { StateMetrics.centroid($0, g) }
        let cT = hist.map { StateMetrics.centroid($0, g) }
        func seriesOfMeans(_ f: (Int, Int) -> Double?) -> [Double?] {
            guard maxRound >= 1 else { return [] }
            return (1...maxRound).map { r in
                let v = (0..<n).compactMap { f($0, r) }
                return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
            }
        }
        func upTo(_ u: Int, _ r: Int) -> [Int32] { data.history[u].filter { $0.round <= r }.map(\.item) }
        var d2 = perUser("centroid_drift_l2") { StateMetrics.driftL2(c0[$0], cT[$0]) }
        d2.series = seriesOfMeans { u, r in StateMetrics.driftL2(c0[u], StateMetrics.centroid(upTo(u, r), g)) }
        out.append(d2)
        var dc = perUser("centroid_drift_cosine") { StateMetrics.driftCosine(c0[$0], cT[$0]) }
        dc.series = seriesOfMeans { u, r in StateMetrics.driftCosine(c0[u], StateMetrics.centroid(upTo(u, r), g)) }
        out.append(dc)
        func consumedList(_ u: Int, _ r: Int) -> [Int32] { data.history[u].filter { $0.round >= 1 && $0.round <= r }.map(\.item) }
        func ildDelta(_ u: Int, _ r: Int) -> Double? {
            guard let a = ListMetrics.ildCosine(consumedList(u, r)[...], g), let b = ListMetrics.ildCosine(seed[u][...], g) else {
                return nil
            }
            return a - b
        }
        var cid = perUser("consumed_ild_delta") { ildDelta($0, maxRound) }
        cid.series = seriesOfMeans(ildDelta)
        out.append(cid)
        func entropyDelta(_ u: Int, _ r: Int) -> Double? {
            guard !seed[u].isEmpty, let p0 = ListMetrics.topicDistribution(seed[u], t),
                let pt = ListMetrics.topicDistribution(upTo(u, r), t)
            else { return nil }
            return ListMetrics.entropyBits(pt) - ListMetrics.entropyBits(p0)
        }
        var ped = perUser("profile_topic_entropy_delta") { entropyDelta($0, maxRound) }
        ped.series = seriesOfMeans(entropyDelta)
        out.append(ped)
        let both = (0..<n).filter { c0[$0] != nil && cT[$0] != nil }
        let v0 = StateMetrics.totalVariance(both.map { c0[$0]! })
        let vT = StateMetrics.totalVariance(both.map { cT[$0]! })
        out.append(MetricResult(id: "population_total_variance_ratio", value: (v0 ?? 0) > 0 ? vT.map { $0 / v0! } : nil))
        var pc = MetricResult(
            id: "population_mean_pairwise_cosine_distance", value: StateMetrics.meanPairwiseCosineDistance(cT.compactMap { $0 }))
        pc.extra = [("round_0", StateMetrics.meanPairwiseCosineDistance(c0.compactMap { $0 }))]
        out.append(pc)
        func labelled(_ cs: [[Double]?], _ hs: [[Int32]]) -> ([[Double]], [Int]) {
            let idx = (0..<n).filter { cs[$0] != nil && !hs[$0].isEmpty }
            return (idx.map { cs[$0]! }, idx.map { StateMetrics.dominantTopic(hs[$0], t)! })
        }
        let (pT, lT) = labelled(cT, hist)
        let (p0, l0) = labelled(c0, seed)
        var ch = MetricResult(id: "cluster_calinski_harabasz", value: StateMetrics.calinskiHarabasz(pT, labels: lT))
        ch.extra = [("round_0", StateMetrics.calinskiHarabasz(p0, labels: l0))]
        out.append(ch)
        var db = MetricResult(id: "cluster_davies_bouldin", value: StateMetrics.daviesBouldin(pT, labels: lT))
        db.extra = [("round_0", StateMetrics.daviesBouldin(p0, labels: l0))]
        out.append(db)
        var pol = MetricResult(id: "polarization_variance_axis_e0", value: StateMetrics.polarization(cT.compactMap { $0 }))
        pol.extra = [("round_0", StateMetrics.polarization(c0.compactMap { $0 }))]
        out.append(pol)

        // §9 "not interested".
        if let before = data.listsBefore, !data.flags.isEmpty {
            let f = FlagMetrics(
                flags: data.flags.map { ($0.user, $0.item, t.primary[Int($0.item)]) }, after: lists,
                before: before.map { Array($0.prefix(k)) }, topics: t)
            var re = MetricResult(id: "flag_reexposure_rate", value: f.reexposureRate)
            re.nUsers = f.flagCount
            out.append(re)
            var delta = MetricResult.mean("flag_topic_share_delta", users: users, values: f.perUserDelta)
            delta.value = f.delta
            delta.nUsers = f.deltaCount
            out.append(delta)
            var did = MetricResult(id: "flag_topic_share_did", value: f.did)
            did.nUsers = f.deltaCount
            out.append(did)
        }

        // Compatibility-only outputs.
        var choice = MetricResult(id: "novelty_choice_model", value: nil)
        var pooled = 0.0
        var rows = 0
        for l in lists {
            for i in l {
                pooled -= log2(Double(max(pop.count[Int(i)], 1)) / Double(max(pop.historyRows, 1)))
                rows += 1
            }
        }
        choice.value = rows > 0 && pop.historyRows > 0 ? pooled / Double(rows) : nil
        choice.compatibilityOnly = true
        out.append(choice)
        var epc = perUser("novelty_epc") { pop.noveltyEPC(lists[$0][...]) }
        epc.compatibilityOnly = true
        out.append(epc)
        if let rel {
            var sr = perUser("serendipity_rectools") { u in
                OfflineEvaluation.rectoolsSerendipity(lists[u], relevant: Set(rel[u]), counts: pop.count, n: c.count)
            }
            sr.compatibilityOnly = true
            out.append(sr)
        }
        var afsr = perUser("afsr") { ListMetrics.afsr(lists[$0][...], g) }
        afsr.compatibilityOnly = true
        out.append(afsr)
        metrics = out
    }

    static func trapezoid(_ y: [Double]) -> Double {
        guard y.count > 1 else { return 0 }
        return y.reduce(0, +) - (y.first! + y.last!) / 2
    }

    /// rectools serendipity: `mean_r max(p_user(r) − p_any(i), 0)·rel`, p_user = (n+1−r)/n,
    /// p_any = (n+1−poprank)/n with dense popularity ranks (cold → 0).
    static func rectoolsSerendipity(_ list: [Int32], relevant: Set<Int32>, counts: [Int], n: Int) -> Double? {
        if list.isEmpty { return nil }
        let distinct = Array(Set(counts.filter { $0 > 0 })).sorted(by: >)
        var rank: [Int: Int] = [:]
        for (j, c) in distinct.enumerated() { rank[c] = j + 1 }
        var s = 0.0
        for (r, i) in list.enumerated() where relevant.contains(i) {
            let pUser = Double(n + 1 - (r + 1)) / Double(n)
            let cnt = counts[Int(i)]
            let pAny = cnt > 0 ? Double(n + 1 - rank[cnt]!) / Double(n) : 0
            s += max(pUser - pAny, 0)
        }
        return s / Double(list.count)
    }

    /// The report as `metrics.json`.
    public func json(inputs: [(String, String)]) -> JSONValue {
        .object([
            ("schema", .string("cocoon.metrics/1")),
            ("tool", .string("cocoon")),
            ("k", .int(k)),
            ("inputs", .object(inputs.map { ($0.0, JSONValue.string($0.1)) })),
            (
                "conventions",
                .object([
                    ("log_base_entropy", .int(2)), ("log_base_novelty", .int(2)), ("log_base_calibration", .string("e")),
                    ("calibration_alpha", .number(0.01)), ("alpha_ndcg_alpha", .number(0.5)),
                    ("distance", .string("1 - cos on unit embeddings, Double")),
                    ("user_average", .string("plain mean over users with a defined value; null = undefined")),
                ])
            ),
            ("metrics", .object(metrics.map { ($0.id, $0.json) })),
        ])
    }

    /// A Markdown summary table.
    public func markdown(title: String) -> String {
        var s = "# \(title)\n\n| metric | value | users | excluded |\n| --- | ---: | ---: | ---: |\n"
        for m in metrics {
            let v = m.value.map { m.isCount ? String(Int($0)) : Format.number($0) } ?? "undefined"
            let note = m.compatibilityOnly ? " (compatibility only)" : ""
            s += "| `\(m.id)`\(note) | \(v) | \(m.nUsers.map(String.init) ?? "") | \(m.nExcluded.map(String.init) ?? "") |\n"
        }
        return s
    }
}

