import ArgumentParser
import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import CocoonReport
import CocoonScenario
import Foundation

/// Options shared by `run`, `suite` and `sweep`.
struct RunOptionsGroup: ParsableArguments {
    @Option(help: "Worker threads (results are identical for any number).")
    var threads: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a scenario key, KEY=VALUE (repeatable), e.g. --set world.population.users=500.", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Use this built-in recommender instead of the scenario's (see cocoon list recommenders).")
    var recommender: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Option(name: .customLong("plugin"), parsing: .remaining,
            help: ArgumentHelp("Test a plugin recommender: --plugin -- COMMAND ARGS… (the rest of the line; docs/plugin-protocol.md).", valueName: "command"))
    var pluginArguments: [String] = []

    @Option(help: ArgumentHelp("Seconds to wait for each answer of the plugin (default 30).", valueName: "seconds"))
    var pluginTimeout: Double?

    /// The plugin command without the `--` separator.
    var plugin: [String] { pluginArguments.first == "--" ? Array(pluginArguments.dropFirst()) : pluginArguments }

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1…256, got \(threads)") }
        if let r = recommender {
            let kinds = BuiltinRegistry.recommenders.map(\.kind).filter { $0 != "plugin" }
            guard kinds.contains(r) else { throw ValidationError("unknown --recommender '\(r)'\(Suggestions.hint(for: r, in: kinds)); known: \(kinds.joined(separator: ", "))") }
        }
        if recommender != nil && !plugin.isEmpty { throw ValidationError("give either --recommender or --plugin, not both") }
        if !pluginArguments.isEmpty && plugin.isEmpty { throw ValidationError("--plugin needs a command: --plugin -- python3 my_recommender.py") }
        if let t = pluginTimeout, !(t > 0 && t <= 86_400) { throw ValidationError("--plugin-timeout must be in (0, 86400] seconds, got \(t)") }
    }

    /// The runner options.
    func options(label: String) -> RunOptions {
        var o = RunOptions()
        o.threads = threads
        if let r = recommender { o.recommender = RecommenderSpec(kind: r) }
        if !plugin.isEmpty {
            var spec = RecommenderSpec(kind: "plugin")
            spec.command = plugin
            if let t = pluginTimeout { spec.timeout = t }
            o.recommender = spec
        }
        o.factory = { spec in try PluginFactory.make(spec) }
        if !quiet && isatty(2) != 0 {
            o.progress = { line in FileHandle.standardError.write(Data("\r\u{1B}[K\(label) \(line)".utf8)) }
        }
        return o
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenarios and write their scorecards.",
        discussion: """
            Runs each scenario for its replicates (seeds seed, seed+1, …) and baselines, judges \
            its checks and writes scorecard.json, scorecard.md, scorecard.html, timeseries.csv, \
            junit.xml and manifest.json to Reports/<scenario>/ (or --out). Exit status: 0 when \
            every check passes, 1 when one fails, 2 on an error (a bad scenario, a failed \
            recommender).
            """
    )

    @Argument(help: "Scenario files (YAML).")
    var scenarios: [String] = []

    @Option(help: "Output folder (default Reports/<scenario>; with several scenarios, one subfolder each).")
    var out: String?

    @Option(help: "Override the scenario's seed.")
    var seed: Int?

    @Option(help: "Override the number of replicates.")
    var replicates: Int?

    @Option(help: "Override the number of steps.")
    var steps: Int?

    @Option(help: "Re-run the scenario and overrides recorded in a manifest.json.")
    var manifest: String?

    @OptionGroup var common: RunOptionsGroup

    func validate() throws {
        if scenarios.isEmpty && manifest == nil { throw ValidationError("give a scenario file (or --manifest FILE)") }
        if let s = seed, s < 0 { throw ValidationError("--seed must be ≥ 0, got \(s)") }
        if let r = replicates, r < 1 { throw ValidationError("--replicates must be ≥ 1, got \(r)") }
        if let s = steps, s < 0 { throw ValidationError("--steps must be ≥ 0, got \(s)") }
    }

    func run() throws {
        var files = scenarios
        var overrides = common.overrides
        if let manifest {
            do {
                let m = try Manifest.rerunArguments(manifest)
                files = [m.file]
                overrides = m.overrides + overrides
                if let core = m.blasCore, core != BLASRuntime.coreName {
                    note("note: \(manifest) was made with OpenBLAS' \(core) kernel and this run uses \(BLASRuntime.coreName); "
                        + "results may differ in their last bits. To reproduce them exactly, run again with OPENBLAS_CORETYPE=\(core).")
                }
            } catch let e as DataFileError {
                throw fail(e.description)
            }
        }
        if let s = seed { overrides.append("seed=\(s)") }
        if let r = replicates { overrides.append("replicates=\(r)") }
        if let s = steps { overrides.append("steps=\(s)") }
        var worst: Int32 = 0
        for file in files {
            let code = runOne(file, overrides: overrides, many: files.count > 1)
            worst = max(worst, code)
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    func runOne(_ file: String, overrides: [String], many: Bool) -> Int32 {
        let loaded: (scenario: Scenario, text: String)
        do {
            loaded = try Scenario.load(file, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 2
        }
        let dir = out.map { many ? $0 + "/" + loaded.scenario.name : $0 } ?? "Reports/" + loaded.scenario.name
        do {
            let report = try ScenarioRunner.run(loaded.scenario, file: file, text: loaded.text, overrides: overrides, options: common.options(label: loaded.scenario.name))
            if !common.quiet && isatty(2) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            try ReportWriter.write(report, to: dir)
            print(Summary.text(report.scorecard, folder: dir))
            if let a = report.scorecard.aborted {
                FileHandle.standardError.write(Data("error: the run stopped: \(a.message)\nwhat was measured until then is in \(dir)/scorecard.json (status: aborted)\n".utf8))
                return 2
            }
            return report.scorecard.verdict == .fail ? 1 : 0
        } catch {
            FileHandle.standardError.write(Data("error: \(loaded.scenario.name): \(error)\n".utf8))
            return 2
        }
    }
}

/// The short summary printed after a run.
enum Summary {
    static func text(_ s: Scorecard, folder: String) -> String {
        let status = s.aborted.map { "ABORTED at step \($0.step), checks on the steps measured:" } ?? s.verdict.rawValue
        var lines = ["\(s.scenario.name): \(status) (\(s.counts.pass) passed, \(s.counts.fail) failed, \(s.counts.notApplicable) not applicable) — recommender \(s.recommender), \(s.seeds.count) seed(s), \(s.users) users, \(s.steps) steps"]
        for c in s.checks {
            let obs = c.observed.map { Format.number($0) } ?? "—"
            let ci = c.interval.map { " [\(Format.number($0.lower)), \(Format.number($0.upper))]" } ?? ""
            lines.append("  \(c.verdict.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(c.spec.id): \(c.spec.name) — \(obs)\(ci), rule \(c.spec.ruleText)")
        }
        lines.append("scorecard: \(folder)/scorecard.json")
        return lines.joined(separator: "\n")
    }
}
