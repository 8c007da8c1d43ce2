import CocoonMath
import Foundation

extension Catalog {
    /// Generates a catalog from `spec`, drawing only from `seed`.
    ///
    /// - Complexity: O(items · d · (1 + topics/d)).
    public static func generate(_ spec: CatalogSpec, seed: Seed) throws -> Catalog {
        let m = spec.items
        let g = spec.topics
        let d = spec.resolvedDimension
        var rng = seed.stream("catalog")

        // Topic sizes: largest remainder on Zipf weights, every topic ≥ 1 item when possible.
        let weights = (0..<g).map { 1 / pow(Double($0 + 1), spec.topicSizeSkew) }
        let sizes = Catalog.apportion(m, weights: weights)
        var primary: [Int32] = []
        primary.reserveCapacity(m)
        for (t, s) in sizes.enumerated() { primary.append(contentsOf: repeatElement(Int32(t), count: s)) }
        // Shuffle so item ids do not encode topics (ties break on ids).
        let perm = Sample.permutation(m, using: &rng)
        primary = perm.map { primary[$0] }

        // Secondary topics.
        var itemTopics: [[Int32]] = primary.map { [$0] }
        if spec.secondaryTopicProbability > 0 && g > 1 {
            var r2 = seed.stream("catalog.secondary")
            for i in 0..<m where Sample.bernoulli(spec.secondaryTopicProbability, using: &r2) {
                var t = Int32(Sample.index(below: g - 1, using: &r2))
                if t >= primary[i] { t += 1 }
                itemTopics[i].append(t)
            }
        }

        var values = [Float](repeating: 0, count: m * d)
        switch spec.shape {
        case .clusters:
            let centroids = Catalog.topicCentroids(count: g, dimension: d, orthogonal: spec.orthogonalTopics, seed: seed)
            var noise = seed.stream("catalog.noise")
            let scale = spec.spread / Double(d).squareRoot()
            for i in 0..<m {
                var v = [Double](repeating: 0, count: d)
                let ts = itemTopics[i]
                for (k, t) in ts.enumerated() {
                    let w = k == 0 ? (ts.count == 1 ? 1.0 : 0.6) : 0.4 / Double(ts.count - 1)
                    for j in 0..<d { v[j] += w * centroids[Int(t)][j] }
                }
                for j in 0..<d { v[j] += scale * Sample.normal(using: &noise) }
                let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for j in 0..<d { values[i * d + j] = Float(v[j] / n) }
            }
            // Near-duplicates: copy another item of the same primary topic with tiny noise.
            if spec.nearDuplicateFraction > 0 {
                var dup = seed.stream("catalog.duplicates")
                var byTopic = [[Int]](repeating: [], count: g)
                for i in 0..<m { byTopic[Int(primary[i])].append(i) }
                for i in 0..<m where Sample.bernoulli(spec.nearDuplicateFraction, using: &dup) {
                    let peers = byTopic[Int(primary[i])]
                    guard peers.count > 1 else { continue }
                    var src = peers[Sample.index(below: peers.count, using: &dup)]
                    if src == i { src = peers[(peers.firstIndex(of: i)! + 1) % peers.count] }
                    var v = (0..<d).map {
                        Double(values[src * d + $0]) + 0.12 / Double(d).squareRoot() * Sample.normal(using: &dup)
                    }
                    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    v = v.map { $0 / n }
                    for j in 0..<d { values[i * d + j] = Float(v[j]) }
                    itemTopics[i] = itemTopics[src]
                    primary[i] = primary[src]
                }
            }
        case .dirichlet:
            // Chaney et al.: a per-world prior, then one Dirichlet draw per item; the primary
            // topic is the largest attribute.
            let prior = Sample.dirichlet(Array(repeating: spec.dirichletConcentration, count: d), using: &rng)
                .map { max($0 * spec.dirichletScale, 1e-3) }
            var r = seed.stream("catalog.attributes")
            for i in 0..<m {
                let a = Sample.dirichlet(prior, using: &r)
                var best = 0
                for j in 0..<d {
                    values[i * d + j] = Float(max(a[j], 1e-12))
                    if a[j] > a[best] { best = j }
                }
                primary[i] = Int32(best)
                itemTopics[i] = [Int32(best)]
            }
        case .oneHot:
            for i in 0..<m {
                let ts = itemTopics[i]
                let w = Float(1 / Double(ts.count).squareRoot())
                for t in ts { values[i * d + Int(t)] = w }
            }
        }

        // Creators: each has a home topic; an item's creator is one of its topic's creators.
        let creatorCount = max(spec.creators, 1)
        var creatorsByTopic = [[Int32]](repeating: [], count: g)
        for c in 0..<creatorCount { creatorsByTopic[c % g].append(Int32(c)) }
        var rc = seed.stream("catalog.creators")
        let creators: [Int32] = (0..<m).map { i in
            let pool = creatorsByTopic[Int(primary[i])]
            if pool.isEmpty { return Int32(Sample.index(below: creatorCount, using: &rc)) }
            return pool[Sample.index(below: pool.count, using: &rc)]
        }

        var rq = seed.stream("catalog.quality")
        let quality = (0..<m).map { _ in Float(Sample.beta(spec.qualityAlpha, spec.qualityBeta, using: &rq)) }
        var rp = seed.stream("catalog.popularity")
        let order = Sample.permutation(m, using: &rp)
        var popularity = [Float](repeating: 0, count: m)
        for (rank, i) in order.enumerated() { popularity[i] = Float(1 / pow(Double(rank + 1), spec.popularitySkew)) }

        let names = spec.resolvedTopicNames
        var flags = [ItemFlags](repeating: [], count: m)
        func apply(_ f: FlagSpecApplication) {
            var r = seed.stream("catalog.flags." + f.label)
            let topicSet = Set(f.spec.topics.compactMap { names.firstIndex(of: $0) })
            for i in 0..<m {
                let inTopic = itemTopics[i].contains { topicSet.contains(Int($0)) }
                let drawn = Sample.bernoulli(f.spec.fraction, using: &r)
                if inTopic || drawn { flags[i].insert(f.flag) }
            }
        }
        apply(FlagSpecApplication(label: "harmful", spec: spec.harmful, flag: .harmful))
        apply(FlagSpecApplication(label: "borderline", spec: spec.borderline, flag: .borderline))
        apply(FlagSpecApplication(label: "minorUnsafe", spec: spec.minorUnsafe, flag: .minorUnsafe))
        // Borderline style: a shared direction added to borderline items' embeddings.
        if spec.shape == .clusters && spec.borderlineStyle > 0 && flags.contains(where: { $0.contains(.borderline) }) {
            var rb = seed.stream("catalog.borderline.style")
            let style = BLAS.normalized((0..<d).map { _ in Float(Sample.normal(using: &rb)) })
            for i in 0..<m where flags[i].contains(.borderline) {
                var v = (0..<d).map { values[i * d + $0] + Float(spec.borderlineStyle) * style[$0] }
                v = BLAS.normalized(v)
                for j in 0..<d { values[i * d + j] = v[j] }
            }
        }
        var rs = seed.stream("catalog.flags.synthetic")
        for i in 0..<m {
            if flags[i].contains(.harmful) { flags[i].insert(.minorUnsafe) }
            if Sample.bernoulli(spec.synthetic, using: &rs) {
                flags[i].insert(.synthetic)
                if Sample.bernoulli(spec.labelledShare, using: &rs) { flags[i].insert(.labelled) }
            }
        }

        let topicTable =
            spec.secondaryTopicProbability > 0
            ? TopicTable(names: names, itemTopics: itemTopics)
            : TopicTable(names: names, primary: primary)
        return try Catalog(
            embeddings: Matrix(rows: m, cols: d, values: values), topics: topicTable, quality: quality,
            popularityPrior: popularity, creators: creators, flags: flags)
    }

