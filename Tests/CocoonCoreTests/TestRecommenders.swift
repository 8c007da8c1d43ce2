import CocoonCore
import CocoonMath

/// Shows every user a random slate, drawn per (user stream identity, step) so twins match.
final class UniformRandomRecommender: Recommender {
    let name = "test-random"
    var world: RecommenderWorld!
    var observed: [FeedbackBatch] = []
    let keepFeedback: Bool
    init(keepFeedback: Bool = false) { self.keepFeedback = keepFeedback }
    func start(_ world: RecommenderWorld) throws { self.world = world }
    func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        var items: [Int32] = []
        for u in request.users {
            var r = world.seed.stream("test-random", world.streamID(of: Int(u)), request.step)
            items += Sample.withoutReplacement(k: request.slateSize, of: world.catalog.count, using: &r).map(Int32.init)
        }
        return SlateBatch(items: items)
    }
    func observe(_ feedback: FeedbackBatch) throws { if keepFeedback { observed.append(feedback) } }
    func stop() {}
}

/// Shows a fixed slate to everyone.
final class FixedSlateRecommender: Recommender {
    let name = "test-fixed"
    let slate: [Int32]
    var observed: [FeedbackBatch] = []
    init(_ slate: [Int32]) { self.slate = slate }
    func start(_ world: RecommenderWorld) throws {}
    func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        SlateBatch(items: request.users.flatMap { _ in slate })
    }
    func observe(_ feedback: FeedbackBatch) throws { observed.append(feedback) }
    func stop() {}
}

/// Records every snapshot.
final class Recorder: StepObserver {
    var run: RunContext?
    var snapshots: [StepSnapshot] = []
    func begin(_ run: RunContext) throws { self.run = run }
    func observe(_ snapshot: StepSnapshot) throws { snapshots.append(snapshot) }
}

/// A small clustered world.
func smallWorld(
    users: Int = 200, items: Int = 500, topics: Int = 8, d: Int = 16, seed: UInt64 = 1,
    interventions: [Intervention] = [], spec: ((inout CatalogSpec, inout PopulationSpec) -> Void)? = nil
) throws -> SimulationWorld {
    var c = CatalogSpec()
    c.items = items
    c.topics = topics
    c.dimension = d
    var p = PopulationSpec()
    p.users = users
    spec?(&c, &p)
    let s = Seed(seed)
    let catalog = try Catalog.generate(c, seed: s.derive("catalog"))
    let population = Population.generate(p, catalog: catalog, seed: s.derive("population"))
    return try SimulationWorld(catalog: catalog, population: population, interventions: interventions, seed: s.derive("world"))
}
