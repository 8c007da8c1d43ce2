import CocoonMath
import Foundation
import Testing

// Naive references in Double, compared with a tolerance proportional to the inner dimension:
// |ours − ref| ≤ 1e-5 · (1 + k) · max|a|·max|b| — float rounding grows with the sum length.

private func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout RandomStream) -> Matrix {
    Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in Float(Sample.normal(using: &rng)) })
}

private func naiveProduct(_ a: Matrix, _ ta: Bool, _ b: Matrix, _ tb: Bool) -> [[Double]] {
    let m = ta ? a.cols : a.rows
    let k = ta ? a.rows : a.cols
    let n = tb ? b.rows : b.cols
    var c = Array(repeating: Array(repeating: 0.0, count: n), count: m)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = ta ? a[p, i] : a[i, p]
                let y = tb ? b[j, p] : b[p, j]
                s += Double(x) * Double(y)
            }
            c[i][j] = s
        }
    }
    return c
}

private let awkwardShapes: [(Int, Int, Int)] = [
    (1, 1, 1), (1, 7, 5), (7, 1, 5), (5, 9, 1), (3, 4, 0), (0, 4, 3), (4, 0, 3),
    (13, 17, 19), (64, 33, 65), (1, 300, 8), (300, 1, 8), (31, 29, 7),
]

