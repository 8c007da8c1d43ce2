internal import _CocoonKernels
import Foundation

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
/// Where its own kernel gives the bits `sgemm` would (``Products``), the scorer computes the
/// scores itself from items packed once (``ItemPanels``), twelve users at a time, and selects
/// from those twelve rows while they are in cache: no tile is zeroed, no item tile is packed
/// again for every block, and the scores never go out to memory. Once a user's heap is full,
/// the kernel also marks the runs of 32 items where a score beats its k-th best so far, and the
/// selection reads only those runs (22% of them at W2: the kernel compares the scores before
/// `adjust`, so the runs of items the control layer then pushes down or excludes count too).
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
        self.init(items: items, tileSize: tileSize, products: Self.scoringProducts(dimension: items.cols, tileSize: tileSize))
    }

    /// OpenBLAS kernels whose `sgemm` computes each score as one chain of fused multiply-adds in
    /// dimension order (``products(blasCore:dimension:tileSize:vectorized:)``).
    package static let fusedChainKernels = ["SkylakeX", "Cooperlake"]

    /// The products this process's scorers of `dimension` and `tileSize` use: the rule of
    /// ``products(blasCore:dimension:tileSize:vectorized:)`` for the loaded library's kernel,
    /// unless `COCOON_SCORE_PRODUCTS=sgemm` or the start-up check (``panelsAgreeWithSgemm``)
    /// says otherwise.
    package static func scoringProducts(dimension: Int, tileSize: Int) -> Products {
        let rule = ruleForThisProcess(dimension: dimension, tileSize: tileSize)
        return rule != .sgemm && panelsAgreeWithSgemm ? rule : .sgemm
    }

    /// The rule for the loaded library's kernel and this machine, before the start-up check.
    static func ruleForThisProcess(dimension: Int, tileSize: Int) -> Products {
        products(
            blasCore: BLASRuntime.coreName, dimension: dimension, tileSize: tileSize, vectorized: ItemPanels.vectorized && !sgemmRequested)
    }

    /// The panels that score a tile of `rows` users × `width` items, or nil for `sgemm`: none
    /// with `.sgemm` products, and none where OpenBLAS' `sgemm` takes its small-matrix path,
    /// which sums otherwise than the chain — 0.3.21's SkylakeX rule for the transposed-by-normal
    /// products a tile is (at most 1,200 scores, at least 32 dimensions: a tiny last block
    /// against a narrow catalog).
    func tilePanels(rows: Int, width: Int) -> ItemPanels? {
        rows * width <= 1200 && items.cols >= 32 ? nil : panels
    }

    /// Whether this process's `sgemm` gives the vectorized panel kernel's bits, checked once on
    /// fixed random data (25 users: two register blocks and a rest; 128 items in two tiles of
    /// 64; 1, 16, 64, 100 and 256 dimensions). False without AVX-512. ``products(blasCore:dimension:tileSize:vectorized:)``
    /// trusts the library's kernel by name; this makes sure of it, so a library whose kernel of
    /// that name rounds otherwise keeps its `sgemm`.
    package static let panelsAgreeWithSgemm: Bool = {
        guard ItemPanels.vectorized else { return false }
        var rng = Seed(0x5ca1e).stream("panel-check")
        for d in [1, 16, 64, 100, 256] {
            let u = Matrix(rows: 25, cols: d, values: (0..<(25 * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let v = Matrix(rows: 128, cols: d, values: (0..<(128 * d)).map { _ in Float(Sample.normal(using: &rng)) })
            let panels = ItemPanels(v, avx512: true)
            for tile in [0..<64, 64..<128] {
                var want = Matrix(rows: 25, cols: tile.count)
                Matrix.gemmRows(u, rows: 0..<25, v, itemRange: tile, into: &want)
                var got = [Float](repeating: .nan, count: 25 * tile.count)
                u.storage.withUnsafeBufferPointer { up in
                    got.withUnsafeMutableBufferPointer { g in
                        panels.products(
                            users: up.baseAddress!, rows: 25, rowStride: d, first: tile.lowerBound, width: tile.count,
                            into: g.baseAddress!, outStride: tile.count)
                    }
                }
                if !zip(got, want.storage).allSatisfy({ $0.bitPattern == $1.bitPattern }) { return false }
            }
        }
        return true
    }()

    /// Whether `COCOON_SCORE_PRODUCTS=sgemm` asks every scorer of the process for OpenBLAS'
    /// products (read once): a way to check that the panel kernel changes no result.
    package static let sgemmRequested: Bool = ProcessInfo.processInfo.environment["COCOON_SCORE_PRODUCTS"] == "sgemm"

    /// How this process's scorers compute their products, in words (`cocoon --version`).
    public static var productsSummary: String {
        if ruleForThisProcess(dimension: 64, tileSize: 2048) == .sgemm { return "OpenBLAS sgemm" }
        return panelsAgreeWithSgemm
            ? "own AVX-512 kernel up to 256 dimensions (checked: the bits of OpenBLAS' \(BLASRuntime.coreName) sgemm)"
            : "OpenBLAS sgemm (the own kernel's bits differ from this library's \(BLASRuntime.coreName) sgemm)"
    }

    /// Creates a scorer that computes its products as `products` says (tests: the panel kernel
    /// on any machine, with or without AVX-512), skipping items by their bounds where `pruning`
    /// and the catalog allow (``ItemBounds``).
    package init(items: Matrix, tileSize: Int, products: Products, pruning: Bool = BlockScorer.pruningRequested) {
        precondition(tileSize >= 1, "tileSize must be ≥ 1, got \(tileSize)")
        if case .panels = products {
            precondition(tileSize % 16 == 0, "panel products need tiles of a multiple of 16 items, got \(tileSize)")
        }
        self.items = items
        self.tileSize = tileSize
        self.products = products
        if case .panels(let avx512) = products, items.rows > 0, items.cols > 0 {
            panels = ItemPanels(items, avx512: avx512)
            bounds = pruning ? ItemBounds(items, tileSize: tileSize, avx512: avx512) : nil
        } else {
            panels = nil
            bounds = nil
        }
    }

    /// Whether the scorers of this process skip items by their bounds (``ItemBounds``): unless
    /// `COCOON_SCORE_PRUNING=off` (read once), a way to check that skipping changes no result.
    package static let pruningRequested: Bool = ProcessInfo.processInfo.environment["COCOON_SCORE_PRUNING"] != "off"

    /// Whether this scorer skips the products of items that cannot be among a user's best
    /// (own products over a catalog with a basis that fits it, ``ItemBounds``).
    public var prunes: Bool { bounds != nil }

    /// How a scorer computes its scores.
    public enum Products: Sendable, Equatable {
        /// One single-threaded OpenBLAS `sgemm` per block and tile.
        case sgemm
        /// Its own kernel over ``ItemPanels``: twelve users by 32 items in AVX-512 registers
        /// (`vectorized`), or one score at a time; the same bits either way.
        case panels(vectorized: Bool)
    }

    /// How this scorer computes its scores.
    public let products: Products
    /// The items packed for `.panels` products.
    let panels: ItemPanels?
    /// The bounds that skip items, with `.panels` products where the catalog has them.
    let bounds: ItemBounds?

    /// Whether ``topK(users:rows:k:workspace:offsets:adjust:emit:)`` adds topic offsets in its
    /// products kernel (AVX-512 panels), where they cost next to nothing; after an sgemm they
    /// are one more pass over each row of the tile.
    public var addsOffsetsInKernel: Bool { products == .panels(vectorized: true) }

    /// The products a scorer uses: its own kernel where it is both faster and the same bits as
    /// the `sgemm` it replaces, else `sgemm`.
    ///
    /// OpenBLAS' `SkylakeX` and `Cooperlake` kernels (0.3.21) compute every score as one chain of
    /// fused multiply-adds in dimension order, started from zero, while the dimension fits one of
    /// their k blocks; at 384 dimensions they split it. The panel kernel computes the same chains
    /// (compared bit for bit with the library's `sgemm` at 16 to 320 dimensions; used up to 256),
    /// about 1.3 times as fast at d = 64 on an Intel Xeon because it neither zeroes a tile nor
    /// packs the items again per call. Other OpenBLAS kernels round differently (`Haswell` and
    /// `Zen` in a few percent of the scores, `SandyBridge` and `Prescott` without fused adds),
    /// so results keep depending on the library's kernel only (README, Determinism).
    ///
    /// - Parameters:
    ///   - blasCore: the OpenBLAS kernel in use (``BLASRuntime/coreName``).
    ///   - dimension: d.
    ///   - tileSize: items per tile (the panel kernel needs a multiple of 16).
    ///   - vectorized: whether the machine runs the panel kernel with AVX-512.
    public static func products(blasCore: String, dimension: Int, tileSize: Int, vectorized: Bool) -> Products {
        vectorized && fusedChainKernels.contains(blasCore) && (1...256).contains(dimension) && tileSize % 16 == 0
            ? .panels(vectorized: true) : .sgemm
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

    /// Only the products of ``topK(users:rows:k:workspace:adjust:emit:)``, by `sgemm`: every tile
    /// of `rows` against all items, written to the workspace and dropped. The benchmark harness
    /// measures the bare `sgemm` cost of a step with it.
    public func gemmOnly(users: Matrix, rows: Range<Int>, workspace: ScoringWorkspace) {
        writeProducts(users: users, rows: rows, workspace: workspace, ownKernel: false)
    }

    /// The products ``topK(users:rows:k:workspace:adjust:emit:)`` computes, as it computes them
    /// (``products``: the panel kernel, or `sgemm` per tile), written to the workspace and
    /// dropped: the benchmark harness compares them with ``gemmOnly(users:rows:workspace:)``.
    public func productsOnly(users: Matrix, rows: Range<Int>, workspace: ScoringWorkspace) {
        writeProducts(users: users, rows: rows, workspace: workspace, ownKernel: true)
    }

    private func writeProducts(users: Matrix, rows: Range<Int>, workspace: ScoringWorkspace, ownKernel: Bool) {
        precondition(users.cols == items.cols, "users have \(users.cols) dimensions, items \(items.cols)")
        let b = rows.count
        if b == 0 { return }
        workspace.prepare(rows: b, tile: tileWidth, k: 1)
        let d = items.cols
        var t0 = 0
        while t0 < items.rows {
            let t1 = min(t0 + tileSize, items.rows)
            workspace.withTile(rows: b, width: t1 - t0) { tile in
                if ownKernel, let panels = tilePanels(rows: b, width: t1 - t0) {
                    users.storage.withUnsafeBufferPointer { u in
                        panels.products(
                            users: u.baseAddress! + rows.lowerBound * d, rows: b, rowStride: d, first: t0, width: t1 - t0,
                            into: tile.base, outStride: t1 - t0)
                    }
                } else {
                    Matrix.gemmRows(users, rows: rows, items, itemRange: t0..<t1, into: &tile)
                }
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
    ///   - offsets: optional; per block row, topic offsets added to its scores first (in the
    ///     kernel with the own products, ``TopicOffsets/add(to:topics:offsets:)`` after an
    ///     sgemm: the same bits). `offsets.rows` has one entry per row of `rows`.
    ///   - adjust: optional; called for every user row and tile with the block-local row
    ///     index, the index of the tile's first item and the tile's scores (one per item),
    ///     before selection. Set a score to `-infinity` to exclude an item.
    ///   - adjustLowersOnly: whether `adjust` never raises a score (it excludes items, pushes
    ///     them down, reads the scores). Then, with the own products, the kernel marks the runs
    ///     of 32 items where a user's score beats their k-th best so far and the selection reads
    ///     only those (the same items, ``TopKSelector/offerScreened(_:count:baseIndex:k:scores:indices:screen:)``);
    ///     without `adjust` it always does. Pass false when `adjust` may raise one (noise,
    ///     boosts added after the products).
    ///   - adjustEditsOnly: whether `adjust` reads no score but those it edits (exclusions and
    ///     push-downs do; a selection per topic over the whole span does not). Then, with
    ///     ``ItemBounds`` and `adjustLowersOnly`, the items that cannot beat a user's full heap
    ///     are not scored at all, and their places in the span hold anything; without `adjust`
    ///     it always is so.
    ///   - emit: called once per user, in block order, with the block-local row index and the
    ///     user's best items (drain them with ``SelectedItems/drainSorted(into:at:)``; the view
    ///     is only valid during the call).
    public func topK(
        users: Matrix, rows: Range<Int>, k: Int,
        workspace: ScoringWorkspace,
        offsets: RowTopicOffsets? = nil,
        adjust: ((_ row: Int, _ firstItem: Int, _ scores: inout MutableSpan<Float>) -> Void)? = nil,
        adjustLowersOnly: Bool = false,
        adjustEditsOnly: Bool = false,
        emit: (_ row: Int, _ selected: inout SelectedItems) -> Void
    ) {
        precondition(users.cols == items.cols, "users have \(users.cols) dimensions, items \(items.cols)")
        let b = rows.count
        if b == 0 { return }
        if let offsets {
            precondition(
                offsets.rows.count == b && offsets.topics.count == items.rows,
                "offsets for \(offsets.rows.count) rows and \(offsets.topics.count) items,"
                    + " \(b) rows and \(items.rows) items scored")
        }
        let adjusts = adjust != nil
        // A row whose heap is full needs only the items above its root (its k-th best): the
        // own products kernel compares every score it computes with the root as the tile
        // starts and marks the runs of 32 items that hold one (a compare per register beside
        // 2·d multiply-adds), and the selection reads just those runs instead of the whole row.
        // Sound while nothing raises a score between the products and the selection.
        let screens = k > 0 && (!adjusts || adjustLowersOnly)
        // Skipping items by their bounds also needs an adjustment that reads no other score.
        let prunable = screens && (!adjusts || adjustEditsOnly) ? bounds : nil
        workspace.prepare(rows: b, tile: tileWidth, k: k, pruning: prunable != nil)
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
        let words = ItemPanels.screenWords(width: tileWidth)
        let roots = workspace.roots.base, screenBits = workspace.screen.base
        let cuts = workspace.cuts.base, hot = workspace.hot.base, listed = workspace.listed.base
        // Offers row r of the scores at `scores` (items t0 ..< t0 + width) after its adjustment,
        // with a slice of the next tile's items asked for first: the products read them from
        // memory otherwise (what the rest of the step streams through the cache evicts them),
        // and that made the step's products slower than the bare ones.
        @inline(__always) func select(
            _ r: Int, _ scores: UnsafeMutablePointer<Float>, _ t0: Int, _ width: Int, _ next: UnsafeRawPointer, _ nextBytes: Int,
            addOffsets: Bool, screen: UnsafePointer<UInt64>? = nil, hot: (list: UnsafePointer<Int32>, count: Int)? = nil
        ) {
            let slice = (nextBytes / b + 63) & ~63
            let from = r * slice
            if from < nextBytes { cocoon_prefetch(next + from, min(slice, nextBytes - from)) }
            let row = UnsafeMutableBufferPointer(start: scores, count: width)
            if addOffsets, let offsets { offsets.add(row: r, first: t0, to: row) }
            if adjusts {
                var span = row.mutableSpan
                adjustRow(r, t0, &span)
            }
            if let hot {
                TopKSelector.offerListed(
                    scores, count: width, baseIndex: t0, k: k, scores: heapScores + r * k, indices: heapIndices + r * k,
                    list: hot.list, listed: hot.count)
            } else if let screen {
                TopKSelector.offerScreened(
                    scores, count: width, baseIndex: t0, k: k, scores: heapScores + r * k, indices: heapIndices + r * k,
                    screen: screen)
            } else if k > 0 {
                kept[r] = TopKSelector.offerRun(
                    scores, count: width, baseIndex: t0, k: k, kept: kept[r],
                    scores: heapScores + r * k, indices: heapIndices + r * k)
            }
        }
        workspace.withTile { tile in items.storage.withUnsafeBufferPointer { itemRows in
        users.storage.withUnsafeBufferPointer { userRows in
            // With bounds (and a selection that may skip what cannot beat a full heap), a tile
            // whose rows' heaps are all full computes only the panels of 16 items whose bounds
            // may beat each row's k-th best (``ItemBounds``), for the whole block at once; where
            // that is over a fifth of the rows' panels the block goes back to every product.
            var pruning = prunable
            if let bounds = pruning {
                bounds.project(userRows.baseAddress! + rows.lowerBound * d, rows: b, into: &workspace.boundUsers) { r in
                    guard let offsets, offsets.rows[r] != 0 else { return 0...0 }
                    let table = offsets.tables[(r * RowTopicOffsets.stride)..<((r + 1) * RowTopicOffsets.stride)]
                    return table.reduce(0) { min($0, $1) }...table.reduce(0) { max($0, $1) }
                }
                if let offsets { bounds.positionTopics(offsets.topics, into: &workspace.positionTopics) }
                if !workspace.boundUsers.usable[0..<b].allSatisfy({ $0 }) { pruning = nil }
            }
            var t0 = 0
            while t0 < m {
                let t1 = min(t0 + tileSize, m)
                let width = t1 - t0
                // The next tile (the next block's first tile after the last one).
                let next = t1 < m ? t1..<min(t1 + tileSize, m) : 0..<min(tileSize, m)
                if let panels = tilePanels(rows: b, width: width) {
                    let nextBase = UnsafeRawPointer(panels.values.baseAddress! + next.lowerBound * d)
                    // A pruned next tile reads other panels (``ItemBounds``): ask only for the next
                    // block's first tile then.
                    let panelBytes = (next.count + 15) / 16 * 16 * d * MemoryLayout<Float>.stride
                    let nextBytes = pruning != nil && t1 < m ? 0 : panelBytes
                    if let bounds = pruning, (0..<b).allSatisfy({ kept[$0] == k }) {
                        let c0 = PhaseClock.start()
                        let margins = workspace.boundUsers.margin
                        for r in 0..<b {
                            roots[r] = heapScores[r * k]
                            cuts[r] = ItemBounds.threshold(root: heapScores[r * k], margin: margins[r])
                        }
                        let computed = prune(
                            bounds, users: userRows.baseAddress! + rows.lowerBound * d, rows: b, workspace: workspace,
                            first: t0, width: width, into: tile.baseAddress!, offsets: offsets, thresholds: cuts, roots: roots,
                            hot: hot, listed: listed)
                        let all = b * ((width + 15) / 16)
                        workspace.panelsComputed &+= computed
                        workspace.panelsSkipped &+= all - computed
                        if computed * 5 > all { pruning = nil }
                        let c1 = PhaseClock.start()
                        for r in 0..<b {
                            select(
                                r, tile.baseAddress! + r * width, t0, width, nextBase, nextBytes, addOffsets: false,
                                hot: (UnsafePointer(hot + r * tileWidth), listed[r]))
                        }
                        if timed {
                            gemmTime &+= c1 &- c0
                            selectTime &+= PhaseClock.now() &- c1
                        }
                        t0 = t1
                        continue
                    }
                    // Twelve users' rows of the tile at a time (the kernel's register block),
                    // selected from while they are in cache.
                    var g0 = 0
                    // One clock read per boundary: a group's end is the next group's start.
                    var c0 = PhaseClock.start()
                    while g0 < b {
                        let g1 = min(g0 + 12, b)
                        var screen: (thresholds: UnsafePointer<Float>, bits: UnsafeMutablePointer<UInt64>, words: Int)? = nil
                        if screens {
                            // +infinity marks nothing: a row whose heap has room reads its whole row.
                            for r in g0..<g1 { roots[r] = kept[r] == k ? heapScores[r * k] : .infinity }
                            (screenBits + g0 * words).update(repeating: 0, count: (g1 - g0) * words)
                            screen = (UnsafePointer(roots + g0), screenBits + g0 * words, words)
                        }
                        panels.products(
                            users: userRows.baseAddress! + (rows.lowerBound + g0) * d, rows: g1 - g0, rowStride: d,
                            first: t0, width: width, into: tile.baseAddress!, outStride: width,
                            offsets: offsets, offsetRow: g0, screen: screen)
                        let c1 = PhaseClock.start()
                        for r in g0..<g1 {
                            select(
                                r, tile.baseAddress! + (r - g0) * width, t0, width, nextBase, nextBytes, addOffsets: false,
                                screen: screens && kept[r] == k ? UnsafePointer(screenBits + r * words) : nil)
                        }
                        if timed {
                            let c2 = PhaseClock.now()
                            gemmTime &+= c1 &- c0
                            selectTime &+= c2 &- c1
                            c0 = c2
                        }
                        g0 = g1
                    }
                } else {
                    let c0 = PhaseClock.start()
                    var view = TileView(base: tile.baseAddress!, rows: b, cols: width)
                    Matrix.gemmRows(users, rows: rows, items, itemRange: t0..<t1, into: &view)
                    let c1 = PhaseClock.start()
                    let nextBase = UnsafeRawPointer(itemRows.baseAddress! + next.lowerBound * d)
                    let nextBytes = next.count * d * MemoryLayout<Float>.stride
                    for r in 0..<b { select(r, tile.baseAddress! + r * width, t0, width, nextBase, nextBytes, addOffsets: true) }
                    if timed {
                        gemmTime &+= c1 &- c0
                        selectTime &+= PhaseClock.now() &- c1
                    }
                }
                t0 = t1
            }
            for r in 0..<b {
                var selected = SelectedItems(k: k, count: kept[r], scores: heapScores + r * k, indices: heapIndices + r * k)
                emit(r, &selected)
            }
        } } }
        if timed {
            PhaseClock.shared.add(.scoring, nanoseconds: gemmTime)
            PhaseClock.shared.add(.topK, nanoseconds: selectTime)
        }
    }
}

extension BlockScorer {
    /// The pruned products of a block's `rows` rows for one tile
    /// (``ItemBounds/products(users:rows:first:width:into:outStride:topics:tables:has:hot:hotStride:listed:scratch:)``),
    /// row r's scores at `out + r · width`, with the block's user coordinates and topics from
    /// `workspace`. Returns the (row, panel) pairs computed.
    func prune(
        _ bounds: ItemBounds, users: UnsafePointer<Float>, rows: Int, workspace: ScoringWorkspace, first: Int,
        width: Int, into out: UnsafeMutablePointer<Float>, offsets: RowTopicOffsets?, thresholds: UnsafePointer<Float>,
        roots: UnsafePointer<Float>, hot: UnsafeMutablePointer<Int32>, listed: UnsafeMutablePointer<Int>
    ) -> Int {
        let b = workspace.boundUsers
        let scratch = workspace.pruneScratch.base
        return b.coordinates.withUnsafeBufferPointer { c in
            b.length.withUnsafeBufferPointer { len in
                b.residual.withUnsafeBufferPointer { res in
                    b.lift.withUnsafeBufferPointer { lift in
                        let block = CocoonBoundUsers(
                            u: users, ldu: bounds.dimension, uq: c.baseAddress!, ldq: bounds.directions,
                            unorm: len.baseAddress!, ures: res.baseAddress!, lift: lift.baseAddress!, thr: thresholds,
                            roots: roots)
                        func run(
                            _ topics: UnsafePointer<Int32>?, _ tables: UnsafePointer<Float>?, _ has: UnsafePointer<UInt8>?
                        ) -> Int {
                            bounds.products(
                                users: block, rows: rows, first: first, width: width, into: out, outStride: width,
                                topics: topics, tables: tables, has: has, hot: hot, hotStride: tileWidth, listed: listed,
                                scratch: scratch)
                        }
                        guard let offsets, !offsets.tables.isEmpty else { return run(nil, nil, nil) }
                        return workspace.positionTopics.withUnsafeBufferPointer { t in
                            offsets.tables.withUnsafeBufferPointer { tables in
                                offsets.rows.withUnsafeBufferPointer { has in
                                    run(t.baseAddress!, tables.baseAddress!, has.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
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
    /// Per row of a 12-row group: its heap's root as the tile starts (what a score must beat),
    /// and the runs of the tile the products marked (``ItemPanels/screenWords(width:)`` a row).
    private(set) var roots = SharedArray<Float>(repeating: 0, count: 0)
    private(set) var screen = SharedArray<UInt64>(repeating: 0, count: 0)
    /// With ``ItemBounds``: the block's user coordinates, each position's topic (with offsets),
    /// and the pruned products' scratch.
    var boundUsers = ItemBounds.Users()
    /// Per row of a pruned tile: what a bound must reach, and the items whose scores beat the
    /// row's heap (a tile's width a row, and their count).
    private(set) var cuts = SharedArray<Float>(repeating: 0, count: 0)
    private(set) var hot = SharedArray<Int32>(repeating: 0, count: 0)
    private(set) var listed = SharedArray<Int>(repeating: 0, count: 0)
    var positionTopics: [Int32] = []
    private(set) var pruneScratch = SharedArray<Int32>(repeating: 0, count: 0)
    /// Over the workspace's life: the (row, panel of 16 items) pairs of pruned tiles whose scores
    /// were computed, and those skipped.
    package var panelsComputed = 0
    package var panelsSkipped = 0

    /// Creates an empty workspace; it grows on first use.
    public init() {}

    /// Makes room for `rows` rows of a tile of `size` items and heaps of k, and for the pruned
    /// products' lists and scratch when `pruning` (only then: 2 MiB a worker at 256 × 2,048).
    func prepare(rows: Int, tile size: Int, k: Int, pruning: Bool = false) {
        if tile.count < rows * size { tile = [Float](repeating: 0, count: rows * size) }
        if heapScores.count < rows * k {
            heapScores = SharedArray(repeating: 0, count: rows * k)
            heapIndices = SharedArray(repeating: 0, count: rows * k)
        }
        if kept.count < rows {
            kept = SharedArray(repeating: 0, count: rows)
            roots = SharedArray(repeating: 0, count: rows)
        }
        let words = ItemPanels.screenWords(width: size)
        if screen.count < rows * words { screen = SharedArray(repeating: 0, count: rows * words) }
        if pruning {
            if cuts.count < rows {
                cuts = SharedArray(repeating: 0, count: rows)
                listed = SharedArray(repeating: 0, count: rows)
            }
            if hot.count < rows * size { hot = SharedArray(repeating: 0, count: rows * size) }
            if pruneScratch.count < 132 * rows { pruneScratch = SharedArray(repeating: 0, count: 132 * rows) }
        }
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
