internal import _CocoonKernels
import Foundation

/// What lets ``BlockScorer`` skip the products of items that cannot be among a user's best:
/// a few directions that hold most of the items, and each item's coordinates along them.
///
/// Along an orthonormal basis Q of q directions a user splits as u = Q·uq + u⊥ and an item as
/// v = Q·vq + v⊥, so their score u·v = uq·vq + u⊥·v⊥ is at most uq·vq + |u⊥|·|v⊥|: a bound that
/// costs q multiply-adds where the score costs d. Once a block's heaps are full, an item whose
/// bound (plus a margin larger than every rounding involved) is below its user's k-th best
/// cannot enter that heap, and its score is never computed; the scores that are computed are
/// the panel kernel's, bit for bit, and are offered in item order as before. So the selection
/// is the one every product would give, whatever the catalog: only the time depends on how well
/// the directions fit it. `cocoon_pruned_products` goes in three levels, each bounding the
/// next: a panel of 16 items (its centroid's chain plus its radius and largest residual), the
/// items of the panels that pass, the scores of the panels with an item that passes — the last
/// two panel by panel over the block's rows that passed, twelve a register block.
///
/// The directions are the catalog's principal ones (eigenvectors of its second moment,
/// `cocoon_symmetric_eigen`), as many as the largest gap in the eigenvalues marks, at most
/// d / 2. Catalogs without such a gap, or whose items keep over a third of their energy outside
/// it, get no bounds. Within each tile the items are packed in the order of their strongest
/// direction, so a user's likely items sit in a few panels of 16 (the kernel computes whole
/// panels). Built once per scorer; immutable, shared between workers.
package final class ItemBounds: @unchecked Sendable {
    /// Directions of the basis (q).
    package let directions: Int
    package let dimension: Int
    package let items: Int
    /// The basis as the user projection reads it: d × q floats, dimension-major.
    let basis: [Float]
    /// Position → item: within each tile, the tile's items by strongest direction, then index.
    package let ids: [Int32]
    /// The items in position order as ``ItemPanels`` (full d), and their coordinates the same
    /// way (q floats a position).
    let panels: ItemPanels
    let coordinatePanels: ItemPanels
    /// Per position (zero past the last item): the length of the item's part outside the basis,
    /// rounded up.
    let residuals: [Float]
    /// Per panel of 16 positions (``CocoonBoundItems``): the mean of its coordinates
    /// (dimension-major, `centroidStride` floats a dimension), its radius about that mean and its
    /// largest residual, rounded up; zero past the last panel, with 32 floats of room.
    let centroids: [Float]
    let radius: [Float]
    let panelResidual: [Float]
    let centroidStride: Int
    /// The longest item, rounded up.
    let longestItem: Float
    /// Whether the kernels run with AVX-512.
    let avx512: Bool

    /// The bounds of `m`'s rows scored `tileSize` at a time, or nil where they would not pay:
    /// one tile or less, fewer than 8 or more than 256 dimensions, a value that is not finite,
    /// or no basis that holds most of the items.
    package init?(_ m: Matrix, tileSize: Int, avx512: Bool) {
        let n = m.rows, d = m.cols
        guard n > tileSize, (8...256).contains(d), tileSize % 16 == 0,
            m.storage.allSatisfy({ $0.isFinite })
        else { return nil }
        precondition(!avx512 || ItemPanels.vectorized, "this machine cannot run the AVX-512 kernels")
        // The principal directions: eigenvectors of the second moment of (at most ~16,000) items.
        var moment = [Double](repeating: 0, count: d * d)
        m.storage.withUnsafeBufferPointer { v in
            cocoon_second_moment(v.baseAddress!, n, d, max(1, n / 16_384), &moment)
        }
        let (values, vectors) = Self.eigen(moment, n: d)
        guard let q = Self.directions(eigenvalues: values) else { return nil }
        directions = q
        dimension = d
        items = n
        self.avx512 = avx512
        var floats = [Float](repeating: 0, count: d * q)
        for j in 0..<q { for x in 0..<d { floats[x * q + j] = Float(vectors[j * d + x]) } }
        basis = floats
        // Each item's coordinates, the rest's length and its own length.
        var coords = [Double](repeating: 0, count: n * q)
        var rest = [Float](repeating: 0, count: n)
        var norms = [Float](repeating: 0, count: n)
        m.storage.withUnsafeBufferPointer { v in
            vectors.withUnsafeBufferPointer { b in
                cocoon_project_items(v.baseAddress!, n, d, b.baseAddress!, q, &coords, &rest, &norms)
            }
        }
        longestItem = norms.max() ?? 0
        // Within each tile: by strongest direction (and its sign), then by index.
        var order = [Int32](repeating: 0, count: n)
        var keys = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            var best = 0
            var size = -1.0
            for j in 0..<q where abs(coords[i * q + j]) > size {
                size = abs(coords[i * q + j])
                best = j
            }
            keys[i] = Int32(2 * best + (coords[i * q + best] < 0 ? 1 : 0))
        }
        var t0 = 0
        while t0 < n {
            let t1 = min(t0 + tileSize, n)
            let sorted = (t0..<t1).sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
            for (j, i) in sorted.enumerated() { order[t0 + j] = Int32(i) }
            t0 = t1
        }
        ids = order
        // Packed in position order.
        let padded = (n + 15) / 16 * 16
        var full = [Float](repeating: 0, count: n * d)
        var part = [Float](repeating: 0, count: n * q)
        var residual = [Float](repeating: 0, count: padded)
        m.storage.withUnsafeBufferPointer { v in
            for p in 0..<n {
                let i = Int(order[p])
                for x in 0..<d { full[p * d + x] = v[i * d + x] }
                for j in 0..<q { part[p * q + j] = Float(coords[i * q + j]) }
                residual[p] = rest[i]
            }
        }
        residuals = residual
        // Per panel: the centroid of its items' (float) coordinates, and how far they lie from it.
        let panelCount = padded / 16
        let stride = (panelCount + 15) / 16 * 16 + 32
        var centre = [Float](repeating: 0, count: q * stride)
        var reach = [Float](repeating: 0, count: stride)
        var worst = [Float](repeating: 0, count: stride)
        var mean = [Double](repeating: 0, count: q)
        for p in 0..<panelCount {
            let positions = (16 * p)..<min(16 * p + 16, n)
            for j in 0..<q { mean[j] = positions.reduce(0) { $0 + Double(part[$1 * q + j]) } / Double(positions.count) }
            for j in 0..<q { centre[j * stride + p] = Float(mean[j]) }
            var far = 0.0
            for i in positions {
                var d2 = 0.0
                for j in 0..<q {
                    let e = Double(part[i * q + j]) - Double(centre[j * stride + p])
                    d2 += e * e
                }
                far = max(far, d2)
            }
            reach[p] = Self.roundUp(far.squareRoot() * (1 + 1e-9))
            worst[p] = positions.map { residual[$0] }.max() ?? 0
        }
        centroids = centre
        radius = reach
        panelResidual = worst
        centroidStride = stride
        panels = ItemPanels(Matrix(rows: n, cols: d, values: full), avx512: avx512)
        coordinatePanels = ItemPanels(Matrix(rows: n, cols: q, values: part), avx512: avx512)
    }

    /// The eigenvalues (largest first) and unit eigenvectors (row k: value k's) of the symmetric
    /// n × n row-major matrix `a` (`cocoon_symmetric_eigen`: Jacobi rotations, deterministic).
    package static func eigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "\(a.count) values for a \(n) × \(n) matrix")
        var work = a
        var values = [Double](repeating: 0, count: n)
        var vectors = [Double](repeating: 0, count: n * n)
        cocoon_symmetric_eigen(&work, n, &values, &vectors)
        return (values, vectors)
    }

    /// The number of directions for eigenvalues `values` (descending): the q ≤ d / 2 with the
    /// largest ratio λ_q / λ_{q+1}, if that ratio is at least 2 and the directions after q hold
    /// at most a third of the total; else nil.
    package static func directions(eigenvalues values: [Double]) -> Int? {
        let d = values.count
        let total = values.reduce(0) { $0 + max($1, 0) }
        guard d >= 2, total > 0 else { return nil }
        var best = 0
        var ratio = 0.0
        for q in 1...(d / 2) {
            let next = max(values[q], total * 1e-12)
            let r = max(values[q - 1], 0) / next
            if r > ratio {
                ratio = r
                best = q
            }
        }
        let left = values[best...].reduce(0) { $0 + max($1, 0) }
        return ratio >= 2 && left <= total / 3 ? best : nil
    }

    /// Per block of users: their coordinates, and for each row the bound's part outside the basis
    /// and the margin its threshold must leave.
    struct Users {
        var coordinates: [Float] = []
        /// Per row: the coordinates' length and the residual's bound (rounded up), the largest
        /// positive topic offset, and the margin a threshold must leave.
        var length: [Float] = []
        var residual: [Float] = []
        var lift: [Float] = []
        var margin: [Float] = []
        /// Per row: false where the bound cannot be trusted (a length that is not finite).
        var usable: [Bool] = []
        /// Per row, scratch: the squared lengths of the user and of its coordinates.
        var norm2: [Float] = []
        var projected2: [Float] = []
    }

    /// Fills `users` for rows `rows` of `u` (d columns), whose topic offsets (if any) lie within
    /// `offsetRange(r)`.
    func project(_ u: UnsafePointer<Float>, rows: Int, into users: inout Users, offsetRange: (Int) -> ClosedRange<Float>) {
        let q = directions, d = dimension
        if users.coordinates.count < rows * q { users.coordinates = [Float](repeating: 0, count: rows * q) }
        if users.residual.count < rows {
            users.residual = [Float](repeating: 0, count: rows)
            users.length = [Float](repeating: 0, count: rows)
            users.lift = [Float](repeating: 0, count: rows)
            users.margin = [Float](repeating: 0, count: rows)
            users.usable = [Bool](repeating: false, count: rows)
            users.norm2 = [Float](repeating: 0, count: rows)
            users.projected2 = [Float](repeating: 0, count: rows)
        }
        users.coordinates.withUnsafeMutableBufferPointer { c in
            basis.withUnsafeBufferPointer { b in
                cocoon_project_users(
                    u, rows, d, d, b.baseAddress!, q, c.baseAddress!, q, &users.norm2, &users.projected2, avx512 ? 1 : 0)
            }
        }
        // Rounding allowances, in units of 2⁻²⁴ (float's unit roundoff), each at least twice the
        // error it covers: the single-precision user coordinates and lengths (d·√q, d), the
        // float basis' distance from orthonormal (√(d·q)), the bound's chain over q and its two
        // additions, the score's chain over d, and the offsets' additions.
        let dd = Double(d), qq = Double(q)
        let unit = 0x1p-24
        let lengthSlack = 2 * (2 * dd * (1 + qq.squareRoot()) + 4 * (dd * qq).squareRoot() + 2 * qq + 64) * unit
        let scoreSlack = 2 * (dd * (1 + qq.squareRoot()) + 2 * qq + 3 * (dd * qq).squareRoot() + 16) * unit
        for r in 0..<rows {
            let n2 = Double(users.norm2[r]), p2 = Double(users.projected2[r])
            guard n2.isFinite, p2.isFinite else {
                users.usable[r] = false
                continue
            }
            let rest = (max(0, n2 - p2) + lengthSlack * n2).squareRoot() * (1 + 1e-6)
            let length = (n2 * (1 + 4 * dd * unit)).squareRoot()
            let offsets = offsetRange(r)
            let largest = max(abs(Double(offsets.lowerBound)), abs(Double(offsets.upperBound)))
            let margin = scoreSlack * length * Double(longestItem) + 0x1p-22 * largest + 1e-37
            var coordinates = 0.0
            users.coordinates.withUnsafeBufferPointer { c in
                for j in 0..<q { coordinates += Double(c[r * q + j]) * Double(c[r * q + j]) }
            }
            users.length[r] = Self.roundUp(coordinates.squareRoot() * (1 + 1e-6))
            users.residual[r] = Self.roundUp(rest)
            users.lift[r] = max(0, offsets.upperBound)
            users.margin[r] = Self.roundUp(margin)
            users.usable[r] = users.residual[r].isFinite && users.margin[r].isFinite && users.length[r].isFinite
                && offsets.lowerBound.isFinite && offsets.upperBound.isFinite
        }
    }

    /// The float at or above x.
    static func roundUp(_ x: Double) -> Float {
        let f = Float(x)
        return Double(f) < x ? f.nextUp : f
    }

    /// What row r must beat to be computed, given its heap's k-th best `root`: root − margin,
    /// rounded down.
    static func threshold(root: Float, margin: Float) -> Float {
        let x = Double(root) - Double(margin)
        let f = Float(x)
        return Double(f) > x ? f.nextDown : f
    }
}

