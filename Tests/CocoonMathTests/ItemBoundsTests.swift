import CocoonMath
import Testing

/// The bounds that let the scorer skip items (``ItemBounds``): the basis they rest on, and that
/// skipping never changes a selection.
@Suite struct ItemBoundsTests {
    /// A clustered catalog like the generator's: `topics` orthonormal centroids in d dimensions,
    /// each item one of them plus Gaussian noise of length about `spread`, normalised.
    func clustered(items m: Int, dimension d: Int, topics g: Int, spread: Double = 0.55, seed: UInt64) -> (Matrix, [[Double]]) {
        var rng = Seed(seed).stream("bounds-catalog")
        var centroids: [[Double]] = []
        for _ in 0..<g {
            var v = (0..<d).map { _ in Sample.normal(using: &rng) }
            for u in centroids {
                let p = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for x in 0..<d { v[x] -= p * u[x] }
            }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            centroids.append(v.map { $0 / n })
        }
        var values = [Float](repeating: 0, count: m * d)
        for i in 0..<m {
            let t = Sample.index(below: g, using: &rng)
            var v = (0..<d).map { centroids[t][$0] + spread / Double(d).squareRoot() * Sample.normal(using: &rng) }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / n }
            for x in 0..<d { values[i * d + x] = Float(v[x]) }
        }
        return (Matrix(rows: m, cols: d, values: values), centroids)
    }

    /// Users of every kind: profiles like the profile model's (decayed sums of a few topics'
    /// items, long), unit mixtures of centroids with noise, pure noise, a zero vector, one very
    /// long and one tiny.
    func users(_ items: Matrix, centroids: [[Double]], count n: Int, seed: UInt64) -> Matrix {
        var rng = Seed(seed).stream("bounds-users")
        let d = items.cols
        var values = [Float](repeating: 0, count: n * d)
        for u in 0..<n {
            var v = [Double](repeating: 0, count: d)
            switch u % 5 {
            case 0, 1:
                for _ in 0..<30 {
                    let i = Sample.index(below: items.rows, using: &rng)
                    for x in 0..<d { v[x] = 0.95 * v[x] + Double(items[i, x]) }
                }
            case 2:
                for _ in 0..<3 {
                    let t = Sample.index(below: centroids.count, using: &rng)
                    for x in 0..<d { v[x] += centroids[t][x] }
                }
                for x in 0..<d { v[x] += 0.2 * Sample.normal(using: &rng) }
            case 3:
                for x in 0..<d { v[x] = Sample.normal(using: &rng) }
            default:
                let t = Sample.index(below: centroids.count, using: &rng)
                for x in 0..<d { v[x] = centroids[t][x] * 4 }
            }
            if u == 7 { v = v.map { _ in 0 } }
            if u == 9 { v = v.map { $0 * 1e15 } }
            if u == 14 { v = v.map { $0 * 1e-20 } }
            for x in 0..<d { values[u * d + x] = Float(v[x]) }
        }
        return Matrix(rows: n, cols: d, values: values)
    }

    var ways: [Bool] { ItemPanels.vectorized ? [false, true] : [false] }

    /// Jacobi's eigenvectors: A·v = λ·v for each, unit and orthogonal, values largest first.
    @Test(arguments: [3, 8, 64])
    func eigenvectorsOfASymmetricMatrix(n: Int) {
        var rng = Seed(5).stream("eigen", n)
        let b = (0..<(n * n)).map { _ in Sample.normal(using: &rng) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        let (values, vectors) = ItemBounds.eigen(a, n: n)
        for k in 0..<n {
            if k > 0 { #expect(values[k] <= values[k - 1]) }
            for i in 0..<n {
                let av = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * vectors[k * n + $1] }
                #expect(abs(av - values[k] * vectors[k * n + i]) < 1e-8 * (values[0] + 1), "row \(i) of A·v\(k)")
            }
            for l in 0..<n {
                let dot = (0..<n).reduce(0.0) { $0 + vectors[k * n + $1] * vectors[l * n + $1] }
                #expect(abs(dot - (k == l ? 1 : 0)) < 1e-10)
            }
        }
    }

    /// The basis ends at the largest gap in the spectrum, and only when the gap is clear and
    /// what lies beyond it is small.
    @Test func directionsFollowTheLargestGap() {
        #expect(ItemBounds.directions(eigenvalues: [5, 4, 3, 0.1, 0.1, 0.1, 0.1, 0.1]) == 3)
        #expect(ItemBounds.directions(eigenvalues: [9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1]) == 1)
        // Flat: no gap of 2.
        #expect(ItemBounds.directions(eigenvalues: [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4]) == nil)
        // A gap, but past it over a third of the total.
        #expect(ItemBounds.directions(eigenvalues: [3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]) == nil)
        // A gap past d / 2 is not taken.
        #expect(ItemBounds.directions(eigenvalues: [1, 1, 1, 1, 1, 1, 0.01, 0.01]) == nil)
    }

    /// A clustered catalog gets one direction per cluster, and its packed order only permutes
    /// items within their tile; noise and single-tile catalogs get none.
    @Test func clusteredCatalogsGetABasisAndNoiseDoesNot() {
        let (items, _) = clustered(items: 1_000, dimension: 32, topics: 8, seed: 1)
        let bounds = ItemBounds(items, tileSize: 256, avx512: false)
        #expect(bounds?.directions == 8)
        if let bounds {
            for t0 in stride(from: 0, to: 1_000, by: 256) {
                let tile = bounds.ids[t0..<min(t0 + 256, 1_000)].map(Int.init).sorted()
                #expect(tile == Array(t0..<min(t0 + 256, 1_000)))
            }
        }
        var rng = Seed(2).stream("noise")
        let noise = Matrix(rows: 1_000, cols: 32, values: (0..<32_000).map { _ in Float(Sample.normal(using: &rng)) })
        #expect(ItemBounds(noise, tileSize: 256, avx512: false) == nil)
        #expect(ItemBounds(items, tileSize: 1_024, avx512: false) == nil)
    }

    /// Skipping by bounds selects exactly what every product selects, bit for bit: with the
    /// kernel's topic offsets (raising and lowering), with exclusions and push-downs, for small and
    /// large k, tiles with a partial last one, and users of every kind; and it does skip most of
    /// the products.
    @Test(arguments: [(256, 10), (256, 1), (512, 16), (256, 40)])
    func skippingSelectsWhatEveryProductSelects(tile: Int, k: Int) {
        let m = 1_000, d = 32, n = 60
        let (items, centroids) = clustered(items: m, dimension: d, topics: 8, seed: 3)
        let users = users(items, centroids: centroids, count: n, seed: 4)
        var topics = [Int32](repeating: 0, count: m)
        for i in 0..<m {
            var best = 0
            for t in 1..<8 where (0..<d).reduce(0.0, { $0 + Double(items[i, $1]) * centroids[t][$1] })
                > (0..<d).reduce(0.0, { $0 + Double(items[i, $1]) * centroids[best][$1] }) { best = t }
            topics[i] = Int32(best)
        }
        var tables = [Float](repeating: 0, count: n * RowTopicOffsets.stride)
        var has = [UInt8](repeating: 0, count: n)
        for r in 0..<n where r % 3 == 0 {
            has[r] = 1
            tables[r * RowTopicOffsets.stride + (r / 3) % 8] = r % 2 == 0 ? 0.5 : -1.5
            tables[r * RowTopicOffsets.stride + (r / 3 + 3) % 8] = -0.25
        }
        for vectorized in ways {
            let pruned = BlockScorer(items: items, tileSize: tile, products: .panels(vectorized: vectorized), pruning: true)
            let every = BlockScorer(items: items, tileSize: tile, products: .panels(vectorized: vectorized), pruning: false)
            #expect(pruned.prunes && !every.prunes)
            let ws = ScoringWorkspace()
            for withOffsets in [false, true] {
                let offsets = withOffsets ? RowTopicOffsets(topics: topics, tables: tables, rows: has, topicCount: 8) : nil
                func select(_ scorer: BlockScorer) -> [[UInt32]] {
                    var out = [[UInt32]](repeating: [], count: n)
                    for rows in [0..<25, 25..<n] {
                        let stride = RowTopicOffsets.stride
                        let o = offsets.map {
                            RowTopicOffsets(
                                topics: $0.topics,
                                tables: Array($0.tables[(rows.lowerBound * stride)..<(rows.upperBound * stride)]),
                                rows: Array($0.rows[rows]), topicCount: 8)
                        }
                        scorer.topK(
                            users: users, rows: rows, k: k, workspace: ws, offsets: o,
                            adjust: { row, first, span in
                                // Each user excludes items ≡ its row (mod 13) and pushes items ≡ 2 (mod 5) down.
                                let user = rows.lowerBound + row
                                for j in 0..<span.count where (first + j) % 13 == user % 13 { span[j] = -.infinity }
                                for j in 0..<span.count where (first + j) % 5 == 2 { span[j] = span[j] - 1e4 }
                            },
                            adjustLowersOnly: true, adjustEditsOnly: true,
                            emit: { r, sel in
                                out[rows.lowerBound + r] = sel.sorted().flatMap {
                                    [UInt32(bitPattern: $0.index), $0.score.bitPattern]
                                }
                            })
                    }
                    return out
                }
                let before = ws.panelsSkipped
                let got = select(pruned)
                let want = select(every)
                for u in 0..<n { #expect(got[u] == want[u], "user \(u), vectorized \(vectorized), offsets \(withOffsets)") }
                #expect(ws.panelsSkipped - before > 0, "nothing was skipped")
            }
            // A good share of the products was skipped (noise users and long slates skip less).
            if k <= 16 {
                #expect(
                    ws.panelsSkipped * 5 > ws.panelsSkipped + ws.panelsComputed,
                    "skipped \(ws.panelsSkipped), computed \(ws.panelsComputed)")
            }
        }
    }
}
