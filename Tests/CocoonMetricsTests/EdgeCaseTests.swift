import CocoonCore
import CocoonMath
import CocoonMetrics
import Foundation
import Testing

private func tinyCatalog(_ emb: [[Float]], topics: [Int32], topicCount: Int) throws -> Catalog {
    try Catalog(embeddings: Matrix(rowArrays: emb), topics: TopicTable(names: (0..<topicCount).map { "t\($0)" }, primary: topics))
}

@Suite struct EdgeCaseTests {
    @Test func ildOfEmptyOneTwoAndThreeItemLists() throws {
        // edge_cases.ild_lengths: items 1…5 in 2-d.
        let c = try tinyCatalog([[1, 0], [0, 1], [1, 1], [-1, 0.2], [0.3, 0.9]], topics: [0, 0, 1, 1, 2], topicCount: 3)
        let g = ItemGeometry(c)
        let lists: [[Int32]] = [[], [0], [0, 1], [0, 1, 2]]
        let values = lists.map { ListMetrics.ildCosine($0[...], g) }
        #expect(values[0] == nil && values[1] == 0 && values[2] == 1)
        #expect(abs(values[3]! - 0.5285954792089683) < 1e-12)
        let mean = MetricResult.mean("ild_cosine", users: ["e", "1", "2", "3"], values: values)
        #expect(abs(mean.value! - 0.5095318264029894) < 1e-12 && mean.nUsers == 3 && mean.nExcluded == 1)
    }

    @Test func ildInOnePassIsThePairwiseMean() throws {
        // Random embeddings, lists of 2…300 items with repeats: the one-pass
        // form and the definition agree to rounding; a wrong Σ‖ê‖² or pair count would be off
        // by about 1/n.
        var r = Seed(5).stream("ild")
        let d = 16, m = 200
        var emb = (0..<m).map { _ in (0..<d).map { _ in Float(Sample.normal(using: &r)) } }
        // A few topics' worth of shared direction, so the cosines are not all near 0.
        for i in 0..<m { for j in 0..<4 { emb[i][j] += Float(i % 3) } }
        let c = try tinyCatalog(emb, topics: (0..<m).map { Int32($0 % 4) }, topicCount: 4)
        let g = ItemGeometry(c)
        #expect(g.unitSquaredNorms.allSatisfy { abs($0 - 1) < 1e-15 })
        for n in [2, 3, 10, 57, 300] {
            var list = (0..<n).map { _ in Int32(Sample.index(below: m, using: &r)) }
            if n > 3 { list[1] = list[0] }
            let fast = try #require(ListMetrics.ildCosine(list[...], g))
            let slow = try #require(ListMetrics.ildCosinePairwise(list[...], g))
            #expect(abs(fast - slow) < 1e-12, "n = \(n): \(fast) against \(slow)")
        }
    }

    @Test func giniAndEntropyExtremes() {
        let equal = ExposureMetrics(counts: [3, 3, 3, 3, 3])
        #expect(equal.gini == 0 && abs(equal.entropyNormalised! - 1) < 1e-12)
        let one = ExposureMetrics(counts: [0, 0, 7, 0, 0])
        #expect(abs(one.gini! - 0.8) < 1e-12 && one.entropyBits == 0)
        let none = ExposureMetrics(counts: [0, 0, 0])
        #expect(none.gini == nil && none.entropyBits == nil && none.aggregateDiversity == 0 && none.catalogCoverage == 0)
        #expect(ExposureMetrics(counts: [4]).entropyNormalised == nil)
        // The Lorenz-curve form agrees: G = 1 − 2·area.
        let x = [5, 0, 2, 9, 1, 1, 0, 3]
        let lorenz = ExposureMetrics.lorenz(counts: x)!
        var area = 0.0
        for j in 1..<lorenz.count { area += (lorenz[j].0 - lorenz[j - 1].0) * (lorenz[j].1 + lorenz[j - 1].1) / 2 }
        #expect(abs(ExposureMetrics(counts: x).gini! - (1 - 2 * area)) < 1e-12)
    }

