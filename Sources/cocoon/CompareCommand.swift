import ArgumentParser
import CocoonCore
import CocoonReport
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two scorecards and flag regressions (for a team's CI).",
        discussion: """
            Prints a table of every metric's final value (for --group, default population) and \
            every check's observed value and verdict: baseline, candidate, change, tolerance, \
            verdict. A metric regresses when it moves in its worse direction by more than its \
            tolerance relative to the baseline (absolute change when the baseline is 0; default \
            10%); a check regresses when it passed in the baseline and does not in the candidate. \
            Exit status: 0 without regressions, 1 with one, 2 on an error.
            """
    )

    @Argument(help: "The baseline scorecard.json.")
    var baseline: String

    @Argument(help: "The candidate scorecard.json.")
    var candidate: String

    @Option(name: .customLong("tolerance"), help: ArgumentHelp("Relative tolerance, METRIC=REL (repeatable); check:ID=REL for a check's observed value; *=REL sets the default (0.1).", valueName: "metric=rel"))
    var tolerances: [String] = []

    @Option(help: "The metric group to compare (population, arm:treated, segment:NAME, …).")
    var group: String = "population"

    @Flag(help: "Print the table as Markdown (for a pull-request comment).")
    var markdown = false

    func run() throws {
        let b: JSONValue
        let c: JSONValue
        let tol: (byKey: [String: Double], fallback: Double)
        do {
            tol = try Comparison.parseTolerances(tolerances)
            b = try Comparison.load(baseline)
            c = try Comparison.load(candidate)
        } catch let e as Comparison.InputError {
            throw fail(e.description)
        }
        let result = Comparison.compare(baseline: b, candidate: c, group: group, tolerances: tol.byKey, fallback: tol.fallback)
        for w in result.warnings { note("warning: \(w)") }
        if result.rows.isEmpty { throw fail("nothing to compare: no metric for group '\(group)' and no checks in either scorecard") }
        let unknown = tol.byKey.keys.sorted().filter { k in !result.rows.contains { $0.key == k || $0.key.hasPrefix(k + "[") } }
        for k in unknown { note("warning: --tolerance \(k)=…: no such metric or check in these scorecards") }
        print(result.table(markdown: markdown))
        if !result.regressions.isEmpty { throw ExitCode(1) }
    }
}
