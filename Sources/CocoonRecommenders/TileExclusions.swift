/// Each user's soft-excluded items (consumed, recently shown) for one scored block, grouped by
/// the score tile they fall in.
///
/// The control layer pushes these items down in every tile of scores the block scorer hands it.
/// Grouping them by tile once per user (a counting sort on `item >> log2(tileSize)`: two passes,
/// no comparison sort, no allocation per user) lets each tile visit only its own items, where a
/// sorted list would need a sort per user and a search per tile. Items may repeat; see
/// ``pushDown(row:tile:first:scores:)``.
package struct TileExclusions {
    /// Items per score tile (a power of two).
    package let tileSize: Int
    /// Tiles of the catalog.
    package let tileCount: Int
    private let shift: Int
    /// The items, row by row and, within a row, tile by tile.
    private var items: [Int32] = []
    /// `starts[r * tileCount + t] ..< starts[r * tileCount + t + 1]`: row r's items in tile t.
    private var starts: [Int32] = [0]
    private var counts: [Int32]

    /// An empty grouping for a catalog of `itemCount` items scored `tileSize` at a time.
    package init(tileSize: Int, itemCount: Int) {
        precondition(tileSize > 0 && tileSize & (tileSize - 1) == 0, "tileSize must be a power of two, got \(tileSize)")
        self.tileSize = tileSize
        tileCount = max((itemCount + tileSize - 1) / tileSize, 1)
        shift = tileSize.trailingZeroBitCount
        counts = [Int32](repeating: 0, count: tileCount)
    }

    /// Number of rows added.
    package var rows: Int { (starts.count - 1) / tileCount }

    /// Adds the next row's items (any order, repeats allowed; each in the catalog).
    package mutating func addRow(_ row: [Int32]) {
        let t = tileCount, s = shift
        let base = items.count
        items.append(contentsOf: repeatElement(0, count: row.count))
        counts.withUnsafeMutableBufferPointer { c in
            c.update(repeating: 0)
            row.withUnsafeBufferPointer { r in
                for i in r { c[Int(i) >> s] &+= 1 }
                // Counts become each tile's write position.
                var at = Int32(base)
                for q in 0..<t {
                    let n = c[q]
                    c[q] = at
                    at &+= n
                    starts.append(at)
                }
                items.withUnsafeMutableBufferPointer { out in
                    for i in r {
                        let q = Int(i) >> s
                        out[Int(c[q])] = i
                        c[q] &+= 1
                    }
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
        items.withUnsafeBufferPointer { all in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: hi - lo) { lowered in
                for x in lo..<hi { lowered[x - lo] = scores[Int(all[x]) - first] - 1e4 }
                for x in lo..<hi { scores[Int(all[x]) - first] = lowered[x - lo] }
            }
        }
    }

    /// Row r's items in tile t, in the order they were added (test hook).
    package func items(row r: Int, tile t: Int) -> [Int32] {
        Array(items[Int(starts[r * tileCount + t])..<Int(starts[r * tileCount + t + 1])])
    }
}
