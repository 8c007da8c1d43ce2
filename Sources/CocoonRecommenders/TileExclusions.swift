import CocoonMath

/// Each user's soft-excluded items (consumed, recently shown) for one scored block, grouped by
/// the score tile they fall in.
///
/// The control layer pushes these items down in every tile of scores the block scorer hands it.
/// Grouping them by tile once per user (a counting sort on `item >> log2(tileSize)`: two passes,
/// no comparison sort, no allocation per user) lets each tile visit only its own items, where a
/// sorted list would need a sort per user and a search per tile. Items may repeat; see
/// ``pushDown(row:tile:first:scores:)``.
package struct TileExclusions {
    /// The catalog's score tiles.
    package let tiles: ScoreTiles
    package var tileSize: Int { tiles.tileSize }
    package var tileCount: Int { tiles.count }
    private let shift: Int
    /// The items, row by row and, within a row, tile by tile.
    private var items: [Int32] = []
    /// `starts[r * tileCount + t] ..< starts[r * tileCount + t + 1]`: row r's items in tile t.
    private var starts: [Int32] = [0]
    private var counts: [Int32]

    /// An empty grouping for a catalog of `itemCount` items scored `tileSize` at a time.
    package init(tileSize: Int, itemCount: Int) {
        tiles = ScoreTiles(tileSize: tileSize, itemCount: itemCount)
        shift = tileSize.trailingZeroBitCount
        counts = [Int32](repeating: 0, count: 4 * tiles.count)
    }

    /// Number of rows added.
    package var rows: Int { (starts.count - 1) / tileCount }

    /// Adds the next row's items (any order, repeats allowed; each in the catalog).
    ///
    /// The row is counted and placed as four contiguous quarters at once, each with its own
    /// counters: one counter per tile made every item wait for the previous increment of the
    /// same counter (a few tiles, hundreds of items: a chain through memory, 3% of W2's
    /// samples). Within a tile the quarters' items follow each other, so the order is the
    /// row's.
    package mutating func addRow(_ row: [Int32]) { addRow(row[...]) }

    /// The same for a slice (a row of a flat buffer).
    package mutating func addRow(_ row: ArraySlice<Int32>) {
        let t = tileCount, s = shift
        let base = items.count
        if row.isEmpty {
            starts.append(contentsOf: repeatElement(Int32(base), count: t))
            return
        }
        let n = row.count, quarter = n / 4
        counts.withUnsafeMutableBufferPointer { c in
            c.update(repeating: 0)
            let c0 = c.baseAddress!, c1 = c0 + t, c2 = c1 + t, c3 = c2 + t
            row.withUnsafeBufferPointer { rowBuffer in
                let r = rowBuffer.baseAddress!
                for j in 0..<quarter {
                    c0[Int(r[j]) >> s] &+= 1
                    c1[Int(r[quarter + j]) >> s] &+= 1
                    c2[Int(r[2 * quarter + j]) >> s] &+= 1
                    c3[Int(r[3 * quarter + j]) >> s] &+= 1
                }
                for j in (4 * quarter)..<n { c3[Int(r[j]) >> s] &+= 1 }
                // Counts become each quarter's write position within the row, tile by tile
                // and quarter by quarter, and the tiles' ends.
                starts.appendInPlace(upTo: t, filler: 0) { ends in
                    var at: Int32 = 0
                    for q in 0..<t {
                        let m0 = c0[q], m1 = c1[q], m2 = c2[q], m3 = c3[q]
                        c0[q] = at
                        c1[q] = at &+ m0
                        c2[q] = at &+ m0 &+ m1
                        c3[q] = at &+ m0 &+ m1 &+ m2
                        at = at &+ m0 &+ m1 &+ m2 &+ m3
                        ends[q] = Int32(base) &+ at
                    }
                    return t
                }
                items.appendInPlace(upTo: n, filler: 0) { room in
                    let out = room.baseAddress!
                    @inline(__always) func place(_ i: Int32, _ lane: UnsafeMutablePointer<Int32>) {
                        let q = Int(i) >> s
                        out[Int(lane[q])] = i
                        lane[q] &+= 1
                    }
                    for j in 0..<quarter {
                        place(r[j], c0)
                        place(r[quarter + j], c1)
                        place(r[2 * quarter + j], c2)
                        place(r[3 * quarter + j], c3)
                    }
                    for j in (4 * quarter)..<n { place(r[j], c3) }
                    return n
                }
            }
        }
    }

    /// Subtracts 10⁴ from the score of every item of row r in tile t (scores of items
    /// `first ..< first + scores.count`), once per distinct item: new values are computed from
    /// the unedited scores first, then written, so a repeated item gets the same value twice.
    package func pushDown(row r: Int, tile t: Int, first: Int, scores: inout MutableSpan<Float>) {
        let lo = Int(starts[r * tileCount + t]), hi = Int(starts[r * tileCount + t + 1])
        if lo == hi { return }
        // Every item of the group lies in the tile (grouped by `item >> log2(tileSize)`), so
        // the scores are reached through a pointer without a check per item.
        precondition(tiles.isTile(t, first: first, scores: scores.count), "scores of items \(first)..<\(first + scores.count) are not tile \(t)")
        items.withUnsafeBufferPointer { all in
            scores.withUnsafeMutableBufferPointer { row in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: hi - lo) { lowered in
                    for x in lo..<hi { lowered[x &- lo] = row[Int(all[x]) &- first] - 1e4 }
                    for x in lo..<hi { row[Int(all[x]) &- first] = lowered[x &- lo] }
                }
            }
        }
    }

    /// Sets the score of every item of row r in tile t to `-infinity` (never shown).
    package func exclude(row r: Int, tile t: Int, first: Int, scores: inout MutableSpan<Float>) {
        let lo = Int(starts[r * tileCount + t]), hi = Int(starts[r * tileCount + t + 1])
        if lo == hi { return }
        precondition(tiles.isTile(t, first: first, scores: scores.count), "scores of items \(first)..<\(first + scores.count) are not tile \(t)")
        items.withUnsafeBufferPointer { all in
            scores.withUnsafeMutableBufferPointer { row in
                for x in lo..<hi { row[Int(all[x]) &- first] = -.infinity }
            }
        }
    }

    /// Row r's items in tile t, in the order they were added (test hook).
    package func items(row r: Int, tile t: Int) -> [Int32] {
        Array(items[Int(starts[r * tileCount + t])..<Int(starts[r * tileCount + t + 1])])
    }
}

