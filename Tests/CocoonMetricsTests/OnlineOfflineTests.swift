import CocoonCore
import CocoonMath
import CocoonMetrics
import Foundation
import Testing

/// Random slates with a popularity tilt (so popularity metrics are not trivial).
final class TiltedRandom: Recommender {
    let name = "tilted"
    var w: RecommenderWorld!
    func start(_ world: RecommenderWorld) throws { w = world }
    func recommend(_ r: RecommendRequest) throws -> SlateBatch {
        var items: [Int32] = []
        let weights = w.catalog.popularityPrior.map(Double.init)
        for u in r.users {
            var s = w.seed.stream("tilted", w.streamID(of: Int(u)), r.step)
            items += Sample.weightedWithoutReplacement(k: r.slateSize, weights: weights, using: &s).map(Int32.init)
        }
        return SlateBatch(items: items)
    }
    func observe(_ f: FeedbackBatch) throws {}
    func stop() {}
}

/// A generated world (d = 8 unless given; the default segments unless given): catalog,
/// population and world seeded from `seed`, `seed + 1`, `seed + 2`.
func generatedWorld(
    items: Int, topics: Int, users: Int, dimension: Int = 8, segments: [PopulationSpec.Segment]? = nil,
    interventions: [Intervention] = [], seed: UInt64
) throws -> SimulationWorld {
    var cs = CatalogSpec()
    cs.items = items
    cs.topics = topics
    cs.dimension = dimension
    var ps = PopulationSpec()
    ps.users = users
    if let segments { ps.segments = segments }
    let catalog = try Catalog.generate(cs, seed: Seed(seed))
    return try SimulationWorld(
        catalog: catalog, population: Population.generate(ps, catalog: catalog, seed: Seed(seed + 1)),
        interventions: interventions, seed: Seed(seed + 2))
}

/// A generated world in which an intervention marks the first item of `fraction` of the users
/// "not interested" at step `markAt`.
func markedWorld(
    items: Int, topics: Int, users: Int, seed: UInt64, markAt: Int, fraction: Double, scope: MarkScope
) throws -> SimulationWorld {
    try generatedWorld(
        items: items, topics: topics, users: users,
        interventions: [
            Intervention(
                name: "mark", start: markAt, selection: { var x = Intervention.Selection(); x.fraction = fraction; return x }(),
                action: .notInterested(pick: .first, scope: scope, count: 1))
        ], seed: seed)
}

/// A generated world whose users fall into two segments, "a" (`shareA`) and "b".
func segmentedWorld(
    items: Int, topics: Int, users: Int, dimension: Int = 8, shareA: Double, seed: UInt64
) throws -> SimulationWorld {
    try generatedWorld(
        items: items, topics: topics, users: users, dimension: dimension,
        segments: [.init(name: "a", share: shareA), .init(name: "b", share: 1 - shareA)], seed: seed)
}

final class Keep: StepObserver {
    var run: RunContext!
    var snaps: [StepSnapshot] = []
    func begin(_ r: RunContext) throws { run = r }
    func observe(_ s: StepSnapshot) throws { snaps.append(s) }
}

