import Foundation
import Testing

/// The standard suite at a reduced size (300 users, 2 seeds; every scenario's steps and
/// thresholds as in the files): the compliant reference passes every check, and for every
/// check a named non-compliant reference fails it — a check that cannot fail is a defect.
enum Suite {
    static let reduced = ["--set", "world.population.users=300", "--set", "replicates=2", "--quiet"]

    /// The verdict of every check of every scenario in a suite folder (scenario → check → verdict).
    static func verdicts(_ folder: String) throws -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
            let path = folder + "/" + name + "/scorecard.json"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let card = try readJSON(path)
            var checks: [String: String] = [:]
            for c in card["checks"] as! [[String: Any]] { checks[c["id"] as! String] = c["verdict"] as? String }
            out[(card["scenario"] as! [String: Any])["name"] as! String] = checks
        }
        return out
    }

    /// The verdicts of one scenario's run.
    static func run(_ scenario: String, _ extra: [String]) throws -> (status: Int32, checks: [String: String], stderr: String) {
        let tag = extra.joined().filter { $0.isLetter || $0.isNumber }
        let dir = CLI.tempDir("one-\(scenario)-\(tag)")
        let r = try CLI.run(["run", "Scenarios/standard/\(scenario).yaml", "--out", dir] + reduced + extra)
        guard FileManager.default.fileExists(atPath: dir + "/scorecard.json") else { return (r.status, [:], r.stderr) }
        var checks: [String: String] = [:]
        for c in try readJSON(dir + "/scorecard.json")["checks"] as! [[String: Any]] { checks[c["id"] as! String] = c["verdict"] as? String }
        return (r.status, checks, r.stderr)
    }

    /// Every check id of the standard suite (S30's per-scenario checks excluded).
    static let allChecks: Set<String> = [
        "S01-median-ratio", "S01-p5-ratio", "S01-amplification", "S03-near-duplicates", "S03-topic-run", "S03-ild", "S03-repeats",
        "S04-jaccard", "S06-forgetting", "S08-item-gone", "S08-near-duplicates", "S09-topic-20", "S09-topic-5", "S10-50-100",
        "S10-100-200", "S11-unrelated", "S11-entropy", "S13-cluster-tvd", "S13-cramers-v", "S13-twin-match", "S14-first-slate-tvd",
        "S14-first-slate-twins", "S14-kept", "S14-delay", "S17-by-5", "S17-to-100", "S17-tags", "S18a-served", "S18a-entropy", "S18b-selected", "S20-pushes",
        "S20-tags", "S22-unsafe", "S22-borderline",
    ]

    /// Which non-compliant reference must fail which checks. `engagement-greedy` ignores every
    /// control and duty; the others are the reference with one deliberate defect.
    static let engagementGreedyFails: Set<String> = allChecks.subtracting([
        // Checks engagement-greedy cannot fail: it does not over-react to marks (S11), it is not
        // more homogeneous than popularity (S04), and it shows cold users several topics (S18a).
        "S04-jaccard", "S11-unrelated", "S11-entropy", "S18a-entropy",
    ])
}

