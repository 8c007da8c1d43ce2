import CocoonCore
import CocoonMath
import CocoonRecommenders
import Foundation
import Testing

@Suite struct RerankerFixtureTests {
    let f = Fixture.shared

    func lists(_ r: Reranker) -> [Int: [String]] {
        var out: [Int: [String]] = [:]
        for (u, cands) in f.candidates {
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: f.profiles[u])
            out[u] = r.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics).items.map {
                f.catalog.id(of: Int($0))
            }
        }
        return out
    }

    func expectedLists(_ key: String) -> [Int: [String]] {
        let r = (f.expected["rerankers"] as! [String: Any])[key] as! [String: Any]
        let l = r["lists"] as! [String: [Int]]
        return Dictionary(uniqueKeysWithValues: l.map { (Int($0.key)!, $0.value.map(String.init)) })
    }

    @Test func mmrMatchesTheReferenceListForList() {
        let ours = lists(MMRReranker(lambda: 0.7))
        let ref = expectedLists("mmr")
        #expect(ref.count == 50)
        for u in ref.keys.sorted() { #expect(ours[u] == ref[u], "user \(u)") }
    }

    @Test func dppFastGreedyMatchesTheReferenceListForList() {
        let ours = lists(DPPReranker(theta: 0.7, delta: 0.1, epsilon: 1e-10))
        let ref = expectedLists("dpp_fast_greedy")
        for u in ref.keys.sorted() { #expect(ours[u] == ref[u], "user \(u)") }
    }

    /// The naive greedy (a log-determinant per candidate) picks the same lists as the fast one.
    @Test func dppFastEqualsNaiveGreedy() {
        let fast = DPPReranker()
        for (u, cands) in f.candidates {
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: nil)
            let naive = naiveDPP(input)
            #expect(fast.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics).items == naive, "user \(u)")
        }
    }

    func naiveDPP(_ input: RerankInput) -> [Int32] {
        // A window larger than the slate makes the sliding-window DPP the naive full greedy.
        SlidingWindowDPPReranker(theta: 0.7, delta: 0.1, window: 11).rerank(
            input, size: 10, geometry: f.geometry, topics: f.catalog.topics
        ).items
    }

    @Test func slidingWindowFollowsTheDefinition() {
        let r = SlidingWindowDPPReranker(theta: 0.7, delta: 0.1, window: 3)
        for (u, cands) in f.candidates.sorted(by: { $0.key < $1.key }).prefix(10) {
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: nil)
            let out = r.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics).items
            #expect(out.count == 10 && Set(out).count == 10)
            #expect(out[0] == input.items[0], "user \(u): the first pick is the top-scored candidate")
            // Re-derive each pick by brute force over the window of the previous two picks.
            let beta = 0.7 / (2 * 0.3)
            let q = Dictionary(uniqueKeysWithValues: zip(input.items, input.scores.map { exp(beta * $0) }))
            func l(_ a: Int32, _ b: Int32) -> Double { q[a]! * (a == b ? 1 : f.geometry.cosine(Int(a), Int(b)) / 1.1) * q[b]! }
            for s in 1..<10 {
                let w = Array(out[max(0, s - 2)..<s])
                func det(_ c: Int32) -> Double {
                    let idx = w + [c]
                    if idx.count == 2 { return l(idx[0], idx[0]) * l(idx[1], idx[1]) - l(idx[0], idx[1]) * l(idx[1], idx[0]) }
                    let m = idx.map { a in idx.map { b in l(a, b) } }
                    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
                }
                let remaining = input.items.filter { !out[0..<s].contains($0) }
                let best = remaining.max { det($0) < det($1) }!
                #expect(out[s] == best, "user \(u) pick \(s)")
            }
        }
    }

    @Test func calibratedGreedyFollowsTheDefinition() {
        let r = CalibratedReranker(lambda: 0.5, alpha: 0.01)
        let g = f.catalog.topics.count
        for (u, cands) in f.candidates.sorted(by: { $0.key < $1.key }) {
            let p = f.profiles[u]!
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: p)
            let out = r.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics).items
            // Independent re-computation of every greedy step from scratch.
            func objective(_ set: [Int32]) -> Double {
                var q = [Double](repeating: 0, count: g)
                for i in set { q[Int(f.catalog.topics.primary[Int(i)])] += 1.0 / Double(set.count) }
                var kl = 0.0
                for t in 0..<g where p[t] > 0 { kl += p[t] * log(p[t] / (0.99 * q[t] + 0.01 * p[t])) }
                let s = set.reduce(0.0) { acc, i in acc + cands.first { $0.0 == i }!.1 }
                return 0.5 * s - 0.5 * kl
            }
            for s in 0..<10 {
                let prefix = Array(out[0..<s])
                var best: Int32 = -1
                var bestV = -Double.infinity
                for (i, _) in cands where !prefix.contains(i) {
                    let v = objective(prefix + [i])
                    if v > bestV {
                        best = i
                        bestV = v
                    }
                }
                #expect(out[s] == best, "user \(u) step \(s)")
            }
        }
        // Empty history → base order, flagged as a fallback.
        let c = f.candidates[1]!
        let none = r.rerank(
            RerankInput(items: c.map(\.0), scores: c.map(\.1), profile: nil), size: 10, geometry: f.geometry,
            topics: f.catalog.topics)
        #expect(none.fallback && none.items == Array(c.map(\.0).prefix(10)))
    }

    @Test func xquadFollowsTheDefinition() {
        let r = XQuADReranker(lambda: 0.5)
        for (u, cands) in f.candidates.sorted(by: { $0.key < $1.key }) {
            let p = f.profiles[u]!
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: p)
            let out = r.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics).items
            var covered = Set<Int32>()
            var taken = Set<Int32>()
            for s in 0..<10 {
                var best: Int32 = -1
                var bestV = -Double.infinity
                for (i, score) in cands where !taken.contains(i) {
                    let t = f.catalog.topics.primary[Int(i)]
                    let v = 0.5 * score + 0.5 * (covered.contains(t) ? 0 : p[Int(t)])
                    if v > bestV {
                        best = i
                        bestV = v
                    }
                }
                #expect(out[s] == best, "user \(u) step \(s)")
                taken.insert(best)
                covered.insert(f.catalog.topics.primary[Int(best)])
            }
        }
    }

    @Test func topicCapAndDedupe() {
        let cap = TopicCapReranker(maxPerTopic: 2, maxRun: 1)
        for (_, cands) in f.candidates {
            let input = RerankInput(items: cands.map(\.0), scores: cands.map(\.1), profile: nil)
            let out = cap.rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics)
            let topics = out.items.map { f.catalog.topics.primary[Int($0)] }
            if !out.fallback {
                #expect(zip(topics, topics.dropFirst()).allSatisfy { $0 != $1 })
                #expect(Dictionary(grouping: topics, by: { $0 }).values.allSatisfy { $0.count <= 2 })
            }
            #expect(out.items.count == 10 && Set(out.items).count == 10)
            let dd = NearDuplicateReranker(threshold: 0.5).rerank(input, size: 10, geometry: f.geometry, topics: f.catalog.topics)
            if !dd.fallback {
                for a in 0..<10 { for b in (a + 1)..<10 { #expect(f.geometry.cosine(Int(dd.items[a]), Int(dd.items[b])) < 0.5) } }
            }
        }
    }
}

