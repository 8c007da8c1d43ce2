import CocoonCore
import CocoonMath
import CocoonMetrics
import Foundation

/// One scenario of a suite: its report, or why it could not run.
public struct SuiteEntry: Sendable {
    public let file: String
    public let name: String
    public let report: RunReport?
    public let error: String?
    /// A synthesized scorecard (suite-level checks such as S30).
    public let scorecard: Scorecard?

    /// The scorecard to show (the run's, or the synthesized one).
    public var card: Scorecard? { report?.scorecard ?? scorecard }
}

/// Runs every scenario of a folder (sorted by file name), then the suite-level checks.
public enum SuiteRunner {
    /// The scenario files of a folder: `*.yaml` / `*.yml`, sorted.
    public static func files(in folder: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw DataFileError(file: folder, message: "cannot read the folder")
        }
        let files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { folder + "/" + $0 }
        if files.isEmpty { throw DataFileError(file: folder, message: "no scenario files (*.yaml) in the folder") }
        return files
    }

    /// Runs a suite.
    ///
    /// - Parameters:
    ///   - write: called with each run's report and its folder name as soon as it finishes.
    public static func run(folder: String, overrides: [String], options: RunOptions,
                           write: (RunReport) throws -> Void) throws -> [SuiteEntry] {
        var entries: [SuiteEntry] = []
        var suiteChecks: [(file: String, scenario: Scenario, text: String)] = []
        for file in try files(in: folder) {
            if Interruption.isRequested { break }
            let loaded: (scenario: Scenario, text: String)
            do {
                loaded = try Scenario.load(file, overrides: overrides)
            } catch {
                entries.append(SuiteEntry(file: file, name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, report: nil, error: "\(error)", scorecard: nil))
                continue
            }
            if loaded.scenario.suiteCheck != nil {
                suiteChecks.append((file, loaded.scenario, loaded.text))
                continue
            }
            var o = options
            let name = loaded.scenario.name
            if let p = options.progress { o.progress = { p("\(name): \($0)") } }
            do {
                let report = try ScenarioRunner.run(loaded.scenario, file: file, text: loaded.text, overrides: overrides, options: o)
                try write(report)
                entries.append(SuiteEntry(file: file, name: name, report: report, error: report.scorecard.aborted.map { "stopped at step \($0.step): \($0.message)" }, scorecard: nil))
            } catch {
                entries.append(SuiteEntry(file: file, name: name, report: nil, error: "\(error)", scorecard: nil))
            }
        }
        for sc in suiteChecks {
            entries.append(reproducibility(sc.scenario, file: sc.file, text: sc.text, runs: entries, overrides: overrides, options: options))
        }
        return entries
    }

    /// S30: runs every scenario twice with its first seed — once with 1 worker thread, once
    /// with 2 — and compares the two `scorecard.json` byte for byte; also checks, on the
    /// suite's own runs, that every control took effect by the next slate.
    static func reproducibility(_ s: Scenario, file: String, text: String, runs: [SuiteEntry], overrides: [String], options: RunOptions) -> SuiteEntry {
        var checks: [CheckResult] = []
        for e in runs {
            guard let r = e.report, e.error == nil else { continue }
            // The main pass ran each task with `mainWorkers` block workers (side by side with
            // the other tasks); the re-run uses another worker count, one task after another.
            let taskCount = r.scenario.replicates * (1 + r.scenario.baselines.count)
            let plugin = r.scenario.recommender.kind == "plugin"
            let concurrent = options.taskParallel && !plugin ? max(1, min(options.threads, taskCount)) : 1
            let mainWorkers = max(1, options.threads / concurrent)
            let rerunWorkers = mainWorkers == 1 ? 2 : 1
            var spec = CheckSpec(
                id: "\(e.name)-identical",
                name: "\(e.name): scorecard.json of the first seed identical with \(mainWorkers) and \(rerunWorkers) worker thread\(rerunWorkers == 1 ? "" : "s")",
                figure: "reproducibility")
            spec.statistic = .total
            spec.comparator = .equal
            spec.threshold = 1
            spec.hard = true
            var verdict = Verdict.fail
            var note: String? = nil
            do {
                let rerun = overrides + ["replicates=1"]
                var (one, scenarioText) = try Scenario.load(e.file, overrides: rerun)
                one.recommender = r.scenario.recommender
                // The first seed's scorecard from the suite's own run …
                let first = ScenarioRunner.buildScorecard(one, file: e.file, text: scenarioText, replicates: Array(r.replicates.prefix(1)))
                    .json.serialized()
                // … and from a fresh run with the other worker count.
                var o = options
                o.threads = rerunWorkers
                o.taskParallel = false
                if let p = options.progress { o.progress = { p("\(s.name) (\(e.name), \(rerunWorkers) thread\(rerunWorkers == 1 ? "" : "s")): \($0)") } }
                let again = try ScenarioRunner.run(one, file: e.file, text: scenarioText, overrides: rerun, options: o).scorecard.json.serialized()
                let cards = [first, again]
                if cards[0] == cards[1] { verdict = .pass } else {
                    let la = cards[0].split(separator: "\n"), lb = cards[1].split(separator: "\n")
                    let first = zip(la, lb).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(la.count, lb.count)
                    note = "scorecards differ from line \(first + 1)"
                }
            } catch {
                note = "the re-run failed: \(error)"
            }
            var identical = CheckResult(spec: spec, clause: s.clause, verdict: verdict, observed: verdict == .pass ? 1 : 0, interval: nil,
                                        decisive: verdict == .pass ? 1 : 0, samples: 1, note: note, baselines: [])
            identical.clauseEnglish = s.clauseEnglish
            checks.append(identical)
            // Steps until each control takes effect (0 = the next slate).
            var delay = CheckSpec(id: "\(e.name)-controls", name: "\(e.name): every control effective by the next slate", figure: "control_delay")
            delay.statistic = .max
            delay.comparator = .atMost
            delay.threshold = 0
            delay.hard = true
            var c = CheckResult.evaluate(delay, clause: s.clause, replicates: r.replicates, resamples: 10, seed: Seed(s.seed))
            c.clauseEnglish = s.clauseEnglish
            if c.verdict != .notApplicable { checks.append(c) }
        }
        var info = Scorecard.ScenarioInfo(name: s.name, description: s.description, clause: s.clause, file: file, sha256: SHA256.hex(text))
        info.clauseEnglish = s.clauseEnglish
        let card = Scorecard(
            scenario: info,
            recommender: runs.compactMap { $0.card?.recommender }.first ?? s.recommender.kind, seeds: [], steps: 0, users: 0, items: 0,
            slateSize: 0, topicNames: [], baselines: [], aborted: nil, checks: checks, series: [], topicExposure: [], lorenz: [],
            cocoonRatios: [], suppression: nil, notes: s.notes)
        return SuiteEntry(file: file, name: s.name, report: nil, error: nil, scorecard: card)
    }
}
