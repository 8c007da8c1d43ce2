import CocoonMath
import Foundation
import Testing

private func moments(_ xs: [Double]) -> (mean: Double, variance: Double) {
    let m = xs.reduce(0, +) / Double(xs.count)
    let v = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
    return (m, v)
}

// Bounds: 6 standard errors of the mean (and ~6 of the variance for n = 40,000). A sampler
// with a wrong scale, shape or location misses them by far more.
private let n = 40_000

@Suite struct RandomTests {
    @Test func streamsAreStableAndIndependent() {
        let root = Seed(42)
        var a = root.stream("choice", 3, 7)
        var b = root.stream("choice", 3, 7)
        var c = root.stream("choice", 7, 3)
        var d = root.stream("drift", 3, 7)
        let xa = (0..<4).map { _ in a.next() }
        #expect(xa == (0..<4).map { _ in b.next() })
        #expect(xa != (0..<4).map { _ in c.next() })
        #expect(xa != (0..<4).map { _ in d.next() })
        // Pinned values: a change to the derivation changes every result of every run.
        #expect(StableHash.fnv1a64("choice") == 0xc842_078c_742a_24f6)
        let labelHash = StableHash.fnv1a64("choice")
        var f = root.stream(labelHash: labelHash, 3, 7)
        #expect(f.next() == xa[0])
    }

    @Test func uniformBitsAreBalanced() {
        var rng = Seed(1).stream("bits")
        var ones = [Int](repeating: 0, count: 64)
        for _ in 0..<n {
            let x = rng.next()
            for b in 0..<64 where x >> UInt64(b) & 1 == 1 { ones[b] += 1 }
        }
        // Binomial(n, 1/2): sd = 100; ±600 is 6 sd.
        for b in 0..<64 { #expect(abs(ones[b] - n / 2) < 600, "bit \(b)") }
        let u = (0..<n).map { _ in Sample.uniform(using: &rng) }
        let (m, v) = moments(u)
        #expect(abs(m - 0.5) < 6 * (1.0 / 12 / Double(n)).squareRoot())
        #expect(abs(v - 1.0 / 12) < 0.003)
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test(arguments: [(0.0, 1.0), (3.0, 0.5), (-2.0, 4.0)])
    func normalMoments(p: (Double, Double)) {
        var rng = Seed(2).stream("normal", Int(p.0 * 10))
        let xs = (0..<n).map { _ in Sample.normal(mean: p.0, sd: p.1, using: &rng) }
        let (m, v) = moments(xs)
        #expect(abs(m - p.0) < 6 * p.1 / Double(n).squareRoot())
        #expect(abs(v / (p.1 * p.1) - 1) < 6 * (2.0 / Double(n)).squareRoot())
    }

    @Test(arguments: [0.3, 1.0, 2.5, 9.0])
    func gammaMoments(shape: Double) {
        var rng = Seed(3).stream("gamma", Int(shape * 10))
        let scale = 2.0
        let xs = (0..<n).map { _ in Sample.gamma(shape: shape, scale: scale, using: &rng) }
        let (m, v) = moments(xs)
        let mean = shape * scale
        let variance = shape * scale * scale
        #expect(abs(m - mean) < 6 * (variance / Double(n)).squareRoot())
        // Var of the sample variance ≈ (μ4 − σ⁴)/n with μ4 = 3σ⁴(1 + 2/k) for a gamma.
        let sdVar = ((3 * (1 + 2 / shape) - 1) * variance * variance / Double(n)).squareRoot()
        #expect(abs(v - variance) < 6 * sdVar)
        #expect(xs.allSatisfy { $0 > 0 })
    }

    @Test(arguments: [(2.0, 5.0), (0.5, 0.5), (10.0, 1.0)])
    func betaMoments(p: (Double, Double)) {
        let (a, b) = p
        var rng = Seed(4).stream("beta", Int(a * 10), Int(b * 10))
        let xs = (0..<n).map { _ in Sample.beta(a, b, using: &rng) }
        let (m, v) = moments(xs)
        let mean = a / (a + b)
        let variance = a * b / ((a + b) * (a + b) * (a + b + 1))
        #expect(abs(m - mean) < 6 * (variance / Double(n)).squareRoot())
        #expect(abs(v - variance) / variance < 0.05)
    }

    @Test func dirichletMoments() {
        let alpha = [0.5, 1.0, 3.0, 0.2]
        let a0 = alpha.reduce(0, +)
        var rng = Seed(5).stream("dirichlet")
        var draws: [[Double]] = []
        for _ in 0..<(n / 2) { draws.append(Sample.dirichlet(alpha, using: &rng)) }
        for d in draws { #expect(abs(d.reduce(0, +) - 1) < 1e-12) }
        for j in alpha.indices {
            let xs = draws.map { $0[j] }
            let (m, v) = moments(xs)
            let mean = alpha[j] / a0
            let variance = mean * (1 - mean) / (a0 + 1)
            #expect(abs(m - mean) < 6 * (variance / Double(xs.count)).squareRoot(), "component \(j)")
            #expect(abs(v - variance) / variance < 0.08, "component \(j)")
        }
    }

    @Test func categoricalFrequencies() {
        let w = [1.0, 0.0, 3.0, 6.0]
        var rng = Seed(6).stream("cat")
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<n { counts[Sample.categorical(w, using: &rng)] += 1 }
        #expect(counts[1] == 0)
        for j in [0, 2, 3] {
            let p = w[j] / 10
            #expect(abs(Double(counts[j]) / Double(n) - p) < 6 * (p * (1 - p) / Double(n)).squareRoot())
        }
    }

    @Test func weightedWithoutReplacement() {
        // First draw ∝ weights; the second is proportional among the rest.
        let w = [4.0, 3.0, 2.0, 1.0, 0.0]
        var rng = Seed(7).stream("wor")
        var first = [Int](repeating: 0, count: 5)
        var secondGivenZero = [Int](repeating: 0, count: 5)
        for _ in 0..<n {
            let s = Sample.weightedWithoutReplacement(k: 3, weights: w, using: &rng)
            #expect(s.count == 3 && Set(s).count == 3 && !s.contains(4))
            first[s[0]] += 1
            if s[0] == 0 { secondGivenZero[s[1]] += 1 }
        }
        for j in 0..<4 {
            let p = w[j] / 10
            #expect(abs(Double(first[j]) / Double(n) - p) < 6 * (p * (1 - p) / Double(n)).squareRoot())
        }
        let z = Double(secondGivenZero.reduce(0, +))
        for j in 1..<4 {
            let p = w[j] / 6
            #expect(abs(Double(secondGivenZero[j]) / z - p) < 6 * (p * (1 - p) / z).squareRoot())
        }
        #expect(Sample.weightedWithoutReplacement(k: 9, weights: w, using: &rng).count == 4)
    }

    @Test func uniformWithoutReplacementAndPermutation() {
        var rng = Seed(8).stream("floyd")
        var hits = [Int](repeating: 0, count: 10)
        for _ in 0..<(n / 4) {
            let s = Sample.withoutReplacement(k: 3, of: 10, using: &rng)
            #expect(s == s.sorted() && Set(s).count == 3)
            for i in s { hits[i] += 1 }
        }
        let p = 0.3
        let m = Double(n / 4)
        for i in 0..<10 { #expect(abs(Double(hits[i]) / m - p) < 6 * (p * (1 - p) / m).squareRoot()) }
        let perm = Sample.permutation(50, using: &rng)
        #expect(perm.sorted() == Array(0..<50) && perm != Array(0..<50))
    }
}