/// The calibrated re-ranker's picks against the definition recomputed from scratch for every
/// candidate set (METRICS.md §10.4, a multi-topic item adding 1/|topics| to each of its topics),
/// on single- and multi-topic catalogs: the terms it keeps per pick and topic count must be
/// the ones the definition asks for.
@Suite struct CalibratedRerankerTests {
    static func definition(_ input: RerankInput, size: Int, topics: TopicTable, lambda: Double, alpha: Double) -> [Int32] {
        let p = input.profile!
        let g = topics.count
        func objective(_ set: [Int]) -> Double {
            var q = [Double](repeating: 0, count: g)
            for c in set {
                let ts = topics.topics(of: Int(input.items[c]))
                for t in ts { q[Int(t)] += 1 / Double(ts.count) }
            }
            var kl = 0.0
            for t in 0..<g where p[t] > 0 { kl += p[t] * log(p[t] / ((1 - alpha) * (q[t] / Double(set.count)) + alpha * p[t])) }
            return (1 - lambda) * set.reduce(0.0) { $0 + input.scores[$1] } - lambda * kl
        }
        var picked: [Int] = []
        while picked.count < min(size, input.items.count) {
            let rest = input.items.indices.filter { !picked.contains($0) }
            picked.append(rest.max { objective(picked + [$0]) < objective(picked + [$1]) }!)
        }
        return picked.map { input.items[$0] }
    }

    @Test(arguments: [false, true])
    func picksWhatTheDefinitionPicks(multiTopic: Bool) {
        let f = Fixture.shared
        let items = f.catalog.count, g = 12
        var r = Seed(44).stream("calibrated", multiTopic ? 1 : 0)
        let names = (0..<g).map { "t\($0)" }
        let topics = multiTopic
            ? TopicTable(names: names, itemTopics: (0..<items).map { _ in
                Array(Set((0..<(1 + Sample.index(below: 4, using: &r))).map { _ in Int32(Sample.index(below: g, using: &r)) })).sorted()
            })
            : TopicTable(names: names, primary: (0..<items).map { _ in Int32(Sample.index(below: g, using: &r)) })
        #expect(topics.isMultiTopic == multiTopic)
        for trial in 0..<60 {
            let m = [5, 12, 40, 100][trial % 4]
            let chosen = Sample.withoutReplacement(k: min(m, items), of: items, using: &r).map(Int32.init)
            // Profiles leave some topics out. (Scores without ties: the definition sums its terms
            // in another order, so an exact tie could break either way.)
            let scores = chosen.map { _ in Sample.uniform(using: &r) }
            let profile = (0..<g).map { _ in Sample.index(below: 3, using: &r) == 0 ? 0 : Sample.uniform(using: &r) }
            let input = RerankInput(items: chosen, scores: scores, profile: profile)
            for (lambda, alpha) in [(0.5, 0.01), (0.9, 0.2)] {
                let got = CalibratedReranker(lambda: lambda, alpha: alpha).rerank(input, size: 10, geometry: f.geometry, topics: topics).items
                #expect(got == Self.definition(input, size: 10, topics: topics, lambda: lambda, alpha: alpha), "trial \(trial), λ \(lambda)")
            }
        }
    }
}
