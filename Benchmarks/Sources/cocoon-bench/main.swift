// cocoon-bench: Cocoon's benchmark harness (docs/performance.md).
//
//   cocoon-bench [W1 W2 W3 W4 ...] [--scale S] [--json]
//
// Every workload runs in a child process of its own (so peak RSS is the workload's), once with
// 1 worker (with the phase split) and once with 2 workers; the table compares the step with a
// bare sgemm of the same shape measured in the same process, and checks that 1 and 2 workers
// give identical slates and choices.

#if canImport(Glibc)
import Glibc
#endif
import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import CocoonScenario
import Foundation

// MARK: - Workloads

struct Workload {
    let id: String
    let title: String
    let users: Int
    let items: Int
    let dimension: Int
    let steps: Int
    /// Runs of a small world (W4); 0 for one large run.
    let runs: Int
    /// The metrics recorded (nil: the default set, every metric of `cocoon list metrics` but
    /// the optional cluster ones).
    var metrics: [String]? = nil

    func scenario(scale: Double, seed: UInt64 = 1, users override: Int? = nil) -> String {
        let u = override ?? max(10, Int(Double(users) * scale))
        let i = max(100, Int(Double(items) * min(1, scale * 4)))
        return """
            version: 1
            name: \(id)
            seed: \(seed)
            steps: \(steps)
            slateSize: 10
            world:
              catalog: {items: \(i), dimension: \(dimension), topics: 20}
              population: {users: \(u), interests: [3, 5]}
            behaviour: {choice: logit}
            recommender: {kind: profile, rerankers: []}
            """ + (metrics.map { "\nmetrics: [\($0.joined(separator: ", "))]" } ?? "")
    }
}

let workloads = [
    Workload(id: "W1", title: "10,000 users × 20,000 items, d = 64, 50 steps", users: 10_000, items: 20_000, dimension: 64, steps: 50, runs: 0),
    Workload(id: "W2", title: "100,000 users × 10,000 items, d = 64, 20 steps", users: 100_000, items: 10_000, dimension: 64, steps: 20, runs: 0),
    // W3 measures memory: the per-step metrics that need no per-user state of their own.
    Workload(id: "W3", title: "1,000,000 users × 10,000 items, d = 32, 5 steps (lean metrics)", users: 1_000_000, items: 10_000, dimension: 32, steps: 5, runs: 0,
             metrics: ["list_topic_entropy_bits", "ild_cosine", "arp", "catalog_coverage", "gini_exposure", "rec_jaccard_all_pairs"]),
    Workload(id: "W4", title: "100 users × 1,000 items, d = 32, 50 steps, 200 seeds", users: 100, items: 1_000, dimension: 32, steps: 50, runs: 200),
    // The default metric set's share of the step (issue: ≤ 10% at 10,000 × 10,000).
    Workload(id: "W5", title: "10,000 users × 10,000 items, d = 64, 20 steps (metric cost)", users: 10_000, items: 10_000, dimension: 64, steps: 20, runs: 0),
]

// MARK: - Plugin protocol overhead

