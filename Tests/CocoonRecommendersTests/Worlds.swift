import CocoonCore
import CocoonMath
import CocoonRecommenders

func world(
    users: Int = 300, items: Int = 600, topics: Int = 10, d: Int = 16, seed: UInt64 = 1,
    interventions: [Intervention] = [], edit: ((inout CatalogSpec, inout PopulationSpec) -> Void)? = nil
) throws -> SimulationWorld {
    var c = CatalogSpec()
    c.items = items
    c.topics = topics
    c.dimension = d
    var p = PopulationSpec()
    p.users = users
    edit?(&c, &p)
    let s = Seed(seed)
    let catalog = try Catalog.generate(c, seed: s.derive("catalog"))
    let population = Population.generate(p, catalog: catalog, seed: s.derive("population"))
    return try SimulationWorld(catalog: catalog, population: population, interventions: interventions, seed: s.derive("world"))
}

final class Recorder: StepObserver {
    var snapshots: [StepSnapshot] = []
    func begin(_ run: RunContext) throws {}
    func observe(_ s: StepSnapshot) throws { snapshots.append(s) }
}

func run(
    _ w: SimulationWorld, _ rec: Recommender, steps: Int, behaviour: Behaviour = Behaviour(), seed: UInt64 = 5, workers: Int = 1,
    wantsTags: Bool = false
) -> (Recorder, RunOutcome) {
    let engine = Engine(
        world: w, behaviour: behaviour, recommender: rec,
        config: EngineConfig(steps: steps, slateSize: 10, seed: Seed(seed), workers: workers, blockSize: 64, wantsTags: wantsTags)
    )
    let r = Recorder()
    let o = engine.run(observers: [r])
    return (r, o)
}

func spec(_ kind: String, _ edit: ((inout RecommenderSpec) -> Void)? = nil) -> RecommenderSpec {
    var s = RecommenderSpec(kind: kind)
    edit?(&s)
    return s
}

let everyone = Intervention.Selection()
