/// Keeps the `k` best of a stream of scored items: higher score first, then lower item index.
///
/// A bounded min-heap whose root is the worst kept item. Row scans (``offer(_:baseIndex:)``)
/// screen 16 scores at a time with one SIMD comparison against the current k-th score, so most
/// items cost a load and a compare; only the few that beat the threshold touch the heap.
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
            // Sift up.
            var i = _count
            _count += 1
            while i > 0 {
                let p = (i - 1) >> 1
                if TopKSelector.worse(score, index, scores[p], indices[p]) {
                    scores[i] = scores[p]
                    indices[i] = indices[p]
                    i = p
                } else {
                    break
                }
            }
            scores[i] = score
            indices[i] = index
            return
        }
        guard TopKSelector.worse(scores[0], indices[0], score, index) else { return }
        replaceRoot(score, index)
    }

    @inlinable
    mutating func replaceRoot(_ score: Float, _ index: Int32) {
        let n = _count
        scores.withUnsafeMutableBufferPointer { s in
            indices.withUnsafeMutableBufferPointer { ix in
                TopKSelector.siftDown(s.baseAddress!, ix.baseAddress!, n, score, index)
            }
        }
    }

    /// Replaces the root of the heap `s`/`ix` of `n` items by (score, index) and restores the
    /// heap order.
    @inline(__always) @usableFromInline
    static func siftDown(_ s: UnsafeMutablePointer<Float>, _ ix: UnsafeMutablePointer<Int32>, _ n: Int, _ score: Float, _ index: Int32) {
        var i = 0
        while true {
            let l = 2 &* i &+ 1
            if l >= n { break }
            var c = l
            let r = l &+ 1
            if r < n && worse(s[r], ix[r], s[l], ix[l]) { c = r }
            if worse(s[c], ix[c], score, index) {
                s[i] = s[c]
                ix[i] = ix[c]
                i = c
            } else {
                break
            }
        }
        s[i] = score
        ix[i] = index
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
        guard let base = buf.baseAddress else { return }
        let n = buf.count
        var j = 0
        // Fill phase: until k items are kept everything finite enters.
        while j < n && count < k {
            offer(base[j], index: Int32(baseIndex + j))
            j += 1
        }
        if j >= n { return }
        let kept = _count
        scores.withUnsafeMutableBufferPointer { sb in
            indices.withUnsafeMutableBufferPointer { ib in
                let hs = sb.baseAddress!, hi = ib.baseAddress!
                var thr = hs[0]
                let raw = UnsafeRawPointer(base)
                while j &+ 16 <= n {
                    let v = raw.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self)
                    if any(v .> SIMD16<Float>(repeating: thr)) {
                        for t in 0..<16 {
                            let s = base[j &+ t]
                            if s > thr {
                                TopKSelector.siftDown(hs, hi, kept, s, Int32(baseIndex &+ j &+ t))
                                thr = hs[0]
                            }
                        }
                    }
                    j &+= 16
                }
                while j < n {
                    let s = base[j]
                    if s > thr {
                        TopKSelector.siftDown(hs, hi, kept, s, Int32(baseIndex &+ j))
                        thr = hs[0]
                    }
                    j &+= 1
                }
            }
        }
    }

    /// The kept items, best first (score descending, then index ascending).
    public func sorted() -> [(index: Int32, score: Float)] {
        var out: [(index: Int32, score: Float)] = []
        out.reserveCapacity(count)
        for i in 0..<count { out.append((indices[i], scores[i])) }
        out.sort { TopKSelector.worse($1.score, $1.index, $0.score, $0.index) }
        return out
    }

    /// The kept item indices, best first.
    public func sortedIndices() -> [Int32] { sorted().map(\.index) }

    /// Moves the kept item indices, best first, into `output[offset...]`, empties the selector
    /// and returns how many were written. Pops the heap from the worst end, so it needs no
    /// scratch memory.
    ///
    /// - Complexity: O(k log k).
    public mutating func drainSorted(into output: inout [Int32], at offset: Int) -> Int {
        let n = count
        var pos = offset + n - 1
        while count > 0 {
            output[pos] = indices[0]
            pos -= 1
            _count -= 1
            if _count > 0 { replaceRoot(scores[_count], indices[_count]) }
        }
        return n
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
