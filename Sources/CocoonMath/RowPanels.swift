/// Rows of equal length regrouped eight at a time, dimension-major, so that eight dot products
/// with one vector advance together in SIMD lanes — each still summed in dimension order.
///
/// ``dots(with:into:)`` gives, for every row, exactly the value that the scalar loop
/// `s = 0; for x in 0..<d { s = s + v[x] * row[x] }` gives (the same multiplications and
/// additions in the same order, none fused), so it can replace such a loop without changing a
/// result bit. It is for many short dot products against the same rows where BLAS would round
/// differently: the metric recorder's relevant items (every user against every item of a
/// topic, in `Float`) and nearest neighbours (every user against every user, in `Double`).
///
/// Layout: group `g` holds rows `8g ..< 8g + 8`; its element `(x, lane)` lives at
/// `(g · d + x) · 8 + lane`. The last group is padded with zero rows.
public struct RowPanels<Scalar: BinaryFloatingPoint & SIMDScalar & Sendable>: Sendable {
    /// Number of rows held.
    public let count: Int
    /// Length of every row.
    public let dimension: Int
    @usableFromInline let values: [Scalar]

    /// Number of eight-row groups (`count` rounded up to a multiple of 8, over 8).
    @inlinable public var groupCount: Int { (count + 7) / 8 }

    /// `count` rows of `dimension` values; `value(r, x)` is element x of row r.
    @inlinable
    public init(count: Int, dimension d: Int, value: (_ row: Int, _ x: Int) -> Scalar) {
        precondition(count >= 0 && d >= 0, "rows and dimension must be ≥ 0, got \(count) × \(d)")
        let groups = (count + 7) / 8
        var values = [Scalar](repeating: 0, count: groups * d * 8)
        values.withUnsafeMutableBufferPointer { dst in
            for j in 0..<count {
                let to = (j / 8) * d * 8 + j % 8
                for x in 0..<d { dst[to + x * 8] = value(j, x) }
            }
        }
        self.count = count
        self.dimension = d
        self.values = values
    }

    /// Writes the dot product of every row with `v` to `out[0 ..< count]`; `out` must have room
    /// for `groupCount · 8` values (the padding rows' zeros land after `count`).
    ///
    /// - Parameters:
    ///   - v: `dimension` values.
    ///   - out: room for `groupCount · 8` values.
    @inlinable
    public func dots(with v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>) {
        typealias Lanes = SIMD8<Scalar>
        let d = dimension
        let groups = groupCount
        let width = MemoryLayout<Lanes>.stride
        values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let p = UnsafeRawPointer(base)
            let groupBytes = d &* width
            var g = 0
            // Four groups at a time: four independent chains hide the additions' latency.
            while g &+ 4 <= groups {
                var s0 = Lanes.zero, s1 = Lanes.zero, s2 = Lanes.zero, s3 = Lanes.zero
                let q = p + g &* groupBytes
                for x in 0..<d {
                    let vx = Lanes(repeating: v[x])
                    let o = x &* width
                    s0 = s0 + vx * q.loadUnaligned(fromByteOffset: o, as: Lanes.self)
                    s1 = s1 + vx * q.loadUnaligned(fromByteOffset: o &+ groupBytes, as: Lanes.self)
                    s2 = s2 + vx * q.loadUnaligned(fromByteOffset: o &+ 2 &* groupBytes, as: Lanes.self)
                    s3 = s3 + vx * q.loadUnaligned(fromByteOffset: o &+ 3 &* groupBytes, as: Lanes.self)
                }
                let w = UnsafeMutableRawPointer(out + g &* 8)
                w.storeBytes(of: s0, as: Lanes.self)
                w.storeBytes(of: s1, toByteOffset: width, as: Lanes.self)
                w.storeBytes(of: s2, toByteOffset: 2 * width, as: Lanes.self)
                w.storeBytes(of: s3, toByteOffset: 3 * width, as: Lanes.self)
                g &+= 4
            }
            while g < groups {
                var s = Lanes.zero
                let q = p + g &* groupBytes
                for x in 0..<d {
                    s = s + Lanes(repeating: v[x]) * q.loadUnaligned(fromByteOffset: x &* width, as: Lanes.self)
                }
                UnsafeMutableRawPointer(out + g &* 8).storeBytes(of: s, as: Lanes.self)
                g &+= 1
            }
        }
    }
}

extension RowPanels where Scalar == Float {
    /// Takes rows `rows` (in that order) of `matrix`.
    @inlinable
    public init(_ matrix: Matrix, rows: [Int32]) {
        let d = matrix.cols
        for r in rows { precondition(r >= 0 && Int(r) < matrix.rows, "row \(r) outside 0..<\(matrix.rows)") }
        self = matrix.storage.withUnsafeBufferPointer { src in
            RowPanels(count: rows.count, dimension: d) { j, x in src[Int(rows[j]) * d + x] }
        }
    }
}
