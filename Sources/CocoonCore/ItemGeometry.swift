import CocoonMath
import Synchronization

/// Item embeddings in `Double`, scaled to unit norm, for re-rankers and metrics
/// (METRICS.md C8: metrics compute in Double from the catalog embeddings converted to Double).
public final class ItemGeometry: Sendable {
    /// Number of items.
    public let count: Int
    /// Embedding dimension.
    public let dimension: Int
    /// Unit embeddings, row-major (count × d).
    public let unit: [Double]
    /// Raw embeddings in Double, row-major (count × d).
    public let raw: [Double]
    /// ‖ê_i‖² per item: Σ_j unit[i, j]², summed in coordinate order (1 up to rounding). What
    /// ILD's `1 − (‖Σ ê‖² − Σ ‖ê‖²)/(n(n−1))` subtracts.
    public let unitSquaredNorms: [Double]
    /// The catalog's unit embeddings in single precision (shared, not copied), for fast
    /// threshold tests.
    public let unitSingle: Matrix

    /// Near-duplicate neighbour tables computed so far, by threshold.
    private let neighbourCache = Mutex<[Double: NeighbourTable]>([:])

    /// Catalogs above this size do not get a precomputed neighbour table (all pairs would cost
    /// too much); callers compare embeddings directly instead.
    public static let neighbourTableLimit = 30_000

    /// Builds the table from a catalog.
    public init(_ catalog: Catalog) {
        count = catalog.count
        dimension = catalog.dimension
        let r = catalog.embeddings.storage.map(Double.init)
        var u = r
        let d = dimension
        var squares = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var n = 0.0
            for j in 0..<d { n += r[i * d + j] * r[i * d + j] }
            n = n.squareRoot()
            if n > 0 { for j in 0..<d { u[i * d + j] = r[i * d + j] / n } }
            var q = 0.0
            for j in 0..<d { q += u[i * d + j] * u[i * d + j] }
            squares[i] = q
        }
        raw = r
        unit = u
        unitSquaredNorms = squares
        unitSingle = catalog.unitEmbeddings
    }

    /// Cosine similarity of items i and j (Double; ``fourLaneDot(_:_:_:)`` of their unit rows).
    @inlinable
    public func cosine(_ i: Int, _ j: Int) -> Double {
        let d = dimension
        return unit.withUnsafeBufferPointer { u in
            let a = u.baseAddress! + i * d, b = u.baseAddress! + j * d
            return fourLaneDot(d) { a[$0] } _: { b[$0] }
        }
    }

    /// For every item, the other items whose single-precision cosine similarity is at least
    /// `threshold`, computed once per threshold (all pairs, by blocks of rows with sgemm) and
    /// shared. Nil for catalogs above ``neighbourTableLimit`` items.
    public func nearDuplicates(threshold: Double) -> NeighbourTable? {
        guard count <= ItemGeometry.neighbourTableLimit else { return nil }
        if let t = neighbourCache.withLock({ $0[threshold] }) { return t }
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(count + 1)
        var members: [Int32] = []
        let block = 128
        var start = 0
        while start < count {
            let end = min(start + block, count)
            let rows = unitSingle.gatherRows((start..<end).map { Int32($0) })
            let sims = rows.multiplied(by: unitSingle, transposeOther: true)
            sims.storage.withUnsafeBufferPointer { s in
                for r in 0..<(end - start) {
                    let i = start + r
                    let row = s.baseAddress! + r * count
                    for j in 0..<count where j != i && Double(row[j]) >= threshold { members.append(Int32(j)) }
                    offsets.append(Int32(members.count))
                }
            }
            start = end
        }
        let table = NeighbourTable(offsets: offsets, members: members)
        neighbourCache.withLock { $0[threshold] = table }
        return table
    }
}

/// Sparse neighbour lists (compressed rows): the neighbours of item i are
/// `members[offsets[i] ..< offsets[i + 1]]`, ascending.
public struct NeighbourTable: Sendable {
    public let offsets: [Int32]
    public let members: [Int32]

    /// The neighbours of item i.
    @inlinable
    public func neighbours(of i: Int) -> ArraySlice<Int32> { members[Int(offsets[i])..<Int(offsets[i + 1])] }
}

/// Σ a(j)·b(j) over j < d in four interleaved partial sums (lane l takes j ≡ l mod 4), added
/// as (s0 + s1) + (s2 + s3) and then the tail: a chain of d/4 dependent additions instead of
/// d, in a fixed order, so the same value on every run. Item cosines and the list metrics'
/// dot products use it.
@inlinable @inline(__always)
public func fourLaneDot(_ d: Int, _ a: (Int) -> Double, _ b: (Int) -> Double) -> Double {
    var acc = SIMD4<Double>(repeating: 0)
    var k = 0
    while k + 4 <= d {
        let x = SIMD4<Double>(a(k), a(k + 1), a(k + 2), a(k + 3))
        let y = SIMD4<Double>(b(k), b(k + 1), b(k + 2), b(k + 3))
        acc = acc + x * y
        k += 4
    }
    var s = (acc[0] + acc[1]) + (acc[2] + acc[3])
    while k < d {
        s += a(k) * b(k)
        k += 1
    }
    return s
}