/// A catalog of `itemCount` items scored `tileSize` (a power of two) at a time: tile t holds
/// items `t · tileSize ..< min((t + 1) · tileSize, itemCount)`.
package struct ScoreTiles: Sendable {
    package let tileSize: Int
    package let itemCount: Int
    /// Number of tiles (at least one).
    package let count: Int

    package init(tileSize: Int, itemCount: Int) {
        precondition(tileSize > 0 && tileSize & (tileSize - 1) == 0, "tileSize must be a power of two, got \(tileSize)")
        self.tileSize = tileSize
        self.itemCount = itemCount
        count = max((itemCount + tileSize - 1) / tileSize, 1)
    }

    /// Whether `scores` scores from item `first` are the whole of tile t: the check that lets
    /// the control layer reach a tile's scores through a pointer without one per item.
    package func isTile(_ t: Int, first: Int, scores: Int) -> Bool {
        t >= 0 && t < count && first == t * tileSize && scores == min(tileSize, itemCount - first)
    }
}

/// The items of each primary topic grouped by score tile (built once per catalog), so a topic
/// offset visits only its topic's items in a tile without a search.
package struct TopicTiles: Sendable {
    /// The catalog's score tiles.
    package let tiles: ScoreTiles
    package var tileCount: Int { tiles.count }
    /// Topic-major, ascending within a topic.
    let items: [Int32]
    /// `starts[q * (tileCount + 1) + t]`: where topic q's items in tile t begin; the entry at
    /// t = tileCount is the end of topic q.
    let starts: [Int32]

    package init(primary: [Int32], topicCount g: Int, tileSize: Int) {
        tiles = ScoreTiles(tileSize: tileSize, itemCount: primary.count)
        let t = tiles.count
        var byTopic = [[Int32]](repeating: [], count: g)
        for (i, q) in primary.enumerated() { byTopic[Int(q)].append(Int32(i)) }
        var items: [Int32] = []
        var starts: [Int32] = []
        items.reserveCapacity(primary.count)
        starts.reserveCapacity(g * (t + 1))
        let shift = tileSize.trailingZeroBitCount
        for list in byTopic {
            var next = 0
            for tile in 0...t {
                while next < list.count && Int(list[next]) >> shift < tile { next += 1 }
                starts.append(Int32(items.count + next))
            }
            items.append(contentsOf: list)
        }
        self.items = items
        self.starts = starts
    }

    /// Number of items whose primary topic is q.
    package func size(of q: Int) -> Int { Int(starts[q * (tileCount + 1) + tileCount] - starts[q * (tileCount + 1)]) }

    /// Topic q's items in tile t (test hook).
    package func items(topic q: Int, tile t: Int) -> [Int32] {
        Array(items[Int(starts[q * (tileCount + 1) + t])..<Int(starts[q * (tileCount + 1) + t + 1])])
    }
}

