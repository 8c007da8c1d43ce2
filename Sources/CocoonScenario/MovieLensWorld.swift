import CocoonCore
import CocoonMath
import CocoonRecommenders
import Foundation

/// A world from MovieLens-format data (ratings.csv, movies.csv): item embeddings learned from
/// the ratings with implicit ALS on BLAS, genres as topics (multi-genre items split as
/// METRICS.md C9 says), and a population whose intrinsic interests are real users' genre
/// mixtures. Nothing of the data is copied into the project.
public final class MovieLensWorld: @unchecked Sendable {
    /// The catalog: one item per movie with enough positive ratings.
    public let catalog: Catalog
    /// Positive items per real user (sorted).
    public let positives: [[Int32]]
    /// ALS factors of the real users (unit rows).
    public let userFactors: Matrix
    /// Genre mixture per real user (rows sum to 1).
    public let mixtures: [[Double]]

    nonisolated(unsafe) private static var cache: [String: MovieLensWorld] = [:]
    private static let lock = NSLock()

    /// Loads (once per process and spec) and learns the embeddings.
    ///
    /// - Throws: ``DataFileError`` naming file, line and column.
    public static func load(_ spec: MovieLensSpec) throws -> MovieLensWorld {
        let key = "\(spec.path)|\(spec.factors)|\(spec.minRating)|\(spec.minRatings)|\(spec.iterations)"
        lock.lock()
        defer { lock.unlock() }
        if let w = cache[key] { return w }
        let w = try MovieLensWorld(spec)
        cache[key] = w
        return w
    }

    init(_ spec: MovieLensSpec) throws {
        let movies = try CSVTable(contentsOf: spec.path + "/movies.csv")
        let mid = try movies.column("movieId"), gcol = try movies.column("genres")
        var genresOf: [Int: [String]] = [:]
        var order: [Int] = []
        for r in movies.rows.indices {
            let id = try movies.int(r, mid)
            var g = movies.string(r, gcol).split(separator: "|").map(String.init).filter { $0 != "(no genres listed)" }
            if g.isEmpty { g = ["(no genre)"] }
            genresOf[id] = g
            order.append(id)
        }
        let ratings = try CSVTable(contentsOf: spec.path + "/ratings.csv")
        let uc = try ratings.column("userId"), ic = try ratings.column("movieId"), rc = try ratings.column("rating")
        var userIndex: [Int: Int] = [:]
        var users: [Int] = []
        var pos: [[Int]] = []
        var positiveCount: [Int: Int] = [:]
        var ratingSum: [Int: Double] = [:], ratingN: [Int: Double] = [:]
        for r in ratings.rows.indices {
            let u = try ratings.int(r, uc), m = try ratings.int(r, ic), v = try ratings.double(r, rc)
            guard genresOf[m] != nil else { throw ratings.error(r, ic, "movieId \(m) is not in movies.csv") }
            ratingSum[m, default: 0] += v
            ratingN[m, default: 0] += 1
            guard v >= spec.minRating else { continue }
            if userIndex[u] == nil { userIndex[u] = users.count; users.append(u); pos.append([]) }
            pos[userIndex[u]!].append(m)
            positiveCount[m, default: 0] += 1
        }
        let kept = order.filter { (positiveCount[$0] ?? 0) >= spec.minRatings }
        guard kept.count >= 10 else {
            throw DataFileError(file: spec.path + "/ratings.csv", message: "only \(kept.count) movies have \(spec.minRatings) positive ratings (≥ \(spec.minRating)); lower minRatings or minRating")
        }
        var itemIndex: [Int: Int32] = [:]
        for (j, m) in kept.enumerated() { itemIndex[m] = Int32(j) }
        var lists = pos.map { Array(Set($0.compactMap { itemIndex[$0] })).sorted() }
        // Users without a kept positive are left out.
        let realUsers = lists.indices.filter { !lists[$0].isEmpty }
        lists = realUsers.map { lists[$0] }
        let names = Array(Set(kept.flatMap { genresOf[$0]! })).sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        var topicIndex: [String: Int32] = [:]
        for (j, n) in names.enumerated() { topicIndex[n] = Int32(j) }
        let itemTopics = kept.map { genresOf[$0]!.map { topicIndex[$0]! } }
        let als = ImplicitALS(factors: spec.factors, regularization: 0.1, alpha: 10, iterations: spec.iterations)
        let executor = BlockExecutor(workers: 1)
        let (u, items) = als.fit(positives: lists, itemCount: kept.count, initialItems: als.initialItems(count: kept.count, seed: Seed(2018)), executor: executor)
        let table = TopicTable(names: names, itemTopics: itemTopics)
        catalog = try Catalog(
            embeddings: items, topics: table,
            quality: kept.map { Float(min(max(ratingSum[$0]! / ratingN[$0]! / 5, 0), 1)) },
            popularityPrior: kept.map { Float(positiveCount[$0]!) },
            externalIDs: kept.map(String.init))
        positives = lists
        var uf = u
        uf.normalizeRows()
        userFactors = uf
        mixtures = lists.map { l in
            var p = [Double](repeating: 0, count: names.count)
            table.accumulate(items: l, into: &p)
            return p.map { $0 / Double(l.count) }
        }
    }

    /// A population of `spec.users` users, each modelled on a real user drawn at random: the
    /// real user's genre mixture as intrinsic topic mixture, their ALS factor (plus
    /// `interestNoise`) as intrinsic vector, and a seed history drawn from their positives.
    public static func population(_ spec: PopulationSpec, catalog: Catalog, spec ml: MovieLensSpec, seed: Seed) throws -> Population {
        let data = try load(ml)
        let n = spec.users, g = catalog.topics.count, d = catalog.dimension
        var mixBuilder = TopicMixtures(topics: g)
        mixBuilder.reserveCapacity(users: n)
        var vectors = [Float](repeating: 0, count: n * d)
        var history = [[Int32]](repeating: [], count: n)
        for u in 0..<n {
            var r = seed.stream("movielens.user", u)
            let real = Sample.index(below: data.positives.count, using: &r)
            mixBuilder.appendRow((0..<g).map { Float(data.mixtures[real][$0]) })
            var v = (0..<d).map { Double(data.userFactors[real, $0]) + spec.interestNoise / Double(d).squareRoot() * Sample.normal(using: &r) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { v = v.map { $0 / norm } }
            for j in 0..<d { vectors[u * d + j] = Float(v[j]) }
            let list = data.positives[real]
            let take = min(spec.seedHistory, list.count)
            history[u] = Sample.withoutReplacement(k: take, of: list.count, using: &r).map { list[$0] }
        }
        let mix = mixBuilder.compacted()
        let profiles = Population.drawProfiles(spec, users: n, topics: g, mix: mix, seed: seed)
        return Population(topicCount: g, interestMix: mix, interestVectors: Matrix(rows: n, cols: d, values: vectors),
                          segments: profiles.segments, segmentNames: spec.segments.map(\.name), seeking: profiles.seeking,
                          declaredTags: profiles.tags, attributes: profiles.attributes, seedHistory: ListArena(history))
    }
}
