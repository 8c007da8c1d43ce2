import CocoonCore
import CocoonMath

/// What a built-in recommender remembers of the platform's logs: every user's consumption
/// (seed history first), global item counts (all-time and over a recent window) and each
/// user's most recent impressions.
public final class InteractionLog: @unchecked Sendable {
    /// Number of users.
    public let userCount: Int
    /// Number of items.
    public let itemCount: Int
    /// Round 0's consumption per user: the world's own seed-history buffer, shared, not copied.
    private let seedLists: ListArena
    /// Consumed items per user since step 1, oldest first: with `seedLists`, everything a user
    /// consumed. Rebuilt a step at a time, so only this part is copied as it grows. The sorted
    /// sets the exclusions and model fitting read are derived when asked (``consumedSet(of:)``)
    /// rather than kept beside the lists (another 4 bytes an item and a user).
    private var stepLists: ListArena
    /// All-time consumption count per item (round 0 included).
    public private(set) var itemCounts: [Float]
    /// Consumption count per item over the last `window` steps.
    public private(set) var recentCounts: [Float]
    /// Length of the recent window in steps.
    public let window: Int
    /// Each step's consumed items, oldest first, while in the window.
    private var recentEvents: [[Int32]] = []
    /// Round 0's counts per item while it is in the window (nil after): the seed history
    /// leaves the window as one round, without keeping its events (40 MB at a million users).
    private var seedCounts: [Float]?
    /// Whether anything can leave the window: not when the run is known to end before round 0
    /// would (steps < window), and then neither the events nor round 0's counts are kept.
    private let windowSlides: Bool
    /// Impressions remembered per user (0 = none).
    public let impressionMemory: Int
    /// The ring of recent impressions (−1 = empty slot): 2 bytes an item when the catalog has
    /// fewer than 65,535 items, 4 otherwise — at a million users and 100 impressions the
    /// difference is 200 MB.
    private let impressions: SharedItemIDs
    private var impressionHead: [Int32]

    /// Creates a log holding the seed history. `impressionMemory` is the number of recent
    /// impressions remembered per user; `steps` and `slateSize`, when given, cap it at what the
    /// run shows before its last request, (steps − 1) · slateSize: a longer ring would never
    /// fill, and the last step's impressions are never read (20 MB at a million users, 5 steps
    /// and 10-item slates).
    public init<History: Collection>(
        seedHistory: History, itemCount: Int, window: Int = 50, impressionMemory: Int = 0, steps: Int? = nil, slateSize: Int? = nil
    ) where History.Element: Collection, History.Element.Element == Int32 {
        userCount = seedHistory.count
        self.itemCount = itemCount
        self.window = max(window, 1)
        windowSlides = steps.map { $0 >= max(window, 1) } ?? true
        var memory = max(impressionMemory, 0)
        if let t = steps, let k = slateSize { memory = min(memory, max(t - 1, 0) * max(k, 0)) }
        self.impressionMemory = memory
        if let shared = seedHistory as? ListArena, shared.order == .arrival {
            seedLists = shared
        } else {
            seedLists = ListArena(seedHistory)
        }
        stepLists = ListArena(repeatElement(EmptyCollection<Int32>(), count: seedHistory.count))
        var counts = [Float](repeating: 0, count: itemCount)
        for h in seedHistory {
            for i in h { counts[Int(i)] += 1 }
        }
        itemCounts = counts
        recentCounts = counts
        seedCounts = windowSlides ? counts : nil
        impressions = SharedItemIDs(repeating: -1, count: userCount * self.impressionMemory, itemCount: itemCount)
        impressionHead = [Int32](repeating: 0, count: self.impressionMemory > 0 ? userCount : 0)
    }

