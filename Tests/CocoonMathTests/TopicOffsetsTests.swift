import CocoonMath
import Testing

/// Topic offsets added to scores (``TopicOffsets``, ``RowTopicOffsets``): one addition per score
/// whose offset is not zero, the same bits with AVX-512, AVX2, SSE2 or portable C, in a pass over
/// a row or inside the panel kernel, and in ``BlockScorer/topK(users:rows:k:workspace:offsets:adjust:emit:)``.
@Suite struct TopicOffsetsTests {
    /// The loop every path must equal: `x + o` where the offset is not zero, else `x` itself.
    func reference(_ x: Float, _ o: Float) -> Float { o != 0 ? x + o : x }

    /// Offsets with zeros (also −0), −∞ and fractions; `g` topics.
    func offsets(_ g: Int, _ rng: inout RandomStream) -> [Float] {
        (0..<g).map { q in
            switch Sample.index(below: 6, using: &rng) {
            case 0: 0
            case 1: -0.0
            case 2: q % 3 == 0 ? -.infinity : 0.25
            default: Float(Sample.normal(using: &rng))
            }
        }
    }

    /// Every score the scalar loop's bits, on each instruction set (AVX-512 too, unforced, where
    /// the CPU has it): 1 to 50 topics (past 32: the gather), rows from 0 to 2,053 scores (every
    /// tail of 8 and 16), scores of −0 kept where the offset is zero.
    @Test(arguments: [1, 5, 16, 20, 32, 33, 50])
    func addIsTheScalarLoopOnEveryInstructionSet(topics g: Int) {
        var rng = Seed(31).stream("topic-offsets", g)
        // Scores of −0 whose offset is zero: a plain sum would make them +0.
        var negativeZerosToKeep = 0
        for n in [0, 1, 7, 8, 15, 16, 17, 31, 33, 100, 2_053] {
            let off = offsets(g, &rng)
            let topic = (0..<n).map { _ in Int32(Sample.index(below: g, using: &rng)) }
            let base = (0..<n).map { j -> Float in j % 5 == 0 ? -0.0 : Float(Sample.normal(using: &rng)) }
            let want = (0..<n).map { reference(base[$0], off[Int(topic[$0])]) }
            negativeZerosToKeep += (0..<n).filter { j in
                want[j].bitPattern == Float(-0.0).bitPattern && off[Int(topic[j])] == 0
            }.count
            func check(_ label: String) {
                var x = base
                x.withUnsafeMutableBufferPointer { xs in
                    topic.withUnsafeBufferPointer { t in
                        off.withUnsafeBufferPointer { o in
                            TopicOffsets.add(to: xs, topics: t.baseAddress ?? UnsafePointer(bitPattern: 8)!, offsets: o)
                        }
                    }
                }
                #expect(x.map(\.bitPattern) == want.map(\.bitPattern), "\(label), \(g) topics, \(n) scores")
            }
            check("machine's own")
            onEveryInstructionSet { isa in check("\(isa)") }
        }
        // The case a missing mask gets wrong occurred (−0 + 0 is +0).
        #expect(negativeZerosToKeep > 0)
    }

