import CocoonCore
import CocoonMetrics
import CocoonScenario
import Foundation

/// Writes a run's report folder: `scorecard.json`, `scorecard.md`, `scorecard.html`,
/// `timeseries.csv`, `junit.xml` and `manifest.json`.
///
/// Every file is first written in full to a staging folder inside the target, then renamed
/// into place (a rename within one file system is atomic), so a failed or interrupted run
/// never leaves a half-written file in place of a good one.
public enum ReportWriter {
    /// The files of a report, in writing order.
    public static let files = ["scorecard.json", "scorecard.md", "scorecard.html", "timeseries.csv", "junit.xml", "manifest.json"]

    /// The rendered files of a run, by name.
    public static func render(_ report: RunReport) -> [(name: String, text: String)] {
        let card = report.scorecard
        let rerun = report.manifest.rerunCommand
        return [
            ("scorecard.json", card.json.serialized()),
            ("scorecard.md", MarkdownReport.render(card, rerun: rerun)),
            ("scorecard.html", HTMLReport.render(card, rerun: rerun)),
            ("timeseries.csv", TimeseriesCSV.render(report)),
            ("junit.xml", JUnitReport.render(card)),
            ("manifest.json", report.manifest.json.serialized()),
        ]
    }

    /// Writes every file of a run into `folder`.
    public static func write(_ report: RunReport, to folder: String) throws {
        try writeAll(render(report), to: folder)
    }

    /// Writes a scorecard that has no run behind it (a suite-level check such as S30):
    /// `scorecard.json`, `scorecard.md`, `scorecard.html` and `junit.xml`.
    public static func write(_ card: Scorecard, to folder: String) throws {
        try writeAll(
            [
                ("scorecard.json", card.json.serialized()), ("scorecard.md", MarkdownReport.render(card)),
                ("scorecard.html", HTMLReport.render(card)), ("junit.xml", JUnitReport.render(card)),
            ], to: folder)
    }

    /// Writes files through a staging folder, then renames each into place.
    public static func writeAll(_ files: [(name: String, text: String)], to folder: String) throws {
        let staging = folder + "/.staging-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        for f in files { try AtomicFile.write(f.text, to: staging + "/" + f.name) }
        for f in files {
            if rename(staging + "/" + f.name, folder + "/" + f.name) != 0 {
                let code = errno
                throw DataFileError(file: folder + "/" + f.name, message: "cannot replace the file: \(String(cString: strerror(code)))")
            }
        }
    }
}