    /// Exposure counts by blocks of rows on several workers equal the one-loop count of the same
    /// rows (a subset, out of order, one row twice), whatever the block size: every row counted
    /// once, every worker's counts added.
    @Test func exposureCountsByBlocksEqualOneLoop() {
        var rng = Seed(31).stream("exposure")
        let k = 5, items = 300, n = 20_000
        let slates = (0..<(n * k)).map { _ in Int32(Sample.index(below: items, using: &rng)) }
        let rows = (0..<12_000).map { _ in Sample.index(below: n, using: &rng) } + [7, 7]
        var want = [Int](repeating: 0, count: items)
        for r in rows { for p in 0..<k { want[Int(slates[r * k + p])] += 1 } }
        #expect(want.reduce(0, +) == rows.count * k)
        for workers in [1, 3] {
            for blockSize in [1, 7, 500, 20_000] {
                let got = ExposureMetrics.counts(
                    slates: slates, slateSize: k, rows: rows, itemCount: items, executor: BlockExecutor(workers: workers),
                    blockSize: blockSize)
                #expect(got == want, "workers \(workers), blocks of \(blockSize)")
            }
        }
    }

    @Test func calibrationExtremes() throws {
        let c = try tinyCatalog([[1, 0], [0, 1], [1, 1], [1, 2]], topics: [0, 0, 1, 1], topicCount: 2)
        let t = c.topics
        let noShared = ListMetrics.calibrationKL([2, 3][...], history: [0, 1], t)!
        #expect(abs(noShared - log(100)) < 1e-12)
        #expect(abs(ListMetrics.calibrationKL([0, 2][...], history: [1, 3], t)!) < 1e-15)
        #expect(ListMetrics.calibrationKL([0][...], history: [], t) == nil)
        #expect(ListMetrics.calibrationKL([][...], history: [0], t) == nil)
    }

    @Test func relevanceEdgeCases() throws {
        let c = try tinyCatalog([[1, 0], [0, 1], [1, 1], [1, 2], [2, 1]], topics: [0, 0, 1, 1, 2], topicCount: 3)
        let g = ItemGeometry(c)
        let t = c.topics
        // No relevant items: recall and alpha-nDCG undefined; EILD and serendipity 0.
        #expect(ListMetrics.subtopicRecall([0, 1][...], relevant: [], t) == nil)
        #expect(ListMetrics.alphaNDCG([0, 1][...], relevant: [], t) == nil)
        #expect(ListMetrics.eild([0, 1][...], relevant: [], g) == 0)
        #expect(ListMetrics.serendipity([0, 1][...], meanUnit: [1, 0], relevant: [], g) == 0)
        // A perfect list has alpha-nDCG 1; hand-computed value of a worse one.
        #expect(abs(ListMetrics.alphaNDCG([2, 0, 4][...], relevant: [0, 2, 4], t)! - 1) < 1e-12)
        // Relevant {0 (t0), 1 (t0), 2 (t1)}; list [0, 1, 2]: gains 1, 0.5, 1 → 1 + 0.5/log2(3) + 1/2;
        // ideal [0, 2, 1]: 1 + 1/log2(3) + 0.5/2.
        let v = ListMetrics.alphaNDCG([0, 1, 2][...], relevant: [0, 1, 2], t)!
        let expected = (1 + 0.5 / log2(3.0) + 0.5) / (1 + 1 / log2(3.0) + 0.25)
        #expect(abs(v - expected) < 1e-12)
        #expect(abs(ListMetrics.subtopicRecall([0, 3][...], relevant: [0, 1, 4], t)! - 0.5) < 1e-12)
        // EILD with every item relevant and the log discount, by hand for a 2-item list:
        // both brackets equal d(0,1) = 1 − cos = 1, so EILD = (disc0 + disc1)/(disc0 + disc1) · 1 = 1.
        #expect(abs(ListMetrics.eild([0, 1][...], relevant: [0, 1], g)! - 1) < 1e-12)
    }