    private struct FlagSpecApplication {
        let label: String
        let spec: CatalogSpec.FlagSpec
        let flag: ItemFlags
    }

    /// Unit topic centroids; orthonormal (Gram–Schmidt on Gaussian vectors) when
    /// `orthogonal` and count ≤ dimension.
    static func topicCentroids(count g: Int, dimension d: Int, orthogonal: Bool, seed: Seed) -> [[Double]] {
        var r = seed.stream("catalog.centroids")
        var out: [[Double]] = []
        for _ in 0..<g {
            var v = (0..<d).map { _ in Sample.normal(using: &r) }
            if orthogonal && g <= d {
                for u in out {
                    let p = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0..<d { v[j] -= p * u[j] }
                }
            }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            out.append(v.map { $0 / n })
        }
        return out
    }

    /// Splits `total` into integer parts proportional to `weights` by largest remainder (ties
    /// to the lower index); then every empty part takes one from the largest part, so each
    /// part differs from its exact share by at most one item when every share is ≥ 1.
    static func apportion(_ total: Int, weights: [Double]) -> [Int] {
        let k = weights.count
        if k == 0 { return [] }
        let s = weights.reduce(0, +)
        let exact = weights.map { Double(total) * $0 / s }
        var parts = exact.map { Int($0) }
        let remainder: [Double] = (0..<k).map { exact[$0] - Double(parts[$0]) }
        let order = (0..<k).sorted { remainder[$0] != remainder[$1] ? remainder[$0] > remainder[$1] : $0 < $1 }
        var left = total - parts.reduce(0, +)
        var j = 0
        while left > 0 {
            parts[order[j % k]] += 1
            left -= 1
            j += 1
        }
        if total >= k {
            for t in 0..<k where parts[t] == 0 {
                let donor = parts.indices.max { parts[$0] < parts[$1] }!
                parts[donor] -= 1
                parts[t] = 1
            }
        }
        return parts
    }
}
