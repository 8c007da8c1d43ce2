import CocoonCore
import CocoonMath
import CocoonMetrics
import Foundation
import Testing

/// The recorder's shared passes against the one-user functions, bit for bit, at every step and
/// for every group: a list metric's group mean (all list metrics' means are summed row by row
/// from chunks of eight blocks — here 130 users in blocks of 4: four whole chunks and one of a
/// single, short block) and `profile_topic_entropy_delta` (each user's entropy is recomputed
/// only when the user's history grew).
@Suite struct RecorderPassTests {
    @Test(arguments: [1, 3])
    func groupMeansAndEntropyDeltasEqualTheOneUserFunctions(workers: Int) throws {
        let n = 130
        let world = try segmentedWorld(items: 240, topics: 6, users: n, shareA: 0.5, seed: 31)
        let steps = 6, k = 8
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: TiltedRandom(),
            config: EngineConfig(steps: steps, slateSize: k, seed: Seed(34)))
        let metrics = ["list_topic_entropy_bits", "topic_coverage", "profile_topic_entropy_delta"]
        let recorder = MetricRecorder(metrics: metrics, executor: BlockExecutor(workers: workers), blockSize: 4, seed: Seed(35))
        let keep = Keep()
        #expect(engine.run(observers: [recorder, keep]).failure == nil)
        let topics = world.catalog.topics
        var history = keep.run.seedHistory.map { Array($0) }
        func entropy(_ items: [Int32]) -> Double? { ListMetrics.topicDistribution(items, topics).map(ListMetrics.entropyBits) }
        let h0 = history.map(entropy)
        #expect(recorder.groups.count > 1, "segments as well as the population")
        var consumedSomething = 0, unchanged = 0
        for t in 0...steps {
            let s = keep.snaps[t]
            var lists = [ArraySlice<Int32>?](repeating: nil, count: n)
            for (row, u) in s.users.enumerated() { lists[Int(u)] = s.slates[(row * k)..<((row + 1) * k)] }
            if t > 0 {
                for (row, u) in s.users.enumerated() {
                    let before = history[Int(u)].count
                    for p in 0..<k where s.outcomes[row * k + p] == .consumed { history[Int(u)].append(s.slates[row * k + p]) }
                    if history[Int(u)].count > before { consumedSomething += 1 } else { unchanged += 1 }
                }
            }
            for g in recorder.groups {
                let users = (0..<n).filter { g.members[$0] }
                func mean(_ f: (Int) -> Double?) -> Double? {
                    var sum = 0.0, m = 0
                    for u in users { if let x = f(u) { sum += x; m += 1 } }
                    return m > 0 ? sum / Double(m) : nil
                }
                // List metrics are defined from step 1 (step 0 has no slates).
                let expected: [String: Double?] = [
                    "list_topic_entropy_bits": t == 0 ? nil : mean { u in lists[u].flatMap { ListMetrics.topicEntropy($0, topics) } },
                    "topic_coverage": t == 0 ? nil : mean { u in lists[u].flatMap { ListMetrics.topicCoverage($0, topics) } },
                    "profile_topic_entropy_delta": mean { u in h0[u].flatMap { e0 in entropy(history[u]).map { $0 - e0 } } },
                ]
                for (id, want) in expected.sorted(by: { $0.key < $1.key }) {
                    let got = try #require(recorder.series(id, group: g.name))[t]
                    #expect(got?.bitPattern == want?.bitPattern, "\(id) \(g.name) step \(t): \(String(describing: got)) vs \(String(describing: want))")
                    if t == steps { #expect(got != nil, "\(id) \(g.name) defined") }
                }
            }
        }
        // Both cases of the entropy cache occurred: users whose history grew and users whose
        // did not.
        #expect(consumedSomething > 0 && unchanged > 0, "\(consumedSomething) grew, \(unchanged) did not")
    }
}