    @Test func coldItemsCountAsOneUserForNoveltyAndZeroForPopularity() {
        // Item 2 is never interacted with (cold).
        let pop = Popularity(histories: [[0, 1], [0], [1, 3]], itemCount: 4)
        #expect(pop.historyUsers == 3 && pop.historyRows == 5)
        // novelty: (−log2(2/3) − log2(1/3)) / 2 for list [0, 2].
        #expect(abs(pop.noveltyMIUF([0, 2][...])! - (-log2(2.0 / 3) - log2(1.0 / 3)) / 2) < 1e-12)
        #expect(pop.arp([2][...]) == 0)
        #expect(pop.noveltyEPC([2][...]) == 1)
        // Tail: max(⌊0.2·3⌋, 1) = 1 item, the least interacted (item 3: 1, ties by id).
        #expect(pop.tail == [false, false, false, true])
        #expect(pop.tailPercentage([2, 3][...]) == 0.5)
    }

    /// The seeded pair sample used above 3,000 users: within a few standard errors of the exact
    /// all-pairs mean, the same for 1 and 3 workers, different for another seed.
    @Test func sampledJaccardIsCloseToExactAndWorkerIndependent() {
        var r = Seed(11).stream("sets")
        let sets: [[Int32]] = (0..<600).map { _ in
            Array(Set((0..<(1 + Sample.index(below: 12, using: &r))).map { _ in Int32(Sample.index(below: 60, using: &r)) })).sorted()
        }
        let exact = Homogeneity.meanPairwiseJaccard(sets, itemCount: 60)!
        let one = Homogeneity.sampledPairwiseJaccard(sets, sampleSize: 50_000, seed: Seed(3), executor: BlockExecutor(workers: 1))!
        let three = Homogeneity.sampledPairwiseJaccard(sets, sampleSize: 50_000, seed: Seed(3), executor: BlockExecutor(workers: 3))!
        let other = Homogeneity.sampledPairwiseJaccard(sets, sampleSize: 50_000, seed: Seed(4), executor: BlockExecutor(workers: 1))!
        #expect(one == three)
        #expect(one != other)
        // Jaccard values here spread with sd < 0.2: 5 standard errors of 50,000 pairs < 0.005.
        #expect(abs(one - exact) < 0.005, "sampled \(one), exact \(exact)")
        #expect(abs(other - exact) < 0.005, "sampled \(other), exact \(exact)")
    }

    /// Sets read in place (all of them, or a members subset) give the same pairs and the same
    /// value, to the bit, as the same sets flattened — short sets and long ones (merged).
    @Test func sampledJaccardOfNestedSetsEqualsFlattened() {
        var r = Seed(13).stream("nested")
        let sets: [[Int32]] = (0..<3500).map { u in
            let size = u % 7 == 0 ? 40 + Sample.index(below: 30, using: &r) : Sample.index(below: 12, using: &r)
            return Array(Set((0..<size).map { _ in Int32(Sample.index(below: 400, using: &r)) })).sorted()
        }
        func flattened(_ s: [[Int32]]) -> Double {
            var offsets = [0]
            for x in s { offsets.append(offsets.last! + x.count) }
            return Homogeneity.sampledPairwiseJaccard(flat: Array(s.joined()), offsets: offsets, sampleSize: 30_000, seed: Seed(6))!
        }
        let whole = Homogeneity.sampledPairwiseJaccard(sets, sampleSize: 30_000, seed: Seed(6), executor: BlockExecutor(workers: 2))!
        #expect(whole.bitPattern == flattened(sets).bitPattern)
        let members = Array(stride(from: 2, to: sets.count, by: 2))
        let subset = Homogeneity.sampledPairwiseJaccard(sets, members: members, sampleSize: 30_000, seed: Seed(6))!
        #expect(subset.bitPattern == flattened(members.map { sets[$0] }).bitPattern)
        #expect(subset != whole)
    }

