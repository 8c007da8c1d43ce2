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
    /// For one recommender (same worlds and seeds for every recommender), users paired by the
    /// recommender's own representation: the pairs' consumption Jaccard, and that minus the
    /// same pairs' Jaccard under the ideal recommender (Chaney et al.'s measure).
    static func homogenisation(_ recommender: String) throws -> (jaccard: Double, minusIdeal: Double) {
        let path = repoRoot + "/Scenarios/papers/chaney2018.yaml"
        let (s, text) = try Scenario.load(path, overrides: ["replicates=3", "steps=60", "recommender=\(recommender)"])
        let r = try ScenarioRunner.run(s, file: path, text: text)
        func mean(_ metric: String) -> Double {
            let v = r.replicates.compactMap { rep in rep.recorder.series(metric)?.last(where: { $0 != nil }) ?? nil }
            #expect(v.count == r.replicates.count, "\(metric) undefined in some replicate")
            return v.reduce(0, +) / Double(max(v.count, 1))
        }
        return (mean("interaction_jaccard_nn_pairs"), mean("interaction_jaccard_nn_pairs_minus_ideal"))
    }

    @Test func confoundedRecommendersAgainstTheIdeal() throws {
        let ideal = try Self.homogenisation("{kind: oracle, warmup: 10, controls: off}")
        let popularity = try Self.homogenisation("{kind: popularity, warmup: 10, controls: off}")
        let content = try Self.homogenisation("{kind: profile, warmup: 10, controls: off}")
        let random = try Self.homogenisation("{kind: random, controls: off}")
        let repeated = try Self.homogenisation("{kind: mf, retrainEvery: 1, warmup: 10, controls: off}")
        let single = try Self.homogenisation("{kind: mf, retrainEvery: 0, warmup: 10, controls: off}")
        // The ideal recommender against itself: the same runs, so exactly 0.
        #expect(ideal.minusIdeal == 0)
        // Every recommender that learns from interactions homogenises its pairs more than the
        // ideal recommender would; random less.
        for (name, v) in [("popularity", popularity), ("content", content), ("mf repeated", repeated), ("mf single", single)] {
            #expect(v.minusIdeal > 0, "\(name) \(v.minusIdeal)")
            #expect(v.jaccard > random.jaccard, "\(name) \(v.jaccard), random \(random.jaccard)")
        }
        #expect(random.minusIdeal < 0, "random \(random.minusIdeal)")
        // Repeated training homogenises at least as much as a single training.
        #expect(repeated.minusIdeal >= single.minusIdeal, "repeated \(repeated.minusIdeal), single \(single.minusIdeal)")
        #expect(repeated.jaccard >= single.jaccard, "repeated \(repeated.jaccard), single \(single.jaccard)")
        // Against the ideal recommender's own (true) pairs, the retrained ones are above too.
        for (name, v) in [("popularity", popularity), ("content", content), ("mf repeated", repeated)] {
            #expect(v.jaccard > ideal.jaccard, "\(name) \(v.jaccard), ideal \(ideal.jaccard)")
        }
        #expect(random.jaccard < ideal.jaccard)
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
        // The comparison with the ideal recommender needs its reference run.
        let noReference = MetricRecorder(metrics: ["interaction_jaccard_nn_pairs_minus_ideal"], executor: BlockExecutor(workers: 1), seed: Seed(1))
        let builtin = try BuiltinRegistry.make(RecommenderSpec(kind: "popularity"))
        let o2 = Engine(world: world, behaviour: s.behaviour, recommender: builtin, config: EngineConfig(steps: 3, slateSize: 10, seed: Seed(2)))
            .run(observers: [noReference])
        #expect("\(o2.failure.map { "\($0)" } ?? "")".contains("needs a reference run of the ideal recommender"))
        // Above the nearest-neighbour limit the metric is undefined and needs no reference.
        let large = MetricRecorder(
            metrics: ["interaction_jaccard_nn_pairs_minus_ideal"], executor: BlockExecutor(workers: 1), seed: Seed(1), nearestNeighbourLimit: 10)
        let o3 = Engine(world: world, behaviour: s.behaviour, recommender: try BuiltinRegistry.make(RecommenderSpec(kind: "popularity")),
                        config: EngineConfig(steps: 3, slateSize: 10, seed: Seed(2)))
            .run(observers: [large])
        #expect(o3.failure == nil)
        #expect(large.series("interaction_jaccard_nn_pairs_minus_ideal")?.allSatisfy { $0 == nil } == true)
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
