import CocoonMath
import Testing

/// The scorer's own products (``ItemPanels``): one fused multiply-add chain per score, in
/// dimension order from zero, with AVX-512 or one score at a time; and the rule that picks them.
@Suite struct ItemPanelsTests {
    /// The chain the kernel must compute, written out: `acc = fma(u[x], v[x], acc)`.
    func chain(_ u: Matrix, _ r: Int, _ v: Matrix, _ i: Int) -> Float {
        var acc: Float = 0
        for x in 0..<u.cols { acc = acc.addingProduct(u[r, x], v[i, x]) }
        return acc
    }

    /// The ways this machine can run the kernel: always one score at a time, and AVX-512 where
    /// the CPU has it.
    var ways: [Bool] { ItemPanels.vectorized ? [false, true] : [false] }

    /// Every score is the chain bit for bit: row counts on both sides of the kernel's 12-user
    /// block, tiles with 1 to 33 items past a multiple of 32 (masked stores of one or two
    /// panels), tiles starting at later panels, and dimensions from 1 to 256.
    @Test(arguments: [(1, 1), (3, 5), (12, 16), (13, 64), (25, 64), (30, 100), (7, 256)])
    func productsAreFusedChainsBitForBit(shape: (Int, Int)) {
        let (rows, d) = shape
        var rng = Seed(21).stream("panels", rows, d)
        let items = 213
        let u = Matrix(rows: rows + 2, cols: d, values: (0..<((rows + 2) * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let v = Matrix(rows: items, cols: d, values: (0..<(items * d)).map { _ in Float(Sample.normal(using: &rng)) * 0.3 })
        for vectorized in ways {
            let panels = ItemPanels(v, avx512: vectorized)
            for (first, width) in [
                (0, 1), (0, 15), (0, 16), (0, 17), (16, 31), (32, 32), (32, 33), (48, 64), (64, 149), (208, 5), (0, 213),
            ] {
                // Rows 1 ..< rows + 1 of u (a block inside a larger matrix), written with a wider
                // stride than the tile so every store must stay inside its row.
                let stride = width + 3
                var out = [Float](repeating: .nan, count: rows * stride)
                u.storage.withUnsafeBufferPointer { up in
                    out.withUnsafeMutableBufferPointer { o in
                        panels.products(
                            users: up.baseAddress! + d, rows: rows, rowStride: d, first: first, width: width,
                            into: o.baseAddress!, outStride: stride)
                    }
                }
                for r in 0..<rows {
                    for j in 0..<width {
                        let want = chain(u, r + 1, v, first + j)
                        #expect(
                            out[r * stride + j].bitPattern == want.bitPattern,
                            "vectorized \(vectorized) rows \(rows) d \(d) items \(first)+\(j) row \(r)")
                    }
                    // Past the tile's width nothing was written.
                    for j in width..<stride { #expect(out[r * stride + j].isNaN, "wrote past the tile: row \(r), column \(j)") }
                }
            }
        }
        // Another order of the same sums differs somewhere: the comparison above can fail.
        if d == 64 {
            var differs = false
            for i in 0..<items where !differs {
                var plain: Float = 0
                for x in 0..<d { plain = plain + u[1, x] * v[i, x] }
                differs = plain.bitPattern != chain(u, 1, v, i).bitPattern
            }
            #expect(differs)
        }
    }

    /// A scorer with the panel kernel selects exactly the k best of the chained scores (higher
    /// score, then lower index) after its adjustments: blocks that are not a multiple of 12 users,
    /// a catalog that is not a multiple of the tile or of 16, k above and below 16; with an
    /// adjustment that may raise scores (no screen), one declared to only lower them and none
    /// (the kernel screens each full heap's row); tiles of 256 and of 4,096 items, whose last
    /// tile is narrow enough to need fewer screen words a row than the first.
    @Test(arguments: [false, true], [256, 4096])
    func panelScorerSelectsTheBestOfTheChains(vectorized: Bool, tile: Int) {
        if vectorized && !ItemPanels.vectorized { return }
        var rng = Seed(22).stream("panel-scorer", tile)
        let n = 40
        let m = tile == 256 ? 1_003 : 4_500
        let d = 24
        let users = Matrix(rows: n, cols: d, values: (0..<(n * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: m, cols: d, values: (0..<(m * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let scorer = BlockScorer(items: items, tileSize: tile, products: .panels(vectorized: vectorized))
        #expect(scorer.products == .panels(vectorized: vectorized))
        let ws = ScoringWorkspace()
        let chains = (0..<n).map { u in (0..<m).map { i in chain(users, u, items, i) } }
        for (rows, k) in [(0..<40, 10), (5..<18, 20), (3..<4, 1)] {
            for (adjusted, lowersOnly) in [(true, false), (true, true), (false, false)] {
                var got = [[Int]](repeating: [], count: rows.count)
                scorer.topK(
                    users: users, rows: rows, k: k, workspace: ws,
                    adjust: adjusted ? { row, first, span in
                        // Each user excludes items ≡ its row (mod 7) and pushes items ≡ 3 (mod 11) down.
                        for j in 0..<span.count where (first + j) % 7 == row % 7 { span[j] = -.infinity }
                        for j in 0..<span.count where (first + j) % 11 == 3 { span[j] = span[j] - 0.5 }
                    } : nil,
                    adjustLowersOnly: lowersOnly,
                    emit: { r, sel in got[r] = sel.sortedIndices().map(Int.init) })
                for (r, u) in rows.enumerated() {
                    let scores = (0..<m).map { i -> Float in
                        if !adjusted { return chains[u][i] }
                        if i % 7 == r % 7 { return -.infinity }
                        return i % 11 == 3 ? chains[u][i] - 0.5 : chains[u][i]
                    }
                    let want = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                        .filter { scores[$0] > -.infinity }.prefix(k)
                    #expect(got[r] == Array(want), "user \(u), k \(k), adjusted \(adjusted), lowers only \(lowersOnly)")
                }
            }
        }
    }

    /// The products mark, per row, exactly the runs of 32 stored scores that hold one above the
    /// row's threshold (-infinity, +infinity and NaN thresholds among them), in rows of more
    /// screen words than the tile needs; the words past a row's need are not touched.
    @Test(arguments: [(13, 20), (25, 64)])
    func productsMarkTheRunsAboveEachRowsThreshold(shape: (Int, Int)) {
        let (rows, d) = shape
        var rng = Seed(25).stream("screen", rows, d)
        let items = 4_500
        let u = Matrix(rows: rows, cols: d, values: (0..<(rows * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let v = Matrix(rows: items, cols: d, values: (0..<(items * d)).map { _ in Float(Sample.normal(using: &rng)) })
        // Row r's threshold: its 60th or 300th best score (so some runs hold a score above it
        // and most do not), or one of the three special values.
        let thresholds = (0..<rows).map { r -> Float in
            switch r % 5 {
            case 0: return -.infinity
            case 1: return .infinity
            case 2: return .nan
            default: return (0..<items).map { chain(u, r, v, $0) }.sorted(by: >)[r % 5 == 3 ? 60 : 300]
            }
        }
        for vectorized in ways {
            let panels = ItemPanels(v, avx512: vectorized)
            for (first, width) in [(0, 4_500), (16, 40), (64, 2_049), (4_480, 20), (0, 15)] {
                let need = ItemPanels.screenWords(width: width), words = need + 1
                let sentinel: UInt64 = 0xDEAD_BEEF
                var bits = [UInt64](repeating: 0, count: rows * words)
                for r in 0..<rows { bits[r * words + need] = sentinel }
                var out = [Float](repeating: .nan, count: rows * width)
                u.storage.withUnsafeBufferPointer { up in
                    out.withUnsafeMutableBufferPointer { o in
                        thresholds.withUnsafeBufferPointer { t in
                            bits.withUnsafeMutableBufferPointer { b in
                                panels.products(
                                    users: up.baseAddress!, rows: rows, rowStride: d, first: first, width: width,
                                    into: o.baseAddress!, outStride: width,
                                    screen: (t.baseAddress!, b.baseAddress!, words))
                            }
                        }
                    }
                }
                var marked = 0, unmarked = 0
                for r in 0..<rows {
                    #expect(bits[r * words + need] == sentinel, "row \(r) wrote past its words")
                    for b in 0..<(need * 64) {
                        let run = min(32 * b, width)..<min(32 * b + 32, width)
                        let above = !run.isEmpty && run.contains { out[r * width + $0] > thresholds[r] }
                        let bit = bits[r * words + b / 64] >> UInt64(b % 64) & 1 == 1
                        #expect(bit == above, "vectorized \(vectorized) items \(first)+\(width) row \(r) run \(b)")
                        if !run.isEmpty && r % 5 > 2 { if above { marked += 1 } else { unmarked += 1 } }
                    }
                }
                // The rows with finite thresholds had runs on both sides.
                if width >= 2_049 { #expect(marked > 0 && unmarked > 0, "\(marked) marked, \(unmarked) not") }
            }
        }
    }

    /// A tile that OpenBLAS would give its small-matrix kernel (at most 1,200 scores, d ≥ 32: a
    /// lone user against a narrow catalog) is scored by sgemm even on the panel path, so the
    /// selection is the sgemm scorer's, scores and all, whatever the library's kernel.
    @Test func smallTilesStayWithSgemm() {
        var rng = Seed(24).stream("small-tiles")
        let d = 48
        let users = Matrix(rows: 3, cols: d, values: (0..<(3 * d)).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: 1_000, cols: d, values: (0..<(1_000 * d)).map { _ in Float(Sample.normal(using: &rng)) })
        var got: [[(Int32, UInt32)]] = []
        for products in [BlockScorer.Products.sgemm, .panels(vectorized: false)] {
            var rows: [(Int32, UInt32)] = []
            // One user a block: 1 × 1,000 scores, the small path.
            for u in 0..<3 {
                BlockScorer(items: items, tileSize: 2048, products: products).topK(
                    users: users, rows: u..<(u + 1), k: 12, workspace: ScoringWorkspace()
                ) { _, sel in
                    rows += sel.sorted().map { ($0.index, $0.score.bitPattern) }
                }
            }
            got.append(rows)
        }
        #expect(got[0].count == 36)
        #expect(got[0].map(\.0) == got[1].map(\.0))
        #expect(got[0].map(\.1) == got[1].map(\.1))
    }

    /// The panel kernel only where its scores are the library's sgemm bits: OpenBLAS' SkylakeX and
    /// Cooperlake kernels, up to 256 dimensions, tiles of a multiple of 16, and a CPU with AVX-512.
    @Test func productsAreChosenWhereTheyAreTheSgemmBits() {
        #expect(
            BlockScorer.products(blasCore: "Cooperlake", dimension: 64, tileSize: 2048, vectorized: true)
                == .panels(vectorized: true))
        #expect(
            BlockScorer.products(blasCore: "SkylakeX", dimension: 256, tileSize: 512, vectorized: true)
                == .panels(vectorized: true))
        #expect(
            BlockScorer.products(blasCore: "SkylakeX", dimension: 1, tileSize: 16, vectorized: true) == .panels(vectorized: true))
        #expect(BlockScorer.products(blasCore: "Cooperlake", dimension: 257, tileSize: 2048, vectorized: true) == .sgemm)
        #expect(BlockScorer.products(blasCore: "Cooperlake", dimension: 64, tileSize: 2040, vectorized: true) == .sgemm)
        #expect(BlockScorer.products(blasCore: "Cooperlake", dimension: 64, tileSize: 2048, vectorized: false) == .sgemm)
        for core in ["Haswell", "Zen", "Sandybridge", "Prescott", "SapphireRapids"] {
            #expect(BlockScorer.products(blasCore: core, dimension: 64, tileSize: 2048, vectorized: true) == .sgemm, "\(core)")
        }
        // A scorer follows the rule for this process's library kernel.
        let items = Matrix(rows: 40, cols: 8, repeating: 1)
        let trusted = BlockScorer.fusedChainKernels.contains(BLASRuntime.coreName)
        let ownKernel = trusted && ItemPanels.vectorized && BlockScorer.panelsAgreeWithSgemm && !BlockScorer.sgemmRequested
        #expect(BlockScorer(items: items, tileSize: 32).products == (ownKernel ? .panels(vectorized: true) : .sgemm))
        #expect(BlockScorer(items: items, tileSize: 7).products == .sgemm)
    }

    /// Where this process's OpenBLAS kernel is one the rule trusts, its sgemm gives the panel
    /// kernel's bits at every dimension the rule allows (the CLI test checks whole runs on any
    /// AVX-512 machine, with the kernel `cocoon` starts with).
    @Test func sgemmOfTheTrustedKernelsIsTheChain() {
        // The start-up check agrees with the rule wherever the machine can run the kernel.
        let trusted = BlockScorer.fusedChainKernels.contains(BLASRuntime.coreName)
        if ItemPanels.vectorized {
            #expect(BlockScorer.panelsAgreeWithSgemm == trusted, "\(BLASRuntime.coreName)")
        }
        guard trusted else { return }
        for d in [16, 64, 100, 256] {
            var rng = Seed(23).stream("sgemm-chain", d)
            let u = Matrix(rows: 30, cols: d, values: (0..<(30 * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let v = Matrix(rows: 300, cols: d, values: (0..<(300 * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let s = u.multiplied(by: v, transposeOther: true)
            for r in 0..<30 {
                for i in 0..<300 { #expect(s[r, i].bitPattern == chain(u, r, v, i).bitPattern, "d \(d) user \(r) item \(i)") }
            }
        }
    }
}
