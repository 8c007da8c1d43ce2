import CocoonCore
import CocoonMetrics
import CocoonScenario
import Foundation

/// Writes a run's report folder. Every file is written atomically (temporary file, then
/// rename), so an interrupted run never leaves a half-written file in place of a good one.
public enum ReportWriter {
    /// Writes `scorecard.json` and `manifest.json` into `folder`.
    public static func write(_ report: RunReport, to folder: String) throws {
        try AtomicFile.write(report.scorecard.json.serialized(), to: folder + "/scorecard.json")
        try AtomicFile.write(report.manifest.json.serialized(), to: folder + "/manifest.json")
    }
}

extension ReportWriter {
    /// Writes the suite's index page linking every scenario's scorecard.
    public static func writeIndex(_ entries: [SuiteEntry], to folder: String) throws {
        var rows = ""
        for e in entries {
            let v = e.card?.verdict.rawValue ?? "ERROR"
            rows += "<tr><td><a href=\"\(e.name)/scorecard.json\">\(e.name)</a></td><td>\(v)</td></tr>\n"
        }
        let html = "<!doctype html><meta charset=\"utf-8\"><title>Suite</title><table>\n\(rows)</table>\n"
        try AtomicFile.write(html, to: folder + "/index.html")
    }
}