/// The same trivial recommender (everyone gets the most consumed items) in-process and as a
/// Python plugin over the JSON Lines protocol: step time of each, bytes per step.
func printPluginOverhead(scale: Double) throws {
    let users = max(10, Int(10_000 * scale))
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../plugins/popularity.py").standardized.path
    let yaml = """
        version: 1
        name: plugin-overhead
        seed: 1
        steps: 20
        world:
          catalog: {items: 10000, dimension: 32, topics: 20}
          population: {users: \(users)}
        behaviour: {choice: logit}
        metrics: [catalog_coverage]
        """
    let s = try Scenario.decode(yaml)
    let world = try WorldBuilder.world(s, seed: s.seed, loaded: WorldBuilder.loadCatalog(s.catalog))
    func run(_ rec: Recommender) throws -> Double {
        let (outcome, fp) = runEngine(s, world: world, recommender: rec, workers: 1)
        if let f = outcome.failure { throw BenchError.failed("plugin overhead: \(f)") }
        return (Double(PhaseClock.now() - fp.stepsStarted) / 1e9) / Double(s.steps)
    }
    var spec = RecommenderSpec(kind: "popularity")
    var off = ControlPolicy()
    off.enabled = false
    off.excludeConsumed = false
    off.impressionMemory = 0
    spec.controls = off
    let inProcess = try run(try BuiltinRegistry.make(spec))
    let plugin = try PluginRecommender(command: ["python3", script], timeout: 120)
    let viaPlugin = try run(plugin)
    let bytes = Double(plugin.bytesSent + plugin.bytesReceived) / Double(s.steps)
    print("")
    print("Plugin protocol overhead: \(users) users, 10,000 items, 20 steps, most-consumed feed (1 worker)")
    print("  in-process popularity:         \(f(inProcess)) s per step = \(f(1 / inProcess, 1)) steps/s")
    print("  Python plugin (JSON Lines):    \(f(viaPlugin)) s per step = \(f(1 / viaPlugin, 1)) steps/s")
    print("  overhead: \(f(viaPlugin - inProcess)) s per step (\(f(viaPlugin / inProcess, 1))×); \(f(bytes / 1_048_576, 2)) MiB per step (sent \(f(Double(plugin.bytesSent) / Double(s.steps) / 1_048_576, 2)), received \(f(Double(plugin.bytesReceived) / Double(s.steps) / 1_048_576, 2))), \(f(bytes / Double(users), 0)) bytes per user-step")
}

// MARK: - Child: one workload with a given number of workers

/// Hashes every slate and choice, to compare runs with different worker counts.
final class Fingerprint: StepObserver {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    /// When step 0 was observed: the end of the run's set-up (observers' and the recommender's
    /// start), which the per-step time leaves out (set by ``FingerprintBesideRecorder``).
    var stepsStarted: UInt64 = 0
    func begin(_ run: RunContext) throws {}
    func observe(_ s: StepSnapshot) throws {
        mix(UInt64(s.step))
        for u in s.users { mix(UInt64(UInt32(bitPattern: u))) }
        for i in s.slates { mix(UInt64(UInt32(bitPattern: i))) }
        for o in s.outcomes { mix(UInt64(o.rawValue)) }
    }
    @inline(__always) func mix(_ x: UInt64) {
        hash = (hash ^ x) &* 0x100_0000_01b3
    }
}

/// The harness' fingerprint beside the scenario's metric recorder: the fingerprint is one pass
/// on one thread (about 2 ms a step at W2) that `cocoon run` does not make, so with two workers
/// it runs on a thread of its own while the recorder uses the executor
/// (``BlockExecutor/overlapping(_:with:)``); it reads the snapshot only. With one worker it
/// runs first, as it did as an observer of its own.
final class FingerprintBesideRecorder: StepObserver {
    let fingerprint: Fingerprint
    let recorder: MetricRecorder
    let executor: BlockExecutor

    init(_ fingerprint: Fingerprint, _ recorder: MetricRecorder, executor: BlockExecutor) {
        self.fingerprint = fingerprint
        self.recorder = recorder
        self.executor = executor
    }

    func begin(_ run: RunContext) throws {
        try fingerprint.begin(run)
        try recorder.begin(run)
    }

    func observe(_ s: StepSnapshot) throws {
        // Step 0's timestamp (the end of set-up) before the recorder's work on it.
        if s.step == 0 { fingerprint.stepsStarted = PhaseClock.now() }
        try executor.overlapping({ try fingerprint.observe(s) }, with: { try recorder.observe(s) })
    }
}

/// Runs a scenario on a world with what every measurement observes: the fingerprint (which
/// timestamps the end of set-up) and the scenario's metric recorder.
func runEngine(_ s: Scenario, world: SimulationWorld, recommender: Recommender, workers: Int) -> (outcome: RunOutcome, fingerprint: Fingerprint) {
    let config = EngineConfig(steps: s.steps, slateSize: s.slateSize, seed: Seed(s.seed).derive("run"), workers: workers)
    let executor = BlockExecutor(workers: workers)
    let recorder = MetricRecorder(metrics: s.metrics, executor: executor, seed: Seed(s.seed).derive("metrics"))
    let fp = Fingerprint()
    let observer = FingerprintBesideRecorder(fp, recorder, executor: executor)
    let outcome = Engine(world: world, behaviour: s.behaviour, recommender: recommender, config: config).run(observers: [observer])
    return (outcome, fp)
}

