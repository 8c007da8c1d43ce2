import CocoonMath
import Foundation

/// One user's contribution to a figure: a value, or a numerator and denominator for
/// ratio-type statistics (`ratio`, `effect`).
public struct UserSample: Sendable, Equatable {
    public var a: Double
    public var b: Double
    public init(_ a: Double, _ b: Double = 1) {
        self.a = a
        self.b = b
    }
}

/// How per-user samples are summarised.
public enum Statistic: String, Sendable, Codable, CaseIterable {
    case mean, median, p5, p95, min, max
    /// Σa / Σb (pooled ratio).
    case ratio
    /// 1 − Σa / Σb (suppression effect against twins: E = 1 − exposure(treated)/exposure(twin)).
    case effect
    /// Σa (raw count; used by hard-zero rules).
    case total

    /// Computes the statistic; nil when undefined (no samples, zero denominator).
    public func apply(_ s: [UserSample]) -> Double? {
        if s.isEmpty { return nil }
        switch self {
        case .mean: return s.reduce(0) { $0 + $1.a } / Double(s.count)
        case .median: return Statistic.quantile(s.map(\.a), 0.5)
        case .p5: return Statistic.quantile(s.map(\.a), 0.05)
        case .p95: return Statistic.quantile(s.map(\.a), 0.95)
        case .min: return s.map(\.a).min()
        case .max: return s.map(\.a).max()
        case .total: return s.reduce(0) { $0 + $1.a }
        case .ratio, .effect:
            let num = s.reduce(0) { $0 + $1.a }
            let den = s.reduce(0) { $0 + $1.b }
            guard den > 0 else { return nil }
            return self == .ratio ? num / den : 1 - num / den
        }
    }

    /// The q-quantile with linear interpolation between order statistics (NumPy's default).
    public static func quantile(_ values: [Double], _ q: Double) -> Double? {
        if values.isEmpty { return nil }
        let v = values.sorted()
        let pos = q * Double(v.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = Int(pos.rounded(.up))
        return v[lo] + (v[hi] - v[lo]) * (pos - Double(lo))
    }
}

/// User-level bootstrap: resample users with replacement **within each replicate** (the
/// replicates are independent populations), recompute the statistic, and take the 2.5% and
/// 97.5% percentiles. Seeded: the same inputs give the same interval.
public enum Bootstrap {
    /// A 95% percentile interval, or nil when the statistic is undefined.
    ///
    /// - Parameters:
    ///   - strata: the samples of each replicate.
    ///   - statistic: the summary.
    ///   - resamples: number of bootstrap resamples (default 1,000).
    ///   - seed: the stream the resampling draws from.
    /// - Complexity: O(resamples · n log n) for quantile statistics, O(resamples · n) otherwise.
    public static func interval(_ strata: [[UserSample]], statistic: Statistic, resamples: Int = 1000, seed: Seed) -> (
        lower: Double, upper: Double
    )? {
        let all = strata.flatMap { $0 }
        guard statistic.apply(all) != nil else { return nil }
        var rng = seed.stream("bootstrap")
        var stats: [Double] = []
        stats.reserveCapacity(resamples)
        var buffer: [UserSample] = []
        buffer.reserveCapacity(all.count)
        for _ in 0..<resamples {
            buffer.removeAll(keepingCapacity: true)
            for s in strata where !s.isEmpty {
                for _ in 0..<s.count { buffer.append(s[Sample.index(below: s.count, using: &rng)]) }
            }
            if let v = statistic.apply(buffer) { stats.append(v) }
        }
        guard let lo = Statistic.quantile(stats, 0.025), let hi = Statistic.quantile(stats, 0.975) else { return nil }
        return (lo, hi)
    }
}