@Suite struct OnlineOfflineTests {
    /// The per-step recorder and the offline evaluator agree on the same data: the recorder's
    /// value at step T equals `cocoon evaluate` on (history before T, slates of T).
    @Test func recorderMatchesOfflineEvaluation() throws {
        let world = try markedWorld(items: 300, topics: 7, users: 120, seed: 1, markAt: 3, fraction: 0.5, scope: .item)
        let catalog = world.catalog
        let steps = 6
        var behaviour = Behaviour()
        behaviour.notInterested.enabled = false  // only the intervention's flags, which the files hold
        let engine = Engine(
            world: world, behaviour: behaviour, recommender: TiltedRandom(),
            config: EngineConfig(steps: steps, slateSize: 10, seed: Seed(4)))
        let recorder = MetricRecorder(
            metrics: MetricCatalog.defaultSet, executor: BlockExecutor(workers: 2), blockSize: 32, seed: Seed(5))
        let keep = Keep()
        #expect(engine.run(observers: [recorder, keep]).failure == nil)

        // Write the logs of step T as the evaluator's files.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-online-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var items = "item_id,topic," + (0..<8).map { "e\($0)" }.joined(separator: ",") + "\n"
        for i in 0..<catalog.count {
            items +=
                "\(i),\(catalog.topics.names[Int(catalog.topics.primary[i])]),"
                + (0..<8).map { "\(Double(catalog.embeddings[i, $0]))" }.joined(separator: ",") + "\n"
        }
        try items.write(toFile: dir + "/items.csv", atomically: true, encoding: .utf8)
        var hist = "user_id,item_id,round\n"
        var recs = "user_id,item_id,rank\n"
        var before = recs
        var flags = "user_id,item_id,round\n"
        for u in 0..<120 { for i in keep.run.seedHistory[u] { hist += "\(u),\(i),0\n" } }
        for s in keep.snaps[1..<steps] {
            for (row, u) in s.users.enumerated() {
                for p in 0..<10 where s.outcomes[row * 10 + p] == .consumed {
                    hist += "\(u),\(s.slates[row * 10 + p]),\(s.step)\n"
                }
            }
        }
        let last = keep.snaps[steps]
        for (row, u) in last.users.enumerated() { for p in 0..<10 { recs += "\(u),\(last.slates[row * 10 + p]),\(p + 1)\n" } }
        let at2 = keep.snaps[2]
        for (row, u) in at2.users.enumerated() { for p in 0..<10 { before += "\(u),\(at2.slates[row * 10 + p]),\(p + 1)\n" } }
        for ch in keep.snaps[3].changes where ch.intervention == "mark" { flags += "\(ch.user),\(ch.target),2\n" }
        try hist.write(toFile: dir + "/history.csv", atomically: true, encoding: .utf8)
        try recs.write(toFile: dir + "/recs.csv", atomically: true, encoding: .utf8)
        try before.write(toFile: dir + "/before.csv", atomically: true, encoding: .utf8)
        try flags.write(toFile: dir + "/flags.csv", atomically: true, encoding: .utf8)
        let offline = OfflineEvaluation(
            try LoggedData(
                items: dir + "/items.csv", history: dir + "/history.csv", recs: dir + "/recs.csv",
                flags: dir + "/flags.csv", recsBefore: dir + "/before.csv"))
        func off(_ id: String) -> Double? { offline.metrics.first { $0.id == id }?.value }
        let listIDs = [
            "ild_cosine", "ild_topic", "topic_coverage", "list_topic_entropy_bits", "calibration_kl", "novelty_miuf",
            "unexpectedness", "arp", "tail_percentage", "aggregate_diversity", "catalog_coverage", "gini_exposure",
            "entropy_exposure_bits", "entropy_exposure_normalised", "rec_jaccard_all_pairs", "personalization",
        ]
        for id in listIDs {
            let online = try #require(recorder.series(id)?[steps] ?? nil, "\(id) online")
            let offlineValue = try #require(off(id), "\(id) offline")
            #expect(
                abs(online - offlineValue) <= 1e-9 * max(1, abs(offlineValue)), "\(id): online \(online), offline \(offlineValue)"
            )
        }
        // The consumption-based series: offline rounds 1…T−1 equal the recorder's steps 1…T−1.
        let ij = offline.metrics.first { $0.id == "interaction_jaccard_all_pairs" }!.series!
        for t in 1..<steps {
            #expect(abs((recorder.series("interaction_jaccard_all_pairs")![t] ?? -1) - (ij[t - 1] ?? -2)) < 1e-12)
        }
        // Flag metrics: marks on the list of step 2, evaluated at step T = 6.
        #expect(abs((recorder.series("flag_reexposure_rate")![steps] ?? -1) - off("flag_reexposure_rate")!) < 1e-12)
        #expect(abs((recorder.series("flag_topic_share_delta")![steps] ?? -1) - off("flag_topic_share_delta")!) < 1e-12)
        #expect(abs((recorder.series("flag_topic_share_did")![steps] ?? -1) - off("flag_topic_share_did")!) < 1e-12)
        #expect(off("flag_topic_share_did") != nil)
        // Step 0 carries state metrics only.
        #expect(recorder.series("ild_cosine")![0] == nil)
        #expect(abs(recorder.series("centroid_drift_cosine")![0]!) < 1e-15)
        #expect(recorder.series("population_mean_pairwise_cosine_distance")![0] != nil)
    }
}

/// The recorder's work runs in user blocks on the executor (list metrics, the consumption's
/// bookkeeping, the flag metrics' flags, nearest pairs): every default metric, with many small
/// blocks and "not interested" flags, gives the same bits for 1 and 3 workers.
@Suite struct RecorderWorkerTests {
    @Test func everyDefaultMetricIsTheSameForAnyWorkerCount() throws {
        let world = try markedWorld(items: 400, topics: 6, users: 150, seed: 11, markAt: 2, fraction: 0.4, scope: .topic)
        func series(workers: Int) -> [[UInt64?]] {
            let engine = Engine(
                world: world, behaviour: Behaviour(), recommender: TiltedRandom(),
                config: EngineConfig(steps: 8, slateSize: 6, seed: Seed(14)))
            // Blocks of 2 users: 75 blocks, so the list metrics go by three chunks (of 32 blocks).
            let recorder = MetricRecorder(
                metrics: MetricCatalog.defaultSet, executor: BlockExecutor(workers: workers), blockSize: 2, seed: Seed(15))
            #expect(engine.run(observers: [recorder]).failure == nil)
            return MetricCatalog.defaultSet.map { id in (recorder.series(id) ?? []).map { $0?.bitPattern } }
        }
        let one = series(workers: 1)
        let three = series(workers: 3)
        #expect(one == three)
        // The comparison has values to compare: most metrics are defined at the last step,
        // the flag metrics among them.
        let defined = zip(MetricCatalog.defaultSet, one).filter { $0.1.last.map { $0 != nil } ?? false }.map(\.0)
        #expect(defined.count > MetricCatalog.defaultSet.count / 2, "\(defined)")
        #expect(defined.contains("flag_topic_share_delta") && defined.contains("interaction_jaccard_nn_pairs"))
    }