struct ChildResult: Codable {
    var workload: String
    var workers: Int
    var users: Int
    var items: Int
    var dimension: Int
    var steps: Int
    var runs: Int
    var buildSeconds: Double
    var setupSeconds: Double = 0
    var runSeconds: Double
    var stepSeconds: Double
    var sgemmSeconds: Double
    var phases: [String: Double]
    var peakRSSMiB: Double
    var fingerprint: String
}

func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_maxrss) / 1024
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = PhaseClock.now()
    try body()
    return Double(PhaseClock.now() - t0) / 1e9
}

/// The bare sgemm of a step: every 256-user block against every 2,048-item tile of the
/// catalog, single-threaded BLAS, `workers` blocks at a time — the products a step computes,
/// nothing else (`TILING` shows other tilings cost the same). User factors are one random block
/// reused (the item side dominates memory).
func bareSgemm(items: Matrix, users: Int, workers: Int) -> Double {
    let scorer = BlockScorer(items: items, tileSize: 2048)
    var r = Seed(99).stream("bench.users", 0)
    let block = Matrix(rows: 256, cols: items.cols, values: (0..<(256 * items.cols)).map { _ in Float(Sample.normal(using: &r)) })
    let blocks = BlockExecutor.blocks(count: users, blockSize: 256)
    let executor = BlockExecutor(workers: workers)
    let spaces = (0..<workers).map { _ in ScoringWorkspace() }
    // Warm up once (allocations, page faults), then time the whole population twice, best kept.
    scorer.gemmOnly(users: block, rows: 0..<256, workspace: spaces[0])
    var best = Double.infinity
    for _ in 0..<2 {
        let s = seconds {
            executor.forEach(blockCount: blocks.count) { b, w in
                scorer.gemmOnly(users: block, rows: 0..<blocks[b].count, workspace: spaces[w])
            }
        }
        best = min(best, s)
    }
    return best
}

func runChild(_ w: Workload, workers: Int, scale: Double, users: Int? = nil) throws -> ChildResult {
    BLASRuntime.ensureConfigured()
    MemoryRuntime.ensureConfigured()
    PhaseClock.setEnabled(workers == 1 && w.runs == 0)
    var result = ChildResult(
        workload: w.id, workers: workers, users: 0, items: 0, dimension: w.dimension, steps: w.steps, runs: w.runs, buildSeconds: 0,
        runSeconds: 0, stepSeconds: 0, sgemmSeconds: 0, phases: [:], peakRSSMiB: 0, fingerprint: "")
    if w.runs > 0 {
        // Many small runs: each run single-worker, `workers` runs at a time (as sweeps do).
        let hashes = SharedArray<UInt64>(repeating: 0, count: w.runs)
        let executor = BlockExecutor(workers: workers)
        let failures = SharedArray<UInt8>(repeating: 0, count: w.runs)
        let s = try Scenario.decode(w.scenario(scale: scale))
        result.users = s.population.users
        result.runSeconds = seconds {
            executor.forEach(blockCount: w.runs) { run, _ in
                do {
                    let sc = try Scenario.decode(w.scenario(scale: scale, seed: UInt64(run + 1)))
                    let world = try WorldBuilder.world(sc, seed: sc.seed, loaded: WorldBuilder.loadCatalog(sc.catalog))
                    let (outcome, fp) = runEngine(sc, world: world, recommender: try BuiltinRegistry.make(sc.recommender), workers: 1)
                    if outcome.failure != nil { failures[run] = 1 }
                    hashes[run] = fp.hash
                } catch {
                    failures[run] = 1
                }
            }
        }
        if failures.toArray().contains(1) { throw BenchError.failed("a W4 run failed") }
        result.items = s.catalogItems
        result.stepSeconds = result.runSeconds / Double(w.runs * w.steps)
        let all = Fingerprint()
        for h in hashes.toArray() { all.mix(h) }
        result.fingerprint = String(all.hash, radix: 16)
        result.peakRSSMiB = peakRSSMiB()
        return result
    }
    let s = try Scenario.decode(w.scenario(scale: scale, users: users))
    var world: SimulationWorld!
    result.buildSeconds = try seconds {
        world = try WorldBuilder.world(
            s, seed: s.seed, loaded: WorldBuilder.loadCatalog(s.catalog), executor: BlockExecutor(workers: workers))
    }
    result.users = world.users.count
    result.items = world.catalog.count
    let rec = try BuiltinRegistry.make(s.recommender)
    // The bare sgemm before and after the run, the faster kept: on a shared machine the step
    // is then compared with the sgemm at its best, never flattered by a slow moment.
    let sgemmBefore = bareSgemm(items: world.catalog.embeddings, users: world.users.count, workers: workers)
    var run: (outcome: RunOutcome, fingerprint: Fingerprint)!
    PhaseClock.shared.reset()
    let started = PhaseClock.now()
    result.runSeconds = seconds { run = runEngine(s, world: world, recommender: rec, workers: workers) }
    let (outcome, fp) = run!
    if let f = outcome.failure { throw BenchError.failed("\(w.id): \(f)") }
    result.setupSeconds = Double(fp.stepsStarted - started) / 1e9
    result.stepSeconds = (result.runSeconds - result.setupSeconds) / Double(s.steps)
    let names = PhaseClock.Phase.allCases
    if PhaseClock.isEnabled {
        for (p, v) in zip(names, PhaseClock.shared.seconds()) { result.phases[p.name] = v / Double(s.steps) }
    }
    PhaseClock.setEnabled(false)
    result.sgemmSeconds = min(sgemmBefore, bareSgemm(items: world.catalog.embeddings, users: world.users.count, workers: workers))
    result.fingerprint = String(fp.hash, radix: 16)
    result.peakRSSMiB = peakRSSMiB()
    return result
}

