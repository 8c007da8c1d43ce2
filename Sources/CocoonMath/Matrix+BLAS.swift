import CBLAS
internal import _CocoonKernels

// Pointer code for matrices lives here and only here. Public signatures take and return
// Swift values; the CBLAS enums and pointers never leave this file.

extension Matrix {
    /// General matrix product `C ← α·op(A)·op(B) + β·C` (BLAS `sgemm`).
    ///
    /// `op(X)` is `X` or `Xᵀ`. Shapes: `op(A)` is m × k, `op(B)` is k × n and `C` is m × n.
    /// Empty shapes are allowed: with k = 0 the product is zero and `C ← β·C`.
    ///
    /// - Parameters:
    ///   - a: the left operand.
    ///   - transposeA: use `Aᵀ` instead of `A`.
    ///   - b: the right operand.
    ///   - transposeB: use `Bᵀ` instead of `B`.
    ///   - alpha: scale of the product.
    ///   - beta: scale of the previous value of `c`.
    ///   - c: the output, which must already have shape m × n.
    /// - Complexity: O(m·n·k).
    public static func gemm(
        _ a: Matrix, transposeA: Bool = false,
        _ b: Matrix, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0,
        into c: inout Matrix
    ) {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows
        let n = transposeB ? b.rows : b.cols
        precondition(k == kb, "gemm: inner dimensions differ (\(k) vs \(kb))")
        precondition(c.rows == m && c.cols == n, "gemm: output is \(c.rows) × \(c.cols), expected \(m) × \(n)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            c.scale(by: beta)
            return
        }
        BLASRuntime.ensureConfigured()
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.withMutableStorage { cs in
                    cs.withUnsafeMutableBufferPointer { pc in
                        cblas_sgemm(
                            CblasRowMajor,
                            transposeA ? CblasTrans : CblasNoTrans,
                            transposeB ? CblasTrans : CblasNoTrans,
                            blasint(m), blasint(n), blasint(k),
                            alpha, pa.baseAddress, blasint(max(1, a.cols)),
                            pb.baseAddress, blasint(max(1, b.cols)),
                            beta, pc.baseAddress, blasint(max(1, n)))
                    }
                }
            }
        }
    }

    /// The product `self · op(other)`.
    ///
    /// - Parameters:
    ///   - other: the right operand.
    ///   - transposeOther: multiply by `otherᵀ` (the usual form for scoring: users · itemsᵀ).
    /// - Returns: a new rows × n matrix.
    /// - Complexity: O(rows · n · cols).
    public func multiplied(by other: Matrix, transposeOther: Bool = false) -> Matrix {
        let n = transposeOther ? other.rows : other.cols
        var c = Matrix(rows: rows, cols: n)
        Matrix.gemm(self, other, transposeB: transposeOther, into: &c)
        return c
    }

    /// Matrix–vector product `y = α·op(A)·x` (BLAS `sgemv`).
    ///
    /// - Parameters:
    ///   - x: a vector of length `cols` (or `rows` when `transpose`).
    ///   - transpose: use `Aᵀ`.
    ///   - alpha: scale.
    /// - Returns: a vector of length `rows` (or `cols` when `transpose`).
    /// - Complexity: O(rows · cols).
    public func gemv(_ x: [Float], transpose: Bool = false, alpha: Float = 1) -> [Float] {
        let inLen = transpose ? rows : cols
        let outLen = transpose ? cols : rows
        precondition(x.count == inLen, "gemv: vector has \(x.count) values, expected \(inLen)")
        var y = [Float](repeating: 0, count: outLen)
        if outLen == 0 || inLen == 0 { return y }
        BLASRuntime.ensureConfigured()
        storage.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    cblas_sgemv(
                        CblasRowMajor, transpose ? CblasTrans : CblasNoTrans,
                        blasint(rows), blasint(cols), alpha, pa.baseAddress, blasint(max(1, cols)),
                        px.baseAddress, 1, 0, py.baseAddress, 1)
                }
            }
        }
        return y
    }

    /// Multiplies every element by `factor` (BLAS `sscal`).
    public mutating func scale(by factor: Float) {
        if storage.isEmpty { return }
        if factor == 0 {
            // sscal with 0 would keep NaNs; a zero product must be zero.
            for i in _storage.indices { _storage[i] = 0 }
            return
        }
        let n = storage.count
        withMutableStorage { s in
            s.withUnsafeMutableBufferPointer { p in cblas_sscal(blasint(n), factor, p.baseAddress, 1) }
        }
    }

    /// The Euclidean norm of every row.
    ///
    /// - Complexity: O(rows · cols).
    public func rowNorms() -> [Float] {
        (0..<rows).map { BLAS.norm(row($0)) }
    }

    /// Scales every row to unit Euclidean norm; zero rows stay zero.
    ///
    /// - Returns: the norms before scaling.
    /// - Complexity: O(rows · cols).
    @discardableResult
    public mutating func normalizeRows() -> [Float] {
        let norms = rowNorms()
        let c = cols
        let n = rows
        if c == 0 { return norms }
        withMutableStorage { s in
            s.withUnsafeMutableBufferPointer { p in
                for r in 0..<n where norms[r] > 0 {
                    cblas_sscal(blasint(c), 1 / norms[r], p.baseAddress! + r * c, 1)
                }
            }
        }
        return norms
    }

    /// A copy with every row scaled to unit norm (zero rows stay zero).
    public func rowNormalized() -> Matrix {
        var m = self
        m.normalizeRows()
        return m
    }

    /// Cosine similarity of every row of `a` with every row of `b`.
    ///
    /// `S[i, j] = a_i · b_j / (‖a_i‖ ‖b_j‖)`; a pair involving a zero row has similarity 0.
    ///
    /// - Returns: an `a.rows × b.rows` matrix.
    /// - Complexity: O(a.rows · b.rows · cols).
    public static func cosineSimilarity(rowsOf a: Matrix, rowsOf b: Matrix) -> Matrix {
        precondition(a.cols == b.cols, "cosineSimilarity: column counts differ (\(a.cols) vs \(b.cols))")
        return a.rowNormalized().multiplied(by: b.rowNormalized(), transposeOther: true)
    }
}

