import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import Foundation

/// Options of a run that are not part of the scenario (they never change results, except
/// the recommender override).
public struct RunOptions: Sendable {
    /// Worker threads (results are identical for any number).
    public var threads = 1
    /// Called with progress lines (nil: silent).
    public var progress: (@Sendable (String) -> Void)? = nil
    /// Replaces the scenario's recommender (e.g. `--recommender mf`, `--plugin -- CMD`).
    public var recommender: RecommenderSpec? = nil
    /// Builds recommenders that are not built-ins (the plugin client).
    public var factory: (@Sendable (RecommenderSpec) throws -> Recommender)? = nil
    /// Run independent replicates and baselines side by side (false: one after another, with
    /// every worker on each step's user blocks). Results are the same either way.
    public var taskParallel = true
    public init() {}
}

/// Everything a run produced.
public struct RunReport: Sendable {
    public let scenario: Scenario
    public let scorecard: Scorecard
    public let replicates: [RunArtifacts]
    public let manifest: Manifest
}

/// Runs a scenario: every replicate (seed, seed + 1, …) and its baselines, then judges the
/// checks and builds the scorecard.
public enum ScenarioRunner {
    /// Runs a scenario loaded from `file` (its text is hashed into the manifest).
    ///
    /// A recommender fault stops the replicate where it happened; what was measured until
    /// then is kept and the scorecard says `aborted`. Errors in the world itself (a catalog
    /// that cannot be loaded) throw.
    public static func run(_ scenario: Scenario, file: String, text: String, overrides: [String] = [], options: RunOptions = RunOptions()) throws -> RunReport {
        var scenario = scenario
        if let r = options.recommender { scenario.recommender = r }
        if scenario.recommender.kind == "plugin" && scenario.nearestNeighbours == .recommender
            && scenario.metrics.contains(where: MetricCatalog.nearestNeighbourMetrics.contains)
        {
            // Caught before any run: a plugin does not expose its user representation.
            throw RunError.world(MetricError.noUserRepresentation("plugin").description)
        }
        let loaded = try WorldBuilder.loadCatalog(scenario.catalog)
        // Every replicate's main run and each of its baselines is an independent task. Tasks run
        // side by side (one worker each) when there are enough of them, else one after another
        // with the workers splitting each step's user blocks; results are identical either way.
        struct Task { let replicate: Int; let baseline: String? }
        var tasks: [Task] = []
        for r in 0..<scenario.replicates {
            tasks.append(Task(replicate: r, baseline: nil))
            for b in scenario.baselines { tasks.append(Task(replicate: r, baseline: b)) }
        }
        let plugin = scenario.recommender.kind == "plugin"
        let concurrent = options.taskParallel && !plugin ? max(1, min(options.threads, tasks.count)) : 1
        let executor = BlockExecutor(workers: max(1, options.threads / concurrent))
        let scenarioCopy = scenario
        let results = SharedArray<Result<RunArtifacts, any Error>?>(repeating: nil, count: tasks.count)
        let taskList = tasks
        BlockExecutor(workers: concurrent).forEach(blockCount: taskList.count) { j, _ in
            let task = taskList[j]
            let s = scenarioCopy
            let seed = s.seed &+ UInt64(task.replicate)
            results[j] = Result {
                if Interruption.isRequested && task.replicate > 0 { throw RunError.skipped }
                guard let b = task.baseline else {
                    let world = try WorldBuilder.world(s, seed: seed, loaded: loaded, executor: executor)
                    return try runOnce(s, world: world, seed: seed, spec: s.recommender, extra: [], executor: executor, options: options,
                                       label: "replicate \(task.replicate + 1)/\(s.replicates)")
                }
                var spec = RecommenderSpec(kind: b)
                var extra: [Intervention] = []
                if b == "personalisation-off" {
                    // Cocoon's own non-personalised feed (the reference with everyone off), so the
                    // comparison does not depend on the recommender under test honouring the switch.
                    spec = RecommenderSpec(kind: "reference")
                    extra = [Intervention(name: "baseline-personalisation-off", start: 1, action: .personalisation(false))]
                }
                let world = try WorldBuilder.world(s, seed: seed, loaded: loaded, extra: extra, executor: executor)
                return try runOnce(s, world: world, seed: seed, spec: spec, extra: extra, executor: executor, options: options,
                                   label: "baseline \(b), replicate \(task.replicate + 1)")
            }
        }
        // Assemble in replicate order; stop after the first replicate that did not complete.
        var replicates: [RunArtifacts] = []
        let all = results.toArray()
        for r in 0..<scenario.replicates {
            let indices = tasks.indices.filter { tasks[$0].replicate == r }
            let mainIndex = indices.first { tasks[$0].baseline == nil }!
            guard case .success(let main)? = all[mainIndex] else {
                if case .failure(let e)? = all[mainIndex], !(e is RunError && (e as! RunError) == .skipped) { throw e }
                break
            }
            for i in indices where tasks[i].baseline != nil {
                switch all[i]! {
                case .success(let b): main.baselines[tasks[i].baseline!] = b
                case .failure(let e): throw e
                }
            }
            replicates.append(main)
            if main.aborted { break }
        }
        let scorecard = buildScorecard(scenario, file: file, text: text, replicates: replicates)
        let manifest = Manifest(scenario: scenario, file: file, text: text, overrides: overrides, threads: options.threads,
                                seeds: replicates.map(\.seed))
        return RunReport(scenario: scenario, scorecard: scorecard, replicates: replicates, manifest: manifest)
    }

