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

/// What a model sees of `w` (one worker, blocks of 16 users), and a log holding its seed history.
func modelWorld(_ w: SimulationWorld, slateSize: Int, steps: Int, seed: UInt64) -> (RecommenderWorld, InteractionLog) {
    let rw = RecommenderWorld(
        catalog: w.catalog, userCount: w.users.count, segments: w.users.segments, segmentNames: w.users.segmentNames,
        attributes: ConsentedAttributes(w.population.attributes, origin: w.users.origin),
        seedHistory: w.seedHistory, slateSize: slateSize, steps: steps, seed: Seed(seed),
        executor: BlockExecutor(workers: 1), blockSize: 16, streamIDs: w.users.origin)
    return (rw, InteractionLog(seedHistory: rw.seedHistory, itemCount: w.catalog.count))
}

/// Steps 1...`steps` of random slates for every user of `rw` (about a third of the shown items
/// consumed, every dwell 1), each recorded in `log`, then handed to `observe`.
func feedRandomSteps(
    _ rw: RecommenderWorld, log: InteractionLog, steps: Int, key: UInt64, observe: (FeedbackBatch) throws -> Void
) rethrows {
    let users = Int32(rw.userCount), k = rw.slateSize
    var rng = RandomStream(key: key)
    for t in 1...steps {
        let slates = (0..<(Int(users) * k)).map { _ in Int32(rng.next() % UInt64(rw.catalog.count)) }
        let outcomes: [Outcome] = slates.indices.map { _ in rng.next() % 3 == 0 ? .consumed : .skipped }
        let fb = FeedbackBatch(
            step: t, users: Array(0..<users), slateSize: k, slates: slates, outcomes: outcomes,
            dwell: DwellTimes([Float](repeating: 1, count: slates.count)), left: [])
        log.record(fb)
        try observe(fb)
    }
}