    /// Slates are sampled in place, unsorted (short sets compared element by element, longer
    /// ones sorted in scratch space): the same pairs and the same value, to the bit, as the
    /// sorted sets — for all rows and for a subset.
    @Test(arguments: [10, 40])
    func sampledJaccardOfUnsortedSlatesEqualsSortedSets(k: Int) {
        var r = Seed(12).stream("slates")
        let n = 4000
        var slates: [Int32] = []
        for _ in 0..<n {
            // k distinct items in a random order, like a ranked slate.
            let items = Sample.withoutReplacement(k: k, of: 300, using: &r).map { Int32($0) }
            slates.append(contentsOf: Sample.permutation(k, using: &r).map { items[$0] })
        }
        let sortedSets = (0..<n).map { slates[($0 * k)..<(($0 + 1) * k)].sorted() }
        #expect(sortedSets.enumerated().contains { Array(slates[($0.offset * k)..<(($0.offset + 1) * k)]) != $0.element })
        let all = Homogeneity.sampledPairwiseJaccard(flat: slates, setSize: k, sampleSize: 20_000, seed: Seed(5), executor: BlockExecutor(workers: 2))!
        let reference = Homogeneity.sampledPairwiseJaccard(sortedSets, sampleSize: 20_000, seed: Seed(5))!
        #expect(all.bitPattern == reference.bitPattern)
        let rows = Array(stride(from: 1, to: n, by: 3))
        let subset = Homogeneity.sampledPairwiseJaccard(flat: slates, setSize: k, rows: rows, sampleSize: 20_000, seed: Seed(5))!
        let subsetReference = Homogeneity.sampledPairwiseJaccard(rows.map { sortedSets[$0] }, sampleSize: 20_000, seed: Seed(5))!
        #expect(subset.bitPattern == subsetReference.bitPattern)
        #expect(subset != all)
    }

    @Test func tiesAndEmptyPairsInJaccard() {
        // Two empty sets are left out; one empty with one non-empty counts as 0.
        let v = Homogeneity.meanPairwiseJaccard([[1, 2], [2, 3], [], []], itemCount: 5)!
        // pairs: (0,1) = 1/3, (0,2) = 0, (0,3) = 0, (1,2) = 0, (1,3) = 0, (2,3) excluded → 5 pairs.
        #expect(abs(v - (1.0 / 3) / 5) < 1e-12)
        #expect(Homogeneity.meanPairwiseJaccard([[1]], itemCount: 2) == nil)
        // Nearest neighbours: a tie goes to the smaller index.
        let nn = StateMetrics.nearestNeighbours([[1, 0], [1, 0], [1, 0], [0, 1]])
        #expect(nn[0] == 1 && nn[1] == 0 && nn[2] == 0 && nn[3] == 0)
        // Personalization divides by k even for short lists.
        #expect(abs(Homogeneity.personalization(exposure: [2, 1, 1], listLengths: [2, 2], k: 10)! - (1 - 2.0 / 20)) < 1e-12)
    }

    @Test func multiTopicItemsSplitTheirWeight() throws {
        let c = try Catalog(
            embeddings: Matrix(rowArrays: [[1, 0], [0, 1], [1, 1]]),
            topics: TopicTable(names: ["a", "b", "c"], itemTopics: [[0, 1], [1], [2]]))
        let t = c.topics
        // Shares: item 0 adds ½ to a and b; item 1 adds 1 to b → a ¼, b ¾.
        #expect(ListMetrics.topicDistribution([0, 1], t)! == [0.25, 0.75, 0])
        // ild_topic uses the Jaccard distance of topic sets: {a,b} vs {b} → 1 − ½.
        #expect(ListMetrics.ildTopic([0, 1][...], t) == 0.5)
        #expect(ListMetrics.topicCoverage([0][...], t)! == 2.0 / 3)
    }
}

@Suite struct NearestNeighbourTieTests {
    /// Equally similar users: without a tie seed the lowest index wins; with one, each user's
    /// partner is drawn uniformly (so not everyone is paired with user 0) and the draw is
    /// reproducible.
    @Test func tiesAreBrokenAtRandomWhenSeeded() {
        let points = [[Double]?](repeating: [1, 0], count: 40)
        let plain = StateMetrics.nearestNeighbours(points)
        #expect(plain[0] == 1)
        #expect(plain[1...].allSatisfy { $0 == 0 })
        let a = StateMetrics.nearestNeighbours(points, tieSeed: Seed(9))
        let b = StateMetrics.nearestNeighbours(points, tieSeed: Seed(9))
        #expect(a == b)
        #expect(a.enumerated().allSatisfy { $0.element != nil && $0.element != $0.offset })
        #expect(Set(a.compactMap { $0 }).count > 15)
        // A strictly closer user still wins.
        var q = points
        q[7] = [1, 0.2]
        q[8] = [1, 0.21]
        #expect(StateMetrics.nearestNeighbours(q, tieSeed: Seed(9))[7] == 8)
    }