    /// The panel kernel adds each row's offsets before it stores the scores, as a pass over the
    /// stored row would: rows with and without a table, 12-user blocks and remainders, tiles with
    /// partial last panels, with AVX-512 and one score at a time. Row 0 is zero but for a tiny
    /// last value, so many of its scores are −0 (the last product rounds to −0), which a zero
    /// offset must leave as they are.
    @Test(arguments: [1, 13, 25])
    func panelProductsAddTheOffsetsOfAPass(rows: Int) {
        var rng = Seed(32).stream("panel-offsets", rows)
        let d = 16
        let items = 213
        let g = 20
        var values = (0..<(rows * d)).map { _ in Float(Sample.normal(using: &rng)) }
        for x in 0..<d { values[x] = x == d - 1 ? -Float.leastNonzeroMagnitude : 0 }
        let u = Matrix(rows: rows, cols: d, values: values)
        let v = Matrix(rows: items, cols: d, values: (0..<(items * d)).map { _ in Float(Sample.normal(using: &rng)) * 0.3 })
        let topic = (0..<items).map { _ in Int32(Sample.index(below: g, using: &rng)) }
        // 32 floats a row; every third row without offsets.
        var tables = [Float](repeating: 0, count: rows * RowTopicOffsets.stride)
        for r in 0..<rows { for (q, o) in offsets(g, &rng).enumerated() { tables[r * RowTopicOffsets.stride + q] = o } }
        let has = (0..<rows).map { r -> UInt8 in r % 3 == 2 ? 0 : 1 }
        let offsets = RowTopicOffsets(topics: topic, tables: tables, rows: has, topicCount: g)
        var negativeZerosKept = 0
        for vectorized in ItemPanels.vectorized ? [false, true] : [false] {
            let panels = ItemPanels(v, avx512: vectorized)
            for (first, width) in [(0, 213), (16, 31), (32, 33), (208, 5), (0, 16)] {
                var plain = [Float](repeating: .nan, count: rows * width)
                var fused = plain
                var without = plain
                u.storage.withUnsafeBufferPointer { up in
                    plain.withUnsafeMutableBufferPointer { o in
                        panels.products(
                            users: up.baseAddress!, rows: rows, rowStride: d, first: first, width: width, into: o.baseAddress!,
                            outStride: width)
                        for r in 0..<rows {
                            let row = UnsafeMutableBufferPointer(rebasing: o[(r * width)..<((r + 1) * width)])
                            offsets.add(row: r, first: first, to: row)
                        }
                    }
                    fused.withUnsafeMutableBufferPointer { o in
                        panels.products(
                            users: up.baseAddress!, rows: rows, rowStride: d, first: first, width: width, into: o.baseAddress!,
                            outStride: width, offsets: offsets)
                    }
                    without.withUnsafeMutableBufferPointer { o in
                        panels.products(
                            users: up.baseAddress!, rows: rows, rowStride: d, first: first, width: width, into: o.baseAddress!,
                            outStride: width)
                    }
                }
                #expect(
                    fused.map(\.bitPattern) == plain.map(\.bitPattern),
                    "vectorized \(vectorized), items \(first)..<\(first + width)")
                // The offsets changed something (rows with tables and non-zero offsets exist).
                #expect(without.map(\.bitPattern) != fused.map(\.bitPattern))
                for j in 0..<width where plain[j].bitPattern == Float(-0.0).bitPattern && tables[Int(topic[first + j])] == 0 {
                    negativeZerosKept += 1
                }
            }
        }
        // The −0 case above was exercised.
        #expect(negativeZerosKept > 0)
    }

    /// `topK` with offsets selects what it selects when `adjust` adds the same offsets to each
    /// tile first — the same items and score bits — with the panel kernel (offsets in the kernel)
    /// and with sgemm (a pass over each row).
    @Test(arguments: [BlockScorer.Products.sgemm, .panels(vectorized: false), .panels(vectorized: true)])
    func topKWithOffsetsSelectsAsAnAdjustmentWould(products: BlockScorer.Products) {
        if products == .panels(vectorized: true) && !ItemPanels.vectorized { return }
        var rng = Seed(33).stream("topk-offsets")
        let n = 30
        let m = 1_003
        let d = 24
        let g = 7
        let k = 12
        let users = Matrix(rows: n, cols: d, values: (0..<(n * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: m, cols: d, values: (0..<(m * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let topic = (0..<m).map { _ in Int32(Sample.index(below: g, using: &rng)) }
        var tables = [Float](repeating: 0, count: n * RowTopicOffsets.stride)
        for r in 0..<n where r % 4 != 1 {
            // Penalties large enough to reorder every user's best items.
            for (q, o) in offsets(g, &rng).enumerated() { tables[r * RowTopicOffsets.stride + q] = o * 4 }
        }
        let offsets = RowTopicOffsets(topics: topic, tables: tables, rows: (0..<n).map { $0 % 4 == 1 ? 0 : 1 }, topicCount: g)
        let scorer = BlockScorer(items: items, tileSize: 256, products: products)
        #expect(scorer.addsOffsetsInKernel == (products == .panels(vectorized: true)))
        func run(inTopK: Bool) -> [[(Int32, UInt32)]] {
            var got = [[(Int32, UInt32)]](repeating: [], count: n)
            scorer.topK(
                users: users, rows: 0..<n, k: k, workspace: ScoringWorkspace(), offsets: inTopK ? offsets : nil,
                adjust: { r, first, span in
                    if !inTopK { span.withUnsafeMutableBufferPointer { offsets.add(row: r, first: first, to: $0) } }
                    // Exclusions after the offsets, as the control layer makes them.
                    for j in 0..<span.count where (first + j) % 9 == r % 9 { span[j] = -.infinity }
                },
                emit: { r, sel in got[r] = sel.sorted().map { ($0.index, $0.score.bitPattern) } })
            return got
        }
        let fused = run(inTopK: true)
        let adjusted = run(inTopK: false)
        for r in 0..<n {
            #expect(fused[r].count == k)
            #expect(fused[r].map(\.0) == adjusted[r].map(\.0), "row \(r)")
            #expect(fused[r].map(\.1) == adjusted[r].map(\.1), "row \(r)")
        }
        // Without offsets the selections differ: the offsets were applied.
        var plain = [[Int32]](repeating: [], count: n)
        scorer.topK(users: users, rows: 0..<n, k: k, workspace: ScoringWorkspace()) { r, sel in plain[r] = sel.sortedIndices() }
        #expect((0..<n).contains { r in plain[r] != fused[r].map(\.0) })
    }
}