extension ItemBounds {
    /// The scores of `rows` users for the tile of items `first ..< first + width` whose bounds
    /// reach their thresholds (per row: ``threshold(root:margin:)`` of its heap's k-th best), as
    /// `cocoon_pruned_products` computes them: those above the row's k-th best written at
    /// `out[r · outStride + item − first]`, and `item − first` listed at `hot + r · hotStride`
    /// (`listed[r]` of them). `users`: the rows (their part of ``Users`` and their thresholds).
    /// `scratch`: room for 132 · rows values.
    /// With offsets: `topics` per position (``positionTopics(_:into:)``), `tables` and `has` from
    /// the rows' ``RowTopicOffsets``. Returns the panels of 16 whose scores were computed.
    func products(
        users: CocoonBoundUsers, rows: Int, first: Int, width: Int, into out: UnsafeMutablePointer<Float>, outStride: Int,
        topics: UnsafePointer<Int32>?, tables: UnsafePointer<Float>?, has: UnsafePointer<UInt8>?,
        hot: UnsafeMutablePointer<Int32>, hotStride: Int, listed: UnsafeMutablePointer<Int>,
        scratch: UnsafeMutablePointer<Int32>
    ) -> Int {
        precondition(
            first % 16 == 0 && first >= 0 && first + width <= items,
            "items \(first)..<\(first + width) are not panel-aligned items of \(items)")
        precondition(hotStride >= width, "room for \(hotStride) listed items a row, \(width) scored")
        return residuals.withUnsafeBufferPointer { res in
            ids.withUnsafeBufferPointer { id in
                centroids.withUnsafeBufferPointer { cen in
                    radius.withUnsafeBufferPointer { rad in
                        panelResidual.withUnsafeBufferPointer { pres in
                            var it = CocoonBoundItems(
                                panels: panels.values.baseAddress!, coordinatePanels: coordinatePanels.values.baseAddress!,
                                residual: res.baseAddress!, ids: id.baseAddress!, centroids: cen.baseAddress!,
                                radius: rad.baseAddress!, panelResidual: pres.baseAddress!, centroidStride: centroidStride,
                                items: items, d: dimension, q: directions)
                            var us = users
                            return cocoon_pruned_products(
                                &it, &us, rows, first, width, out, outStride, topics, tables, has, hot, hotStride, listed,
                                scratch, avx512 ? 1 : 0)
                        }
                    }
                }
            }
        }
    }

    /// `into[p]` = the topic of the item at position p, for the kernel's offsets.
    func positionTopics(_ topics: [Int32], into out: inout [Int32]) {
        if out.count < items { out = [Int32](repeating: 0, count: items) }
        topics.withUnsafeBufferPointer { t in
            ids.withUnsafeBufferPointer { id in
                out.withUnsafeMutableBufferPointer { o in
                    for p in 0..<items { o[p] = t[Int(id[p])] }
                }
            }
        }
    }
}
