import ArgumentParser
import CocoonCore
import CocoonMetrics
import CocoonReport
import CocoonScenario
import Foundation

struct SuiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Run a folder of scenarios (default: the standard regulator suite) and print a PASS/FAIL table.",
        discussion: """
            Runs every *.yaml in DIR (sorted), writes each scorecard to OUT/<scenario>/ and an \
            index page OUT/index.html, and prints each check with the clause it tests. A file \
            with suiteCheck: reproducibility (S30) re-runs every scenario with another thread \
            count and compares the scorecards byte for byte. Exit status: 0 when every check \
            passes, 1 when one fails, 2 on an error.
            """
    )

    @Argument(help: "The scenario folder.")
    var folder: String = "Scenarios/standard"

    @Option(help: "Output folder.")
    var out: String = "Reports/standard"

    @OptionGroup var common: RunOptionsGroup

    func run() throws {
        var options = common.options(label: "suite")
        if !common.quiet && isatty(2) != 0 {
            options.progress = { line in FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8)) }
        }
        let entries: [SuiteEntry]
        do {
            entries = try SuiteRunner.run(folder: folder, overrides: common.overrides, options: options) { report in
                try ReportWriter.write(report, to: out + "/" + report.scorecard.scenario.name)
            }
        } catch let e as DataFileError {
            throw fail(e.description)
        }
        if !common.quiet && isatty(2) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        for e in entries where e.report == nil {
            if let card = e.scorecard {
                do { try ReportWriter.write(card, to: out + "/" + e.name) } catch { note("error: \(error)") }
            }
        }
        do {
            try SuiteIndex.write(entries, title: URL(fileURLWithPath: folder).lastPathComponent, to: out)
        } catch {
            note("error: \(error)")
        }
        print(SuiteTable.text(entries))
        let errors = entries.filter { $0.error != nil }
        for e in errors { FileHandle.standardError.write(Data("error: \(e.name): \(e.error!)\n".utf8)) }
        print("reports: \(out)/index.html (junit: \(out)/junit.xml)")
        if Interruption.isRequested { throw fail("interrupted; the scenarios measured so far are in \(out)") }
        if !errors.isEmpty { throw ExitCode(2) }
        if entries.contains(where: { $0.card?.verdict == .fail }) { throw ExitCode(1) }
    }
}

/// The suite's PASS/FAIL table.
enum SuiteTable {
    static func text(_ entries: [SuiteEntry]) -> String {
        var rows: [[String]] = [["scenario", "check", "verdict", "observed", "rule", "clause"]]
        for e in entries {
            guard let card = e.card else {
                rows.append([e.name, "—", "ERROR", "", "", ""])
                continue
            }
            if card.checks.isEmpty { rows.append([e.name, "—", card.verdict.rawValue, "", "", card.scenario.clause]) }
            for c in card.checks {
                let obs = c.observed.map { Format.number($0) } ?? "—"
                let ci = c.interval.map { " [\(Format.number($0.lower)), \(Format.number($0.upper))]" } ?? ""
                rows.append([e.name, c.spec.id, c.verdict.rawValue, obs + ci, c.spec.ruleText, c.clause])
            }
        }
        let widths = (0..<5).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var out = rows.map { r in
            (0..<5).map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + r[5]
        }
        out.insert(String(repeating: "-", count: widths.reduce(0, +) + 12), at: 1)
        let cards = entries.compactMap(\.card)
        let pass = cards.flatMap(\.checks).filter { $0.verdict == .pass }.count
        let failN = cards.flatMap(\.checks).filter { $0.verdict == .fail }.count
        let na = cards.flatMap(\.checks).filter { $0.verdict == .notApplicable }.count
        out.append("\(entries.count) scenarios: \(pass) checks passed, \(failN) failed, \(na) not applicable, \(entries.filter { $0.error != nil }.count) errors")
        return out.joined(separator: "\n")
    }
}
