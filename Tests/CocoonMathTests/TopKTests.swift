import CocoonMath
import Testing
import _CocoonKernels

// Reference: a full sort by (score desc, index asc), dropping -inf, NaN and masked items.
private func reference(_ scores: [Float], k: Int, excluded: [Bool]? = nil) -> [Int] {
    scores.indices
        .filter { scores[$0] > -.infinity && !(excluded?[$0] ?? false) }
        .sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        .prefix(k).map { $0 }
}

@Suite struct TopKTests {
    @Test(arguments: [0, 1, 5, 15, 16, 17, 31, 32, 33, 63, 100, 2049, 5000])
    func matchesFullSortWithTiesAndMasks(n: Int) {
        for trial in 0..<20 {
            var rng = Seed(3).stream("topk", n, trial)
            // Few distinct values → many ties; some excluded with -inf, some NaN.
            let scores: [Float] = (0..<n).map { _ in
                let r = Sample.index(below: 12, using: &rng)
                if r == 0 { return -.infinity }
                if r == 1 { return .nan }
                return Float(Sample.index(below: 6, using: &rng))
            }
            let mask = (0..<n).map { _ in Sample.bernoulli(0.2, using: &rng) }
            for k in [0, 1, 3, 10, n, n + 5] {
                #expect(TopK.select(scores, k: k) == reference(scores, k: k), "n=\(n) trial=\(trial) k=\(k)")
                #expect(
                    TopK.select(scores, k: k, excluded: mask) == reference(scores, k: k, excluded: mask),
                    "masked n=\(n) trial=\(trial) k=\(k)")
            }
        }
    }

    /// Every kernel instruction set the machine has selects the same items (ties, NaN, -inf,
    /// the floor taken after the fill, runs shorter and longer than a 32-item chunk).
    @Test func everyInstructionSetSelectsTheSame() {
        onEveryInstructionSet { isa in
            #expect(KernelRuntime.instructionSet == isa)
            for (trial, n) in [40, 100, 1000, 2048, 2049, 5000, 20_000].enumerated() {
                var rng = Seed(6).stream("isa", trial)
                let levels = trial % 2 == 0 ? 7 : 1_000_000  // many ties, or nearly none
                let scores: [Float] = (0..<n).map { _ in
                    let r = Sample.index(below: 50, using: &rng)
                    if r == 0 { return .nan }
                    if r == 1 { return -.infinity }
                    return Float(Sample.index(below: levels, using: &rng)) / Float(levels)
                }
                // 15, 16: heaps the kernel keeps sorted (16 slots, two AVX2 vectors); 17: a heap.
                for k in [1, 3, 10, 15, 16, 17, 33, 100] {
                    #expect(TopK.select(scores, k: k) == reference(scores, k: k), "\(isa) n=\(n) k=\(k)")
                    var tiled = TopKSelector(k: k)
                    for t in stride(from: 0, to: n, by: 2048) { tiled.offer(Array(scores[t..<min(t + 2048, n)]), baseIndex: t) }
                    #expect(tiled.sortedIndices().map(Int.init) == reference(scores, k: k), "tiled \(isa) n=\(n) k=\(k)")
                }
            }
        }
    }

    /// The kernels use their AVX-512 variants only on their own choice, on a CPU with AVX-512F:
    /// a forced level runs exactly that level.
    @Test func avx512VariantsOnlyWhenNotForced() {
        defer { KernelRuntime.force(nil) }
        for isa in KernelRuntime.available {
            KernelRuntime.force(isa)
            #expect(!KernelRuntime.usesAVX512Variants, "\(isa) forced")
        }
        KernelRuntime.force(nil)
        #expect(KernelRuntime.usesAVX512Variants == ItemPanels.vectorized)
    }

    /// The floor is the k-th largest of the chunk maxima (chunks of 64, 32 or 16 items as the
    /// header says; NaN never counts), for every chunk count, whole vectors of the counting
    /// loop or not, on every instruction set; with the AVX-512 variant and 32 chunks or more,
    /// of the maxima of lane groups (group 16s + l: items 16·w·s + 16v + l, v < w).
    @Test func floorIsTheKthLargestChunkMaximum() {
        onEveryInstructionSet { isa in
            for (trial, n) in [100, 320, 500, 1000, 1984, 2038, 2048, 4096, 5000].enumerated() {
                var rng = Seed(8).stream("floor", trial)
                let scores: [Float] = (0..<n).map { _ in
                    let r = Sample.index(below: 40, using: &rng)
                    if r == 0 { return .nan }
                    if r == 1 { return -.infinity }
                    return Float(Sample.index(below: 1000, using: &rng)) / 1000
                }
                for k in [1, 2, 3, 5, 10, 17, 31] {
                    var w = 64
                    while w > 16 && n / w < 2 * k { w /= 2 }
                    var expected = -Float.infinity
                    if n / w >= 2 * k {
                        let c = min(64, n / w)
                        let maxima: [Float]
                        if KernelRuntime.usesAVX512Variants && c >= 32 {
                            maxima = (0..<(16 * (c / 16))).map { g in
                                let s = g / 16, l = g % 16
                                return (0..<w).map { v in scores[16 * w * s + 16 * v + l] }
                                    .reduce(-Float.infinity) { $1 > $0 ? $1 : $0 }
                            }
                        } else {
                            maxima = (0..<c).map { q in
                                scores[(q * w)..<((q + 1) * w)].reduce(-Float.infinity) { $1 > $0 ? $1 : $0 }
                            }
                        }
                        expected = maxima.sorted(by: >)[k - 1]
                    }
                    let floor = withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { scratch in
                        cocoon_topk_floor(scores, n, k, scratch.baseAddress!)
                    }
                    #expect(floor == expected, "\(isa) n=\(n) k=\(k): floor \(floor), k-th chunk maximum \(expected)")
                }
            }
        }
    }

    /// Items offered one at a time (sift-ups: a heap, not sorted) and then as runs, which the
    /// kernel keeps sorted for k ≤ 16, and single offers again between runs: every mix selects
    /// and drains the k best in order, on every instruction set, for heaps both sides of 16.
    @Test func singleOffersMixWithRuns() {
        onEveryInstructionSet { isa in
            for trial in 0..<4 {
                var rng = Seed(13).stream("mixed", trial)
                let n = 3_000
                let levels = trial % 2 == 0 ? 20 : 1_000_000
                let scores: [Float] = (0..<n).map { _ in
                    let r = Sample.index(below: 40, using: &rng)
                    if r == 0 { return .nan }
                    if r == 1 { return -.infinity }
                    return Float(Sample.index(below: levels, using: &rng))
                }
                for k in [1, 2, 7, 10, 16, 17, 40] {
                    var sel = TopKSelector(k: k)
                    // Singles, a run, singles, a run, ...: items in increasing order throughout.
                    let cuts = [0, 25, 700, 730, 2_000, 2_010, n]
                    for c in 0..<(cuts.count - 1) {
                        if c % 2 == 0 {
                            for j in cuts[c]..<cuts[c + 1] { sel.offer(scores[j], index: Int32(j)) }
                        } else {
                            sel.offer(Array(scores[cuts[c]..<cuts[c + 1]]), baseIndex: cuts[c])
                        }
                        let seen = Array(scores[0..<cuts[c + 1]])
                        #expect(sel.sortedIndices().map(Int.init) == reference(seen, k: k), "\(isa) trial \(trial) k \(k) after \(cuts[c + 1])")
                        #expect(sel.threshold == (sel.count < k ? -.infinity : seen[reference(seen, k: k).last!]))
                    }
                    var out = [Int32](repeating: -1, count: k + 3)
                    let drained = sel.drainSorted(into: &out, at: 1)
                    #expect(Array(out[1..<(1 + drained)]).map(Int.init) == reference(scores, k: k), "\(isa) drained, k \(k)")
                    #expect(out[0] == -1 && out[1 + drained..<out.count].allSatisfy { $0 == -1 })
                    #expect(sel.count == 0)
                }
            }
        }
    }

    @Test func tiledOffersEqualOneOffer() {
        var rng = Seed(4).stream("tiles")
        let scores = (0..<1000).map { _ in Float(Sample.index(below: 50, using: &rng)) }
        var a = TopKSelector(k: 17)
        a.offer(scores, baseIndex: 0)
        var b = TopKSelector(k: 17)
        for t in stride(from: 0, to: 1000, by: 97) {
            b.offer(Array(scores[t..<min(t + 97, 1000)]), baseIndex: t)
        }
        #expect(a.sortedIndices() == b.sortedIndices())
        #expect(a.sortedIndices().map(Int.init) == reference(scores, k: 17))
        var out = [Int32](repeating: -1, count: 20)
        #expect(b.drainSorted(into: &out, at: 2) == 17)
        #expect(Array(out[2..<19]) == a.sortedIndices())
        #expect(b.count == 0)
    }

    /// A heap left part-full by a short run (or one mostly excluded) takes the next long run
    /// through the floor: the items it already holds may lie below that floor, on every
    /// instruction set.
    @Test func partlyFilledHeapTakesTheNextRunsFloor() {
        onEveryInstructionSet { isa in
            for trial in 0..<6 {
                var rng = Seed(9).stream("partial", trial)
                let n = 6000
                var scores: [Float] = (0..<n).map { _ in Float(Sample.index(below: trial % 2 == 0 || trial >= 4 ? 50 : 100_000, using: &rng)) }
                // The first run: 3 items (low, high and middling), then some excluded ones.
                scores[0] = -5
                scores[1] = 1e6
                scores[2] = 10
                for j in 3..<40 { scores[j] = -.infinity }
                if trial >= 4 {
                    // One high score per 64-item chunk of the third run, the rest low: exactly
                    // the chunk maxima reach the floor, so a floor for fewer than k items
                    // would lose some of the k best.
                    for q in 0..<31 { scores[40 + 64 * q + (q * 7) % 64] = Float(1000 + q) }
                }
                for k in [4, 10, 33] {
                    var sel = TopKSelector(k: k)
                    let cuts = [0, 3, 40, 2048, 4096, n]
                    for c in 0..<(cuts.count - 1) { sel.offer(Array(scores[cuts[c]..<cuts[c + 1]]), baseIndex: cuts[c]) }
                    #expect(sel.sortedIndices().map(Int.init) == reference(scores, k: k), "\(isa) trial=\(trial) k=\(k)")
                }
            }
        }
    }

    /// A full heap offered only the runs of 32 that a screen marks ends as the whole run leaves
    /// it, when the marked runs hold every score above the heap's root (and any others): the
    /// short last run, bits past the last run (never read), heaps kept sorted (k ≤ 16) and real
    /// heaps, ties, NaN and -infinity, on every instruction set. Unmarking the run of a score
    /// that enters changes the result: the screen is what is read.
    @Test func screenedOfferEqualsTheWholeRun() {
        onEveryInstructionSet { isa in
            for (trial, n) in [1, 31, 32, 33, 100, 2048, 2049, 4100].enumerated() {
                var rng = Seed(11).stream("screened", trial)
                let (prefix, run) = prefixAndRun(n, levels: trial % 2 == 0 ? 9 : 1_000_000, using: &rng)
                let runs = (n + 31) / 32, words = (n + 2047) / 2048
                for k in [1, 10, 16, 17, 40] {
                    var hs = [Float](repeating: 0, count: k), hi = [Int32](repeating: 0, count: k)
                    #expect(cocoon_topk_offer_run(prefix, 300, 0, &hs, &hi, k, 0, -.infinity) == k)
                    let root = hs[0]
                    let want = reference(prefix + run, k: k)
                    var whole = (hs, hi)
                    #expect(cocoon_topk_offer_run(run, n, 300, &whole.0, &whole.1, k, k, -.infinity) == k)
                    #expect(drained(&whole.0, &whole.1, k) == want, "\(isa) n=\(n) k=\(k) whole run")
                    let entering = (0..<runs).filter { b in run[(32 * b)..<min(32 * b + 32, n)].contains { $0 > root } }
                    for extra in [0.0, 0.3, 1.0] {
                        var screen = [UInt64](repeating: 0, count: words)
                        for b in 0..<(words * 64)
                        where entering.contains(b) || b >= runs || Sample.bernoulli(extra, using: &rng) {
                            screen[b / 64] |= 1 << UInt64(b % 64)
                        }
                        var heap = (hs, hi)
                        TopKSelector.offerScreened(
                            run, count: n, baseIndex: 300, k: k, scores: &heap.0, indices: &heap.1, screen: screen)
                        #expect(drained(&heap.0, &heap.1, k) == want, "\(isa) n=\(n) k=\(k) extra \(extra)")
                    }
                    // Without the run of the best entering score, that score is missed.
                    if let best = want.first(where: { $0 >= 300 }) {
                        var screen = [UInt64](repeating: 0, count: words)
                        for b in entering where b != (best - 300) / 32 { screen[b / 64] |= 1 << UInt64(b % 64) }
                        var heap = (hs, hi)
                        TopKSelector.offerScreened(
                            run, count: n, baseIndex: 300, k: k, scores: &heap.0, indices: &heap.1, screen: screen)
                        #expect(!drained(&heap.0, &heap.1, k).contains(best), "\(isa) n=\(n) k=\(k) best \(best) unmarked")
                    }
                }
            }
        }
    }

    /// A full heap offered only the listed scores, in any order, ends as the whole run leaves
    /// it when the list holds every score above the heap's root: a few such scores (entered from
    /// a short buffer) and hundreds (past the buffer: every listed score in item order), ties at
    /// the root and above it, NaN and -infinity, heaps kept sorted (k ≤ 16) and real heaps. Scores not listed
    /// are never read (they are +infinity here), and leaving out the best entering one changes
    /// the result.
    @Test func listedOfferEqualsTheWholeRun() {
        for (trial, n) in [1, 33, 2048, 4100].enumerated() {
            var rng = Seed(12).stream("listed", trial)
            let (prefix, run) = prefixAndRun(n, levels: trial % 2 == 0 ? 9 : 1_000_000, using: &rng)
            for k in [1, 10, 16, 17, 40] {
                var hs = [Float](repeating: 0, count: k), hi = [Int32](repeating: 0, count: k)
                #expect(cocoon_topk_offer_run(prefix, 300, 0, &hs, &hi, k, 0, -.infinity) == k)
                let root = hs[0]
                let want = reference(prefix + run, k: k)
                let entering = (0..<n).filter { run[$0] > root }
                for extra in [0.0, 0.5] {
                    let chosen = (0..<n).filter { run[$0] > root || Sample.bernoulli(extra, using: &rng) }
                    let list = Sample.permutation(chosen.count, using: &rng).map { Int32(chosen[$0]) }
                    var seen = [Float](repeating: .infinity, count: n)
                    for j in list { seen[Int(j)] = run[Int(j)] }
                    var heap = (hs, hi)
                    TopKSelector.offerListed(
                        seen, count: n, baseIndex: 300, k: k, scores: &heap.0, indices: &heap.1, list: list, listed: list.count)
                    #expect(
                        drained(&heap.0, &heap.1, k) == want,
                        "n=\(n) k=\(k) extra \(extra), \(entering.count) above the root")
                }
                // Ties above the root, a few (the buffer's way): the lower items win them.
                var tied = run.map { $0 > root ? root - 1 : $0 }
                let picked = Sample.withoutReplacement(k: min(n, 20), of: n, using: &rng)
                for (c, j) in picked.enumerated() { tied[j] = c == 0 ? root + 2 : root + 1 }
                let tiedList = Sample.permutation(picked.count, using: &rng).map { Int32(picked[$0]) }
                var tiedHeap = (hs, hi)
                TopKSelector.offerListed(
                    tied, count: n, baseIndex: 300, k: k, scores: &tiedHeap.0, indices: &tiedHeap.1, list: tiedList,
                    listed: tiedList.count)
                #expect(drained(&tiedHeap.0, &tiedHeap.1, k) == reference(prefix + tied, k: k), "n=\(n) k=\(k) ties")
                if let best = want.first(where: { $0 >= 300 }) {
                    let list = entering.filter { $0 != best - 300 }.map(Int32.init)
                    var heap = (hs, hi)
                    TopKSelector.offerListed(
                        run, count: n, baseIndex: 300, k: k, scores: &heap.0, indices: &heap.1, list: list, listed: list.count)
                    #expect(!drained(&heap.0, &heap.1, k).contains(best), "n=\(n) k=\(k) best \(best) not listed")
                }
            }
        }
    }

    /// The screened and listed offers' data: 300 scores that fill a heap, then a run of n with
    /// NaN and -infinity among them; `levels` values in [0, 1) (9: many ties; a million: nearly
    /// none).
    private func prefixAndRun(_ n: Int, levels: Int, using rng: inout RandomStream) -> (prefix: [Float], run: [Float]) {
        let value = { (rng: inout RandomStream) -> Float in Float(Sample.index(below: levels, using: &rng)) / Float(levels) }
        let prefix = (0..<300).map { _ in value(&rng) }
        let run: [Float] = (0..<n).map { _ in
            let r = Sample.index(below: 40, using: &rng)
            return r == 0 ? .nan : r == 1 ? -.infinity : value(&rng)
        }
        return (prefix, run)
    }

    /// A heap's items in raw memory, best first (as ints).
    private func drained(_ s: inout [Float], _ i: inout [Int32], _ n: Int) -> [Int] {
        var out = [Int32](repeating: -1, count: n)
        cocoon_heap_drain(&s, &i, n, &out)
        return out.map(Int.init)
    }

    @Test func fusedBlockTopKMatchesSort() {
        var rng = Seed(5).stream("fused")
        let users = Matrix(rows: 20, cols: 5, values: (0..<100).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: 301, cols: 5, values: (0..<1505).map { _ in Float(Sample.normal(using: &rng)) })
        let full = users.multiplied(by: items, transposeOther: true)
        let scorer = BlockScorer(items: items, tileSize: 64)
        let ws = ScoringWorkspace()
        var out = [Int32](repeating: -1, count: 20 * 10)
        scorer.topK(
            users: users, rows: 4..<20, k: 10, workspace: ws,
            adjust: { row, first, span in
                // Exclude item 7 for every user, to test the adjust hook.
                if first <= 7 && 7 < first + span.count { span[7 - first] = -.infinity }
            },
            emit: { row, sel in _ = sel.drainSorted(into: &out, at: (4 + row) * 10) })
        for u in 4..<20 {
            var row = Array(full.row(u))
            row[7] = -.infinity
            #expect(out[(u * 10)..<(u * 10 + 10)].map(Int.init) == reference(row, k: 10), "user \(u)")
        }
        #expect(out[0..<40].allSatisfy { $0 == -1 })
    }

    /// One workspace reused across blocks of other sizes and other k (the heaps of a block
    /// live in the workspace): every block's selection equals the sort of its full scores.
    @Test func reusedWorkspaceKeepsNothingBetweenBlocks() {
        var rng = Seed(6).stream("reuse")
        let users = Matrix(rows: 30, cols: 4, values: (0..<120).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: 150, cols: 4, values: (0..<600).map { _ in Float(Sample.normal(using: &rng)) })
        let full = users.multiplied(by: items, transposeOther: true)
        let scorer = BlockScorer(items: items, tileSize: 32)
        let ws = ScoringWorkspace()
        for (rows, k) in [(0..<12, 5), (12..<30, 9), (3..<7, 0), (7..<30, 2), (0..<30, 12)] {
            var got = [[Int]](repeating: [], count: rows.count)
            scorer.topK(users: users, rows: rows, k: k, workspace: ws) { r, sel in
                got[r] = sel.sortedIndices().map(Int.init)
            }
            for (r, u) in rows.enumerated() {
                #expect(got[r] == reference(Array(full.row(u)), k: k), "user \(u), k \(k)")
            }
        }
    }

    /// A workspace kept from step to step (the built-in recommenders keep theirs) serves
    /// scorers of other shapes: a catalog narrower than the tile (the tile is then sized to the
    /// catalog), then wider tiles and more dimensions, which must grow it.
    @Test func workspaceServesScorersOfOtherShapes() {
        var rng = Seed(8).stream("shapes")
        let ws = ScoringWorkspace()
        for (n, m, d, tile, k) in [(40, 20, 3, 64, 4), (40, 150, 5, 64, 7), (12, 150, 5, 128, 3), (40, 9, 2, 64, 9)] {
            let users = Matrix(rows: n, cols: d, values: (0..<(n * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let items = Matrix(rows: m, cols: d, values: (0..<(m * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let full = users.multiplied(by: items, transposeOther: true)
            var got = [[Int]](repeating: [], count: n)
            BlockScorer(items: items, tileSize: tile).topK(users: users, rows: 0..<n, k: k, workspace: ws) { r, sel in
                got[r] = sel.sortedIndices().map(Int.init)
            }
            for u in 0..<n {
                #expect(got[u] == reference(Array(full.row(u)), k: k), "\(m) items, tile \(tile), user \(u)")
            }
        }
    }

    /// Per-topic selection through the kernel against offering each item to its topic's
    /// selector one by one, on every instruction set: topic counts around the 32 that fit the
    /// AVX2 registers, selectors that keep nothing (k = 0), one or several items, runs that are
    /// not a multiple of 8, ties, NaN and -infinity.
    @Test func offerByTopicEqualsOneItemAtATime() {
        onEveryInstructionSet { isa in
            for (trial, g) in [1, 5, 20, 31, 32, 33, 40].enumerated() {
                var rng = Seed(12).stream("by-topic", trial)
                let items = 3_000
                let topics: [Int32] = (0..<items).map { _ in Int32(Sample.index(below: g, using: &rng)) }
                let levels = trial % 2 == 0 ? 9 : 1_000_000
                let scores: [Float] = (0..<items).map { _ in
                    let r = Sample.index(below: 60, using: &rng)
                    if r == 0 { return .nan }
                    if r == 1 { return -.infinity }
                    return Float(Sample.index(below: levels, using: &rng)) / Float(levels) - 0.5
                }
                let ks = (0..<g).map { q in [1, 0, 5, 1, 3][q % 5] }
                var fast = ks.map { TopKSelector(k: $0) }, slow = fast
                // Runs of uneven lengths, as tiles would hand them over.
                var start = 0
                for length in [1, 7, 8, 9, 500, 1_000, items] where start < items {
                    let end = min(start + length, items)
                    scores.withUnsafeBufferPointer { x in
                        topics.withUnsafeBufferPointer { t in
                            fast.withUnsafeMutableBufferPointer { sels in
                                TopKSelector.offerByTopic(UnsafeBufferPointer(rebasing: x[start..<end]), baseIndex: start, topics: t, into: sels)
                            }
                        }
                    }
                    for j in start..<end { slow[Int(topics[j])].offer(scores[j], index: Int32(j)) }
                    start = end
                }
                for q in 0..<g {
                    #expect(fast[q].sortedIndices() == slow[q].sortedIndices(), "\(isa), \(g) topics, topic \(q)")
                }
                #expect(slow.contains { $0.count > 0 })
            }
        }
    }
}

