import CocoonCore
import CocoonMath
import Testing

@Suite struct GeneratorTests {
    @Test func catalogTopicSharesFollowTheSpec() throws {
        var spec = CatalogSpec()
        spec.items = 10_000
        spec.topics = 10
        spec.topicSizeSkew = 1
        spec.nearDuplicateFraction = 0
        let c = try Catalog.generate(spec, seed: Seed(3))
        let sizes = c.topicSizes
        let weights = (0..<10).map { 1 / Double($0 + 1) }
        let total = weights.reduce(0, +)
        // Apportionment is exact up to one item per topic.
        for t in 0..<10 { #expect(abs(Double(sizes[t]) - 10_000 * weights[t] / total) <= 1.0 + 1e-9, "topic \(t)") }
        #expect(sizes.reduce(0, +) == 10_000)
        // Unit norm, and items are closer to their own topic's centroid than to any other.
        let norms = c.embeddings.rowNorms()
        #expect(norms.allSatisfy { abs($0 - 1) < 1e-5 })
        let centroids = c.topicCentroids()
        let d = c.dimension
        var own = 0
        for i in 0..<c.count {
            let row = Array(c.unitEmbeddings.row(i))
            let sims = (0..<10).map { t in (0..<d).reduce(0.0) { $0 + Double(row[$1]) * centroids[t * d + $1] } }
            if sims.indices.max(by: { sims[$0] < sims[$1] }) == Int(c.topics.primary[i]) { own += 1 }
        }
        #expect(Double(own) / Double(c.count) > 0.99)
    }

    @Test func flagsAndDuplicates() throws {
        var spec = CatalogSpec()
        spec.items = 4000
        spec.topics = 8
        spec.harmful = .init(fraction: 0, topics: ["t7"])
        spec.borderline = .init(fraction: 0.1)
        spec.nearDuplicateFraction = 0.1
        let c = try Catalog.generate(spec, seed: Seed(4))
        let harmful = c.items(flagged: .harmful)
        #expect(!harmful.isEmpty && harmful.allSatisfy { c.topics.primary[$0] == 7 })
        #expect(harmful.allSatisfy { c.flags[$0].contains(.minorUnsafe) })
        #expect(c.topicSizes[7] == harmful.count)
        let borderline = Double(c.items(flagged: .borderline).count) / 4000
        #expect(abs(borderline - 0.1) < 6 * (0.09 / 4000).squareRoot() + 0.02)
        // Near-duplicates: a 10% share of items has a same-topic neighbour with cosine ≥ 0.95.
        let sim = Matrix.cosineSimilarity(rowsOf: c.embeddings, rowsOf: c.embeddings)
        var withDup = 0
        for i in 0..<c.count where (0..<c.count).contains(where: { $0 != i && sim[i, $0] >= 0.95 }) { withDup += 1 }
        #expect(Double(withDup) / 4000 > 0.1 && Double(withDup) / 4000 < 0.3)
    }

    @Test func populationInterestsFollowTheSpec() throws {
        var cs = CatalogSpec()
        cs.topics = 20
        let catalog = try Catalog.generate(cs, seed: Seed(5))
        var ps = PopulationSpec()
        ps.users = 3000
        ps.segments = [
            .init(name: "adult", share: 0.7), .init(name: "minor", share: 0.2, seeking: 0.5), .init(name: "elderly", share: 0.1),
        ]
        let p = Population.generate(ps, catalog: catalog, seed: Seed(6))
        var segCounts = [0, 0, 0]
        var seekingMinors = 0
        for u in 0..<p.count {
            let mix = Array(p.mixture(of: u))
            let nonzero = mix.filter { $0 > 0 }
            #expect((3...5).contains(nonzero.count), "user \(u)")
            #expect(abs(mix.reduce(0, +) - 1) < 1e-5)
            let dominant = mix.max()!
            #expect(dominant >= 0.3 - 1e-6 && dominant <= 0.5 + 1e-6, "user \(u)")
            #expect(nonzero.filter { $0 == dominant }.count >= 1)
            // The interest vector points at the dominant topic's centroid more than at any non-interest.
            segCounts[Int(p.segments[u])] += 1
            if p.segments[u] == 1 && p.seeking[u] { seekingMinors += 1 }
            #expect(p.seedHistory[u].count == 10 && Set(p.seedHistory[u]).count == 10)
        }
        for (s, share) in [0.7, 0.2, 0.1].enumerated() {
            let sd = (share * (1 - share) / 3000).squareRoot()
            #expect(abs(Double(segCounts[s]) / 3000 - share) < 6 * sd, "segment \(s)")
        }
        #expect(abs(Double(seekingMinors) / Double(segCounts[1]) - 0.5) < 0.1)
        #expect(p.attributes.filter { $0.ageBand == "under-18" }.count == segCounts[1])
        // Seed histories follow the interests: ≥ 90% of seed items are in the user's interest topics.
        var inInterest = 0
        var total = 0
        for u in 0..<p.count {
            for i in p.seedHistory[u] {
                total += 1
                if p.interestMix[u * 20 + Int(catalog.topics.primary[Int(i)])] > 0 { inInterest += 1 }
            }
        }
        #expect(Double(inInterest) / Double(total) > 0.9)
        // Mixtures of 3–5 of 20 topics are stored as their pairs: 4 bytes a user plus 5 a pair.
        #expect(p.interestMix.isSparse)
    }

    @Test func generationIsStableAcrossSizes() throws {
        var cs = CatalogSpec()
        cs.items = 300
        let catalog = try Catalog.generate(cs, seed: Seed(7))
        var small = PopulationSpec()
        small.users = 10
        var large = small
        large.users = 50
        let a = Population.generate(small, catalog: catalog, seed: Seed(8))
        let b = Population.generate(large, catalog: catalog, seed: Seed(8))
        for u in 0..<10 {
            #expect(Array(a.mixture(of: u)) == Array(b.mixture(of: u)))
            #expect(a.seedHistory[u] == b.seedHistory[u])
        }
    }

    /// Users are drawn in chunks of 16,384, blocks of a chunk in parallel: any worker count
    /// gives the same population, and users past the first chunk still get their own mixture,
    /// vector and seed history (a slot mixed up between users would break the checks below).
    @Test func generationIsTheSameOnAnyWorkerCountAcrossChunks() throws {
        var cs = CatalogSpec()
        cs.items = 500
        cs.topics = 20
        let catalog = try Catalog.generate(cs, seed: Seed(3))
        var ps = PopulationSpec()
        ps.users = 16_384 + 600
        let one = Population.generate(ps, catalog: catalog, seed: Seed(4), executor: BlockExecutor(workers: 1))
        let three = Population.generate(ps, catalog: catalog, seed: Seed(4), executor: BlockExecutor(workers: 3))
        #expect(one.interestVectors == three.interestVectors)
        #expect((0..<one.count).allSatisfy { Array(one.mixture(of: $0)) == Array(three.mixture(of: $0)) })
        #expect((0..<one.count).allSatisfy { one.seedHistory[$0] == three.seedHistory[$0] })
        let g = catalog.topics.count, d = catalog.dimension
        let centroids = catalog.topicCentroids()
        func towards(_ u: Int, mixtureOf w: Int) -> Double {
            let mix = Array(one.mixture(of: w))
            var s = 0.0
            for t in 0..<g where mix[t] > 0 {
                for j in 0..<d { s += Double(mix[t]) * centroids[t * d + j] * Double(one.interestVectors[u, j]) }
            }
            return s
        }
        var ownCloser = 0
        for u in 16_384..<ps.users {
            let mix = Array(one.mixture(of: u))
            // Every seed item is from one of the user's own interest topics.
            #expect(one.seedHistory[u].allSatisfy { mix[Int(catalog.topics.primary[Int($0)])] > 0 }, "user \(u)")
            #expect(one.seedHistory[u].count == ps.seedHistory)
            if towards(u, mixtureOf: u) > towards(u, mixtureOf: u == ps.users - 1 ? 16_384 : u + 1) { ownCloser += 1 }
        }
        // The vector points at its own mixture's centroids more than at a neighbour's.
        #expect(ownCloser > 550, "\(ownCloser) of 600")
    }
}

/// The storage of topic mixtures: sparse when users have a few topics, the same Floats as the
/// dense table either way.
@Suite struct TopicMixturesTests {
    /// Five users over 6 topics, two of them all zero.
    let dense: [Float] = [
        0.5, 0, 0, 0.25, 0, 0.25,
        0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 0,
        0.1, 0.2, 0.3, 0.1, 0.2, 0.1,
        0, 0, 0, 0, 0, 0,
    ]