enum BenchError: Error, CustomStringConvertible {
    case failed(String)
    case usage(String)
    var description: String {
        switch self {
        case .failed(let m): "benchmark failed: \(m)"
        case .usage(let m): "\(m)\nusage: cocoon-bench [W1 … W5 SCALING RERANK PLUGIN ...] [--scale S] [--json]"
        }
    }
}

extension Scenario {
    var catalogItems: Int {
        if case .generated(let c) = catalog { return c.items }
        return 0
    }
}

// MARK: - Re-ranker cost (DPP fast greedy: O(M·N²) + O(N·M·d))

/// Seconds per user of a re-ranker on M candidates for a slate of N, over a fixed set of users.
func rerankCost(_ reranker: Reranker, m: Int, n: Int, catalog: Catalog, geometry: ItemGeometry, users: Int = 200) -> Double {
    var r = Seed(5).stream("bench.rerank", m * 1000 + n)
    let inputs = (0..<users).map { _ -> RerankInput in
        let items = Sample.withoutReplacement(k: m, of: catalog.count, using: &r).map(Int32.init)
        let scores = (0..<m).map { Double(m - $0) / Double(m) }
        return RerankInput(items: items, scores: scores, profile: nil)
    }
    var best = Double.infinity
    for _ in 0..<3 {
        var sink = 0
        let t = seconds { for input in inputs { sink &+= reranker.rerank(input, size: n, geometry: geometry, topics: catalog.topics).items.count } }
        precondition(sink > 0)
        best = min(best, t)
    }
    return best / Double(users)
}

func printRerankCost() throws {
    var spec = CatalogSpec()
    spec.items = 20_000
    spec.dimension = 64
    let catalog = try Catalog.generate(spec, seed: Seed(1))
    let geometry = ItemGeometry(catalog)
    let dpp = DPPReranker()
    print("")
    print("DPP fast greedy (Chen et al. 2018), d = 64: time per user")
    var base = 0.0
    print("  N = 10, M doubling (expected ×2 per doubling: O(M·N²) + O(N·M·d)):")
    for m in [100, 200, 400, 800] {
        let t = rerankCost(dpp, m: m, n: 10, catalog: catalog, geometry: geometry)
        print("    M = \(String(m).padding(toLength: 4, withPad: " ", startingAt: 0)) \(f(t * 1e6, 1)) µs\(base > 0 ? "  ×\(f(t / base, 2))" : "")")
        base = t
    }
    base = 0
    print("  M = 400, N doubling (expected ×4 per doubling for the M·N² part, ×2 for the kernel rows):")
    for n in [10, 20, 40, 80] {
        let t = rerankCost(dpp, m: 400, n: n, catalog: catalog, geometry: geometry)
        print("    N = \(String(n).padding(toLength: 4, withPad: " ", startingAt: 0)) \(f(t * 1e6, 1)) µs\(base > 0 ? "  ×\(f(t / base, 2))" : "")")
        base = t
    }
}

