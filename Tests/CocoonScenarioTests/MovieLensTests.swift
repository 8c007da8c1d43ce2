import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonScenario
import Foundation
import Testing

/// The MovieLens world (ml-latest-small, read from `../shared/`; never copied into the
/// repository). Skipped with a message when the data is not next to the repository.
enum MovieLensData {
    static let path = repoRoot + "/../shared/data/ml-latest-small"
    static var available: Bool { FileManager.default.fileExists(atPath: path + "/ratings.csv") }

    /// movieId → genres, and movieId → positive ratings (≥ 3.5), parsed independently of Cocoon.
    static func reference() throws -> (genres: [Int: [String]], positives: [Int: Int]) {
        var genres: [Int: [String]] = [:]
        for line in try String(contentsOfFile: path + "/movies.csv", encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
            let id = Int(line.prefix { $0 != "," })!
            let g = line.split(separator: ",").last!.split(separator: "|").map(String.init).filter { $0 != "(no genres listed)" }
            genres[id] = g.isEmpty ? ["(no genre)"] : g
        }
        var positives: [Int: Int] = [:]
        for line in try String(contentsOfFile: path + "/ratings.csv", encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",")
            if Double(f[2])! >= 3.5 { positives[Int(f[1])!, default: 0] += 1 }
        }
        return (genres, positives)
    }
}

@Suite(.serialized, .enabled(if: MovieLensData.available, "needs ../shared/data/ml-latest-small next to the repository"))
struct MovieLensTests {
    static let spec: MovieLensSpec = {
        var s = MovieLensSpec()
        s.path = MovieLensData.path
        return s
    }()

    @Test func theCatalogIsTheMoviesWithEnoughPositiveRatings() throws {
        let world = try MovieLensWorld.load(Self.spec)
        let ref = try MovieLensData.reference()
        let kept = ref.positives.filter { $0.value >= 5 }.map(\.key).sorted()
        let c = world.catalog
        #expect(c.count == kept.count)
        #expect(Set((0..<c.count).map { Int(c.id(of: $0))! }) == Set(kept))
        #expect(c.dimension == 32)
        // Genres are the topics; a movie with n genres gives each 1/n (METRICS.md C9).
        let names = Set(kept.flatMap { ref.genres[$0]! })
        #expect(Set(c.topics.names) == names)
        let toyStory = try #require((0..<c.count).first { c.id(of: $0) == "1" })
        #expect(Set(c.topics.topics(of: toyStory).map { c.topics.names[Int($0)] }) == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"])
        var shares = [Double](repeating: 0, count: c.topics.count)
        c.topics.accumulate(item: toyStory, into: &shares)
        #expect(shares.filter { $0 > 0 }.allSatisfy { abs($0 - 0.2) < 1e-12 })
    }

    @Test func theEmbeddingsRankAUsersOwnMoviesFirst() throws {
        // ALS factors: a real user's positive movies score above random movies (AUC), far
        // above the 0.5 of unlearned embeddings.
        let world = try MovieLensWorld.load(Self.spec)
        let items = world.catalog.unitEmbeddings
        var r = Seed(7).stream("auc", 0)
        var wins = 0.0, trials = 0.0
        for u in stride(from: 0, to: world.positives.count, by: 3) {
            let own = world.positives[u]
            let v = world.userFactors.row(u)
            for _ in 0..<20 {
                let i = Int(own[Sample.index(below: own.count, using: &r)])
                let j = Sample.index(below: world.catalog.count, using: &r)
                if own.contains(Int32(j)) { continue }
                let si = zip(v, items.row(i)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let sj = zip(v, items.row(j)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                wins += si > sj ? 1 : (si == sj ? 0.5 : 0)
                trials += 1
            }
        }
        #expect(wins / trials > 0.85, "AUC \(wins / trials)")
    }

    @Test func syntheticUsersCarryARealUsersGenreMixture() throws {
        let world = try MovieLensWorld.load(Self.spec)
        for m in world.mixtures { #expect(abs(m.reduce(0, +) - 1) < 1e-9) }
        var pop = PopulationSpec()
        pop.users = 50
        pop.seedHistory = 10
        let p = try MovieLensWorld.population(pop, catalog: world.catalog, spec: Self.spec, seed: Seed(3))
        let g = world.catalog.topics.count
        for u in 0..<50 {
            let mix = (0..<g).map { Double(p.interestMix[u * g + $0]) }
            // Every synthetic user's mixture is one of the real users' (as Float).
            #expect(world.mixtures.contains { real in zip(real, mix).allSatisfy { abs($0 - $1) < 1e-6 } })
            // The seed history is drawn from that real user's positive movies.
            let real = world.mixtures.indices.filter { r in zip(world.mixtures[r], mix).allSatisfy { abs($0 - $1) < 1e-6 } }
            #expect(real.contains { r in Set(p.seedHistory[u]).isSubset(of: Set(world.positives[r])) })
            #expect(p.seedHistory[u].count == min(10, real.map { world.positives[$0].count }.max()!))
        }
    }

    @Test func theMovieLensScenarioPassesItsChecksWithTheReference() throws {
        let file = repoRoot + "/Scenarios/examples/movielens.yaml"
        let (s, text) = try Scenario.load(file, overrides: ["world.population.users=300", "replicates=1", "steps=70", "interventions[0].at=40",
                                                             "checks[0].window=[61, 70]"])
        let r = try ScenarioRunner.run(s, file: file, text: text)
        let verdicts = Dictionary(uniqueKeysWithValues: r.scorecard.checks.map { ($0.spec.id, $0.verdict.rawValue) })
        #expect(verdicts.count == 6)
        for (id, v) in verdicts { #expect(v == "PASS", "\(id): \(v)") }
    }

    @Test func aBrokenRatingsFileNamesFileAndLine() throws {
        let dir = NSTemporaryDirectory() + "cocoon-ml-broken-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: MovieLensData.path + "/movies.csv", toPath: dir + "/movies.csv")
        try "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,four,964981247\n".write(toFile: dir + "/ratings.csv", atomically: true, encoding: .utf8)
        var spec = MovieLensSpec()
        spec.path = dir
        do {
            _ = try MovieLensWorld.load(spec)
            Issue.record("a broken ratings file loaded")
        } catch let e as DataFileError {
            let text = "\(e)"
            #expect(text.contains("ratings.csv"))
            #expect(text.contains("3"), "names line 3: \(text)")
            #expect(text.contains("four"), "\(text)")
        }
    }
}