    static func makeRecommender(_ spec: RecommenderSpec, options: RunOptions) throws -> Recommender {
        if spec.kind == "plugin" {
            guard let f = options.factory else { throw RunError.noPluginSupport }
            return try f(spec)
        }
        return try BuiltinRegistry.make(spec)
    }

    static func runOnce(_ s: Scenario, world: SimulationWorld, seed: UInt64, spec: RecommenderSpec, extra: [Intervention],
                        executor: BlockExecutor, options: RunOptions, label: String) throws -> RunArtifacts {
        let recommender = try makeRecommender(spec, options: options)
        let wantsTags = s.checks.contains { ["flagged_topics_in_tags", "control_delay"].contains($0.figure) }
        let config = EngineConfig(steps: s.steps, slateSize: s.slateSize, seed: Seed(seed).derive("run"), workers: executor.workers,
                                  blockSize: 256, wantsTags: wantsTags)
        let recorder = MetricRecorder(metrics: s.metrics, executor: executor, blockSize: 256, seed: Seed(seed).derive("metrics"),
                                      cocoonWindow: s.cocoonWindow, relevantPerUser: s.relevantPerUser,
                                      nearestNeighbours: s.nearestNeighbours)
        if s.metrics.contains("interaction_jaccard_nn_pairs_minus_ideal") && world.users.count <= MetricRecorder.defaultNearestNeighbourLimit {
            // The reference: the ideal recommender (same warm-up and controls) on the same world
            // and seed, whose consumption the recorder compares pair by pair. Not made above the
            // nearest-neighbour limit, where the metric is undefined (O(N²) pairing).
            var ideal = RecommenderSpec(kind: "oracle")
            ideal.warmup = spec.warmup
            ideal.controls = spec.controls
            let trace = ConsumptionTrace()
            let outcome = Engine(world: world, behaviour: s.behaviour, recommender: try BuiltinRegistry.make(ideal), config: config)
                .run(observers: [trace])
            if let f = outcome.failure { throw RunError.world("the ideal recommender's reference run (\(label)) failed: \(f)") }
            recorder.reference = trace
        }
        let artifacts = RunArtifacts(recorder: recorder, seed: seed)
        let progress = options.progress
        final class Progress: StepObserver {
            let report: (@Sendable (String) -> Void)?
            let label: String
            let steps: Int
            init(_ r: (@Sendable (String) -> Void)?, _ l: String, _ s: Int) { report = r; label = l; steps = s }
            func begin(_ run: RunContext) throws {}
            func observe(_ s: StepSnapshot) throws {
                guard let report, s.step > 0, s.step == steps || s.step % max(1, steps / 20) == 0 else { return }
                report("\(label): step \(s.step)/\(steps)")
            }
        }
        let engine = Engine(world: world, behaviour: s.behaviour, recommender: recommender, config: config)
        artifacts.outcome = engine.run(observers: [artifacts, Progress(progress, label, s.steps)])
        return artifacts
    }

    static func buildScorecard(_ s: Scenario, file: String, text: String, replicates: [RunArtifacts]) -> Scorecard {
        let checks = s.checks.map { c in
            var r = CheckResult.evaluate(c, clause: c.clause ?? s.clause, replicates: replicates, resamples: s.report.bootstrap,
                                         seed: Seed(s.seed).derive("bootstrap." + c.id))
            r.clauseEnglish = c.clauseEnglish ?? (c.clause == nil ? s.clauseEnglish : "")
            return r
        }
        let summary = Scorecard.summarise(replicates)
        let world = replicates.first?.context?.world
        var notes = s.notes
        if s.checks.contains(where: { ["suppression", "item_reexposure"].contains($0.figure) }) {
            notes.append("Published context: placebo-controlled measurement of YouTube's controls found \"Not interested\" prevented 11% and \"Don't recommend channel\" 43% of similar unwanted recommendations (Mozilla, 2022); a sock-puppet audit found \"Not interested\" removed 88% of unwanted homepage recommendations (Liu, Wu & Resnick).")
        }
        if s.checks.contains(where: { $0.figure == "interest_shift_recovery" }) {
            notes.append("Published context: YouTube's sidebar forgets a dropped interest within about 30 videos (Hosseinmardi et al., PNAS 2024).")
        }
        var info = Scorecard.ScenarioInfo(name: s.name, description: s.description, clause: s.clause, file: file, sha256: SHA256.hex(text))
        info.clauseEnglish = s.clauseEnglish
        return Scorecard(
            scenario: info,
            recommender: replicates.first?.context?.recommenderName ?? s.recommender.kind,
            seeds: replicates.map(\.seed), steps: s.steps, users: world?.population.count ?? s.population.users,
            items: world?.catalog.count ?? 0, slateSize: s.slateSize, topicNames: world?.catalog.topics.names ?? [],
            baselines: s.baselines, aborted: summary.aborted, checks: checks, series: summary.series,
            topicExposure: summary.topicExposure, lorenz: summary.lorenz, cocoonRatios: summary.ratios,
            suppression: summary.suppression, notes: notes)
    }
}

/// Errors of a run that are not the recommender's.
public enum RunError: Error, Equatable, CustomStringConvertible {
    case noPluginSupport
    case world(String)
    /// A replicate not started because the run was interrupted.
    case skipped

    public var description: String {
        switch self {
        case .noPluginSupport: return "this command cannot run plugin recommenders"
        case .world(let m): return m
        case .skipped: return "not started (interrupted)"
        }
    }
}
