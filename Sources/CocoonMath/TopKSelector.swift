internal import _CocoonKernels

/// Keeps the `k` best of a stream of scored items: higher score first, then lower item index.
///
/// A bounded min-heap whose root is the worst kept item. Row scans (``offer(_:baseIndex:)``)
/// screen 32 scores per branch against the current k-th score (a C kernel, `_CocoonKernels`,
/// with SSE2 or AVX2 chosen at run time), so most items cost a load and a compare; only the few
/// that beat the threshold touch the heap. The kernel only compares and moves, so results are
/// the same on every instruction set. The kernel keeps a heap of up to 16 items sorted worst
/// first (also a heap), so an item enters it by selects on a compare per slot instead of
/// branches per level that the CPU cannot predict.
///
/// Items scored `-infinity` or NaN are never selected: setting a score to `-infinity` is how an
/// item is excluded (see ``TopK``). If fewer than `k` items qualify, fewer are returned.
///
/// - Complexity: O(n + m log k) for n offered items of which m enter the heap.
public struct TopKSelector: Sendable {
    /// The number of items kept.
    public let k: Int
    // Heap arrays (parallel): the root is the worst kept item.
    @usableFromInline var scores: [Float]
    @usableFromInline var indices: [Int32]
    /// Number of items currently kept (≤ k).
    @inlinable public var count: Int { _count }
    @usableFromInline var _count: Int

    /// Creates an empty selector for the `k` best items (k ≥ 0).
    public init(k: Int) {
        precondition(k >= 0, "k must be ≥ 0, got \(k)")
        self.k = k
        self.scores = [Float](repeating: 0, count: k)
        self.indices = [Int32](repeating: 0, count: k)
        self._count = 0
    }

    /// Forgets every kept item (keeps the allocation).
    public mutating func reset() { _count = 0 }

    /// The score an item must beat to enter: `-infinity` until `k` items are kept, then the
    /// k-th best score (`+infinity` when k = 0: nothing enters).
    @inlinable
    public var threshold: Float { k == 0 ? .infinity : (count < k ? -.infinity : scores[0]) }

    // a is worse than b: lower score, or equal score and larger index.
    @inline(__always) @usableFromInline
    static func worse(_ sa: Float, _ ia: Int32, _ sb: Float, _ ib: Int32) -> Bool {
        sa < sb || (sa == sb && ia > ib)
    }

    /// Offers one item.
    ///
    /// - Parameters:
    ///   - score: the item's score; `-infinity` and NaN are ignored.
    ///   - index: the item's index (ties prefer the lower index).
    @inlinable
    public mutating func offer(_ score: Float, index: Int32) {
        guard k > 0, score > -.infinity else { return }  // false for NaN too
        if count < k {
            let n = _count
            _count += 1
            scores.withUnsafeMutableBufferPointer { s in
                indices.withUnsafeMutableBufferPointer { ix in
                    TopKSelector.siftUp(score, index, at: n, s.baseAddress!, ix.baseAddress!)
                }
            }
            return
        }
        guard TopKSelector.worse(scores[0], indices[0], score, index) else { return }
        replaceRoot(score, index)
    }

    /// Places (score, index) at heap slot `start` (the new last one) and sifts it up.
    @inline(__always) @usableFromInline
    static func siftUp(_ score: Float, _ index: Int32, at start: Int, _ s: UnsafeMutablePointer<Float>, _ ix: UnsafeMutablePointer<Int32>) {
        var i = start
        while i > 0 {
            let p = (i - 1) >> 1
            if worse(score, index, s[p], ix[p]) {
                s[i] = s[p]
                ix[i] = ix[p]
                i = p
            } else {
                break
            }
        }
        s[i] = score
        ix[i] = index
    }

    @usableFromInline
    mutating func replaceRoot(_ score: Float, _ index: Int32) {
        let n = _count
        scores.withUnsafeMutableBufferPointer { s in
            indices.withUnsafeMutableBufferPointer { ix in
                cocoon_heap_replace_root(s.baseAddress!, ix.baseAddress!, n, score, index)
            }
        }
    }

