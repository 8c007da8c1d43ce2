import CocoonCore
import CocoonMath
import CocoonRecommenders
import Foundation
import Testing

@Suite struct ModelTests {
    /// The log's recent counts cover the last `window` rounds, round 0 (the seed history)
    /// counting as one: checked against counts rebuilt from the rounds themselves.
    @Test func recentCountsCoverTheWindow() {
        let items = 12
        let seed: [[Int32]] = [[0, 1, 1], [2], [], [3, 0]]
        let log = InteractionLog(seedHistory: seed, itemCount: items, window: 3)
        var rounds: [[Int32]] = [seed.flatMap { $0 }]
        var rng = RandomStream(key: 5)
        for t in 1...6 {
            let slates = (0..<(4 * 3)).map { _ in Int32(rng.next() % UInt64(items)) }
            let outcomes: [Outcome] = slates.indices.map { _ in rng.next() % 2 == 0 ? .consumed : .skipped }
            log.record(FeedbackBatch(
                step: t, users: [0, 1, 2, 3], slateSize: 3, slates: slates, outcomes: outcomes,
                dwell: DwellTimes([Float](repeating: 0, count: slates.count)), left: []))
            rounds.append(zip(slates, outcomes).filter { $0.1 == .consumed }.map(\.0))
            var expected = [Float](repeating: 0, count: items)
            for r in rounds.suffix(3) { for i in r { expected[Int(i)] += 1 } }
            #expect(log.recentCounts == expected, "step \(t)")
            var all = [Float](repeating: 0, count: items)
            for r in rounds { for i in r { all[Int(i)] += 1 } }
            #expect(log.itemCounts == all)
        }
    }

    /// A log that knows the run's length keeps less — the impression ring holds what the run
    /// shows before its last request, (steps − 1) · slate size, and nothing leaves a window
    /// longer than the run — yet answers every request of the run as a log that keeps all.
    @Test func aLogSizedToTheRunAnswersLikeAnUnboundedOne() {
        let items = 40, k = 3, steps = 4
        let seed: [[Int32]] = [[0, 1, 1], [2], [], [3, 0]]
        let sized = InteractionLog(seedHistory: seed, itemCount: items, window: 5, impressionMemory: 100, steps: steps, slateSize: k)
        let full = InteractionLog(seedHistory: seed, itemCount: items, window: 5, impressionMemory: 100)
        #expect(sized.impressionMemory == (steps - 1) * k && full.impressionMemory == 100)
        var rng = RandomStream(key: 8)
        for t in 1...steps {
            // Request t reads what steps before t recorded.
            for u in 0..<4 {
                let a = sized.recentImpressions(of: u).filter { $0 >= 0 }.sorted()
                let b = full.recentImpressions(of: u).filter { $0 >= 0 }.sorted()
                #expect(a == b && a.count == (t - 1) * k, "step \(t) user \(u)")
            }
            #expect(sized.recentCounts == full.recentCounts && sized.itemCounts == full.itemCounts)
            var slates: [Int32] = []
            for _ in 0..<4 { slates += Sample.withoutReplacement(k: k, of: items, using: &rng).map { Int32($0) } }
            let outcomes: [Outcome] = slates.indices.map { _ in rng.next() % 2 == 0 ? .consumed : .skipped }
            let batch = FeedbackBatch(
                step: t, users: [0, 1, 2, 3], slateSize: k, slates: slates, outcomes: outcomes,
                dwell: DwellTimes([Float](repeating: 0, count: slates.count)), left: [])
            sized.record(batch)
            full.record(batch)
        }
        #expect(sized.recentCounts == full.recentCounts && sized.itemCounts == full.itemCounts)
    }

