import CocoonCore
import CocoonMetrics
import CocoonRecommenders
import CocoonReport
import CocoonScenario
import Foundation
import Testing

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

/// A small fixed run: two replicates, twins, a baseline, one passing, one failing and one
/// not-applicable check.
enum SmallRun {
    static let yaml = """
        version: 1
        name: small
        description: A small fixed run for the report tests.
        clause: "清朗 Task 1 测试"
        clauseEn: "Qinglang Task 1 (test)"
        seed: 3
        replicates: 2
        steps: 12
        slateSize: 5
        world:
          catalog: {items: 200, dimension: 8, topics: 5}
          population: {users: 60, interests: [2, 3]}
        recommender: {kind: reference}
        baselines: [random]
        interventions:
          - {name: mark, at: 6, select: {fraction: 0.5}, action: not-interested, pick: first, twins: true}
        metrics: [ild_cosine, gini_exposure, cocoon_ratio_rec]
        metricOptions: {cocoonWindow: 4}
        checks:
          - {id: ild, name: slates are diverse, figure: ild_vs_baseline, baseline: random, statistic: ratio, rule: ">= 0.5"}
          - {id: impossible, name: an unreachable ratio, figure: cocoon_ratio, statistic: median, window: [9, 12], rule: ">= 50"}
          - {id: gone, name: a marked item is never shown again, figure: item_reexposure, after: mark, statistic: total, rule: "== 0", hard: true}
          - {id: no-seekers, name: no seeking users here, figure: unsafe_impressions, persona: seeking, statistic: total, rule: "== 0", hard: true}
        report: {bootstrap: 50}
        """

    static func run(threads: Int = 1) throws -> RunReport {
        let s = try Scenario.decode(yaml, file: "small.yaml")
        var o = RunOptions()
        o.threads = threads
        return try ScenarioRunner.run(s, file: "small.yaml", text: yaml, options: o)
    }
}