    /// How the users are cut into blocks changes no value: the list metrics' chunks (three of
    /// them with blocks of 2 users, each added to the sums beside the next one's computation)
    /// against one chunk, and the exposure counts by blocks of rows against one block, bit for
    /// bit, with 3 workers and with 1.
    @Test func blockSizesChangeNoValue() throws {
        let world = try markedWorld(items: 400, topics: 6, users: 150, seed: 11, markAt: 2, fraction: 0.4, scope: .topic)
        let ids = MetricCatalog.defaultSet.filter {
            MetricCatalog.kind(of: $0) == .list
                || ["gini_exposure", "entropy_exposure_bits", "catalog_coverage", "personalization"].contains($0)
        }
        func series(workers: Int, blockSize: Int) -> [[UInt64?]] {
            let engine = Engine(
                world: world, behaviour: Behaviour(), recommender: TiltedRandom(),
                config: EngineConfig(steps: 6, slateSize: 6, seed: Seed(14)))
            let recorder = MetricRecorder(
                metrics: MetricCatalog.defaultSet, executor: BlockExecutor(workers: workers), blockSize: blockSize,
                seed: Seed(15))
            #expect(engine.run(observers: [recorder]).failure == nil)
            return ids.map { id in (recorder.series(id) ?? []).map { $0?.bitPattern } }
        }
        let whole = series(workers: 1, blockSize: 4096)
        #expect(series(workers: 3, blockSize: 2) == whole)
        #expect(series(workers: 1, blockSize: 2) == whole)
        // Values to compare: every one of these metrics is defined at the last step.
        #expect(ids.count >= 8 && whole.allSatisfy { ($0.last ?? nil) != nil }, "\(ids)")
    }
}

/// The four metrics of the current history centroids are computed together on the executor, by
/// user blocks and by blocks of coordinates: each must equal, bit for bit, ``StateMetrics``'
/// one-thread function applied to the centroids of the users' histories (seed history, then
/// what they consumed).
@Suite struct CentroidMetricTests {
    @Test(arguments: [1, 3])
    func centroidMetricsEqualTheOneThreadFunctions(workers: Int) throws {
        // d = 12: two blocks of coordinates, the second short.
        let world = try segmentedWorld(items: 300, topics: 5, users: 150, dimension: 12, shareA: 0.6, seed: 21)
        let steps = 5
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: TiltedRandom(),
            config: EngineConfig(steps: steps, slateSize: 8, seed: Seed(22)))
        // Blocks of 2 users: chunks of 32 users (16 blocks), so the 150 users span five chunks.
        let recorder = MetricRecorder(
            metrics: MetricCatalog.defaultSet, executor: BlockExecutor(workers: workers), blockSize: 2, seed: Seed(23))
        let keep = Keep()
        #expect(engine.run(observers: [recorder, keep]).failure == nil)
        let geometry = ItemGeometry(world.catalog)
        let n = 150
        var history = keep.run.seedHistory.map { Array($0) }
        let c0 = history.map { StateMetrics.centroid($0, geometry) }
        #expect(recorder.groups.count > 1, "segments as well as the population")
        for t in 0...steps {
            if t > 0 {
                let s = keep.snaps[t]
                for (row, u) in s.users.enumerated() {
                    for p in 0..<8 where s.outcomes[row * 8 + p] == .consumed { history[Int(u)].append(s.slates[row * 8 + p]) }
                }
            }
            let now = history.map { StateMetrics.centroid($0, geometry) }
            for g in recorder.groups {
                let users = (0..<n).filter { g.members[$0] }
                func mean(_ f: (Int) -> Double?) -> Double? {
                    var s = 0.0, m = 0
                    for u in users { if let x = f(u) { s += x; m += 1 } }
                    return m > 0 ? s / Double(m) : nil
                }
                let both = users.filter { c0[$0] != nil }
                let v0 = StateMetrics.totalVariance(both.map { c0[$0]! })
                let expected: [String: Double?] = [
                    "centroid_drift_cosine": mean { StateMetrics.driftCosine(c0[$0], now[$0]) },
                    "centroid_drift_l2": mean { StateMetrics.driftL2(c0[$0], now[$0]) },
                    "population_total_variance_ratio": v0.flatMap { v0 in
                        v0 > 0 ? StateMetrics.totalVariance(both.map { now[$0]! }).map { $0 / v0 } : nil
                    },
                    "population_mean_pairwise_cosine_distance": StateMetrics.meanPairwiseCosineDistance(users.compactMap { now[$0] }),
                ]
                for (id, want) in expected.sorted(by: { $0.key < $1.key }) {
                    let got = try #require(recorder.series(id, group: g.name))[t]
                    #expect(got?.bitPattern == want?.bitPattern, "\(id) \(g.name) step \(t): \(String(describing: got)) vs \(String(describing: want))")
                    if t == steps && g.name == "population" { #expect(got != nil, "\(id) defined") }
                }
            }
        }
    }
}
