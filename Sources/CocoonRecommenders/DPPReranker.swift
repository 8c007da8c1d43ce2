import CocoonCore
import Foundation

/// The DPP kernel of METRICS.md §10.2: `S'_ij = (ê_i·ê_j + δ·1[i=j]) / (1 + δ)`,
/// `q_i = exp(β s_i)` with `β = θ / (2(1 − θ))`, `L_ij = q_i S'_ij q_j`.
struct DPPKernel {
    let q: [Double]
    let delta: Double
    let set: CandidateSet

    init(_ input: RerankInput, theta: Double, delta: Double, geometry: ItemGeometry, topics: TopicTable) {
        let beta = theta / (2 * (1 - theta))
        q = input.scores.map { exp(beta * $0) }
        self.delta = delta
        set = CandidateSet(input.items, geometry: geometry, topics: topics)
    }

    @inline(__always)
    func entry(_ a: Int, _ b: Int) -> Double {
        let s = a == b ? 1.0 : set.cosine(a, b) / (1 + delta)
        return q[a] * s * q[b]
    }
}

/// Greedy MAP inference for a DPP by incremental Cholesky (Chen, Zhang & Zhou 2018,
/// Algorithm 1), METRICS.md §10.2. Each step picks the candidate that maximises
/// `log det L_{S∪{i}}`; stops when the best marginal gain `d²` falls below ε, then fills.
///
/// - Complexity: O(M·N²) plus O(N·M·d) for the kernel rows; O(N·M) memory. L is never
///   materialised.
public struct DPPReranker: Reranker {
    public let name = "dpp"
    /// θ ∈ [0, 1): relevance–diversity trade-off (default 0.7).
    public var theta: Double
    /// δ: diagonal regularisation (default 0.1).
    public var delta: Double
    /// ε: stop threshold on d² (default 1e-10).
    public var epsilon: Double

    public init(theta: Double = 0.7, delta: Double = 0.1, epsilon: Double = 1e-10) {
        self.theta = theta
        self.delta = delta
        self.epsilon = epsilon
    }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        guard n > 0 else { return RerankOutput(items: [], fallback: false) }
        // Only the rows of L for the selected items are ever needed: row j costs O(M·d) from
        // the candidates' unit embeddings, so no M × M similarity matrix is built.
        let beta = theta / (2 * (1 - theta))
        let q = input.scores.map { exp(beta * $0) }
        let d = geometry.dimension
        var unit = [Double](repeating: 0, count: m * d)
        geometry.unit.withUnsafeBufferPointer { u in
            for (a, i) in input.items.enumerated() {
                for x in 0..<d { unit[a * d + x] = u[Int(i) * d + x] }
            }
        }
        var row = [Double](repeating: 0, count: m)
        var d2 = (0..<m).map { q[$0] * q[$0] }
        var f = [Double](repeating: 0, count: n * m)  // F: N × M
        var taken = [Bool](repeating: false, count: m)
        var j = DPPReranker.argmax(d2)
        var selected: [Int32] = [input.items[j]]
        taken[j] = true
        while selected.count < n {
            let k = selected.count - 1
            let dj = d2[j].squareRoot()
            // L[j, i] = q_j · (1 if i = j, else cos(j, i) / (1 + δ)) · q_i.
            for i in 0..<m {
                var c = 0.0
                for x in 0..<d { c += unit[j * d + x] * unit[i * d + x] }
                row[i] = q[j] * (i == j ? 1 : c / (1 + delta)) * q[i]
            }
            for i in 0..<m {
                var dotF = 0.0
                for r in 0..<k { dotF += f[r * m + j] * f[r * m + i] }
                let e = (row[i] - dotF) / dj
                f[k * m + i] = e
                d2[i] -= e * e
            }
            for i in 0..<m where taken[i] { d2[i] = -.infinity }
            j = DPPReranker.argmax(d2)
            if d2[j] < epsilon { break }
            selected.append(input.items[j])
            taken[j] = true
        }
        DPPReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: false)
    }

    /// First strict maximum.
    static func argmax(_ v: [Double]) -> Int {
        var best = 0
        for i in 1..<max(v.count, 1) where v[i] > v[best] { best = i }
        return best
    }
}

/// Sliding-window DPP (Chen et al. 2018, §5), METRICS.md §10.3: at each step
/// `argmax_{i∉S} log det L_{W∪{i}}` with W the last `min(|S|, w − 1)` picks; a candidate whose
/// sub-matrix is not positive definite scores −∞; if none is finite, stop and fill. Uses the
/// naive form (Cholesky of ≤ w × w matrices).
///
/// - Complexity: O(N·M·w³) time, O(w²) memory.
public struct SlidingWindowDPPReranker: Reranker {
    public let name = "dpp-window"
    public var theta: Double
    public var delta: Double
    /// Window w (default 3).
    public var window: Int

    public init(theta: Double = 0.7, delta: Double = 0.1, window: Int = 3) {
        self.theta = theta
        self.delta = delta
        self.window = window
    }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        let kernel = DPPKernel(input, theta: theta, delta: delta, geometry: geometry, topics: topics)
        var taken = [Bool](repeating: false, count: m)
        var picks: [Int] = []
        var selected: [Int32] = []
        while selected.count < n {
            let w = picks.suffix(max(window - 1, 0))
            var best = -1
            var bestValue = -Double.infinity
            for c in 0..<m where !taken[c] {
                let idx = Array(w) + [c]
                guard let v = SlidingWindowDPPReranker.logDet(idx, kernel) else { continue }
                if best < 0 || v > bestValue {
                    best = c
                    bestValue = v
                }
            }
            if best < 0 { break }
            taken[best] = true
            picks.append(best)
            selected.append(input.items[best])
        }
        SlidingWindowDPPReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: false)
    }

    /// log det of the kernel sub-matrix on `idx` by Cholesky; nil if not positive definite.
    static func logDet(_ idx: [Int], _ kernel: DPPKernel) -> Double? {
        let s = idx.count
        var l = [Double](repeating: 0, count: s * s)
        var logdet = 0.0
        for a in 0..<s {
            for b in 0...a {
                var sum = kernel.entry(idx[a], idx[b])
                for c in 0..<b { sum -= l[a * s + c] * l[b * s + c] }
                if a == b {
                    guard sum > 0 && sum.isFinite else { return nil }
                    let r = sum.squareRoot()
                    l[a * s + a] = r
                    logdet += 2 * log(r)
                } else {
                    l[a * s + b] = sum / l[b * s + b]
                }
            }
        }
        return logdet
    }
}