// MARK: - Tiling of the bare sgemm

/// The bare sgemm of 20,000 users against a catalog, per user block size and item tile width:
/// which tiling the scorer should use, and that the step's baseline is the fastest one.
func printTiling() throws {
    BLASRuntime.ensureConfigured()
    for (items, d) in [(10_000, 64), (20_000, 64), (10_000, 32)] {
        var spec = CatalogSpec()
        spec.items = items
        spec.dimension = d
        let catalog = try Catalog.generate(spec, seed: Seed(1))
        print("")
        print("Bare sgemm of 20,000 users × \(items) items, d = \(d), 1 worker: ns per user (block rows × tile items)")
        for block in [64, 128, 256, 512] {
            var line = "  block \(block):"
            for tile in [256, 512, 1024, 2048, 4096, items] {
                let scorer = BlockScorer(items: catalog.unitEmbeddings, tileSize: tile)
                var r = Seed(99).stream("bench.users", 0)
                let users = Matrix(rows: block, cols: d, values: (0..<(block * d)).map { _ in Float(Sample.normal(using: &r)) })
                let space = ScoringWorkspace()
                scorer.gemmOnly(users: users, rows: 0..<block, workspace: space)
                let reps = 20_000 / block
                var best = Double.infinity
                for _ in 0..<3 {
                    best = min(best, seconds { for _ in 0..<reps { scorer.gemmOnly(users: users, rows: 0..<block, workspace: space) } })
                }
                line += "  \(tile): \(f(best / Double(reps * block) * 1e9, 0))"
            }
            print(line)
        }
    }
    // The scorer's own products (`BlockScorer.products`), 256-user blocks and 2,048-item tiles,
    // against the sgemm of the same tiles, alternately in the same moments.
    print("")
    print("Products of 20,000 users, 256-user blocks, 2,048-item tiles, 1 worker (OpenBLAS \(BLASRuntime.coreName); scores: \(BlockScorer.productsSummary))")
    for (items, d) in [(10_000, 64), (20_000, 64), (10_000, 32)] {
        var spec = CatalogSpec()
        spec.items = items
        spec.dimension = d
        let catalog = try Catalog.generate(spec, seed: Seed(1))
        let scorer = BlockScorer(items: catalog.unitEmbeddings, tileSize: 2048)
        var r = Seed(99).stream("bench.users", 0)
        let users = Matrix(rows: 256, cols: d, values: (0..<(256 * d)).map { _ in Float(Sample.normal(using: &r)) })
        let space = ScoringWorkspace()
        scorer.productsOnly(users: users, rows: 0..<256, workspace: space)
        let reps = 20_000 / 256
        let scored = Double(reps * 256)
        var gemm = Double.infinity, own = Double.infinity
        for _ in 0..<3 {
            gemm = min(gemm, seconds { for _ in 0..<reps { scorer.gemmOnly(users: users, rows: 0..<256, workspace: space) } })
            own = min(own, seconds { for _ in 0..<reps { scorer.productsOnly(users: users, rows: 0..<256, workspace: space) } })
        }
        print("  \(items) items, d = \(d): sgemm \(f(gemm / scored * 1e9, 0)) ns per user, the scorer's products \(f(own / scored * 1e9, 0)) (\(scorer.products)): \(f(own / gemm, 2)) × the sgemm")
    }
}

// MARK: - Top-k cost