/// Vector operations on `Float` collections (arrays, matrix rows), backed by BLAS level 1.
public enum BLAS {
    /// The dot product `Σ xᵢ yᵢ` (BLAS `sdot`).
    ///
    /// - Complexity: O(n).
    public static func dot<X: Collection<Float>, Y: Collection<Float>>(_ x: X, _ y: Y) -> Float {
        precondition(x.count == y.count, "dot: lengths differ (\(x.count) vs \(y.count))")
        if x.isEmpty { return 0 }
        let n = blasint(x.count)
        return withContiguous(x) { px in withContiguous(y) { py in cblas_sdot(n, px, 1, py, 1) } }
    }

    /// `x · y` over `count` contiguous values (BLAS `sdot`) — the same result as
    /// ``dot(_:_:)`` on the same values, without its generic contiguity checks (for hot loops
    /// that hold the pointers).
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        count > 0 ? cblas_sdot(blasint(count), x, 1, y, 1) : 0
    }

    /// The Euclidean norm `‖x‖₂` (BLAS `snrm2`, which avoids overflow).
    ///
    /// - Complexity: O(n).
    public static func norm<X: Collection<Float>>(_ x: X) -> Float {
        if x.isEmpty { return 0 }
        let n = blasint(x.count)
        return withContiguous(x) { px in cblas_snrm2(n, px, 1) }
    }

    /// `y ← α·x + y` (BLAS `saxpy`).
    ///
    /// - Complexity: O(n).
    public static func axpy<X: Collection<Float>>(_ alpha: Float, _ x: X, _ y: inout [Float]) {
        precondition(x.count == y.count, "axpy: lengths differ (\(x.count) vs \(y.count))")
        if x.isEmpty { return }
        let n = blasint(x.count)
        withContiguous(x) { px in
            y.withUnsafeMutableBufferPointer { py in cblas_saxpy(n, alpha, px, 1, py.baseAddress, 1) }
        }
    }

    /// `x` scaled to unit norm; a zero vector is returned unchanged.
    public static func normalized<X: Collection<Float>>(_ x: X) -> [Float] {
        var v = Array(x)
        normalize(&v)
        return v
    }

    /// Scales `x` to unit norm in place (a zero vector stays zero).
    public static func normalize(_ x: inout [Float]) {
        let n = norm(x)
        if n > 0 { for j in x.indices { x[j] = x[j] / n } }
    }

    // Contiguous collections (Array, ArraySlice, matrix rows) are passed without a copy.
    private static func withContiguous<X: Collection<Float>, R>(_ x: X, _ body: (UnsafePointer<Float>) -> R) -> R {
        if let r = x.withContiguousStorageIfAvailable({ body($0.baseAddress!) }) { return r }
        return Array(x).withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

extension Matrix {
    // Scores of users `rows` against items `itemRange` (`U[rows] · V[itemRange]ᵀ`) written to
    // `out`, a rows.count × itemRange.count row-major destination. No copies of U or V.
    static func gemmRows(_ users: Matrix, rows: Range<Int>, _ items: Matrix, itemRange: Range<Int>, into out: inout Matrix) {
        precondition(out.rows == rows.count && out.cols == itemRange.count, "gemmRows: bad output shape")
        out.withMutableStorage { s in
            s.withUnsafeMutableBufferPointer { p in
                var view = TileView(
                    base: p.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!, rows: rows.count, cols: itemRange.count)
                gemmRows(users, rows: rows, items, itemRange: itemRange, into: &view)
            }
        }
    }

    static func gemmRows(_ users: Matrix, rows: Range<Int>, _ items: Matrix, itemRange: Range<Int>, into out: inout TileView) {
        let m = rows.count
        let n = itemRange.count
        let k = users.cols
        if m == 0 || n == 0 { return }
        if k == 0 {
            out.base.update(repeating: 0, count: m * n)
            return
        }
        BLASRuntime.ensureConfigured()
        users.storage.withUnsafeBufferPointer { pu in
            items.storage.withUnsafeBufferPointer { pv in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans,
                    blasint(m), blasint(n), blasint(k),
                    1, pu.baseAddress! + rows.lowerBound * k, blasint(k),
                    pv.baseAddress! + itemRange.lowerBound * k, blasint(k),
                    0, out.base, blasint(n))
            }
        }
    }
}

