import Foundation
import Testing

/// Reads a JSON file as a dictionary.
func readJSON(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
}

/// Writes a dictionary as JSON.
func writeJSON(_ object: [String: Any], _ path: String) throws {
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
}

/// Runs a program found on the PATH (e.g. python3) in the repository.
func runProgram(_ args: [String]) throws -> CLI.Result {
    try CLI.exec("/usr/bin/env", args)
}

/// A small real quickstart run, shared by the tests of this file.
enum SmallQuickstart {
    static let folder: Result<String, Error> = Result {
        let dir = CLI.tempDir("small-quickstart")
        let r = try CLI.run([
            "run", "Scenarios/quickstart.yaml", "--out", dir, "--quiet", "--set", "world.population.users=300", "--set", "steps=40",
            "--set", "interventions[0].at=20", "--set", "checks[0].window=[31,40]",
        ])
        guard r.status == 0 || r.status == 1 else { throw CLIError(message: "cocoon run failed: \(r.stderr)") }
        return dir
    }
    struct CLIError: Error { let message: String }
}

@Suite struct CompareCLITests {
    /// A copy of the scorecard with one metric's final value scaled.
    func planted(_ scale: [String: Double], name: String) throws -> String {
        let base = try SmallQuickstart.folder.get() + "/scorecard.json"
        var card = try readJSON(base)
        var metrics = card["metrics"] as! [String: Any]
        for (id, factor) in scale {
            var m = metrics[id] as! [String: Any]
            var pop = m["population"] as! [String: Any]
            pop["final"] = (pop["final"] as! NSNumber).doubleValue * factor
            m["population"] = pop
            metrics[id] = m
        }
        card["metrics"] = metrics
        let path = CLI.tempDir("compare-\(name)") + "/scorecard.json"
        try writeJSON(card, path)
        return path
    }

    @Test func aPlantedRegressionExitsOne() throws {
        let base = try SmallQuickstart.folder.get() + "/scorecard.json"
        // ILD 20% lower (higher is better) and Gini 20% higher (lower is better).
        let cand = try planted(["ild_cosine": 0.8, "gini_exposure": 1.2], name: "regression")
        let r = try CLI.run(["compare", base, cand])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let ild = try #require(lines.first { $0.hasPrefix("ild_cosine[population]") })
        #expect(ild.contains("-20.0%") && ild.contains("REGRESSION"))
        let gini = try #require(lines.first { $0.hasPrefix("gini_exposure[population]") })
        #expect(gini.contains("+20.0%") && gini.contains("REGRESSION"))
        #expect(r.stdout.contains("2 regressions beyond tolerance: ild_cosine[population], gini_exposure[population]"))
        // Every other row is unchanged.
        let regressions = lines.filter { $0.contains("REGRESSION") }
        #expect(regressions.count == 2)
        // A wider tolerance accepts it.
        let tolerant = try CLI.run(["compare", base, cand, "--tolerance", "ild_cosine=0.25", "--tolerance", "gini_exposure=0.25"])
        #expect(tolerant.status == 0, "\(tolerant.stdout)")
    }

    @Test func anImprovementExitsZero() throws {
        let base = try SmallQuickstart.folder.get() + "/scorecard.json"
        let cand = try planted(["ild_cosine": 1.2, "gini_exposure": 0.8], name: "improvement")
        let r = try CLI.run(["compare", base, cand, "--markdown"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("| ild_cosine[population] |"))
        #expect(r.stdout.split(separator: "\n").filter { $0.contains("| improved |") }.count == 2)
        #expect(r.stdout.contains("no regression beyond tolerance"))
    }

    @Test func aCheckThatStopsPassingIsARegression() throws {
        let base = try SmallQuickstart.folder.get() + "/scorecard.json"
        var card = try readJSON(base)
        var checks = card["checks"] as! [[String: Any]]
        checks[1]["verdict"] = "FAIL"
        checks[1]["observed"] = 0.9
        card["checks"] = checks
        let path = CLI.tempDir("compare-check") + "/scorecard.json"
        try writeJSON(card, path)
        let r = try CLI.run(["compare", base, path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("check:near-duplicates"))
        #expect(r.stdout.contains("PASS → FAIL"))
    }

    @Test func badInputsExitTwoWithAMessage() throws {
        let base = try SmallQuickstart.folder.get() + "/scorecard.json"
        let missing = try CLI.run(["compare", base, "/nonexistent/scorecard.json"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/scorecard.json: cannot read the file"))
        let notCard = try CLI.run(["compare", base, try SmallQuickstart.folder.get() + "/manifest.json"])
        #expect(notCard.status == 2)
        #expect(notCard.stderr.contains("not a Cocoon scorecard"))
        let badTolerance = try CLI.run(["compare", base, base, "--tolerance", "gini=abc"])
        #expect(badTolerance.status == 2)
        #expect(badTolerance.stderr.contains("'gini=abc' is not METRIC=REL"))
    }
}

@Suite struct HTMLInBrowserTests {
    /// Renders a real run's scorecard.html in headless Chromium and checks the DOM: every
    /// chart drew data marks, nothing external was requested. Keeps the screenshot under
    /// Reports/browser-check/.
    @Test func everyChartDrawsAndNothingExternalLoads() throws {
        let dir = try SmallQuickstart.folder.get()
        let shot = CLI.repo + "/Reports/browser-check/quickstart.png"
        let r = try runProgram(["python3", "Tests/browser/check_html.py", dir + "/scorecard.html", shot])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        guard r.status == 0 else { return }
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let charts = summary["charts"] as! [[String: Any]]
        let ids = charts.map { $0["chart"] as! String }
        for required in ["suppression", "topic_exposure", "lorenz", "cocoon_ratio", "series-ild_cosine"] {
            #expect(ids.contains(required), "\(required) missing")
        }
        #expect(charts.allSatisfy { ($0["marks"] as! Int) > 0 })
        #expect((summary["requests"] as! [String]).count == 1)
        #expect((summary["foreign_requests"] as! [String]).isEmpty)
        #expect(FileManager.default.fileExists(atPath: shot))
    }
}
