internal import _CocoonKernels

/// Scores a block of users against every item and keeps each user's top k, without ever
/// holding more than one cache-sized tile of scores.
///
/// For a user block `U` (b × d, rows of a larger user matrix) and the item matrix `V` (m × d),
/// the scores are `U · Vᵀ`. They are computed tile by tile: for items `[t, t + T)` one
/// single-threaded `sgemm` writes a b × T tile into the worker's ``ScoringWorkspace``, an
/// optional `adjust` closure edits each user's row of the tile (exclusions, offsets, noise),
/// and each row is offered to that user's heap of k (the selection of ``TopKSelector``, on
/// heaps kept together in the workspace), while the next tile's item rows are prefetched for
/// its products. Memory is O(b·T) per worker whatever the number of users and items.
///
/// - Complexity: O(b·m·d) for the products plus O(b·m) for the selection, per block.
public struct BlockScorer: Sendable {
    /// The items, one row per item (m × d).
    public let items: Matrix
    /// Items per tile.
    public let tileSize: Int
    /// The widest tile of this catalog: `tileSize`, or the catalog when it is narrower (what a
    /// workspace's tile needs room for, per row).
    var tileWidth: Int { min(tileSize, items.rows) }

    /// Creates a scorer.
    ///
    /// - Parameters:
    ///   - items: the item matrix (m × d).
    ///   - tileSize: items per tile (default 2,048: a 64-user tile of scores is 512 KiB).
    public init(items: Matrix, tileSize: Int = 2048) {
        precondition(tileSize >= 1, "tileSize must be ≥ 1, got \(tileSize)")
        self.items = items
        self.tileSize = tileSize
    }

    /// The scores of users `rows` of `users` against every item: a `rows.count × m` matrix.
    /// Use for one block at a time.
    ///
    /// - Complexity: O(rows.count · m · d).
    public func scores(users: Matrix, rows: Range<Int>) -> Matrix {
        precondition(users.cols == items.cols, "users have \(users.cols) dimensions, items \(items.cols)")
        var out = Matrix(rows: rows.count, cols: items.rows)
        Matrix.gemmRows(users, rows: rows, items, itemRange: 0..<items.rows, into: &out)
        return out
    }

    /// Only the products of ``topK(users:rows:k:workspace:adjust:emit:)``: every tile of
    /// `rows` against all items, written to the workspace and dropped. The benchmark harness
    /// measures the bare `sgemm` cost of a step with it.
    public func gemmOnly(users: Matrix, rows: Range<Int>, workspace: ScoringWorkspace) {
        precondition(users.cols == items.cols, "users have \(users.cols) dimensions, items \(items.cols)")
        let b = rows.count
        if b == 0 { return }
        workspace.prepare(rows: b, tile: tileWidth, k: 1)
        var t0 = 0
        while t0 < items.rows {
            let t1 = min(t0 + tileSize, items.rows)
            workspace.withTile(rows: b, width: t1 - t0) { tile in
                Matrix.gemmRows(users, rows: rows, items, itemRange: t0..<t1, into: &tile)
            }
            t0 = t1
        }
    }