/// Runs python3 with a script on stdin and the given arguments; returns stdout.
func python(_ script: String, _ args: [String]) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func tempFolder(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-report-\(getpid())-\(name)").path
    try? FileManager.default.removeItem(atPath: dir)
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct ReportRenderingTests {
    static let report = Result { try SmallRun.run() }

    @Test func theSmallRunHasEachVerdict() throws {
        let card = try Self.report.get().scorecard
        #expect(card.checks.map(\.verdict) == [.pass, .fail, .pass, .notApplicable])
        #expect(card.verdict == .fail)
    }

    @Test func markdownIsPinned() throws {
        let md = MarkdownReport.render(try Self.report.get().scorecard, rerun: "cocoon run small.yaml")
        try expectSnapshot(md.replacingOccurrences(of: "Cocoon \(CocoonVersion.string)", with: "Cocoon VERSION"), "small.md")
    }

    @Test func normalisedHTMLIsPinned() throws {
        let html = HTMLReport.render(try Self.report.get().scorecard, rerun: "cocoon run small.yaml")
        try expectSnapshot(normalise(html), "small.html")
    }

    /// The HTML with the stylesheet and the version taken out, one tag per line.
    func normalise(_ html: String) -> String {
        var s = html
        if let a = s.range(of: "<style>"), let b = s.range(of: "</style>") { s.replaceSubrange(a.upperBound..<b.lowerBound, with: "…") }
        s = s.replacingOccurrences(of: "Cocoon \(CocoonVersion.string)", with: "Cocoon VERSION")
        return s.replacingOccurrences(of: "><", with: ">\n<")
    }

    @Test func htmlIsSelfContained() throws {
        let html = HTMLReport.render(try Self.report.get().scorecard)
        for needle in ["http://", "https://", "<script", "<link", "@import", "url(", "src="] {
            let hits = html.components(separatedBy: needle).count - 1
            // The SVG namespace is an identifier, not a resource.
            let allowed = needle == "http://" ? html.components(separatedBy: "xmlns=\"http://www.w3.org/2000/svg\"").count - 1 : 0
            #expect(hits == allowed, "\(needle) appears \(hits) times")
        }
        #expect(html.contains("Content-Security-Policy"))
        // Each chart kind is present with drawn marks.
        for chart in ["suppression", "topic_exposure", "lorenz", "cocoon_ratio", "series-ild_cosine", "series-gini_exposure"] {
            #expect(html.contains("data-chart=\"\(chart)\""), "\(chart)")
        }
        #expect(html.contains("class=\"pt\""))
        #expect(html.contains("class=\"area\""))
        #expect(html.contains("class=\"bar\""))
        // Verdicts first, both clause languages.
        let verdicts = try #require(html.range(of: "id=\"verdicts\""))
        let charts = try #require(html.range(of: "id=\"charts\""))
        #expect(verdicts.lowerBound < charts.lowerBound)
        #expect(html.contains("清朗 Task 1 测试") && html.contains("Qinglang Task 1 (test)"))
    }

    @Test func junitParsesAndCountsFailures() throws {
        let report = try Self.report.get()
        let dir = tempFolder("junit")
        try ReportWriter.write(report, to: dir)
        let script = """
            import sys, xml.etree.ElementTree as ET
            root = ET.parse(sys.argv[1]).getroot()
            assert root.tag == 'testsuites', root.tag
            cases = root.findall('./testsuite/testcase')
            print(len(cases), len([c for c in cases if c.find('failure') is not None]),
                  len([c for c in cases if c.find('skipped') is not None]), root.get('failures'), root.get('tests'))
            """
        let r = try python(script, [dir + "/junit.xml"])
        #expect(r.status == 0)
        let c = report.scorecard.counts
        #expect(r.out.split(separator: " ").map(String.init) == ["4", "\(c.fail)", "\(c.notApplicable)", "\(c.fail)", "4\n"])
        #expect(c.fail == 1)
    }

    @Test func timeseriesLoadsWithTheDocumentedColumns() throws {
        let report = try Self.report.get()
        let dir = tempFolder("csv")
        try ReportWriter.write(report, to: dir)
        let script = """
            import csv, sys
            rows = list(csv.DictReader(open(sys.argv[1], newline='')))
            cols = ['scenario', 'replicate', 'seed', 'arm', 'segment', 'step', 'metric', 'value']
            with open(sys.argv[1]) as f: assert f.readline().strip().split(',') == cols
            assert all(r[c] not in (None, '') for r in rows for c in cols), 'missing value'
            for r in rows: float(r['value']); int(r['step']); int(r['seed'])
            print(len(rows), len({r['replicate'] for r in rows}), sorted({r['arm'] for r in rows}),
                  sum(1 for r in rows if r['metric'] == 'ild_cosine' and r['arm'] == 'all' and r['replicate'] == '1'))
            """
        let r = try python(script, [dir + "/timeseries.csv"])
        #expect(r.status == 0)
        // Expected rows: every defined value of every replicate, metric and group.
        var expected = 0
        for rep in report.replicates { for m in rep.recorder.series { for g in m { expected += g.compactMap { $0 }.count } } }
        let parts = r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 2).map(String.init)
        #expect(parts.first == String(expected))
        #expect(parts.count == 3 && parts[1] == "2")
        // ild_cosine is a list metric: defined at steps 1…12, not at step 0.
        #expect(r.out.hasSuffix(" 12\n"))
        #expect(r.out.contains("['all', 'main', 'treated', 'twin']"))
    }

    @Test func reportsAreIdenticalForAnyThreadCount() throws {
        let one = ReportWriter.render(try Self.report.get())
        let two = ReportWriter.render(try SmallRun.run(threads: 3))
        for (a, b) in zip(one, two) where a.name != "manifest.json" { #expect(a.text == b.text, "\(a.name)") }
    }
}

@Suite struct AtomicWriteTests {
    @Test func aFailedWriteKeepsTheGoodReport() throws {
        let report = try ReportRenderingTests.report.get()
        let dir = tempFolder("atomic")
        try ReportWriter.write(report, to: dir)
        let good = try String(contentsOfFile: dir + "/scorecard.json", encoding: .utf8)
        // A file where the staging folder must go makes the next write fail before any rename.
        FileManager.default.createFile(atPath: dir + "/.staging-\(getpid())", contents: Data("x".utf8))
        #expect(throws: DataFileError.self) { try ReportWriter.writeAll([("scorecard.json", "{broken")], to: dir) }
        #expect(try String(contentsOfFile: dir + "/scorecard.json", encoding: .utf8) == good)
        try? FileManager.default.removeItem(atPath: dir + "/.staging-\(getpid())")
        // A successful write leaves no staging or temporary file behind.
        try ReportWriter.write(report, to: dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ReportWriter.files.sorted())
    }
}

/// Compares `text` with `Tests/CocoonReportTests/Snapshots/NAME`; records it when
/// COCOON_RECORD_SNAPSHOTS=1.
func expectSnapshot(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = repoRoot + "/Tests/CocoonReportTests/Snapshots/" + name
    if ProcessInfo.processInfo.environment["COCOON_RECORD_SNAPSHOTS"] == "1" {
        try FileManager.default.createDirectory(atPath: repoRoot + "/Tests/CocoonReportTests/Snapshots", withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    let pinned = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text == pinned, "\(name) changed; if intended, re-record with COCOON_RECORD_SNAPSHOTS=1 swift test --filter ReportRenderingTests",
            sourceLocation: sourceLocation)
}

/// Serves the first item ids, then fails at a given step.
final class FailingRecommender: Recommender {
    let name = "test-failing"
    let failAt: Int
    init(failAt: Int) { self.failAt = failAt }
    func start(_ world: RecommenderWorld) throws {}
    func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        struct Broken: Error, CustomStringConvertible { var description: String { "the model server went away" } }
        if request.step == failAt { throw Broken() }
        return SlateBatch(items: request.users.flatMap { u in (0..<Int32(request.slateSize)).map { ($0 + u) % 200 } })
    }
    func observe(_ feedback: FeedbackBatch) throws {}
    func stop() {}
}

@Suite struct AbortedRunTests {
    @Test func anAbortedRunKeepsWhatItMeasured() throws {
        var s = try Scenario.decode(SmallRun.yaml, file: "small.yaml")
        s.recommender = RecommenderSpec(kind: "plugin")
        var o = RunOptions()
        o.factory = { _ in FailingRecommender(failAt: 5) }
        let report = try ScenarioRunner.run(s, file: "small.yaml", text: SmallRun.yaml, options: o)
        let card = report.scorecard
        #expect(card.aborted?.step == 5)
        #expect(card.aborted?.message.contains("the model server went away") == true)
        // The first replicate stopped; the second did not start.
        #expect(report.replicates.count == 1)
        #expect(report.replicates[0].snapshots.count == 5)
        let dir = tempFolder("aborted")
        try ReportWriter.write(report, to: dir)
        let json = try JSONValue.parse(try String(contentsOfFile: dir + "/scorecard.json", encoding: .utf8))
        #expect(json["status"]?.string == "aborted")
        #expect(json["error"]?["step"]?.double == 5)
        // Steps 1…4 were measured and are kept.
        let ild = try #require(json["metrics"]?["ild_cosine"]?["population"]?["mean"])
        guard case .array(let values) = ild else { Issue.record("no series"); return }
        #expect(values.count == 13)
        #expect((1...4).allSatisfy { values[$0] != .null })
        #expect((5...12).allSatisfy { values[$0] == .null })
        let csv = try String(contentsOfFile: dir + "/timeseries.csv", encoding: .utf8)
        let steps = csv.split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[5])! }
        #expect(steps.max() == 4)
        #expect(try String(contentsOfFile: dir + "/scorecard.md", encoding: .utf8).contains("Aborted at step 5"))
        let junit = try String(contentsOfFile: dir + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("errors=\"1\"") && junit.contains("aborted at step 5"))
        #expect(try String(contentsOfFile: dir + "/scorecard.html", encoding: .utf8).contains("Aborted at step 5."))
    }
}
