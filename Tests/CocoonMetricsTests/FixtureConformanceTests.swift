import CocoonCore
import CocoonMetrics
import Foundation
import Testing

let fixtureFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "../../../shared/fixtures/metrics"
).standardized.path

func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 || abs(a - b) <= 1e-7 * abs(b) }

@Suite struct FixtureConformanceTests {
    static let evaluation: OfflineEvaluation = {
        let f = fixtureFolder
        let data = try! LoggedData(
            items: f + "/items.csv", history: f + "/interactions.csv", recs: f + "/recs.csv",
            relevant: f + "/relevant.csv", flags: f + "/not_interested.csv", recsBefore: f + "/recs_prev.csv")
        return OfflineEvaluation(data)
    }()
    static let expected: JSONValue = try! JSONValue.parse(
        String(contentsOfFile: fixtureFolder + "/expected-public.json", encoding: .utf8))

    static var metricIDs: [String] {
        guard case .object(let pairs)? = expected["metrics"] else { return [] }
        return pairs.map(\.0)
    }

    @Test(arguments: metricIDs)
    func matchesTheReference(id: String) throws {
        let ours = try #require(Self.evaluation.metrics.first { $0.id == id }, "metric \(id) missing")
        let ref = try #require(Self.expected["metrics"]?[id])
        let value = try #require(ours.value)
        let expected = try #require(ref["reference"]?.double)
        #expect(close(value, expected), "\(id): ours \(value), reference \(expected)")
        if case .object(let perUser)? = ref["per_user"] {
            let mine = Dictionary(uniqueKeysWithValues: (ours.perUser ?? []).map { ($0.0, $0.1) })
            for (u, v) in perUser {
                guard let e = v.double else { continue }
                let o = try #require(mine[u] ?? nil, "\(id) user \(u) missing")
                #expect(close(o, e), "\(id) user \(u): ours \(o), reference \(e)")
            }
        }
        if case .array(let series)? = ref["series"] {
            let s = try #require(ours.series)
            #expect(s.count == series.count)
            for (a, b) in zip(s, series) { #expect(close(a ?? .nan, b.double!), "\(id) series") }
        }
        if case .array(let pairs)? = ref["pairs"] {
            let p = try #require(ours.pairs)
            let ref = pairs.map { pair -> String in
                guard case .array(let ab) = pair else { return "" }
                return "\(Int(ab[0].double!))-\(Int(ab[1].double!))"
            }
            #expect(p.map { "\($0.0)-\($0.1)" } == ref)
        }
        for check in ["check_mean_abs_diff", "check_lorenz_area"] {
            if let v = ref[check]?.double { #expect(close(value, v)) }
        }
    }

    @Test func reRankerSummaryOfTheBaselineMatches() throws {
        // baseline_top10 summary: ILD and coverage of recs.csv, mean base score pooled.
        let s = try #require(Self.expected["rerankers"]?["baseline_top10"]?["summary"])
        let ild = Self.evaluation.metrics.first { $0.id == "ild_cosine" }!.value!
        let cov = Self.evaluation.metrics.first { $0.id == "topic_coverage" }!.value!
        let kl = Self.evaluation.metrics.first { $0.id == "calibration_kl" }!.value!
        #expect(
            close(ild, s["ild_cosine"]!.double!) && close(cov, s["topic_coverage"]!.double!)
                && close(kl, s["calibration_kl"]!.double!))
    }
}