@Suite(.serialized) struct StandardSuiteTests {
    @Test func theReferencePassesEveryCheck() throws {
        let dir = CLI.tempDir("suite-reference")
        let r = try CLI.run(["suite", "Scenarios/standard", "--out", dir] + Suite.reduced)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let v = try Suite.verdicts(dir)
        #expect(v.count == 15)
        let checks = v.filter { $0.key != "S30-reproducibility" }.flatMap { $0.value }
        #expect(Set(checks.map(\.key)) == Suite.allChecks)
        for (id, verdict) in checks { #expect(verdict == "PASS", "\(id): \(verdict)") }
        // S30: every scenario identical with another worker count, every control effective at once.
        let s30 = try #require(v["S30-reproducibility"])
        #expect(s30.count >= 14 + 7)
        for (id, verdict) in s30 { #expect(verdict == "PASS", "\(id): \(verdict)") }
        // The suite's index and JUnit report.
        #expect(FileManager.default.fileExists(atPath: dir + "/index.html"))
        let junit = try String(contentsOfFile: dir + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("failures=\"0\" errors=\"0\""))
    }

    @Test func engagementGreedyFailsTheControlAndDiversityChecks() throws {
        let dir = CLI.tempDir("suite-engagement-greedy")
        let r = try CLI.run(["suite", "Scenarios/standard", "--out", dir, "--recommender", "engagement-greedy"] + Suite.reduced)
        #expect(r.status == 1, "\(r.stderr)")
        let v = try Suite.verdicts(dir)
        let checks = v.filter { $0.key != "S30-reproducibility" }.flatMap { $0.value }
        for (id, verdict) in checks {
            let expected = Suite.engagementGreedyFails.contains(id) ? "FAIL" : "PASS"
            #expect(verdict == expected, "\(id): \(verdict), expected \(expected)")
        }
        // It ignores every control, so S30's "effective by the next slate" checks fail.
        let s30 = try #require(v["S30-reproducibility"])
        #expect(s30.filter { $0.key.hasSuffix("-controls") }.allSatisfy { $0.value == "FAIL" })
        #expect(s30.filter { $0.key.hasSuffix("-controls") }.count >= 5)
    }

    @Test func aTrendingFeedFailsCrossUserHomogenisation() throws {
        // Popularity with no per-user filtering: everyone sees the same trending slate.
        let r = try Suite.run("S04-cross-user-homogenisation", [
            "--set", "recommender.kind=popularity", "--set", "recommender.controls={enabled: false, excludeConsumed: false, impressionMemory: 0}",
        ])
        #expect(r.status == 1)
        #expect(r.checks["S04-jaccard"] == "FAIL")
    }

    @Test func overReactingToMarksFailsNoCollateralNarrowing() throws {
        let narrow = try Suite.run("S11-no-collateral-narrowing", ["--set", "recommender.controls={itemMarksNarrowFeed: true}"])
        #expect(narrow.checks["S11-unrelated"] == "FAIL")
        #expect(narrow.checks["S11-entropy"] == "FAIL")
        let topic = try Suite.run("S11-no-collateral-narrowing", ["--set", "recommender.controls={itemMarksSuppressTopic: true}"])
        #expect(topic.checks["S11-unrelated"] == "FAIL")
    }

    @Test func forcingTagsFailsNoForcedTags() throws {
        let wall = try Suite.run("S18-no-forced-tags", ["--set", "recommender.controls={coldStart: tag-wall}"])
        #expect(wall.checks["S18a-served"] == "FAIL")
        let defaultTopic = try Suite.run("S18-no-forced-tags", ["--set", "recommender.controls={coldStart: default-topic}"])
        #expect(defaultTopic.checks["S18a-entropy"] == "FAIL")
    }

    @Test func aNondeterministicRecommenderFailsReproducibility() throws {
        let folder = CLI.tempDir("suite-s30-input")
        for f in ["S13-personalisation-off.yaml", "S30-reproducibility.yaml"] {
            try FileManager.default.copyItem(atPath: CLI.repo + "/Scenarios/standard/" + f, toPath: folder + "/" + f)
        }
        let dir = CLI.tempDir("suite-s30")
        let r = try CLI.run([
            "suite", folder, "--out", dir, "--quiet", "--set", "world.population.users=200", "--set", "replicates=1",
            "--plugin", "--", "python3", CLI.repo + "/Tests/plugins/misbehave.py", "nondeterministic",
        ])
        #expect(r.status == 1)
        let s30 = try #require(try Suite.verdicts(dir)["S30-reproducibility"])
        #expect(s30["S13-personalisation-off-identical"] == "FAIL")
    }
}

/// The whole standard suite against the example plugins (docs/plugin-protocol.md), at 120 users
/// and 2 seeds: the compliant Python recommender passes every check, the non-compliant one fails
/// the control checks it ignores. (At 200 users the compliant one passes too; see
/// Examples/plugins/python/README.md.)
@Suite(.serialized) struct PluginSuiteTests {
    static func runSuite(_ plugin: String, tag: String) throws -> (status: Int32, checks: [String: String], stderr: String) {
        let dir = CLI.tempDir("plugin-suite-\(tag)")
        let r = try CLI.run([
            "suite", "Scenarios/standard", "--out", dir, "--quiet", "--set", "world.population.users=120", "--set", "replicates=2",
            "--plugin", "--", "python3", CLI.repo + "/Examples/plugins/python/\(plugin).py",
        ])
        var checks: [String: String] = [:]
        for (scenario, v) in try Suite.verdicts(dir) {
            for (id, verdict) in v { checks[scenario == "S30-reproducibility" ? "S30/" + id : id] = verdict }
        }
        return (r.status, checks, r.stderr)
    }

    @Test func theCompliantPluginPassesTheStandardSuite() throws {
        let r = try Self.runSuite("compliant_recommender", tag: "compliant")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(r.checks.keys.filter { !$0.hasPrefix("S30/") }) == Suite.allChecks)
        #expect(r.checks.keys.filter { $0.hasPrefix("S30/") }.count >= 21)
        for (id, verdict) in r.checks { #expect(verdict == "PASS", "\(id): \(verdict)") }
    }

    @Test func theNonCompliantPluginFailsTheControlsItIgnores() throws {
        let r = try Self.runSuite("noncompliant_recommender", tag: "noncompliant")
        #expect(r.status == 1)
        let mustFail = [
            "S06-forgetting", "S08-item-gone", "S08-near-duplicates", "S09-topic-20", "S09-topic-5", "S13-cluster-tvd", "S13-cramers-v",
            "S14-first-slate-tvd", "S14-kept", "S14-delay", "S17-by-5", "S17-to-100", "S17-tags", "S18a-served", "S18b-selected",
            "S20-pushes", "S20-tags", "S22-unsafe", "S22-borderline",
        ]
        for id in mustFail { #expect(r.checks[id] == "FAIL", "\(id): \(r.checks[id] ?? "missing")") }
    }
}