    func built(_ topics: Int = 6) -> TopicMixtures {
        var m = TopicMixtures(topics: topics)
        for u in 0..<(dense.count / topics) { m.appendRow(dense[(u * topics)..<((u + 1) * topics)]) }
        return m
    }

    @Test func sparseRowsReadLikeTheDenseTable() {
        let m = built()
        // 4·6 bytes of offsets + 5·10 of pairs = 74 < 120 dense: sparse is kept.
        let c = m.compacted()
        #expect(c.isSparse)
        #expect(c.users == 5 && c.topicCount == 6 && c.count == 30)
        #expect(Array(c) == dense)
        #expect(c.row(3) == Array(dense[18..<24]))
        #expect(c.row(1) == [Float](repeating: 0, count: 6))
        #expect(c[5] == 0.25 && c[4] == 0 && c[13] == 1)
    }

    @Test func denseRowsStayDense() {
        var m = TopicMixtures(topics: 2)
        for _ in 0..<10 { m.appendRow([Float(0.25), 0.75]) }
        // Sparse: 44 + 100 bytes against 80 dense.
        let c = m.compacted()
        #expect(!c.isSparse)
        #expect(Array(c) == (0..<10).flatMap { _ in [Float(0.25), 0.75] })
        let given = TopicMixtures(dense: dense, topics: 6)
        #expect(!given.isSparse && given.row(3) == Array(dense[18..<24]) && Array(given) == dense)
    }

    /// Writing a weight turns a sparse table dense (an interest shift may add a topic) and
    /// leaves copies that shared the storage unchanged.
    @Test func settingAWeightDensifiesAndCopiesOnWrite() {
        let before = built().compacted()
        var after = before
        after.set(user: 1, topic: 4, to: 0.5)
        #expect(!after.isSparse && before.isSparse)
        var expected = dense
        expected[10] = 0.5
        #expect(Array(after) == expected)
        #expect(Array(before) == dense)
    }
}