    /// The consumed sets are derived from the consumption lists: each user's distinct items,
    /// ascending, the same per user and as a whole (for model fitting).
    @Test func consumedSetsAreTheDistinctConsumedItemsAscending() {
        let items = 9
        let seed: [[Int32]] = [[4, 1, 4], [], [8, 2]]
        let log = InteractionLog(seedHistory: seed, itemCount: items)
        var lists = seed
        var rng = RandomStream(key: 6)
        for t in 1...5 {
            let slates = (0..<(3 * 4)).map { _ in Int32(rng.next() % UInt64(items)) }
            let outcomes: [Outcome] = slates.indices.map { _ in rng.next() % 2 == 0 ? .consumed : .skipped }
            log.record(FeedbackBatch(
                step: t, users: [0, 1, 2], slateSize: 4, slates: slates, outcomes: outcomes,
                dwell: DwellTimes([Float](repeating: 0, count: slates.count)), left: []))
            for (r, o) in outcomes.enumerated() where o == .consumed { lists[r / 4].append(slates[r]) }
        }
        let sets = log.consumedSets
        for u in 0..<3 {
            #expect(Array(log.consumed(by: u)) == lists[u])
            let expected = Array(Set(lists[u])).sorted()
            #expect(log.consumedSet(of: u) == expected)
            #expect(Array(sets[u]) == expected)
        }
        #expect(lists.contains { Set($0).count < $0.count })  // repeats were there to remove
    }

    /// The profile model builds its topic weights only when asked, by replaying the log: the
    /// values are bit for bit those of a model that kept them from the start.
    @Test func lazilyBuiltTopicWeightsEqualWeightsKeptFromTheStart() throws {
        let w = try world(users: 60, items: 200, topics: 6, d: 8) { _, p in p.seedHistory = 5 }
        let users = Int32(w.users.count)
        let (rw, log) = modelWorld(w, slateSize: 4, steps: 6, seed: 3)
        let eager = ProfileModel(decay: 0.1)
        let lazy = ProfileModel(decay: 0.1)
        try eager.start(rw, log: log, truth: nil)
        try lazy.start(rw, log: log, truth: nil)
        eager.prepareTopicWeights(log: log)
        try feedRandomSteps(rw, log: log, steps: 6, key: 11) { fb in
            try eager.observe(fb, log: log)
            try lazy.observe(fb, log: log)
        }
        lazy.prepareTopicWeights(log: log)
        var nonZero = 0
        for u in 0..<Int(users) {
            let a = eager.topicWeights(of: u, log: log, topics: w.catalog.topics)
            let b = lazy.topicWeights(of: u, log: log, topics: w.catalog.topics)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            if a.contains(where: { $0 > 0 }) { nonZero += 1 }
        }
        #expect(nonZero == Int(users))
    }

    /// Above its memory budget the profile model replays each block's profiles from the log
    /// instead of keeping them; kept profiles (within the budget, and the dwell-weighted path
    /// with every dwell 1) must give the same bits.
    @Test func replayedProfilesEqualProfilesKeptFromTheStart() throws {
        let w = try world(users: 50, items: 150, topics: 5, d: 8) { _, p in p.seedHistory = 4 }
        let users = Int32(w.users.count)
        let (rw, log) = modelWorld(w, slateSize: 5, steps: 8, seed: 4)
        let dwell = ProfileModel(decay: 0.2, dwellWeighted: true)
        let kept = ProfileModel(decay: 0.2)
        // 50 users × 8 floats need 1,600 bytes: one byte less and the model replays.
        let replayed = ProfileModel(decay: 0.2, keptProfileBudget: 50 * 8 * 4 - 1)
        for m in [dwell, kept, replayed] { try m.start(rw, log: log, truth: nil) }
        #expect(dwell.keepsProfiles && kept.keepsProfiles && !replayed.keepsProfiles)
        #expect(replayed.profiles.rows == 0 && kept.profiles.rows == 50)
        try feedRandomSteps(rw, log: log, steps: 8, key: 12) { fb in
            for m in [dwell, kept, replayed] { try m.observe(fb, log: log) }
        }
        // Blocks in any order and size: rows 7..<30, then everyone.
        for range in [7..<30, 0..<Int(users)] {
            let ids = Array(Int32(range.lowerBound)..<Int32(range.upperBound))[...]
            var a = Matrix(rows: ids.count, cols: 8)
            var b = Matrix(rows: ids.count, cols: 8)
            var c = Matrix(rows: ids.count, cols: 8)
            dwell.userFactors(ids, into: &a)
            replayed.userFactors(ids, into: &b)
            kept.userFactors(ids, into: &c)
            #expect(a.storage.map(\.bitPattern) == b.storage.map(\.bitPattern))
            #expect(c.storage.map(\.bitPattern) == b.storage.map(\.bitPattern))
            // Unit rows: every user has consumed something (the seed history).
            #expect(b.rowNorms().allSatisfy { abs($0 - 1) < 1e-5 })
        }
    }