    /// Offers a run of consecutive items: `scores[j]` is the score of item `baseIndex + j`.
    ///
    /// Runs must be offered in increasing item order for the SIMD screen to be exact on ties
    /// (a later item never beats an equal earlier one); ``offer(_:index:)`` has no such rule.
    public mutating func offer(_ scores: Span<Float>, baseIndex: Int) {
        guard k > 0 else { return }
        scores.withUnsafeBufferPointer { buf in
            offerBuffer(buf, baseIndex: baseIndex)
        }
    }

    /// Offers a run of consecutive items from an array (see ``offer(_:baseIndex:)``).
    public mutating func offer(_ scores: [Float], baseIndex: Int = 0) {
        offer(scores.span, baseIndex: baseIndex)
    }

    @usableFromInline
    mutating func offerBuffer(_ buf: UnsafeBufferPointer<Float>, baseIndex: Int) {
        guard let base = buf.baseAddress, k > 0 else { return }
        let k = self.k, kept = _count
        // The heap through pointers for the whole run (one uniqueness check per array).
        _count = scores.withUnsafeMutableBufferPointer { sb in
            indices.withUnsafeMutableBufferPointer { ib in
                TopKSelector.offerRun(base, count: buf.count, baseIndex: baseIndex, k: k, kept: kept, scores: sb.baseAddress!, indices: ib.baseAddress!)
            }
        }
    }