/// Each row's topic offsets for one scored block: "not this kind of content" penalties,
/// blocked topics (−∞) and declared-tag boosts, added to the scores of the topic's items.
///
/// A row whose offset topics hold few items visits just those items; one whose offset topics
/// hold more passes over every score of the tile with ``TopicOffsets/add(to:topics:offsets:)``,
/// which leaves the scores of zero-offset topics as they are, so both give the same bits. A
/// visited item costs about four times a streamed one with AVX2 (a tile of scores is larger
/// than the cache: measured on W1) and about sixteen times one of AVX-512's 16-score steps,
/// hence a quarter or a sixteenth of the catalog (``TopicOffsets/fullRowDivisor(topicCount:)``).
package struct TopicOffsetRows {
    let topicCount: Int
    /// Floats a row: at least 32, so with up to 32 topics the rows are ``RowTopicOffsets``' tables.
    private let stride: Int
    private var values: [Float] = []
    /// Per row: 0 no offsets, 1 visit the offset topics' items, 2 pass over every item (the
    /// same scores: either way only the items of offset topics change).
    private var mode: [UInt8] = []
    /// A row whose offset topics hold more than 1 / this of the items is passed over whole.
    private let fullRowDivisor: Int

    package init(topicCount: Int) {
        self.topicCount = topicCount
        stride = max(topicCount, RowTopicOffsets.stride)
        fullRowDivisor = TopicOffsets.fullRowDivisor(topicCount: topicCount)
    }

    /// Adds the next row's offsets (nil: none).
    package mutating func addRow(_ offsets: [Float]?, topics: TopicTiles, itemCount: Int) {
        addRow(offsets?[...], topics: topics, itemCount: itemCount)
    }

    /// The same for a slice (a row of a flat buffer).
    package mutating func addRow(_ offsets: ArraySlice<Float>?, topics: TopicTiles, itemCount: Int) {
        guard let offsets else {
            mode.append(0)
            return
        }
        let o0 = offsets.startIndex
        let r = mode.count
        if values.count < (r + 1) * stride { values.append(contentsOf: repeatElement(0, count: (r + 1) * stride - values.count)) }
        var mass = 0
        for q in 0..<topicCount where offsets[o0 + q] != 0 {
            values[r * stride + q] = offsets[o0 + q]
            mass += topics.size(of: q)
        }
        mode.append(fullRowDivisor * mass > itemCount ? 2 : 1)
    }

    /// Adds row r's offsets to the scores of tile t (items `first ..< first + scores.count`);
    /// `primary` is every item's primary topic.
    package func apply(row r: Int, tile t: Int, first: Int, scores: inout MutableSpan<Float>, topics: TopicTiles, primary: [Int32]) {
        let m = mode[r]
        if m == 0 { return }
        let g = topicCount
        // Both passes reach the tile's scores (and its items' topics) through pointers: the
        // whole tile is checked once instead of each item.
        precondition(
            topics.tiles.isTile(t, first: first, scores: scores.count) && primary.count == topics.tiles.itemCount,
            "scores of items \(first)..<\(first + scores.count) are not tile \(t)")
        values.withUnsafeBufferPointer { v in
            let off = v.baseAddress! + r * stride
            if m == 2 {
                primary.withUnsafeBufferPointer { prim in
                    scores.withUnsafeMutableBufferPointer { row in
                        TopicOffsets.add(
                            to: row, topics: prim.baseAddress! + first, offsets: UnsafeBufferPointer(start: off, count: g))
                    }
                }
                return
            }
            // A topic's items of tile t lie in the tile (TopicTiles groups them so).
            topics.items.withUnsafeBufferPointer { items in
                topics.starts.withUnsafeBufferPointer { starts in
                    scores.withUnsafeMutableBufferPointer { row in
                        // Four items at a time (distinct items: the adds are independent), the
                        // offsets taken from the row pointer without overflow checks: every
                        // item of the group lies in the tile.
                        let x0 = row.baseAddress! - first, it = items.baseAddress!
                        for q in 0..<g where off[q] != 0 {
                            let x = off[q]
                            let s = q * (topics.tileCount + 1) + t
                            var i = Int(starts[s])
                            let end = Int(starts[s + 1])
                            while i &+ 4 <= end {
                                let a = Int(it[i]), b = Int(it[i &+ 1]), c = Int(it[i &+ 2]), e = Int(it[i &+ 3])
                                x0[a] = x0[a] + x
                                x0[b] = x0[b] + x
                                x0[c] = x0[c] + x
                                x0[e] = x0[e] + x
                                i &+= 4
                            }
                            while i < end {
                                let a = Int(it[i])
                                x0[a] = x0[a] + x
                                i &+= 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether some row has offsets.
    package var hasOffsets: Bool { mode.contains { $0 != 0 } }

    /// The rows' offsets as ``RowTopicOffsets`` over items whose topics are `primary` (sharing
    /// this value's storage), or nil when no row has offsets or there are more than 32 topics.
    package func kernelOffsets(primary: [Int32]) -> RowTopicOffsets? {
        guard topicCount <= RowTopicOffsets.stride, hasOffsets else { return nil }
        return RowTopicOffsets(topics: primary, tables: values, rows: mode, topicCount: topicCount)
    }
}