    /// MF trained on the seed histories recovers the planted structure: its first slates share
    /// far more items with the oracle's than popularity's do.
    @Test func matrixFactorizationRecoversPlantedStructure() throws {
        let w = try world(users: 500, items: 400, topics: 8, d: 16) { _, p in p.seedHistory = 40 }
        func firstSlates(_ s: RecommenderSpec) throws -> [[Int32]] {
            let (r, o) = run(w, try BuiltinRegistry.make(s), steps: 1)
            #expect(o.failure == nil)
            return (0..<500).map { Array(r.snapshots[1].slate(row: $0)) }
        }
        let oracle = try firstSlates(spec("oracle"))
        let mf = try firstSlates(
            spec("mf") {
                $0.retrainEvery = 0
                $0.factors = 12
                $0.iterations = 10
            })
        let pop = try firstSlates(spec("popularity"))
        let rnd = try firstSlates(spec("random"))
        func recall(_ x: [[Int32]]) -> Double {
            zip(x, oracle).reduce(0.0) { $0 + Double(Set($1.0).intersection($1.1).count) / 10 } / 500
        }
        let rMF = recall(mf)
        let rPop = recall(pop)
        let rRnd = recall(rnd)
        // Measured: MF ≈ 0.2, popularity ≈ 0.02, random ≈ 0.03 (10 of ~360 unseen items).
        #expect(rMF > rPop + 0.1, "mf \(rMF), popularity \(rPop), random \(rRnd)")
        #expect(rMF > 3 * rRnd)
    }

    @Test func mfTrainsOnceOrEveryStep() throws {
        let w = try world(users: 60, items: 200)
        let single = MatrixFactorizationModel(retrainEvery: 0)
        let repeated = MatrixFactorizationModel(retrainEvery: 1)
        _ = run(w, BuiltinRecommender(name: "mf", model: single), steps: 5)
        _ = run(w, BuiltinRecommender(name: "mf", model: repeated), steps: 5)
        #expect(single.trainings == 1)
        #expect(repeated.trainings == 6)
    }

    /// γ₋ pushes the observed interest away from rejected topics; γ₊ pulls it toward accepted ones.
    @Test func piaoFeedbackMovesTheObservedInterest() throws {
        let w = try world(users: 100, items: 400, topics: 8) { c, p in
            c.shape = .oneHot
            p.interestNoise = 0
        }
        func topicWeight(_ gm: Double, _ gp: Double) -> (rejectedShare: Double, acceptedShare: Double) {
            let model = PiaoSimilarityModel(beta: 0, gammaPlus: gp, gammaMinus: gm, sigma: 0)
            let (rec, _) = run(
                w, BuiltinRecommender(name: "piao", model: model), steps: 1, behaviour: Behaviour.preset("piao2023")!)
            var rej = 0.0
            var acc = 0.0
            let s = rec.snapshots[1]
            for u in 0..<100 {
                let x = Array(model.observed.row(u))
                let row = s.slate(row: u)
                for (p, i) in row.enumerated() {
                    let t = Int(w.catalog.topics.primary[Int(i)])
                    if s.outcomes[u * 10 + p] == .consumed { acc += Double(x[t]) } else { rej += Double(x[t]) }
                }
            }
            return (rej, acc)
        }
        let neutral = topicWeight(0, 0)
        let negative = topicWeight(-0.5, 0)
        let positive = topicWeight(0, 0.5)
        #expect(negative.rejectedShare < 0.7 * neutral.rejectedShare, "\(negative) vs \(neutral)")
        #expect(positive.acceptedShare > 1.2 * neutral.acceptedShare, "\(positive) vs \(neutral)")
    }

