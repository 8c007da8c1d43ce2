import ArgumentParser
import CocoonCore
import CocoonRecommenders
import CocoonScenario
import Foundation

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a scenario over a grid of parameter values and write one tidy table.",
        discussion: """
            Each --grid KEY=V1,V2,… adds a dimension; every point of the grid runs (points in \
            parallel, one thread each). OUT/sweep.csv has one row per point × replicate × metric \
            × group (final value) and one row per point × check (observed value, verdict): \
            columns point, the grid keys, replicate, seed, kind, name, group, value, verdict.
            """
    )

    @Argument(help: "The scenario file.")
    var scenario: String

    @Option(name: .customLong("grid"), help: ArgumentHelp("A grid dimension, KEY=V1,V2,… (repeatable).", valueName: "key=values"))
    var grid: [String] = []

    @Option(help: "Replicates (seeds) per point (default: the scenario's).")
    var seeds: Int?

    @Option(help: "Output folder (default Reports/<scenario>-sweep).")
    var out: String?

    @Option(help: "Points run at once.")
    var threads: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key for every point, KEY=VALUE (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        if grid.isEmpty { throw ValidationError("give at least one --grid KEY=V1,V2,…") }
        if let s = seeds, s < 1 { throw ValidationError("--seeds must be ≥ 1, got \(s)") }
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1…256, got \(threads)") }
    }

    func run() throws {
        do {
            let sweep = try Sweep(arguments: grid)
            let base = try Scenario.load(scenario, overrides: overrides).scenario
            let dir = out ?? "Reports/\(base.name)-sweep"
            let showProgress = !quiet && isatty(2) != 0
            var options = RunOptions()
            options.factory = { spec in try PluginFactory.make(spec) }
            let points = try SweepRunner.run(file: scenario, sweep: sweep, baseOverrides: overrides, seeds: seeds, threads: threads, options: options) { p, total in
                if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[Kpoint \(p + 1)/\(total) done".utf8)) }
            }
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            try AtomicFile.write(SweepRunner.csv(points, sweep: sweep), to: dir + "/sweep.csv")
            for p in points {
                let label = zip(sweep.grid, p.values).map { "\($0.0.key)=\($0.1)" }.joined(separator: " ")
                if let r = p.report {
                    print("\(label): \(r.scorecard.verdict.rawValue) (\(r.scorecard.counts.pass) passed, \(r.scorecard.counts.fail) failed)")
                } else {
                    print("\(label): ERROR \(p.error ?? "")")
                }
            }
            print("table: \(dir)/sweep.csv")
            if points.contains(where: { $0.error != nil }) { throw ExitCode(2) }
        } catch let e as ScenarioError {
            throw fail(e.description)
        } catch let e as DataFileError {
            throw fail(e.description)
        }
    }
}
