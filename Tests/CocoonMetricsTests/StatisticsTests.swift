import CocoonMath
import CocoonMetrics
import Testing

@Suite struct StatisticsTests {
    @Test func statisticsByHand() {
        let s = [3.0, 1, 4, 1, 5, 9, 2, 6].map { UserSample($0) }
        #expect(Statistic.mean.apply(s) == 31.0 / 8)
        #expect(Statistic.median.apply(s) == 3.5)  // sorted 1 1 2 3 4 5 6 9
        #expect(Statistic.min.apply(s) == 1 && Statistic.max.apply(s) == 9 && Statistic.total.apply(s) == 31)
        #expect(abs(Statistic.p5.apply(s)! - 1.0) < 1e-12)  // 0.35 between the two 1s
        #expect(abs(Statistic.p95.apply(s)! - (6 + 0.65 * 3)) < 1e-12)
        let pairs = [UserSample(1, 4), UserSample(0, 4), UserSample(1, 2)]
        #expect(Statistic.ratio.apply(pairs) == 0.2)
        #expect(Statistic.effect.apply(pairs) == 0.8)
        #expect(Statistic.ratio.apply([UserSample(1, 0)]) == nil)
        #expect(Statistic.mean.apply([]) == nil)
    }

    @Test func bootstrapIsSeededAndCoversTheMean() {
        var r = Seed(1).stream("data")
        let strata = (0..<3).map { _ in (0..<200).map { _ in UserSample(Sample.normal(mean: 5, sd: 2, using: &r)) } }
        let a = Bootstrap.interval(strata, statistic: .mean, seed: Seed(9))!
        let b = Bootstrap.interval(strata, statistic: .mean, seed: Seed(9))!
        #expect(a.lower == b.lower && a.upper == b.upper)
        // 600 users, sd 2 → standard error ≈ 0.082: the interval is about ±0.16 around the mean.
        let mean = Statistic.mean.apply(strata.flatMap { $0 })!
        #expect(a.lower < mean && mean < a.upper)
        #expect(a.upper - a.lower > 0.25 && a.upper - a.lower < 0.40)
        // A different seed gives a slightly different interval.
        let c = Bootstrap.interval(strata, statistic: .mean, seed: Seed(10))!
        #expect(c.lower != a.lower)
    }

    /// An under-sized run fails a "≥" rule that a large run passes: the decision uses the lower
    /// end of the interval.
    @Test func smallSamplesAreConservative() {
        var r = Seed(2).stream("x")
        let small = [(0..<8).map { _ in UserSample(0.85 + 0.1 * Sample.normal(using: &r)) }]
        let large = [(0..<4000).map { _ in UserSample(0.85 + 0.1 * Sample.normal(using: &r)) }]
        #expect(Bootstrap.interval(small, statistic: .mean, seed: Seed(1))!.lower < 0.8)
        #expect(Bootstrap.interval(large, statistic: .mean, seed: Seed(1))!.lower > 0.84)
    }
}