/// The selection's cost per item: the fused score-and-select of 20,000 users against a catalog
/// (k = 10, no adjustments) minus the bare sgemm of the same tiles, per tile width. Users are
/// profiles like the `profile` recommender's: the normalised mean of 20 items of 3 topics.
func printTopKCost() throws {
    BLASRuntime.ensureConfigured()
    var spec = CatalogSpec()
    spec.items = 10_000
    spec.dimension = 64
    let catalog = try Catalog.generate(spec, seed: Seed(1))
    let byTopic = catalog.itemsByPrimaryTopic()
    // COCOON_BENCH_SELECT_ONLY=cache (or =fused:TILE): one part only, for cachegrind.
    let only = ProcessInfo.processInfo.environment["COCOON_BENCH_SELECT_ONLY"]
    let fusedOnly = only?.hasPrefix("fused:") == true ? Int(only!.dropFirst(6)) : nil
    let block = 256, users = fusedOnly != nil ? 2_560 : 20_000, d = 64
    var r = Seed(7).stream("bench.topk")
    var values = [Float](repeating: 0, count: users * d)
    for u in 0..<users {
        let topics = Sample.withoutReplacement(k: 3, of: byTopic.count, using: &r)
        for x in 0..<20 {
            let pool = byTopic[topics[x % 3]]
            let i = Int(pool[Sample.index(below: pool.count, using: &r)])
            for j in 0..<d { values[u * d + j] += catalog.unitEmbeddings[i, j] }
        }
    }
    let profiles = Matrix(rows: users, cols: d, values: values).rowNormalized()
    print("")
    let inCacheOnly = only != nil
    print("Top-k (k = 10) of 20,000 users × 10,000 items, d = 64, 1 worker, 256-user blocks: ns per item (best of 5)")
    PhaseClock.setEnabled(true)
    for tile in fusedOnly.map({ [$0] }) ?? (inCacheOnly ? [] : [256, 512, 1024, 2048]) {
        let scorer = BlockScorer(items: catalog.unitEmbeddings, tileSize: tile)
        let space = ScoringWorkspace()
        let blocks = BlockExecutor.blocks(count: users, blockSize: block)
        var sink: Int32 = 0
        var bestSelect = Double.infinity, bestGemm = Double.infinity
        for _ in 0..<(fusedOnly != nil ? 1 : 5) {
            PhaseClock.shared.reset()
            for b in blocks {
                scorer.topK(users: profiles, rows: b, k: 10, workspace: space) { _, sel in sink &+= sel.sortedIndices()[0] }
            }
            let t = PhaseClock.shared.seconds()
            bestGemm = min(bestGemm, t[PhaseClock.Phase.scoring.rawValue])
            bestSelect = min(bestSelect, t[PhaseClock.Phase.topK.rawValue])
        }
        precondition(sink != 0 || users == 0)
        let perItem = bestSelect / Double(users * catalog.count) * 1e9
        print("  tile \(tile): sgemm \(f(bestGemm)) s, select \(f(bestSelect)) s = \(f(perItem, 2)) ns per item")
    }
    PhaseClock.setEnabled(false)
    // The selection alone on rows already in cache: 64 users' scores, offered tile by tile.
    let rows = 8
    let scores = BlockScorer(items: catalog.unitEmbeddings).scores(users: profiles, rows: 0..<rows)
    for tile in fusedOnly != nil ? [] : inCacheOnly ? [1024] : [512, 2048, 10_000] {
        var sink: Int32 = 0
        var best = Double.infinity
        for _ in 0..<5 {
            best = min(best, seconds {
                for rep in 0..<(users / rows) {
                    for u in 0..<rows {
                        var sel = TopKSelector(k: 10)
                        scores.storage.withUnsafeBufferPointer { p in
                            var t0 = 0
                            while t0 < catalog.count {
                                let t1 = min(t0 + tile, catalog.count)
                                sel.offer(Span(_unsafeElements: UnsafeBufferPointer(rebasing: p[(u * catalog.count + t0)..<(u * catalog.count + t1)])), baseIndex: t0)
                                t0 = t1
                            }
                        }
                        sink &+= sel.sortedIndices()[0] &+ Int32(rep & 1)
                    }
                }
            })
        }
        precondition(sink != 0)
        print("  rows in cache, offered \(tile) at a time: \(f(best / Double(users * catalog.count) * 1e9, 2)) ns per item")
    }
}

