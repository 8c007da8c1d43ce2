import CocoonMath
import Foundation

extension Population {
    /// Generates a population for `catalog` from `spec`, drawing only from `seed`.
    ///
    /// Every user's draws come from streams keyed by the user index, so user u is the same
    /// whatever the population size — and whatever `executor` runs: interests and seed
    /// histories are drawn in blocks of users on it, then stored in user order.
    ///
    /// - Complexity: O(users · (topics + d + seedHistory · d)).
    public static func generate(
        _ spec: PopulationSpec, catalog: Catalog, seed: Seed, executor: BlockExecutor = BlockExecutor(workers: 1)
    ) -> Population {
        let n = spec.users
        let g = catalog.topics.count
        let d = catalog.dimension
        var mixBuilder = TopicMixtures(topics: g)
        mixBuilder.reserveCapacity(users: n)
        var vectors = [Float](repeating: 0, count: n * d)

        // A segment may restrict its users' interests to some topics.
        let segmentOf = Population.drawSegments(spec, users: n, seed: seed)
        let allowed: [[Int]?] = spec.segments.map { seg in seg.topics.map { names in names.compactMap { catalog.topics.index(of: $0) } } }
        switch spec.shape {
        case .mixture:
            let centroids = catalog.topicCentroids()
            vectors.fillInParallel { out in
                Population.inChunks(of: n, executor: executor) { u -> [Double] in
                    var r = seed.stream("population.interest", u)
                    let pi = Population.drawMixture(spec, topics: g, allowed: allowed[Int(segmentOf[u])], using: &r)
                    var v = [Double](repeating: 0, count: d)
                    for t in 0..<g where pi[t] > 0 {
                        for j in 0..<d { v[j] += pi[t] * centroids[t * d + j] }
                    }
                    let scale = spec.interestNoise / Double(d).squareRoot()
                    for j in 0..<d { v[j] += scale * Sample.normal(using: &r) }
                    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    for j in 0..<d { out[u * d + j] = Float(norm > 0 ? v[j] / norm : 0) }
                    return pi
                } collect: { pi in
                    mixBuilder.appendRow(pi.lazy.map { $0 > 0 ? Float($0) : 0 })
                }
            }
        case .dirichlet:
            var r0 = seed.stream("population.prior")
            let prior = Sample.dirichlet(Array(repeating: 1, count: d), using: &r0).map { max($0 * spec.dirichletScale, 1e-3) }
            for u in 0..<n {
                var r = seed.stream("population.interest", u)
                let theta = Sample.dirichlet(prior, using: &r)
                for j in 0..<d { vectors[u * d + j] = Float(theta[j]) }
                // Topics are the attributes when d == topics; otherwise project on centroids.
                if d == g {
                    mixBuilder.appendRow(theta.lazy.map { Float($0) })
                } else {
                    var row = [Float](repeating: 0, count: g)
                    row[Int(catalog.topics.primary[0])] = 1
                    mixBuilder.appendRow(row)
                }
            }
        }
        let mix = mixBuilder.compacted()

        let profiles = drawProfiles(spec, users: n, topics: g, mix: mix, seed: seed, segments: segmentOf)
        let segments = profiles.segments, seeking = profiles.seeking, tags = profiles.tags, attributes = profiles.attributes

        // Seed history: topic ∝ π, then the best of 8 random items of that topic by affinity.
        let byTopic = catalog.itemsByPrimaryTopic()
        var seedHistory = ListArena()
        let h = min(spec.seedHistory, catalog.count)
        seedHistory.reserveCapacity(lists: n, elements: n * h)
        if h == 0 {
            for _ in 0..<n { seedHistory.appendList([]) }
        } else {
            let unitRows = catalog.unitEmbeddings.storage, interests = vectors
            Population.inChunks(of: n, executor: executor) { u -> [Int32] in
                // u's interest vector and a candidate's unit row go to sdot by pointer.
                func affinity(_ i: Int32) -> Float {
                    interests.withUnsafeBufferPointer { uv in
                        unitRows.withUnsafeBufferPointer { BLAS.dot(uv.baseAddress! + u * d, $0.baseAddress! + Int(i) * d, count: d) }
                    }
                }
                var r = seed.stream("population.seedHistory", u)
                let pi = mix.row(u)
                let weights = (0..<g).map { t -> Double in byTopic[t].isEmpty ? 0 : Double(pi[t]) }
                let useTopics = weights.contains { $0 > 0 }
                var chosen: [Int32] = []
                chosen.reserveCapacity(h)
                var attempts = 0
                while chosen.count < h && attempts < h * 20 {
                    attempts += 1
                    let pool: [Int32]
                    if useTopics { pool = byTopic[Sample.categorical(weights, using: &r)] } else { pool = [] }
                    var best: Int32 = -1
                    var bestScore = -Float.infinity
                    for _ in 0..<8 {
                        let i =
                            pool.isEmpty
                            ? Int32(Sample.index(below: catalog.count, using: &r))
                            : pool[Sample.index(below: pool.count, using: &r)]
                        if chosen.contains(i) { continue }
                        let a = affinity(i)
                        if a > bestScore || (a == bestScore && i < best) {
                            best = i
                            bestScore = a
                        }
                    }
                    if best >= 0 { chosen.append(best) }
                }
                return chosen
            } collect: { seedHistory.appendList($0) }
        }

        return Population(
            topicCount: g, interestMix: mix, interestVectors: Matrix(rows: n, cols: d, values: vectors),
            segments: segments, segmentNames: spec.segments.map(\.name), seeking: seeking,
            declaredTags: tags, attributes: attributes, seedHistory: seedHistory)
    }

