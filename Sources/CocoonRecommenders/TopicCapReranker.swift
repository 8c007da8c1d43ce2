import CocoonCore

/// Caps how much one topic can take of a slate: at most `maxPerTopic` items per primary topic
/// and no run of more than `maxRun` consecutive items of the same primary topic. Scans the
/// candidates in order and takes each one that keeps both rules; if the candidates cannot fill
/// the slate under the rules, the remaining slots take the skipped candidates in order.
///
/// - Complexity: O(M + |G|).
public struct TopicCapReranker: Reranker {
    public let name = "topic-cap"
    /// Most items of one topic per slate (default 3).
    public var maxPerTopic: Int
    /// Longest allowed run of one topic (default 2).
    public var maxRun: Int

    public init(maxPerTopic: Int = 3, maxRun: Int = 2) {
        self.maxPerTopic = maxPerTopic
        self.maxRun = maxRun
    }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        var perTopic = [Int](repeating: 0, count: topics.count)
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        var runTopic: Int32 = -1
        var run = 0
        for c in 0..<m where selected.count < n {
            let t = topics.primary[Int(input.items[c])]
            let newRun = t == runTopic ? run + 1 : 1
            guard perTopic[Int(t)] < maxPerTopic && newRun <= maxRun else { continue }
            taken[c] = true
            selected.append(input.items[c])
            perTopic[Int(t)] += 1
            runTopic = t
            run = newRun
        }
        let complete = selected.count == n
        TopicCapReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: !complete)
    }
}

/// Removes near-duplicates: scans the candidates in order and skips any item whose cosine
/// similarity to an already selected item is ≥ `threshold`; fills from the skipped ones if
/// needed.
///
/// - Complexity: O(N·M·d).
public struct NearDuplicateReranker: Reranker {
    public let name = "dedupe"
    /// Cosine similarity at or above which two items are near-duplicates (default 0.9).
    public var threshold: Double

    public init(threshold: Double = 0.9) { self.threshold = threshold }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        for c in 0..<m where selected.count < n {
            let i = Int(input.items[c])
            if selected.contains(where: { geometry.cosine(Int($0), i) >= threshold }) { continue }
            taken[c] = true
            selected.append(input.items[c])
        }
        let complete = selected.count == n
        NearDuplicateReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: !complete)
    }
}
