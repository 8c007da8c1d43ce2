import Foundation

/// Samplers for the distributions the simulator draws from. Every draw takes the generator
/// explicitly (`using: &rng`), so a draw's source is always visible.
public enum Sample {
    /// A uniform `Double` in [0, 1) with 53 random bits.
    @inlinable
    public static func uniform<G: RandomNumberGenerator>(using rng: inout G) -> Double {
        Double(rng.next() >> 11) * 0x1.0p-53
    }

    /// A uniform `Double` in (0, 1): never 0, so `log` of it is finite.
    @inlinable
    public static func uniformOpen<G: RandomNumberGenerator>(using rng: inout G) -> Double {
        (Double(rng.next() >> 11) + 0.5) * 0x1.0p-53
    }

    /// A uniform `Float` in [0, 1) with 24 random bits.
    @inlinable
    public static func uniformFloat<G: RandomNumberGenerator>(using rng: inout G) -> Float {
        Float(rng.next() >> 40) * 0x1.0p-24
    }

    /// A uniform integer in `0..<n` (Lemire's nearly divisionless method, unbiased).
    @inlinable
    public static func index<G: RandomNumberGenerator>(below n: Int, using rng: inout G) -> Int {
        precondition(n > 0, "index(below:) needs n > 0, got \(n)")
        return Int(rng.next(upperBound: UInt64(n)))
    }

    /// `true` with probability `p` (clamped to [0, 1]).
    @inlinable
    public static func bernoulli<G: RandomNumberGenerator>(_ p: Double, using rng: inout G) -> Bool {
        uniform(using: &rng) < p
    }

    /// A normal variate N(mean, sd²) by the Box–Muller transform (one variate per two uniforms,
    /// so the number of draws per call is fixed).
    public static func normal<G: RandomNumberGenerator>(mean: Double = 0, sd: Double = 1, using rng: inout G) -> Double {
        let u1 = uniformOpen(using: &rng)
        let u2 = uniform(using: &rng)
        return mean + sd * (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A standard Gumbel variate `−log(−log U)`.
    @inlinable
    public static func gumbel<G: RandomNumberGenerator>(using rng: inout G) -> Double {
        -Foundation.log(-Foundation.log(uniformOpen(using: &rng)))
    }

    /// A gamma variate with the given shape k > 0 and scale θ > 0 (mean kθ, variance kθ²).
    ///
    /// Marsaglia & Tsang (2000) for k ≥ 1; for k < 1 the boost `Gamma(k+1)·U^(1/k)`.
    public static func gamma<G: RandomNumberGenerator>(shape: Double, scale: Double = 1, using rng: inout G) -> Double {
        precondition(shape > 0 && scale > 0, "gamma needs shape > 0 and scale > 0, got \(shape), \(scale)")
        if shape < 1 {
            let g = gamma(shape: shape + 1, scale: scale, using: &rng)
            return g * Foundation.pow(uniformOpen(using: &rng), 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal(using: &rng)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniformOpen(using: &rng)
            if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) {
                return d * v * scale
            }
        }
    }

    /// A beta variate Beta(a, b) as `X / (X + Y)` with X ~ Gamma(a), Y ~ Gamma(b).
    public static func beta<G: RandomNumberGenerator>(_ a: Double, _ b: Double, using rng: inout G) -> Double {
        let x = gamma(shape: a, using: &rng)
        let y = gamma(shape: b, using: &rng)
        return x / (x + y)
    }

    /// A Dirichlet variate with concentration `alpha` (all > 0): normalised gamma draws.
    ///
    /// - Returns: a probability vector of `alpha.count` entries.
    public static func dirichlet<G: RandomNumberGenerator>(_ alpha: [Double], using rng: inout G) -> [Double] {
        precondition(!alpha.isEmpty, "dirichlet needs at least one concentration")
        var g = alpha.map { gamma(shape: $0, using: &rng) }
        var s = g.reduce(0, +)
        if s <= 0 || !s.isFinite {
            // Tiny concentrations can underflow every gamma draw to 0: fall back to a
            // categorical draw proportional to alpha (the limit of the Dirichlet).
            let j = categorical(alpha, using: &rng)
            g = Array(repeating: 0, count: alpha.count)
            g[j] = 1
            s = 1
        }
        return g.map { $0 / s }
    }

    /// An index drawn with probability proportional to `weights` (≥ 0, not all zero).
    ///
    /// - Complexity: O(n) (a linear scan of the cumulative sum).
    public static func categorical<G: RandomNumberGenerator>(_ weights: [Double], using rng: inout G) -> Int {
        var total = 0.0
        for w in weights {
            precondition(w >= 0 && w.isFinite, "categorical weights must be finite and ≥ 0, got \(w)")
            total += w
        }
        precondition(total > 0, "categorical needs a positive weight")
        let target = uniform(using: &rng) * total
        var acc = 0.0
        var last = 0
        for (i, w) in weights.enumerated() where w > 0 {
            acc += w
            last = i
            if target < acc { return i }
        }
        return last
    }

    /// `k` distinct indices of `0..<weights.count`, drawn without replacement with probability
    /// proportional to the weights at each draw (Gumbel top-k; Efraimidis & Spirakis 2006).
    ///
    /// Items with weight 0 are never drawn; if fewer than `k` weights are positive, all of them
    /// are returned. The result is in draw order (largest perturbed key first).
    ///
    /// - Complexity: O(n log k).
    public static func weightedWithoutReplacement<G: RandomNumberGenerator>(
        k: Int, weights: [Double], using rng: inout G
    ) -> [Int] {
        precondition(k >= 0, "k must be ≥ 0, got \(k)")
        var keysD = [Double](repeating: -.infinity, count: weights.count)
        for (i, w) in weights.enumerated() {
            precondition(w >= 0 && w.isFinite, "weights must be finite and ≥ 0, got \(w) at \(i)")
            let g = gumbel(using: &rng)
            if w > 0 { keysD[i] = Foundation.log(w) + g }
        }
        // Order by the Double keys exactly; ties (probability 0) → lower index.
        let order = keysD.indices.filter { keysD[$0] > -.infinity }
            .sorted { keysD[$0] != keysD[$1] ? keysD[$0] > keysD[$1] : $0 < $1 }
        return Array(order.prefix(k))
    }

    /// `k` distinct indices of `0..<n`, uniformly without replacement, in increasing order
    /// (Floyd's algorithm).
    ///
    /// - Complexity: O(k log k).
    public static func withoutReplacement<G: RandomNumberGenerator>(k: Int, of n: Int, using rng: inout G) -> [Int] {
        precondition(k >= 0 && k <= n, "need 0 ≤ k ≤ n, got k = \(k), n = \(n)")
        var chosen = Set<Int>()
        var out: [Int] = []
        out.reserveCapacity(k)
        for j in (n - k)..<n {
            let t = index(below: j + 1, using: &rng)
            if chosen.contains(t) {
                chosen.insert(j)
                out.append(j)
            } else {
                chosen.insert(t)
                out.append(t)
            }
        }
        // Membership only: the Set's iteration order is never used.
        return out.sorted()
    }

    /// A uniform random permutation of `0..<n` (Fisher–Yates).
    public static func permutation<G: RandomNumberGenerator>(_ n: Int, using rng: inout G) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = index(below: i + 1, using: &rng)
            p.swapAt(i, j)
        }
        return p
    }
}