    /// Offers `count` consecutive scores (`base[j]` is item `baseIndex + j`'s) to a heap of
    /// capacity `k` held in raw memory (`scores`, `indices`: k slots, `kept` of them in use)
    /// and returns how many slots are in use after. The selection of ``offer(_:baseIndex:)``
    /// for heaps kept outside a selector (``ScoringWorkspace`` holds a block's heaps in one
    /// buffer); k > 0.
    @usableFromInline
    static func offerRun(
        _ base: UnsafePointer<Float>, count n: Int, baseIndex: Int, k: Int, kept start: Int,
        scores s: UnsafeMutablePointer<Float>, indices ix: UnsafeMutablePointer<Int32>
    ) -> Int {
        precondition(baseIndex >= 0 && baseIndex + n <= Int(Int32.max), "item indices must fit in Int32")
        precondition(start >= 0 && start <= k, "\(start) items kept in a heap of \(k)")
        // A heap with room would take every finite score until it is full, and its k-th best
        // would then be any k items' worst, which most items beat: a floor first, from the
        // run's chunk maxima (at least k items of the run reach it, so the k best are among
        // them), and only items that reach it fill the heap — about k of them instead of k
        // unconditional ones followed by the many that beat a low k-th best.
        let floor: Float = start == k ? -.infinity : withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) {
            cocoon_topk_floor(base, n, k, $0.baseAddress!)
        }
        // In the kernel: 32 scores per comparison with the threshold, and only the few that
        // beat it touch the heap.
        return cocoon_topk_offer_run(base, n, Int64(baseIndex), s, ix, k, start, floor)
    }

    /// ``offerRun(_:count:baseIndex:k:kept:scores:indices:)`` for a full heap (k items kept),
    /// reading only the runs of 32 scores whose bit is set in `screen` (bit b % 64 of
    /// `screen[b / 64]`: `base[32b ..< min(32b + 32, count)]`; ``ItemPanels`` marks them as it
    /// computes the scores). The heap ends as the whole run would leave it when every score that
    /// beats its root lies in a marked run: the others never enter, and the root only rises.
    package static func offerScreened(
        _ base: UnsafePointer<Float>, count n: Int, baseIndex: Int, k: Int,
        scores s: UnsafeMutablePointer<Float>, indices ix: UnsafeMutablePointer<Int32>, screen: UnsafePointer<UInt64>
    ) {
        precondition(baseIndex >= 0 && baseIndex + n <= Int(Int32.max), "item indices must fit in Int32")
        precondition(k > 0, "a screened offer needs a full heap of k ≥ 1 items")
        cocoon_topk_offer_screened(base, n, Int64(baseIndex), s, ix, k, screen)
    }

    /// Offers `base[j]` (item `baseIndex + j`) for each of the `count` distinct j < n in `list`
    /// (any order), in increasing j, to a full heap of k (every kept index below `baseIndex`):
    /// the selection the whole run would give when no score left out can beat the heap.
    package static func offerListed(
        _ base: UnsafePointer<Float>, count n: Int, baseIndex: Int, k: Int,
        scores s: UnsafeMutablePointer<Float>, indices ix: UnsafeMutablePointer<Int32>,
        list: UnsafePointer<Int32>, listed: Int
    ) {
        precondition(baseIndex >= 0 && baseIndex + n <= Int(Int32.max), "item indices must fit in Int32")
        precondition(k > 0, "a listed offer needs a full heap of k ≥ 1 items")
        cocoon_topk_offer_listed(base, n, Int64(baseIndex), s, ix, k, list, listed)
    }

    /// The kept items, best first (score descending, then index ascending).
    public func sorted() -> [(index: Int32, score: Float)] {
        if count == 0 { return [] }
        return scores.withUnsafeBufferPointer { sb in
            indices.withUnsafeBufferPointer { ib in TopKSelector.sorted(count, sb.baseAddress!, ib.baseAddress!) }
        }
    }

    /// The kept item indices, best first.
    public func sortedIndices() -> [Int32] { sorted().map(\.index) }

    /// Moves the kept item indices, best first, into `output[offset...]`, empties the selector
    /// and returns how many were written. Needs no scratch memory.
    ///
    /// - Complexity: O(k log k).
    public mutating func drainSorted(into output: inout [Int32], at offset: Int) -> Int {
        let n = count
        precondition(offset >= 0 && offset + n <= output.count, "output too short")
        if n == 0 { return 0 }
        scores.withUnsafeMutableBufferPointer { sb in
            indices.withUnsafeMutableBufferPointer { ib in
                TopKSelector.drainSorted(n, sb.baseAddress!, ib.baseAddress!, into: &output, at: offset)
            }
        }
        _count = 0
        return n
    }

    /// The n items of a heap in raw memory, best first (``sorted()``, ``SelectedItems/sorted()``).
    static func sorted(_ n: Int, _ s: UnsafePointer<Float>, _ ix: UnsafePointer<Int32>) -> [(index: Int32, score: Float)] {
        var out: [(index: Int32, score: Float)] = []
        out.reserveCapacity(n)
        for i in 0..<n { out.append((ix[i], s[i])) }
        out.sort { TopKSelector.worse($1.score, $1.index, $0.score, $0.index) }
        return out
    }

    /// Moves the n items of a heap in raw memory into `output[offset...]`, best first (a heap
    /// the offer kernel kept sorted is read backwards, any other popped root by root).
    static func drainSorted(
        _ n: Int, _ s: UnsafeMutablePointer<Float>, _ ix: UnsafeMutablePointer<Int32>, into output: inout [Int32], at offset: Int
    ) {
        precondition(offset >= 0 && offset + n <= output.count, "output too short")
        if n == 0 { return }
        output.withUnsafeMutableBufferPointer { out in cocoon_heap_drain(s, ix, n, out.baseAddress! + offset) }
    }
}

/// One-shot top-k selection.
public enum TopK {
    /// The indices of the `k` best scores, best first (higher score, then lower index).
    ///
    /// - Parameters:
    ///   - scores: one score per item; `-infinity` and NaN are never selected.
    ///   - k: how many to keep (fewer are returned if fewer qualify).
    ///   - excluded: optional mask; `excluded[i] == true` removes item i.
    /// - Complexity: O(n + m log k).
    public static func select(_ scores: [Float], k: Int, excluded: [Bool]? = nil) -> [Int] {
        var sel = TopKSelector(k: k)
        if let excluded {
            precondition(excluded.count == scores.count, "mask has \(excluded.count) entries for \(scores.count) scores")
            for (i, s) in scores.enumerated() where !excluded[i] { sel.offer(s, index: Int32(i)) }
        } else {
            sel.offer(scores, baseIndex: 0)
        }
        return sel.sortedIndices().map(Int.init)
    }
}