// MARK: - Parent: run children, print the table

func runInChild(_ id: String, workers: Int, scale: Double, users: Int? = nil) throws -> ChildResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    if !FileManager.default.isExecutableFile(atPath: p.executableURL!.path) {
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    }
    p.arguments = ["--child", id, "--workers", String(workers), "--scale", String(scale)] + (users.map { ["--users", String($0)] } ?? [])
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw BenchError.failed("\(id) with \(workers) worker(s) exited with \(p.terminationStatus)") }
    return try JSONDecoder().decode(ChildResult.self, from: data)
}

func f(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

func main() throws {
    // The kernel a `cocoon` command would run with (children inherit it).
    BLASRuntime.restartWithKernelForThisCPU()
    var args = Array(CommandLine.arguments.dropFirst())
    var scale = 1.0
    var json = false
    if let i = args.firstIndex(of: "--scale") {
        guard i + 1 < args.count, let s = Double(args[i + 1]), s > 0, s <= 1 else { throw BenchError.usage("--scale needs a number in (0, 1]") }
        scale = s
        args.removeSubrange(i...(i + 1))
    }
    if let i = args.firstIndex(of: "--json") {
        json = true
        args.remove(at: i)
    }
    if let i = args.firstIndex(of: "--child") {
        guard i + 1 < args.count, let w = workloads.first(where: { $0.id == args[i + 1] }) else { throw BenchError.usage("--child needs a workload") }
        var workers = 1
        if let j = args.firstIndex(of: "--workers"), j + 1 < args.count, let n = Int(args[j + 1]) { workers = n }
        var users: Int? = nil
        if let j = args.firstIndex(of: "--users"), j + 1 < args.count, let n = Int(args[j + 1]) { users = n }
        let r = try runChild(w, workers: workers, scale: scale, users: users)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        FileHandle.standardOutput.write(try enc.encode(r))
        return
    }
    if args.contains("--help") || args.contains("-h") {
        print("usage: cocoon-bench [W1 … W5 SCALING RERANK PLUGIN ...] [--scale S] [--json]   (no workload: all of them)")
        for w in workloads { print("  \(w.id): \(w.title)") }
        return
    }
    let everything = args.isEmpty
    let scaling = everything || args.contains { $0.uppercased() == "SCALING" }
    let rerank = everything || args.contains { $0.uppercased() == "RERANK" }
    let pluginBench = everything || args.contains { $0.uppercased() == "PLUGIN" }
    let tiling = everything || args.contains { $0.uppercased() == "TILING" }
    let topKCost = everything || args.contains { $0.uppercased() == "TOPK" }
    args.removeAll { ["SCALING", "RERANK", "PLUGIN", "TILING", "TOPK"].contains($0.uppercased()) }
    let chosen = args.isEmpty && !everything ? [] : args.isEmpty ? workloads : try args.map { a in
        guard let w = workloads.first(where: { $0.id == a.uppercased() }) else { throw BenchError.usage("unknown workload \(a)") }
        return w
    }
    BLASRuntime.ensureConfigured()
    let variants = KernelRuntime.usesAVX512Variants ? " (AVX-512 variants)" : ""
    print(
        "cocoon-bench — OpenBLAS \(BLASRuntime.coreName) kernel, \(KernelRuntime.instructionSet)\(variants) top-k kernels,"
            + " \(ProcessInfo.processInfo.activeProcessorCount) CPUs, scale \(scale)")
    var results: [ChildResult] = []
    for w in chosen {
        FileHandle.standardError.write("\(w.id): \(w.title) …\n".data(using: .utf8)!)
        let one = try runInChild(w.id, workers: 1, scale: scale)
        let two = try runInChild(w.id, workers: 2, scale: scale)
        results += [one, two]
        print("")
        print("\(w.id): \(w.title)\(scale < 1 ? " (scaled: \(one.users) users × \(one.items) items)" : "")")
        if w.runs > 0 {
            print("  1 worker:  \(f(one.runSeconds, 2)) s for \(w.runs) runs = \(f(one.runSeconds / Double(w.runs) * 1000, 1)) ms per run")
            print("  2 workers: \(f(two.runSeconds, 2)) s = \(f(two.runSeconds / Double(w.runs) * 1000, 1)) ms per run")
            print("  speed-up of 2 workers: \(f(one.runSeconds / two.runSeconds, 2))×")
        } else {
            print("  world built in \(f(one.buildSeconds, 2)) s, run set up in \(f(one.setupSeconds, 2)) s (not in the step time); \(one.steps) steps")
            print("  step, 1 worker:   \(f(one.stepSeconds)) s   bare sgemm: \(f(one.sgemmSeconds)) s   step / sgemm: \(f(one.stepSeconds / one.sgemmSeconds, 2))")
            print("  step, 2 workers:  \(f(two.stepSeconds)) s   bare sgemm: \(f(two.sgemmSeconds)) s   step / sgemm: \(f(two.stepSeconds / two.sgemmSeconds, 2))")
            print("  speed-up of 2 workers: \(f(one.stepSeconds / two.stepSeconds, 2))×   cost per user: \(f(one.stepSeconds / Double(one.users) * 1e6, 2)) µs per step")
            // The step against its own products (sgemm or the panel kernel), timed in the same moments: a shared machine's
            // drift moves both alike (the bare passes run before and after the whole run).
            if let inStep = one.phases[PhaseClock.Phase.scoring.name], inStep > 0 {
                print("  step / in-step products, 1 worker: \(f(one.stepSeconds / inStep, 2)) (in-step products / bare sgemm: \(f(inStep / one.sgemmSeconds, 2)))")
            }
            print("  phases per step (1 worker; scoring and top-k inside recommend):")
            for p in PhaseClock.Phase.allCases {
                let v = one.phases[p.name] ?? 0
                print("    \(p.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(f(v)) s  \(f(100 * v / one.stepSeconds, 1))%")
            }
        }
        print("  peak RSS: \(f(one.peakRSSMiB, 0)) MiB (1 worker), \(f(two.peakRSSMiB, 0)) MiB (2 workers)"
              + (w.runs == 0 ? "; bound 2·(users + items)·d·4 B + 512 MiB = \(f(Double(2 * (one.users + one.items) * w.dimension * 4) / 1_048_576 + 512, 0)) MiB" : ""))
        print("  1 vs 2 workers identical: \(one.fingerprint == two.fingerprint ? "yes" : "NO (\(one.fingerprint) vs \(two.fingerprint))")")
    }
    if tiling { try printTiling() }
    if topKCost { try printTopKCost() }
    if rerank { try printRerankCost() }
    if pluginBench { try printPluginOverhead(scale: scale) }
    if scaling {
        // Cost per user as the population grows (W3's world and metrics, 1 worker).
        let w3 = workloads[2]
        print("")
        print("Scaling: W3's world (10,000 items, d = 32, 5 steps, lean metrics), 1 worker")
        var base: Double? = nil
        for n in [10_000, 100_000, 1_000_000] {
            let users = max(10, Int(Double(n) * scale))
            FileHandle.standardError.write("scaling: \(users) users …\n".data(using: .utf8)!)
            let r = try runInChild(w3.id, workers: 1, scale: scale, users: users)
            let perUser = r.stepSeconds / Double(r.users) * 1e6
            if base == nil { base = perUser }
            print("  \(String(r.users).padding(toLength: 9, withPad: " ", startingAt: 0)) users: step \(f(r.stepSeconds)) s = \(f(perUser, 2)) µs per user (\(f(100 * (perUser / base! - 1), 1))% vs the smallest); step / sgemm \(f(r.stepSeconds / r.sgemmSeconds, 2)); peak RSS \(f(r.peakRSSMiB, 0)) MiB")
        }
    }
    if json {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        print(String(data: try enc.encode(results), encoding: .utf8)!)
    }
    if results.contains(where: { r in results.contains { $0.workload == r.workload && $0.fingerprint != r.fingerprint } }) {
        exit(1)
    }
}

do {
    try main()
} catch {
    FileHandle.standardError.write("cocoon-bench: \(error)\n".data(using: .utf8)!)
    exit(2)
}
