/// Some rows of a matrix regrouped eight at a time, dimension-major, so that eight dot products
/// with one vector advance together in SIMD lanes — each still summed in dimension order.
///
/// ``dots(with:into:)`` gives, for every row, exactly the `Float` that the scalar loop
/// `s = 0; for x in 0..<d { s = s + v[x] * row[x] }` gives (the same multiplications and
/// additions in the same order, none fused), so it can replace such a loop without changing a
/// result bit. It is for many short dot products against the same rows where BLAS would round
/// differently: the metric recorder's relevant items (every user against every item of a topic).
///
/// Layout: group `g` holds rows `8g ..< 8g + 8`; its element `(x, lane)` lives at
/// `(g · d + x) · 8 + lane`. The last group is padded with zero rows.
public struct RowPanels: Sendable {
    /// Number of rows held.
    public let count: Int
    /// Length of every row.
    public let dimension: Int
    @usableFromInline let values: [Float]

    /// Number of eight-row groups (`count` rounded up to a multiple of 8, over 8).
    @inlinable public var groupCount: Int { (count + 7) / 8 }

    /// Takes rows `rows` (in that order) of `matrix`.
    public init(_ matrix: Matrix, rows: [Int32]) {
        let d = matrix.cols
        let groups = (rows.count + 7) / 8
        var values = [Float](repeating: 0, count: groups * d * 8)
        matrix.storage.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for (j, r) in rows.enumerated() {
                    precondition(r >= 0 && Int(r) < matrix.rows, "row \(r) outside 0..<\(matrix.rows)")
                    let from = Int(r) * d
                    let to = (j / 8) * d * 8 + j % 8
                    for x in 0..<d { dst[to + x * 8] = src[from + x] }
                }
            }
        }
        self.count = rows.count
        self.dimension = d
        self.values = values
    }

    /// Writes the dot product of every row with `v` to `out[0 ..< count]`; `out` must have room
    /// for `groupCount · 8` values (the padding rows' zeros land after `count`).
    ///
    /// - Parameters:
    ///   - v: `dimension` values.
    ///   - out: room for `groupCount · 8` values.
    public func dots(with v: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let d = dimension
        let groups = groupCount
        values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let p = UnsafeRawPointer(base)
            let groupBytes = d &* 32
            var g = 0
            // Four groups at a time: four independent chains hide the additions' latency.
            while g &+ 4 <= groups {
                var s0 = SIMD8<Float>.zero, s1 = SIMD8<Float>.zero
                var s2 = SIMD8<Float>.zero, s3 = SIMD8<Float>.zero
                let q = p + g &* groupBytes
                for x in 0..<d {
                    let vx = SIMD8<Float>(repeating: v[x])
                    let o = x &* 32
                    s0 = s0 + vx * q.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    s1 = s1 + vx * q.loadUnaligned(fromByteOffset: o &+ groupBytes, as: SIMD8<Float>.self)
                    s2 = s2 + vx * q.loadUnaligned(fromByteOffset: o &+ 2 &* groupBytes, as: SIMD8<Float>.self)
                    s3 = s3 + vx * q.loadUnaligned(fromByteOffset: o &+ 3 &* groupBytes, as: SIMD8<Float>.self)
                }
                let w = UnsafeMutableRawPointer(out + g &* 8)
                w.storeBytes(of: s0, as: SIMD8<Float>.self)
                w.storeBytes(of: s1, toByteOffset: 32, as: SIMD8<Float>.self)
                w.storeBytes(of: s2, toByteOffset: 64, as: SIMD8<Float>.self)
                w.storeBytes(of: s3, toByteOffset: 96, as: SIMD8<Float>.self)
                g &+= 4
            }
            while g < groups {
                var s = SIMD8<Float>.zero
                let q = p + g &* groupBytes
                for x in 0..<d {
                    s = s + SIMD8<Float>(repeating: v[x]) * q.loadUnaligned(fromByteOffset: x &* 32, as: SIMD8<Float>.self)
                }
                UnsafeMutableRawPointer(out + g &* 8).storeBytes(of: s, as: SIMD8<Float>.self)
                g &+= 1
            }
        }
    }
}