    /// Adds a step's consumption and impressions.
    public func record(_ feedback: FeedbackBatch) {
        var added: [(list: Int32, value: Int32)] = []
        let k = feedback.slateSize
        // The stored properties are read once and the arrays reached through pointers for the
        // whole batch: as properties, every access in the loop was an exclusivity check.
        let memory = impressionMemory, ring = impressions
        let users = feedback.users, slates = feedback.slates, outcomes = feedback.outcomes
        impressionHead.withUnsafeMutableBufferPointer { heads in
            itemCounts.withUnsafeMutableBufferPointer { all in
                recentCounts.withUnsafeMutableBufferPointer { recent in
                    for (row, u32) in users.enumerated() {
                        let u = Int(u32)
                        if memory > 0 {
                            var h = Int(heads[u])
                            for p in 0..<k {
                                ring[u * memory + h] = slates[row * k + p]
                                h = (h + 1) % memory
                            }
                            heads[u] = Int32(h)
                        }
                        for p in 0..<k where outcomes[row * k + p] == .consumed {
                            let i = slates[row * k + p]
                            added.append((u32, i))
                            all[Int(i)] += 1
                            recent[Int(i)] += 1
                        }
                    }
                }
            }
        }
        // The engine sends users in ascending order; keep the lists' batches grouped either way
        // (a stable sort keeps each user's arrival order).
        if zip(added, added.dropFirst()).contains(where: { $0.list > $1.list }) {
            added = added.enumerated().sorted { ($0.element.list, $0.offset) < ($1.element.list, $1.offset) }.map(\.element)
        }
        stepLists.append(added)
        guard windowSlides else { return }
        recentEvents.append(added.map(\.value))
        if recentEvents.count + (seedCounts == nil ? 0 : 1) > window {
            // Counts are whole numbers (exact in Float), so taking round 0 out at once gives the
            // same values as taking its events out one by one.
            if let seed = seedCounts {
                for i in 0..<itemCount { recentCounts[i] -= seed[i] }
                seedCounts = nil
            } else {
                for i in recentEvents.removeFirst() { recentCounts[Int(i)] -= 1 }
            }
        }
    }

    /// The items user u saw in its last `impressionMemory` impressions, in ring order (may
    /// repeat; -1 for slots not yet filled).
    public func recentImpressions(of u: Int) -> [Int32] {
        impressions.ids((u * impressionMemory)..<((u + 1) * impressionMemory))
    }

    /// Appends the items of ``recentImpressions(of:)`` that are filled (no −1) to `out`.
    public func appendRecentImpressions(of u: Int, to out: inout [Int32]) {
        impressions.appendIDs((u * impressionMemory)..<((u + 1) * impressionMemory), to: &out)
    }

    /// Appends the items user u consumed, oldest first (seed history included), to `out`.
    public func appendConsumed(by u: Int, to out: inout [Int32]) {
        seedLists.appendElements(of: u, to: &out)
        stepLists.appendElements(of: u, to: &out)
    }

    /// The items user u consumed, oldest first (seed history included; may repeat).
    public func consumed(by u: Int) -> [Int32] {
        var list: [Int32] = []
        list.reserveCapacity(consumedCount(of: u))
        list.append(contentsOf: seedLists[u])
        list.append(contentsOf: stepLists[u])
        return list
    }

    /// The number of consumptions of user u (seed history included).
    public func consumedCount(of u: Int) -> Int { seedLists.count(u) + stepLists.count(u) }

    /// Calls `body` with every item user u consumed, oldest first.
    public func forEachConsumed(by u: Int, _ body: (Int32) throws -> Void) rethrows {
        try seedLists.forEach(in: u, body)
        try stepLists.forEach(in: u, body)
    }

    /// The distinct items user u consumed, ascending (sorted from the list on each call).
    public func consumedSet(of u: Int) -> [Int32] {
        var set = consumed(by: u)
        set.sortAndRemoveDuplicates()
        return set
    }

    /// Every user's distinct consumed items, ascending (built on each call: model fitting).
    public var consumedSets: ListArena { ListArena((0..<userCount).lazy.map { self.consumed(by: $0) }, order: .sortedUnique) }

    /// The topic distribution of u's consumption (METRICS.md p_u; C9 for multi-topic items),
    /// or nil when u has consumed nothing.
    public func topicDistribution(of u: Int, topics: TopicTable) -> [Double]? {
        let n = consumedCount(of: u)
        if n == 0 { return nil }
        var p = [Double](repeating: 0, count: topics.count)
        forEachConsumed(by: u) { i in topics.accumulate(item: Int(i), into: &p) }
        let s = Double(n)
        return p.map { $0 / s }
    }
}