@Suite struct MatrixBLASTests {
    @Test(arguments: awkwardShapes)
    func gemmMatchesNaive(shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        var rng = Seed(7).stream("gemm", m, n * 1000 + k)
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = ta ? randomMatrix(k, m, &rng) : randomMatrix(m, k, &rng)
            let b = tb ? randomMatrix(n, k, &rng) : randomMatrix(k, n, &rng)
            var c = randomMatrix(m, n, &rng)
            let c0 = c
            Matrix.gemm(a, transposeA: ta, b, transposeB: tb, alpha: 0.5, beta: 2, into: &c)
            let ref = naiveProduct(a, ta, b, tb)
            for i in 0..<m {
                for j in 0..<n {
                    let expected = 0.5 * ref[i][j] + 2 * Double(c0[i, j])
                    let tol = 1e-5 * Double(1 + k) * 25
                    #expect(abs(Double(c[i, j]) - expected) <= tol, "(\(m),\(n),\(k)) ta=\(ta) tb=\(tb) at (\(i),\(j))")
                }
            }
        }
    }

    @Test(arguments: awkwardShapes)
    func gemvMatchesNaive(shape: (Int, Int, Int)) {
        let (m, n, _) = shape
        var rng = Seed(8).stream("gemv", m, n)
        let a = randomMatrix(m, n, &rng)
        let x = (0..<n).map { _ in Float(Sample.normal(using: &rng)) }
        let xt = (0..<m).map { _ in Float(Sample.normal(using: &rng)) }
        let y = a.gemv(x)
        let yt = a.gemv(xt, transpose: true)
        #expect(y.count == m && yt.count == n)
        for i in 0..<m {
            let ref = (0..<n).reduce(0.0) { $0 + Double(a[i, $1]) * Double(x[$1]) }
            #expect(abs(Double(y[i]) - ref) <= 1e-4 * Double(1 + n))
        }
        for j in 0..<n {
            let ref = (0..<m).reduce(0.0) { $0 + Double(a[$1, j]) * Double(xt[$1]) }
            #expect(abs(Double(yt[j]) - ref) <= 1e-4 * Double(1 + m))
        }
    }

    @Test(arguments: [0, 1, 3, 8, 9, 63, 64, 65, 1000])
    func levelOneMatchNaive(n: Int) {
        var rng = Seed(9).stream("l1", n)
        let x = (0..<n).map { _ in Float(Sample.normal(using: &rng)) }
        var y = (0..<n).map { _ in Float(Sample.normal(using: &rng)) }
        let dotRef = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(Double(BLAS.dot(x, y)) - dotRef) <= 1e-4 * Double(1 + n))
        let normRef = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(Double(BLAS.norm(x)) - normRef) <= 1e-5 * (1 + normRef))
        let y0 = y
        BLAS.axpy(-1.5, x, &y)
        for i in 0..<n { #expect(abs(y[i] - (y0[i] - 1.5 * x[i])) <= 1e-5) }
        // Slices (matrix rows) are accepted without a copy and give the same result.
        if n > 2 {
            #expect(BLAS.dot(x[1...], y0[1...]) == BLAS.dot(Array(x[1...]), Array(y0[1...])))
        }
        // The pointer form is the same sdot: the same bits (0 for no values).
        let byPointer = x.withUnsafeBufferPointer { px in
            y0.withUnsafeBufferPointer { py in n > 0 ? BLAS.dot(px.baseAddress!, py.baseAddress!, count: n) : 0 }
        }
        #expect(byPointer.bitPattern == BLAS.dot(x, y0).bitPattern)
    }

    @Test func rowNormalisationAndCosine() {
        var rng = Seed(10).stream("cos")
        var a = randomMatrix(17, 9, &rng)
        a.setRow(3, to: [Float](repeating: 0, count: 9))  // a zero row stays zero
        let b = randomMatrix(5, 9, &rng)
        let s = Matrix.cosineSimilarity(rowsOf: a, rowsOf: b)
        #expect(s.rows == 17 && s.cols == 5)
        for i in 0..<17 {
            for j in 0..<5 {
                let ai = a.row(i).map(Double.init)
                let bj = b.row(j).map(Double.init)
                let na = ai.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let nb = bj.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let ref = na == 0 ? 0 : zip(ai, bj).reduce(0) { $0 + $1.0 * $1.1 } / (na * nb)
                #expect(abs(Double(s[i, j]) - ref) <= 1e-5)
            }
        }
        var n = a
        let norms = n.normalizeRows()
        #expect(norms[3] == 0)
        for (i, r) in n.rowNorms().enumerated() {
            #expect(abs(r - (i == 3 ? 0 : 1)) <= 1e-6)
        }
    }

    /// Blocked scores are the full product up to rounding (some OpenBLAS kernels, e.g. Zen's,
    /// round a row differently depending on the shape of the call, so not to the bit), and the
    /// same block gives the same bits however often and in whatever order it is scored — what
    /// fixed-size blocks rely on for results independent of the worker count.
    @Test func blockedScoresEqualFullProduct() {
        var rng = Seed(11).stream("blocked")
        let users = randomMatrix(37, 11, &rng)
        let items = randomMatrix(53, 11, &rng)
        let full = users.multiplied(by: items, transposeOther: true)
        let scorer = BlockScorer(items: items, tileSize: 7)
        let blocks = BlockExecutor.blocks(count: 37, blockSize: 8)
        let first = blocks.map { scorer.scores(users: users, rows: $0) }
        for (b, block) in blocks.enumerated().reversed() {
            let s = scorer.scores(users: users, rows: block)
            #expect(s == first[b], "block \(b) scored twice")
            #expect(s.rows == block.count && s.cols == 53)
            for (r, u) in block.enumerated() {
                for j in 0..<53 {
                    #expect(abs(s[r, j] - full[u, j]) <= 1e-5 * (1 + abs(full[u, j])), "user \(u) item \(j)")
                }
            }
        }
    }

    /// The threshold scan finds exactly the values at or above the threshold, ascending, with
    /// every kernel instruction set: ties at the threshold count, NaN never does, and runs of
    /// every length around the 16- and 32-value chunks.
    @Test func scanFindsEveryValueAtLeastTheThreshold() {
        onEveryInstructionSet { isa in
            for n in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099] {
                var rng = Seed(12).stream("scan", n)
                let values: [Float] = (0..<n).map { _ in
                    switch Sample.index(below: 20, using: &rng) {
                    case 0: .nan
                    case 1: .infinity
                    case 2: -.infinity
                    case 3: 0.5  // exactly the threshold
                    default: Float(Sample.index(below: 1000, using: &rng)) / 1000
                    }
                }
                for threshold: Float in [0.5, -.infinity, .infinity, 2] {
                    let expected = values.indices.filter { values[$0] >= threshold }.map(Int32.init)
                    #expect(Matrix.indices(of: values, atLeast: threshold) == expected, "\(isa) n=\(n) threshold \(threshold)")
                }
            }
        }
    }

    /// `columnsAtLeast` is the product of `multiplied(by:transposeOther:)` scanned: the same
    /// columns as filtering that matrix, also when one scratch serves products of other shapes
    /// (a larger one first, so stale entries would show).
    @Test func columnsAtLeastFiltersTheProduct() {
        var rng = Seed(13).stream("columns")
        let scratch = ProductScratch()
        for (m, n, d) in [(9, 300, 16), (3, 70, 16), (1, 1, 4), (5, 0, 4), (0, 5, 4), (4, 129, 7)] {
            let a = randomMatrix(m, d, &rng)
            let b = randomMatrix(n, d, &rng)
            let product = a.multiplied(by: b, transposeOther: true)
            for threshold: Float in [1, 0, -2] {
                let expected = (0..<m).map { r in (0..<n).filter { product[r, $0] >= threshold }.map(Int32.init) }
                let got = a.columnsAtLeast(threshold, inProductWithTransposeOf: b, scratch: scratch)
                #expect(got == expected, "\(m) × \(n), d = \(d), threshold \(threshold)")
            }
        }
        // A threshold between values keeps some columns and drops others (the test can fail).
        let a = Matrix(rows: 1, cols: 2, values: [1, 0])
        let b = Matrix(rows: 4, cols: 2, values: [1, 0, 0.5, 1, 0.25, 0, 2, 2])
        #expect(a.columnsAtLeast(0.5, inProductWithTransposeOf: b, scratch: scratch) == [[0, 1, 3]])
    }

    /// Small-set intersections count the common elements with every kernel instruction set:
    /// sets of every size around the 4- and 8-element chunks (the last chunk's unused lanes
    /// must not count, also when the other set holds 0), in any order, disjoint or equal.
    @Test func smallSetIntersectionsCountTheCommonElements() {
        onEveryInstructionSet { isa in
            for trial in 0..<300 {
                var rng = Seed(14).stream("sets", trial)
                let na = Sample.index(below: 40, using: &rng), nb = Sample.index(below: 40, using: &rng)
                // Distinct values from a small range (0 included), so the sets overlap often.
                let a = Sample.withoutReplacement(k: na, of: 60, using: &rng).map(Int32.init)
                let b = trial % 7 == 0 ? a : Sample.withoutReplacement(k: nb, of: 60, using: &rng).map(Int32.init)
                let expected = Set(a).intersection(Set(b)).count
                let got = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in SmallSets.intersectionCount(pa, pb) } }
                #expect(got == expected, "\(isa): \(a) ∩ \(b)")
            }
        }
        let x: [Int32] = [0, 5, 9], y: [Int32] = [9, 1, 0, 7]
        #expect(x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { SmallSets.intersectionCount(p, $0) } } == 2)
    }
}


