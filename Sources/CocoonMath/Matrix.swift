/// A dense, row-major matrix of `Float`.
///
/// Rows are contiguous: element `(r, c)` lives at `r * cols + c` of ``storage``. The type is a
/// value type with copy-on-write storage (it wraps a Swift `Array`), so it is `Sendable` and
/// safe to share read-only between worker threads.
///
/// Every BLAS-backed operation lives in `Matrix+BLAS.swift`; this file holds construction,
/// element access and the cheap row operations.
public struct Matrix: Sendable, Equatable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// The elements in row-major order; `storage.count == rows * cols`.
    @inlinable public var storage: [Float] { _storage }
    @usableFromInline var _storage: [Float]

    /// Creates a matrix with every element set to `value`.
    ///
    /// - Parameters:
    ///   - rows: number of rows, ≥ 0.
    ///   - cols: number of columns, ≥ 0.
    ///   - value: the initial value of every element.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be non-negative, got \(rows) × \(cols)")
        self.rows = rows
        self.cols = cols
        self._storage = Array(repeating: value, count: rows * cols)
    }

    /// Creates a matrix from row-major values.
    ///
    /// - Parameters:
    ///   - rows: number of rows.
    ///   - cols: number of columns.
    ///   - values: `rows * cols` elements in row-major order.
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be non-negative, got \(rows) × \(cols)")
        precondition(values.count == rows * cols, "Matrix \(rows) × \(cols) needs \(rows * cols) values, got \(values.count)")
        self.rows = rows
        self.cols = cols
        self._storage = values
    }

    /// Creates a matrix from an array of equally long rows.
    ///
    /// - Parameters:
    ///   - rowArrays: the rows; all must have the same length.
    ///   - cols: the column count to use when `rowArrays` is empty (default 0).
    public init(rowArrays: [[Float]], cols: Int? = nil) {
        let c = rowArrays.first?.count ?? (cols ?? 0)
        var values: [Float] = []
        values.reserveCapacity(rowArrays.count * c)
        for (i, row) in rowArrays.enumerated() {
            precondition(row.count == c, "row \(i) has \(row.count) values, expected \(c)")
            values.append(contentsOf: row)
        }
        self.init(rows: rowArrays.count, cols: c, values: values)
    }

    /// Whether the matrix has no elements.
    public var isEmpty: Bool { storage.isEmpty }

    /// Element access.
    ///
    /// - Parameters:
    ///   - r: row index in `0..<rows`.
    ///   - c: column index in `0..<cols`.
    @inlinable
    public subscript(r: Int, c: Int) -> Float {
        get {
            precondition(r >= 0 && r < rows && c >= 0 && c < cols, "index (\(r), \(c)) out of range for \(rows) × \(cols)")
            return storage[r * cols + c]
        }
        set {
            precondition(r >= 0 && r < rows && c >= 0 && c < cols, "index (\(r), \(c)) out of range for \(rows) × \(cols)")
            _storage[r * cols + c] = newValue
        }
    }

    /// The elements of row `r`, as a slice of ``storage``.
    public func row(_ r: Int) -> ArraySlice<Float> {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
        return storage[(r * cols)..<((r + 1) * cols)]
    }

    /// Replaces row `r` with `values` (`values.count == cols`).
    public mutating func setRow<C: Collection>(_ r: Int, to values: C) where C.Element == Float {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
        precondition(values.count == cols, "row needs \(cols) values, got \(values.count)")
        let start = r * cols, n = cols
        let copied: Void? = values.withContiguousStorageIfAvailable { src in
            _storage.withUnsafeMutableBufferPointer { dst in
                if n > 0 { (dst.baseAddress! + start).update(from: src.baseAddress!, count: n) }
            }
        }
        if copied != nil { return }
        var j = start
        for v in values {
            _storage[j] = v
            j += 1
        }
    }

    /// Calls `body` with row `r` as a mutable span (no copy).
    public mutating func withMutableRow<R>(_ r: Int, _ body: (inout MutableSpan<Float>) throws -> R) rethrows -> R {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
        let start = r * cols
        let c = cols
        return try _storage.withUnsafeMutableBufferPointer { p in
            let rowBuffer = UnsafeMutableBufferPointer(rebasing: p[start..<(start + c)])
            var span = rowBuffer.mutableSpan
            return try body(&span)
        }
    }

    /// A new matrix holding the rows `range` of this one.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of range 0..<\(rows)")
        return Matrix(
            rows: range.count, cols: cols, values: Array(storage[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    /// A new matrix made of the given rows, in the given order (repeats allowed).
    public func gatherRows<S: Sequence>(_ indices: S) -> Matrix where S.Element: BinaryInteger {
        var values: [Float] = []
        var n = 0
        for i in indices {
            values.append(contentsOf: row(Int(i)))
            n += 1
        }
        return Matrix(rows: n, cols: cols, values: values)
    }

    /// The transpose (a copy).
    public func transposed() -> Matrix {
        var t = Matrix(rows: cols, cols: rows)
        for r in 0..<rows {
            for c in 0..<cols {
                t._storage[c * rows + r] = storage[r * cols + c]
            }
        }
        return t
    }

    /// Whether every element is finite (no NaN, no ±∞).
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }

    /// The rows as arrays (for tests and small outputs).
    public var rowArrays: [[Float]] { (0..<rows).map { Array(row($0)) } }

    /// Writes into row `r` of `out` the decayed sum of rows `items` of this matrix, oldest
    /// first: `p ← keep · p + self[i]` for each item i, from p = 0 (so the newest row weighs 1
    /// and each older one `keep` times less). Each element follows exactly that recurrence.
    ///
    /// - Complexity: O(items.count · cols).
    public func decayedSum(ofRows items: [Int32], keep: Float, into out: inout Matrix, row r: Int) {
        precondition(out.cols == cols && r >= 0 && r < out.rows, "decayedSum: row \(r) of a \(out.rows) × \(out.cols) output")
        let d = cols
        storage.withUnsafeBufferPointer { e in
            out._storage.withUnsafeMutableBufferPointer { o in
                let p = o.baseAddress! + r * d
                p.update(repeating: 0, count: d)
                for i in items {
                    precondition(i >= 0 && Int(i) < rows, "item \(i) out of range 0..<\(rows)")
                    Matrix.decayStep(p, adding: e.baseAddress! + Int(i) * d, count: d, keep: keep)
                }
            }
        }
    }

    /// One step of ``decayedSum(ofRows:keep:into:row:)``: `p[j] ← keep · p[j] + x[j]` for j in
    /// `0 ..< count`, eight lanes at a time with the same roundings as the scalar recurrence (a
    /// product, then a sum).
    @inlinable
    public static func decayStep(_ p: UnsafeMutablePointer<Float>, adding x: UnsafePointer<Float>, count d: Int, keep: Float) {
        let k8 = SIMD8<Float>(repeating: keep)
        var j = 0
        while j + 8 <= d {
            let e = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(p + j).storeBytes(of: k8 * y + e, as: SIMD8<Float>.self)
            j += 8
        }
        while j < d {
            p[j] = keep * p[j] + x[j]
            j += 1
        }
    }

    /// Mutable access to all elements at once, without copying.
    public mutating func withMutableStorage<R>(_ body: (inout [Float]) throws -> R) rethrows -> R {
        try body(&_storage)
    }
}

extension Matrix: CustomStringConvertible {
    /// A short description with the shape and, for small matrices, the values.
    public var description: String {
        if rows * cols > 64 { return "Matrix(\(rows) × \(cols))" }
        return "Matrix(\(rows) × \(cols)) " + rowArrays.description
    }
}