    /// Users per chunk of ``inChunks(of:executor:_:collect:)``: a chunk's results wait until
    /// it is done (a million users never hold a second copy of everything).
    static let chunk = 16_384

    /// `collect(each(u))` for every user `u` of `0..<n`, in user order: chunk by chunk of
    /// ``chunk`` users, `each` on the blocks of a chunk on `executor`, then `collect` on the
    /// calling thread.
    static func inChunks<T: Sendable>(
        of n: Int, executor: BlockExecutor, _ each: @Sendable (_ user: Int) -> T, collect: (T) -> Void
    ) {
        for start in stride(from: 0, to: n, by: chunk) {
            let blocks = BlockExecutor.blocks(count: min(chunk, n - start), blockSize: 256)
            let results = executor.map(blockCount: blocks.count) { b, _ in blocks[b].map { each(start + $0) } }
            for block in results { for x in block { collect(x) } }
        }
    }

    /// Segments, personas, declared tags and attributes of `n` users (per-user streams).
    /// The segment of every user (per-user draws).
    public static func drawSegments(_ spec: PopulationSpec, users n: Int, seed: Seed) -> [Int32] {
        let shareTotal = spec.segments.reduce(0) { $0 + $1.share }
        let weights = spec.segments.map { $0.share / shareTotal }
        return (0..<n).map { u in
            if spec.segments.count == 1 { return 0 }
            var r = seed.stream("population.segment", u)
            return Int32(Sample.categorical(weights, using: &r))
        }
    }

