import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import CocoonScenario
import Foundation
import Testing

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

@Suite struct RegistryTests {
    @Test func everyBuiltinRecommenderIsRegistered() throws {
        for (kind, _) in BuiltinRegistry.recommenders where kind != "plugin" {
            let r = try BuiltinRegistry.make(RecommenderSpec(kind: kind))
            #expect(r.name == kind)
        }
        // The scenario schema knows exactly the registered kinds' parameters.
        #expect(Set(BuiltinRegistry.recommenders.map(\.kind)) == Set(Registry.entries("recommenders").map(\.name)))
        #expect(throws: RegistryError.self) { try BuiltinRegistry.make(RecommenderSpec(kind: "nope")) }
    }

    @Test func everyRerankerIsRegistered() {
        for (kind, _) in BuiltinRegistry.rerankers {
            let r = RerankerSpec(kind: kind).make()
            #expect(r?.name == kind, "\(kind)")
            #expect(RerankerSpec.parameters[kind] != nil, "\(kind) has a parameter list")
        }
        #expect(Set(RerankerSpec.parameters.keys) == Set(BuiltinRegistry.rerankers.map(\.kind)))
    }

    @Test func behavioursAndChoiceRulesAreRegistered() {
        #expect(Registry.entries("behaviours").map(\.name) == Behaviour.presetNames)
        for name in Behaviour.presetNames { #expect(Behaviour.preset(name) != nil) }
        #expect(Registry.entries("choice-rules").map(\.name) == Behaviour.ChoiceRule.allCases.map(\.rawValue))
    }

    @Test func everyInterventionActionDecodes() throws {
        for (action, _) in Registry.entries("interventions") {
            let extra = ["declare-tag": ", topic: t1", "block-topic": ", topic: t1"][action] ?? ""
            let s = try Scenario.decode("interventions:\n  - {name: x, at: 2, action: \(action)\(extra)}\n")
            #expect(s.interventions.count == 1, "\(action)")
        }
    }

    /// Every listed metric is computed by the recorder (a value at some step of a small run).
    @Test func everyMetricIsComputed() throws {
        var s = try Scenario.decode("""
            steps: 20
            world: {catalog: {items: 300, topics: 6, dimension: 8}, population: {users: 60}}
            interventions: [{name: m, at: 5, select: {fraction: 0.5}, action: not-interested, twins: true}]
            """)
        s.metrics = MetricCatalog.all.map(\.id)
        let r = try ScenarioRunner.run(s, file: "x", text: "")
        let rec = r.replicates[0].recorder
        for id in s.metrics {
            let series = try #require(rec.series(id), "\(id) not recorded")
            #expect(series.contains { $0 != nil }, "\(id) has no value")
        }
        #expect(Set(MetricCatalog.defaultSet).isSubset(of: Set(MetricCatalog.all.map(\.id))))
    }

    /// Every figure is handled (none reports itself unknown).
    @Test func everyFigureIsHandled() throws {
        let s = try Scenario.decode("steps: 3\nworld: {catalog: {items: 100, topics: 5, dimension: 8}, population: {users: 20}}\n")
        let r = try ScenarioRunner.run(s, file: "x", text: "")
        for (id, _) in Figure.all {
            var spec = CheckSpec(id: id, name: id, figure: id)
            spec.statistic = .total
            do {
                _ = try Figure.samples(spec, r.replicates[0])
            } catch let na as Figure.NotApplicable {
                #expect(!na.reason.hasPrefix("unknown figure"), "\(id): \(na.reason)")
            }
        }
    }

    /// `cocoon list` output is pinned (re-record with COCOON_RECORD_SNAPSHOTS=1).
    @Test func listOutputIsPinned() throws {
        let path = repoRoot + "/Tests/CocoonScenarioTests/Snapshots/list.txt"
        let text = Registry.text(nil) + "\n"
        if ProcessInfo.processInfo.environment["COCOON_RECORD_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let pinned = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == pinned, "cocoon list changed: re-record with COCOON_RECORD_SNAPSHOTS=1 swift test --filter listOutputIsPinned")
    }
}

@Suite struct ScenarioFilesTests {
    static var files: [String] {
        let root = repoRoot + "/Scenarios"
        let e = FileManager.default.enumerator(atPath: root)
        var out: [String] = []
        while let f = e?.nextObject() as? String { if f.hasSuffix(".yaml") { out.append(root + "/" + f) } }
        return out.sorted()
    }

    /// Every scenario file validates, and runs a few steps on a small population.
    @Test(arguments: files)
    func validatesAndSmokeRuns(file: String) throws {
        let (s, text) = try Scenario.load(file)
        if s.suiteCheck != nil { return }
        // Real-data scenarios need their data next to the repository (MovieLensTests says so).
        if case .movielens(let m) = s.catalog, !FileManager.default.fileExists(atPath: m.path + "/ratings.csv") { return }
        let lastStart = s.interventions.map(\.start).max() ?? 0
        var o = ["replicates=1", "steps=\(lastStart + 2)", "world.population.users=120", "report.bootstrap=20"]
        if case .generated = s.catalog { o.append("world.catalog.items=\(max(300, s.slateSize * 20))") }
        let (small, _) = try Scenario.load(file, overrides: o)
        let r = try ScenarioRunner.run(small, file: file, text: text)
        #expect(r.scorecard.aborted == nil, "\(file)")
        #expect(r.replicates[0].snapshots.count == small.steps + 1)
        #expect(r.scorecard.checks.count == small.checks.count)
    }
}