/// The items one row of a block kept (``BlockScorer/topK(users:rows:k:workspace:adjust:emit:)``
/// hands one to `emit` per row): a view on the row's heap in the scorer's workspace, valid only
/// during that call, with the read-outs of ``TopKSelector``.
///
/// The heaps of a block lie together in one buffer, so reading one out touches no per-row
/// array (a selector per row kept two arrays apiece, scattered through memory, whose
/// uniqueness checks missed the cache once a row on W1).
public struct SelectedItems {
    let scores: UnsafeMutablePointer<Float>
    let indices: UnsafeMutablePointer<Int32>
    /// The number of items asked for.
    public let k: Int
    /// The number of items kept (≤ k).
    public private(set) var count: Int

    init(k: Int, count: Int, scores: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>) {
        self.k = k
        self.count = count
        self.scores = scores
        self.indices = indices
    }

    /// What ``TopKSelector/threshold`` is for the same items: the k-th best score once k items
    /// are kept, `-infinity` before, `+infinity` for k = 0.
    public var threshold: Float { k == 0 ? .infinity : (count < k ? -.infinity : scores[0]) }

    /// The kept items, best first (score descending, then index ascending).
    public func sorted() -> [(index: Int32, score: Float)] { TopKSelector.sorted(count, scores, indices) }

    /// The kept item indices, best first.
    public func sortedIndices() -> [Int32] { sorted().map(\.index) }

    /// Moves the kept item indices, best first, into `output[offset...]` and returns how many
    /// were written; the view is empty after (as ``TopKSelector/drainSorted(into:at:)``).
    ///
    /// - Complexity: O(k log k).
    public mutating func drainSorted(into output: inout [Int32], at offset: Int) -> Int {
        let n = count
        TopKSelector.drainSorted(n, scores, indices, into: &output, at: offset)
        count = 0
        return n
    }
}


extension TopKSelector {
    /// Offers every score of a run to the selector of its item's topic: `scores[j]` is item
    /// `baseIndex + j`'s, whose topic is `topics[baseIndex + j]` (in `0..<selectors.count`), and
    /// items go in index order, so each selector ends as if it had been offered its own items
    /// one by one. A C kernel finds the next score above its topic's threshold, eight at a time
    /// with AVX2 (up to 32 topics); only those touch a heap.
    ///
    /// - Complexity: O(n) comparisons plus O(log k) per item that enters a selector.
    public static func offerByTopic(
        _ scores: UnsafeBufferPointer<Float>, baseIndex: Int, topics: UnsafeBufferPointer<Int32>,
        into selectors: UnsafeMutableBufferPointer<TopKSelector>
    ) {
        let n = scores.count, g = selectors.count
        guard n > 0, g > 0, let x = scores.baseAddress, let t = topics.baseAddress else { return }
        precondition(baseIndex >= 0 && baseIndex + n <= topics.count, "topics of items \(baseIndex)..<\(baseIndex + n) missing")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(g, 32)) { thr in
            for q in 0..<thr.count { thr[q] = q < g ? selectors[q].threshold : .infinity }
            let topic = t + baseIndex, g32 = Int32(g)
            var j = cocoon_first_above_topic(x, topic, 0, n, thr.baseAddress!, g32)
            while j < n {
                let q = Int(topic[j])
                selectors[q].offer(x[j], index: Int32(baseIndex + j))
                thr[q] = selectors[q].threshold
                j = cocoon_first_above_topic(x, topic, j + 1, n, thr.baseAddress!, g32)
            }
        }
    }
}