/// Which OpenBLAS kernel `cocoon` asks for in place of the library's own choice.
@Suite struct BLASKernelChoiceTests {
    @Test func onlyTheFallbackToPrescottIsReplaced() {
        // OpenBLAS fell back to Prescott on a CPU with AVX-512 or AVX2: the kernel for its features.
        #expect(BLASRuntime.replacementCore(libraryCore: "Prescott", requested: nil, cpuCore: "Cooperlake") == "Cooperlake")
        #expect(BLASRuntime.replacementCore(libraryCore: "PRESCOTT", requested: nil, cpuCore: "SkylakeX") == "SkylakeX")
        #expect(BLASRuntime.replacementCore(libraryCore: "Prescott", requested: "", cpuCore: "Haswell") == "Haswell")
        // The library recognised the CPU: its choice stands, even where the features say more.
        #expect(BLASRuntime.replacementCore(libraryCore: "Haswell", requested: nil, cpuCore: "Cooperlake") == nil)
        #expect(BLASRuntime.replacementCore(libraryCore: "Zen", requested: nil, cpuCore: "Cooperlake") == nil)
        // The user named a kernel (Prescott included): never overridden.
        #expect(BLASRuntime.replacementCore(libraryCore: "Prescott", requested: "Prescott", cpuCore: "Cooperlake") == nil)
        #expect(BLASRuntime.replacementCore(libraryCore: "Prescott", requested: "Haswell", cpuCore: "Cooperlake") == nil)
        // A CPU without AVX (or not x86): Prescott may be right.
        #expect(BLASRuntime.replacementCore(libraryCore: "Prescott", requested: nil, cpuCore: nil) == nil)
    }

    @Test func theCPUsKernelFollowsItsFlags() throws {
        // The kernel from CPUID against the flags Linux reports for the same CPU (which it
        // clears for register state it does not save).
        #if os(Linux) && arch(x86_64)
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try #require(info.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: ":")[1].split(separator: " ").map(String.init))
        let avx512 = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"].allSatisfy(flags.contains)
        let expected: String? =
            avx512 ? (flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX")
            : flags.contains("avx2") && flags.contains("fma") ? "Haswell"
            : flags.contains("avx") ? "SandyBridge" : nil
        #expect(BLASRuntime.coreForCPU == expected)
        #endif
    }
}