    @Test func piaoBetaZeroIsUniformAndLargeBetaConcentrates() throws {
        let w = try world(users: 200, items: 400, topics: 8) { c, p in
            c.shape = .oneHot
            p.interestNoise = 0
        }
        func topTopicShare(_ beta: Double) throws -> Double {
            let (rec, _) = run(
                w,
                try BuiltinRegistry.make(
                    spec("piao-similarity") {
                        $0.beta = beta
                        $0.controls.impressionMemory = 0
                    }), steps: 1, behaviour: Behaviour.preset("piao2023")!)
            let s = rec.snapshots[1]
            var share = 0.0
            for u in 0..<200 {
                let counts = Dictionary(grouping: s.slate(row: u), by: { w.catalog.topics.primary[Int($0)] }).values.map(\.count)
                share += Double(counts.max()!) / 10
            }
            return share / 200
        }
        let uniform = try topTopicShare(0)
        let sharp = try topTopicShare(20)
        #expect(uniform < 0.45, "β = 0 top-topic share \(uniform)")
        #expect(sharp > 0.8, "β = 20 top-topic share \(sharp)")
    }

    @Test func windowedPopularityForgetsOldConsumption() throws {
        let w = try world(users: 100, items: 300)
        let all = PopularityModel(window: nil)
        let recent = PopularityModel(window: 2)
        _ = run(w, BuiltinRecommender(name: "a", model: all), steps: 6)
        _ = run(w, BuiltinRecommender(name: "b", model: recent), steps: 6)
        // The all-time counts include the seed history (1,000 consumptions); the window holds
        // only the last two steps.
        let allTotal = all.itemFactors.storage.reduce(0.0) { $0 + exp(Double($1)) - 1 }
        let recentTotal = recent.itemFactors.storage.reduce(0.0) { $0 + exp(Double($1)) - 1 }
        #expect(allTotal > 1000 && recentTotal < 0.5 * allTotal)
    }

    @Test func explorationReplacesSlots() throws {
        let w = try world(users: 100, items: 500)
        let fixed = Exploration(randomSlots: 2)
        #expect(fixed.fixedPositions(slateSize: 10) == [4, 9])
        let (a, _) = run(w, try BuiltinRegistry.make(spec("popularity") { $0.controls.impressionMemory = 0 }), steps: 3)
        let (b, _) = run(
            w,
            try BuiltinRegistry.make(
                spec("popularity") {
                    $0.controls.impressionMemory = 0
                    $0.exploration = fixed
                }), steps: 3)
        var changedFixed = 0
        var changedOther = 0
        for u in 0..<100 {
            let x = a.snapshots[1].slate(row: u)
            let y = b.snapshots[1].slate(row: u)
            for p in 0..<10 where x[x.startIndex + p] != y[y.startIndex + p] {
                if [4, 9].contains(p) { changedFixed += 1 } else { changedOther += 1 }
            }
        }
        #expect(changedFixed > 190 && changedOther == 0)
    }

    /// The generator's clustered catalogs of 64 dimensions get item bounds (one direction per
    /// topic), so the built-in recommenders skip most products on them (the CLI test
    /// `skippingItemsGivesTheRunOfEveryProduct` compares such runs with every product); at 32
    /// dimensions 20 topics are more than half the dimensions, and there are none.
    @Test func generatedCatalogsGetBounds() throws {
        func bounds(_ d: Int) throws -> ItemBounds? {
            let w = try world(users: 1, items: 5_000, topics: 20, d: d, seed: 7) { c, _ in c.nearDuplicateFraction = 0.1 }
            return ItemBounds(w.catalog.unitEmbeddings, tileSize: BuiltinRecommender.tileSize, avx512: false)
        }
        #expect(try bounds(64)?.directions == 20)
        #expect(try bounds(32) == nil)
    }
}

