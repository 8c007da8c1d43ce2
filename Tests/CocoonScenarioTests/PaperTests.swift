import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import CocoonScenario
import Foundation
import Testing

/// Small versions of the paper reproductions (Scenarios/papers, docs/validation.md): the
/// published qualitative findings, asserted on the final value of each run's metric.
enum Paper {
    /// The mean over replicates of a metric's last defined value.
    static func final(_ file: String, _ metric: String, _ overrides: [String]) throws -> Double {
        let path = repoRoot + "/Scenarios/papers/" + file
        let (s, text) = try Scenario.load(path, overrides: overrides)
        let r = try ScenarioRunner.run(s, file: path, text: text)
        let values = r.replicates.compactMap { rep in rep.recorder.series(metric)?.last(where: { $0 != nil }) ?? nil }
        #expect(values.count == r.replicates.count, "\(metric) undefined in some replicate")
        return values.reduce(0, +) / Double(max(values.count, 1))
    }
}

@Suite struct PiaoReproductionTests {
    static let small = ["world.population.users=300", "replicates=1"]

    static func ratio(_ set: [String]) throws -> Double {
        try Paper.final("piao2023.yaml", "cocoon_ratio_rec", small + set)
    }

    @Test func withoutSimilarityMatchingUsersDiversify() throws {
        #expect(try Self.ratio(["recommender.beta=0"]) >= 1)
    }

    @Test func strongMatchingAndWeakNegativeFeedbackMakeADeepCocoon() throws {
        // β = 7, γ₋ = −0.1, σ = 0.01: the file's parameters.
        #expect(try Self.ratio([]) < 0.2)
    }

    @Test func strongNegativeFeedbackBreaksTheCocoonMonotonically() throws {
        let ratios = try [-0.1, -0.3, -0.5, -0.7, -0.9].map { try Self.ratio(["recommender.gammaMinus=\($0)"]) }
        #expect(ratios.last! >= 1, "\(ratios)")
        for (a, b) in zip(ratios, ratios.dropFirst()) { #expect(b > a, "\(ratios)") }
    }

    @Test func moreNoiseBreaksTheCocoonMonotonically() throws {
        let ratios = try [0.01, 0.04, 0.08, 0.16].map { try Self.ratio(["recommender.sigma=\($0)"]) }
        #expect(ratios.last! >= 1, "\(ratios)")
        for (a, b) in zip(ratios, ratios.dropFirst()) { #expect(b > a, "\(ratios)") }
    }
}

@Suite struct ChaneyReproductionTests {
    /// Jaccard of nearest-neighbour users' consumption for one recommender (same worlds and
    /// seeds for every recommender), users paired by the recommender's own representation.
    static func jaccard(_ recommender: String) throws -> Double {
        try Paper.final("chaney2018.yaml", "interaction_jaccard_nn_pairs", ["replicates=3", "steps=60", "recommender=\(recommender)"])
    }

    @Test func confoundedRecommendersAgainstTheIdeal() throws {
        let ideal = try Self.jaccard("{kind: oracle, warmup: 10, controls: off}")
        let popularity = try Self.jaccard("{kind: popularity, warmup: 10, controls: off}")
        let content = try Self.jaccard("{kind: profile, warmup: 10, controls: off}")
        let random = try Self.jaccard("{kind: random, controls: off}")
        let repeated = try Self.jaccard("{kind: mf, retrainEvery: 1, warmup: 10, controls: off}")
        let single = try Self.jaccard("{kind: mf, retrainEvery: 0, warmup: 10, controls: off}")
        // Recommenders retrained on the data they shaped homogenise more than the ideal one.
        for (name, v) in [("popularity", popularity), ("content", content), ("mf repeated", repeated)] {
            #expect(v > ideal, "\(name) \(v), ideal \(ideal)")
        }
        // Random homogenises less.
        #expect(random < ideal, "random \(random), ideal \(ideal)")
        // Repeated training homogenises at least as much as a single training.
        #expect(repeated >= single, "repeated \(repeated), single \(single)")
        // Every recommender that learns homogenises more than random.
        for (name, v) in [("popularity", popularity), ("content", content), ("mf repeated", repeated), ("mf single", single)] {
            #expect(v > random, "\(name) \(v), random \(random)")
        }
    }

    /// Pairing by the recommender's representation needs one: a recommender without it (a
    /// plugin, here a fixed feed) stops the run at step 0 with an error that says what to use.
    @Test func pairingByRepresentationNeedsARepresentation() throws {
        final class Fixed: Recommender {
            let name = "fixed"
            func start(_ world: RecommenderWorld) throws {}
            func recommend(_ request: RecommendRequest) throws -> SlateBatch {
                SlateBatch(items: request.users.flatMap { _ in (0..<Int32(request.slateSize)).map { $0 } })
            }
            func observe(_ feedback: FeedbackBatch) throws {}
            func stop() {}
        }
        let (s, _) = try Scenario.load(repoRoot + "/Scenarios/papers/chaney2018.yaml", overrides: ["steps=3"])
        let world = try WorldBuilder.world(s, seed: s.seed, loaded: WorldBuilder.loadCatalog(s.catalog))
        let recorder = MetricRecorder(
            metrics: ["interaction_jaccard_nn_pairs"], executor: BlockExecutor(workers: 1), seed: Seed(1), nearestNeighbours: .recommender)
        let engine = Engine(
            world: world, behaviour: s.behaviour, recommender: Fixed(), config: EngineConfig(steps: 3, slateSize: 10, seed: Seed(2)))
        let outcome = engine.run(observers: [recorder])
        #expect(outcome.stepsCompleted == 0)
        #expect("\(outcome.failure.map { "\($0)" } ?? "")".contains("use nearestNeighbours: intrinsic or seed-history"))
        // A scenario that asks for it with a plugin is refused before anything runs.
        var plugin = s
        plugin.recommender = RecommenderSpec(kind: "plugin")
        do {
            _ = try ScenarioRunner.run(plugin, file: "chaney2018.yaml", text: "")
            Issue.record("a plugin with nearestNeighbours: recommender ran")
        } catch {
            #expect("\(error)".contains("use nearestNeighbours: intrinsic or seed-history"), "\(error)")
        }
    }
}