    public static func drawProfiles(_ spec: PopulationSpec, users n: Int, topics g: Int, mix: TopicMixtures, seed: Seed, segments given: [Int32]? = nil)
        -> (segments: [Int32], seeking: [Bool], tags: [[Int32]], attributes: AttributeTable)
    {
        let segmentsOf = given ?? drawSegments(spec, users: n, seed: seed)
        var segments = [Int32](repeating: 0, count: n)
        var seeking = [Bool](repeating: false, count: n)
        var tags = [[Int32]](repeating: [], count: n)
        var attributes = AttributeTable()
        attributes.reserveCapacity(n)
        let adultBands = ["18-29", "30-44", "45-64"]
        let occupations = ["worker", "professional", "student", "other"]
        let levels = ["low", "mid", "high"]
        for u in 0..<n {
            var r = seed.stream("population.profile", u)
            let s = Int(segmentsOf[u])
            segments[u] = Int32(s)
            seeking[u] = Sample.bernoulli(spec.segments[s].seeking, using: &r)
            if Sample.bernoulli(spec.declaredTagProbability, using: &r) {
                // Declare the top one or two intrinsic topics.
                let row = mix.row(u)
                let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
                let k = 1 + Sample.index(below: 2, using: &r)
                tags[u] = order.prefix(k).filter { row[$0] > 0 }.map { Int32($0) }.sorted()
            }
            let name = spec.segments[s].name
            let band: String
            let job: String
            switch name {
            case "minor":
                band = "under-18"
                job = "student"
            case "elderly":
                band = "65+"
                job = "retired"
            default:
                band = adultBands[Sample.index(below: adultBands.count, using: &r)]
                job = occupations[Sample.index(below: occupations.count, using: &r)]
            }
            let level = levels[Sample.index(below: levels.count, using: &r)]
            attributes.append(
                UserAttributes(
                    ageBand: band, occupation: job, consumptionLevel: level,
                    consented: Sample.bernoulli(spec.attributeConsent, using: &r)))
        }

        return (segments, seeking, tags, attributes)
    }

    /// A topic mixture with k ∈ [min, max] interests, the dominant one with a share in
    /// [max(minShare, 1/k), maxShare], the others smaller.
    static func drawMixture(_ spec: PopulationSpec, topics g: Int, allowed: [Int]? = nil, using r: inout RandomStream) -> [Double] {
        let pool = allowed.flatMap { $0.isEmpty ? nil : $0 } ?? Array(0..<g)
        let lo = max(1, min(spec.minInterests, pool.count))
        let hi = max(lo, min(spec.maxInterests, pool.count))
        let k = lo + Sample.index(below: hi - lo + 1, using: &r)
        let chosen = Sample.withoutReplacement(k: k, of: pool.count, using: &r).map { pool[$0] }
        let order = Sample.permutation(k, using: &r)  // which chosen topic is dominant
        var pi = [Double](repeating: 0, count: g)
        if k == 1 {
            pi[chosen[0]] = 1
            return pi
        }
        let minShare = max(spec.minDominantShare, 1 / Double(k))
        let maxShare = max(minShare, spec.maxDominantShare)
        let s = minShare + (maxShare - minShare) * Sample.uniform(using: &r)
        var rest = [Double](repeating: (1 - s) / Double(k - 1), count: k - 1)
        for _ in 0..<20 {
            let draw = Sample.dirichlet(Array(repeating: 2, count: k - 1), using: &r).map { $0 * (1 - s) }
            if draw.allSatisfy({ $0 <= s }) {
                rest = draw
                break
            }
        }
        pi[chosen[order[0]]] = s
        for j in 1..<k { pi[chosen[order[j]]] = rest[j - 1] }
        return pi
    }
}

extension Catalog {
    /// The unit mean direction of each topic's items (count × d, flattened; a topic without
    /// items gets a zero row).
    public func topicCentroids() -> [Double] {
        let g = topics.count
        let d = dimension
        var c = [Double](repeating: 0, count: g * d)
        for i in 0..<count {
            let t = Int(topics.primary[i])
            for (j, v) in unitEmbeddings.row(i).enumerated() { c[t * d + j] += Double(v) }
        }
        for t in 0..<g {
            let n = (0..<d).reduce(0.0) { $0 + c[t * d + $1] * c[t * d + $1] }.squareRoot()
            if n > 0 { for j in 0..<d { c[t * d + j] /= n } }
        }
        return c
    }

    /// Item indices per primary topic, ascending.
    public func itemsByPrimaryTopic() -> [[Int32]] {
        var out = [[Int32]](repeating: [], count: topics.count)
        for i in 0..<count { out[Int(topics.primary[i])].append(Int32(i)) }
        return out
    }
}
