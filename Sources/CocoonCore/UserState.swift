import CocoonMath

/// The engine's per-user state, stored column-wise so that parallel blocks write disjoint
/// ranges (``SharedArray``).
final class UserState: @unchecked Sendable {
    let count: Int
    let dimension: Int
    let topics: Int
    let slateSize: Int
    /// Current interest (count × d): starts at the intrinsic interest and drifts.
    let pref: SharedArray<Float>
    /// Per-topic satiation (count × topics).
    let satiation: SharedArray<Float>
    /// Recent exposure share per topic (count × topics).
    let exposure: SharedArray<Float>
    /// The last slate each user saw (count × k, −1 before the first; 2 bytes an item for
    /// catalogs below 65,535 items) and its step.
    let lastSlate: SharedItemIDs
    let lastSlateStep: SharedArray<Int32>
    /// Items consumed so far (only kept for the rank-utility rule, which never repeats; empty
    /// otherwise).
    let consumed: SharedArray<[Int32]>
    let keepsConsumed: Bool
    /// Whether each user is active.
    var active: [Bool]
    /// Topic counts of consumption so far, kept only when an intervention refers to the
    /// `top-consumed` topic (count × topics; empty otherwise: 80 MB at a million users).
    let consumedTopics: SharedArray<Float>
    let keepsConsumedTopics: Bool

    init(world: SimulationWorld, truth: GroundTruth, slateSize: Int, keepConsumed: Bool) {
        count = world.users.count
        dimension = truth.dimension
        topics = truth.topicCount
        self.slateSize = slateSize
        pref = SharedArray(truth.vectors.storage)
        satiation = SharedArray(repeating: 0, count: count * topics)
        exposure = SharedArray(repeating: 0, count: count * topics)
        keepsConsumedTopics = world.interventions.contains { $0.topicReferences.contains(.topConsumed) }
        consumedTopics = SharedArray(repeating: 0, count: keepsConsumedTopics ? count * topics : 0)
        lastSlate = SharedItemIDs(repeating: -1, count: count * slateSize, itemCount: world.catalog.count)
        lastSlateStep = SharedArray(repeating: 0, count: count)
        // Only the rank-utility rule reads the consumed sets: other runs keep none (at a million
        // users the copies of the seed histories alone are over 100 MB).
        keepsConsumed = keepConsumed
        consumed = keepConsumed
            ? SharedArray(world.users.origin.map { world.population.seedHistory[Int($0)].sorted() })
            : SharedArray(repeating: [], count: 0)
        active = Array(repeating: true, count: count)
    }

    func activeUsers() -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for u in 0..<count where active[u] { out.append(Int32(u)) }
        return out
    }

    func applyReturns(step t: Int, behaviour: Behaviour, seed: Seed) {
        guard behaviour.session.leaveProbability > 0 || behaviour.session.boredomLeave > 0 else { return }
        for u in 0..<count where !active[u] {
            var r = seed.stream("session.return", u, t)
            if Sample.bernoulli(behaviour.session.returnProbability, using: &r) { active[u] = true }
        }
    }

    func applyLeaves(_ left: [Int32]) {
        for u in left { active[Int(u)] = false }
    }
}