    /// The panel search gives the pairs of the one-pair-at-a-time reference (cosines summed in
    /// coordinate order, first maximum wins; seeded reservoir on exact ties), with missing and
    /// zero centroids, on 1 and 3 workers.
    @Test func matchesTheScalarReferenceOnAnyWorkerCount() {
        var rng = Seed(5).stream("nn-reference")
        var points: [[Double]?] = (0..<301).map { _ in (0..<13).map { _ in Sample.normal(using: &rng) } }
        points[3] = nil
        points[40] = [Double](repeating: 0, count: 13)
        points[77] = points[12]  // an exact tie for 12's and 77's neighbours
        points[200] = points[12]
        func reference(_ cs: [[Double]?], tieSeed: Seed?) -> [Int?] {
            let units: [[Double]?] = cs.map { c in
                guard let c else { return nil }
                let n = c.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return n > 0 ? c.map { $0 / n } : nil
            }
            return units.indices.map { u -> Int? in
                guard let a = units[u] else { return nil }
                var best: Int? = nil, bestSim = -Double.infinity, ties = 0
                var r = tieSeed.map { $0.stream("tie", u) }
                for v in units.indices where v != u {
                    guard let b = units[v] else { continue }
                    var s = 0.0
                    for j in a.indices { s += a[j] * b[j] }
                    if s > bestSim {
                        (bestSim, best, ties) = (s, v, 1)
                    } else if s == bestSim, r != nil {
                        ties += 1
                        if Sample.index(below: ties, using: &r!) == 0 { best = v }
                    }
                }
                return best
            }
        }
        for tieSeed in [nil, Seed(3)] {
            let want = reference(points, tieSeed: tieSeed)
            #expect(want[3] == nil && want[40] == nil && want[0] != nil)
            if tieSeed == nil { #expect(want[12] == 77 && want[77] == 12 && want[200] == 12) }
            else { #expect([77, 200].contains(want[12]!)) }
            for workers in [1, 3] {
                let got = StateMetrics.nearestNeighbours(points, tieSeed: tieSeed, executor: BlockExecutor(workers: workers))
                #expect(got == want, "workers \(workers), tie seed \(String(describing: tieSeed))")
            }
        }
    }
}

@Suite struct PopularityTailTests {
    /// The tail is the least interacted 20% of the interacted items (ties by lower index): by
    /// hand on a small case, and against the definition on counts with many ties.
    @Test func tailIsTheLeastInteractedFifth() {
        // Interacted: items 0 (5), 2 (1), 3 (1), 5 (9), 6 (2), … 9 (3): 7 items → max(⌊1.4⌋, 1) = 1.
        let c = [5, 0, 1, 1, 0, 9, 2, 4, 0, 3]
        #expect(Popularity.tail(counts: c) == c.indices.map { $0 == 2 })
        #expect(Popularity.tail(counts: [0, 0]) == [false, false])
        var r = Seed(21).stream("tail")
        let counts = (0..<5_000).map { _ in Sample.index(below: 6, using: &r) }
        let interacted = counts.indices.filter { counts[$0] > 0 }.sorted { counts[$0] != counts[$1] ? counts[$0] < counts[$1] : $0 < $1 }
        let expected = Set(interacted.prefix(Int(0.2 * Double(interacted.count))))
        let tail = Popularity.tail(counts: counts)
        #expect(tail.indices.filter { tail[$0] } == expected.sorted())
        #expect(expected.count == Int(0.2 * Double(interacted.count)) && expected.count > 500)
    }
}