/// Reusable memory for ``Matrix/columnsAtLeast(_:inProductWithTransposeOf:scratch:)``: it grows
/// to the largest product asked for and is then reused, so repeated calls allocate only their
/// results. One per worker (not synchronised).
public final class ProductScratch: @unchecked Sendable {
    fileprivate var values = SharedArray<Float>(repeating: 0, count: 0)
    fileprivate var columns = SharedArray<Int32>(repeating: 0, count: 0)

    /// Creates empty scratch memory; it grows on first use.
    public init() {}

    fileprivate func reserve(values v: Int, columns c: Int) {
        if values.count < v { values = SharedArray(repeating: 0, count: v) }
        if columns.count < c { columns = SharedArray(repeating: 0, count: c) }
    }
}

extension Matrix {
    /// For each row r of `self`, the columns j of `self · otherᵀ` whose entry is at least
    /// `threshold`, ascending (NaN never is).
    ///
    /// The product is the one sgemm of ``multiplied(by:transposeOther:)`` with `transposeOther`
    /// (the same bits), written into `scratch` instead of a new matrix and scanned there by a
    /// compare-mask kernel (32 entries per branch with AVX2).
    /// - Complexity: O(rows · other.rows · cols).
    public func columnsAtLeast(_ threshold: Float, inProductWithTransposeOf other: Matrix, scratch: ProductScratch) -> [[Int32]] {
        precondition(cols == other.cols, "columnsAtLeast: \(cols) columns against \(other.cols)")
        let m = rows, n = other.rows
        if m == 0 { return [] }
        if n == 0 { return Array(repeating: [], count: m) }
        scratch.reserve(values: m * n, columns: n)
        var view = TileView(base: scratch.values.base, rows: m, cols: n)
        Matrix.gemmRows(self, rows: 0..<m, other, itemRange: 0..<n, into: &view)
        let out = scratch.columns.base
        return (0..<m).map { r in
            let found = cocoon_scan_at_least(view.base + r * n, n, threshold, out)
            return Array(UnsafeBufferPointer(start: out, count: found))
        }
    }

    /// The indices j with `values[j] >= threshold`, ascending: the scan of
    /// ``columnsAtLeast(_:inProductWithTransposeOf:scratch:)`` on its own (test hook).
    package static func indices(of values: [Float], atLeast threshold: Float) -> [Int32] {
        if values.isEmpty { return [] }
        var out = [Int32](repeating: 0, count: values.count)
        let found = values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in cocoon_scan_at_least(v.baseAddress!, v.count, threshold, o.baseAddress!) }
        }
        return Array(out[0..<found])
    }
}

/// Double-precision helpers for small exact computations (re-rankers, metrics).
public enum DoubleBLAS {
    /// The Gram matrix `X·Xᵀ` of `m` rows of length `d` stored row-major in `x` (BLAS `dgemm`).
    ///
    /// - Returns: `m × m` values, row-major.
    /// - Complexity: O(m² d).
    public static func gram(_ x: [Double], rows m: Int, cols d: Int) -> [Double] {
        precondition(x.count == m * d, "gram: \(x.count) values for \(m) × \(d)")
        var out = [Double](repeating: 0, count: m * m)
        if m == 0 || d == 0 { return out }
        BLASRuntime.ensureConfigured()
        x.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(m), blasint(d), 1,
                            px.baseAddress, blasint(d), px.baseAddress, blasint(d), 0, po.baseAddress, blasint(m))
            }
        }
        return out
    }
}

extension Matrix {
    /// Scales row `r` to unit norm in place (a zero row stays zero): the same operations as
    /// ``BLAS/normalized(_:)`` of the row, without a copy.
    ///
    /// - Complexity: O(cols).
    public mutating func normalizeRow(_ r: Int) {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
        let d = cols
        if d == 0 { return }
        _storage.withUnsafeMutableBufferPointer { p in
            let row = p.baseAddress! + r * d
            let n = cblas_snrm2(blasint(d), row, 1)
            if n > 0 { for j in 0..<d { row[j] = row[j] / n } }
        }
    }
}