/// ALS against the loop it replaced: the full f × f system formed element by element with
/// array indexing, then a Cholesky solve with fresh arrays. The factors must have the same bits.
/// (They are Float roundings of Double solutions, so a reordered Double sum would seldom show
/// here; the order is kept by construction. A wrong or missing term always shows: leaving out
/// the diagonal's update fails every case.)
@Suite struct ImplicitALSTests {
    static func referenceSolve(_ y: Matrix, _ lists: [[Int32]], f: Int, lambda: Double, a: Double) -> Matrix {
        var gram = Matrix(rows: f, cols: f)
        Matrix.gemm(y, transposeA: true, y, into: &gram)
        let yStore = y.storage, gStore = gram.storage
        var out = [Float](repeating: 0, count: lists.count * f)
        for (r, pos) in lists.enumerated() where !pos.isEmpty {
            var m = [Double](repeating: 0, count: f * f)
            var rhs = [Double](repeating: 0, count: f)
            for x in 0..<(f * f) { m[x] = Double(gStore[x]) }
            for x in 0..<f { m[x * f + x] += lambda; rhs[x] = 0 }
            for i in pos {
                let base = Int(i) * f
                for x in 0..<f {
                    let yx = Double(yStore[base + x])
                    rhs[x] += (1 + a) * yx
                    for z in 0..<f { m[x * f + z] += a * yx * Double(yStore[base + z]) }
                }
            }
            var l = [Double](repeating: 0, count: f * f)
            for i in 0..<f {
                for j in 0...i {
                    var s = m[i * f + j]
                    for k in 0..<j { s -= l[i * f + k] * l[j * f + k] }
                    if i == j { l[i * f + i] = max(s, 1e-12).squareRoot() } else { l[i * f + j] = s / l[j * f + j] }
                }
            }
            var yy = [Double](repeating: 0, count: f)
            for i in 0..<f {
                var s = rhs[i]
                for k in 0..<i { s -= l[i * f + k] * yy[k] }
                yy[i] = s / l[i * f + i]
            }
            var x = [Double](repeating: 0, count: f)
            for i in stride(from: f - 1, through: 0, by: -1) {
                var s = yy[i]
                for k in (i + 1)..<f { s -= l[k * f + i] * x[k] }
                x[i] = s / l[i * f + i]
            }
            for c in 0..<f { out[r * f + c] = Float(x[c]) }
        }
        return Matrix(rows: lists.count, cols: f, values: out)
    }

    @Test(arguments: [(16, 1), (7, 3), (1, 2)])
    func fitHasTheBitsOfTheFullMatrixLoop(factors f: Int, workers: Int) {
        var r = Seed(31).stream("als.test")
        let users = 700, items = 90
        // Lists of every length from empty to long, repeats allowed (a list is a multiset).
        let positives: [[Int32]] = (0..<users).map { u in
            (0..<(u % 37)).map { _ in Int32(Sample.index(below: items, using: &r)) }
        }
        let als = ImplicitALS(factors: f, regularization: 0.1, alpha: 10, iterations: 3)
        let start = als.initialItems(count: items, seed: Seed(5))
        let got = als.fit(positives: positives, itemCount: items, initialItems: start, executor: BlockExecutor(workers: workers))
        var byItem = [[Int32]](repeating: [], count: items)
        for (u, list) in positives.enumerated() { for i in list { byItem[Int(i)].append(Int32(u)) } }
        var wantItems = start, wantUsers = Matrix(rows: users, cols: f)
        for _ in 0..<3 {
            wantUsers = Self.referenceSolve(wantItems, positives, f: f, lambda: 0.1, a: 10)
            wantItems = Self.referenceSolve(wantUsers, byItem, f: f, lambda: 0.1, a: 10)
        }
        #expect(got.users.storage.map(\.bitPattern) == wantUsers.storage.map(\.bitPattern))
        #expect(got.items.storage.map(\.bitPattern) == wantItems.storage.map(\.bitPattern))
        #expect(got.users.storage.contains { $0 != 0 })
    }
}