    /// Computes the top `k` items of every user in `rows`.
    ///
    /// - Parameters:
    ///   - users: the user matrix (n × d); only `rows` are read.
    ///   - rows: the block of users.
    ///   - k: items to keep per user.
    ///   - workspace: the calling worker's scratch space.
    ///   - adjust: optional; called for every user row and tile with the block-local row
    ///     index, the index of the tile's first item and the tile's scores (one per item),
    ///     before selection. Set a score to `-infinity` to exclude an item.
    ///   - emit: called once per user, in block order, with the block-local row index and the
    ///     user's best items (drain them with ``SelectedItems/drainSorted(into:at:)``; the view
    ///     is only valid during the call).
    public func topK(
        users: Matrix, rows: Range<Int>, k: Int,
        workspace: ScoringWorkspace,
        adjust: ((_ row: Int, _ firstItem: Int, _ scores: inout MutableSpan<Float>) -> Void)? = nil,
        emit: (_ row: Int, _ selected: inout SelectedItems) -> Void
    ) {
        precondition(users.cols == items.cols, "users have \(users.cols) dimensions, items \(items.cols)")
        let b = rows.count
        if b == 0 { return }
        workspace.prepare(rows: b, tile: tileWidth, k: k)
        let m = items.rows
        let timed = PhaseClock.isEnabled
        var gemmTime: UInt64 = 0, selectTime: UInt64 = 0
        // The tile is reached through a buffer pointer for the whole block, and the block's heaps
        // (one buffer, k slots a row) through the workspace's pointers: per row and tile only the
        // selection itself runs (no array, uniqueness or exclusivity checks, and the heaps stay
        // together in cache).
        let heapScores = workspace.heapScores.base, heapIndices = workspace.heapIndices.base
        let kept = workspace.kept.base
        let d = items.cols
        // Unwrapped once: binding the optional closure per row retained and released its
        // context every time (half a million times a step at W2).
        let adjustRow = adjust ?? { _, _, _ in }
        let adjusts = adjust != nil
        workspace.withTile { tile in items.storage.withUnsafeBufferPointer { itemRows in
            var t0 = 0
            while t0 < m {
                let t1 = min(t0 + tileSize, m)
                let width = t1 - t0
                let c0 = PhaseClock.start()
                var view = TileView(base: tile.baseAddress!, rows: b, cols: width)
                Matrix.gemmRows(users, rows: rows, items, itemRange: t0..<t1, into: &view)
                let c1 = PhaseClock.start()
                // The next tile's item rows (the next block's first tile after the last one),
                // asked for a slice per row while this tile's rows are selected: the products
                // read them from memory otherwise (what the rest of the step streams through
                // the cache evicts them), and that made the step's sgemm slower than the bare one.
                let next = t1 < m ? t1..<min(t1 + tileSize, m) : 0..<min(tileSize, m)
                let nextBase = itemRows.baseAddress! + next.lowerBound * d
                let nextBytes = next.count * d * MemoryLayout<Float>.stride
                let slice = (nextBytes / b + 63) & ~63
                for r in 0..<b {
                    let from = r * slice
                    if from < nextBytes { cocoon_prefetch(UnsafeRawPointer(nextBase) + from, min(slice, nextBytes - from)) }
                    let row = UnsafeMutableBufferPointer(rebasing: tile[(r * width)..<((r + 1) * width)])
                    if adjusts {
                        var span = row.mutableSpan
                        adjustRow(r, t0, &span)
                    }
                    if k > 0 {
                        kept[r] = TopKSelector.offerRun(
                            row.baseAddress!, count: width, baseIndex: t0, k: k, kept: kept[r],
                            scores: heapScores + r * k, indices: heapIndices + r * k)
                    }
                }
                if timed {
                    gemmTime &+= c1 &- c0
                    selectTime &+= PhaseClock.now() &- c1
                }
                t0 = t1
            }
            for r in 0..<b {
                var selected = SelectedItems(k: k, count: kept[r], scores: heapScores + r * k, indices: heapIndices + r * k)
                emit(r, &selected)
            }
        } }
        if timed {
            PhaseClock.shared.add(.scoring, nanoseconds: gemmTime)
            PhaseClock.shared.add(.topK, nanoseconds: selectTime)
        }
    }
}

/// Scratch memory for one worker of a ``BlockScorer``: a score tile and a heap of k per row.
///
/// Reused across blocks and steps, so scoring allocates nothing after the first block. A
/// workspace belongs to one worker at a time (index it by the worker number of
/// ``BlockExecutor``).
public final class ScoringWorkspace: @unchecked Sendable {
    private var tile: [Float] = []
    /// The block's heaps while its tiles are scored: k slots a row, and each row's count
    /// (pointer storage: `topK` reads their `base` once per block).
    private(set) var heapScores = SharedArray<Float>(repeating: 0, count: 0)
    private(set) var heapIndices = SharedArray<Int32>(repeating: 0, count: 0)
    private(set) var kept = SharedArray<Int>(repeating: 0, count: 0)

    /// Creates an empty workspace; it grows on first use.
    public init() {}

    func prepare(rows: Int, tile size: Int, k: Int) {
        if tile.count < rows * size { tile = [Float](repeating: 0, count: rows * size) }
        if heapScores.count < rows * k {
            heapScores = SharedArray(repeating: 0, count: rows * k)
            heapIndices = SharedArray(repeating: 0, count: rows * k)
        }
        if kept.count < rows { kept = SharedArray(repeating: 0, count: rows) }
        kept.base.update(repeating: 0, count: rows)
    }

    func withTile(rows: Int, width: Int, _ body: (inout TileView) -> Void) {
        tile.withUnsafeMutableBufferPointer { p in
            var view = TileView(base: p.baseAddress!, rows: rows, cols: width)
            body(&view)
        }
    }

    func withTile(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        tile.withUnsafeMutableBufferPointer { body($0) }
    }
}

// A rows × cols row-major view of workspace memory (internal: pointer plumbing for gemm).
struct TileView {
    let base: UnsafeMutablePointer<Float>
    let rows: Int
    let cols: Int
}
