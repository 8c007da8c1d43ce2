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
        let m = input.items.count, n = min(size, m)
        var perTopic = [Int](repeating: 0, count: topics.count)
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        var runTopic: Int32 = -1
        var run = 0
        // Pass 1 keeps both rules; pass 2, if the candidates cannot fill the slate that way,
        // relaxes the per-topic cap but still avoids long runs; pass 3 fills in order.
        for pass in 0..<3 where selected.count < n {
            var progress = true
            while progress && selected.count < n {
                progress = false
                for c in 0..<m where !taken[c] && selected.count < n {
                    let t = topics.primary[Int(input.items[c])]
                    let newRun = t == runTopic ? run + 1 : 1
                    if pass < 2 && newRun > maxRun { continue }
                    if pass == 0 && perTopic[Int(t)] >= maxPerTopic { continue }
                    taken[c] = true
                    selected.append(input.items[c])
                    perTopic[Int(t)] += 1
                    runTopic = t
                    run = newRun
                    progress = true
                    // Restart the scan: an item skipped for the run rule may fit now.
                    if pass > 0 { break }
                }
            }
            if pass == 0 && selected.count == n { return RerankOutput(items: selected, fallback: false, chosen: n) }
        }
        let chosen = selected.count
        TopicCapReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: true, chosen: chosen)
    }
}

/// Removes near-duplicates: scans the candidates in order and skips any item whose cosine
/// similarity to an already selected item is ≥ `threshold`; fills from the skipped ones if
/// needed.
///
/// - Complexity: O(N·M·d).
public struct NearDuplicateReranker: Reranker {
    public let name = "dedupe"
    /// Near-duplicates are dropped, not moved down, so later stages cannot bring them back.
    public var isFilter: Bool { true }
    /// Cosine similarity at or above which two items are near-duplicates (default 0.9).
    public var threshold: Double

    public init(threshold: Double = 0.9) { self.threshold = threshold }

    /// Dot product of two rows of length d (eight lanes at a time).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
        var acc = SIMD8<Float>.zero
        var j = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while j &+ 8 <= d {
            let x = ra.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
            acc = acc + x * y
            j &+= 8
        }
        var s = acc.sum()
        while j < d {
            s = s + a[j] * b[j]
            j &+= 1
        }
        return s
    }

    public func rerank(_ input: RerankInput, size: Int, geometry: ItemGeometry, topics: TopicTable) -> RerankOutput {
        let m = input.items.count
        let n = min(size, m)
        var taken = [Bool](repeating: false, count: m)
        var selected: [Int32] = []
        selected.reserveCapacity(n)
        let d = geometry.dimension
        let threshold = self.threshold
        if let table = geometry.nearDuplicates(threshold: threshold) {
            // The catalog's neighbour table: a candidate is dropped when one of its
            // near-duplicates was kept.
            for c in 0..<m where selected.count < n {
                let item = input.items[c]
                if table.neighbours(of: Int(item)).contains(where: { selected.contains($0) }) { continue }
                taken[c] = true
                selected.append(item)
            }
            let chosen = selected.count
            NearDuplicateReranker.fill(&selected, from: input.items, taken: taken, size: n)
            return RerankOutput(items: selected, fallback: chosen < n, chosen: chosen)
        }
        // Large catalogs: similarities between a candidate and the items already kept, from the
        // catalog's single-precision unit embeddings.
        geometry.unitSingle.storage.withUnsafeBufferPointer { unit in
            let e = unit.baseAddress!
            for c in 0..<m where selected.count < n {
                let a = e + Int(input.items[c]) * d
                var duplicate = false
                for s in selected {
                    let dot = NearDuplicateReranker.dot(a, e + Int(s) * d, d)
                    if Double(dot) >= threshold {
                        duplicate = true
                        break
                    }
                }
                if duplicate { continue }
                taken[c] = true
                selected.append(input.items[c])
            }
        }
        let chosen = selected.count
        NearDuplicateReranker.fill(&selected, from: input.items, taken: taken, size: n)
        return RerankOutput(items: selected, fallback: chosen < n, chosen: chosen)
    }
}
