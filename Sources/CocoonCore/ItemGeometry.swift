import CocoonMath

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
    /// The catalog's unit embeddings in single precision (shared, not copied), for fast
    /// threshold tests.
    public let unitSingle: Matrix

    /// Builds the table from a catalog.
    public init(_ catalog: Catalog) {
        count = catalog.count
        dimension = catalog.dimension
        let r = catalog.embeddings.storage.map(Double.init)
        var u = r
        let d = dimension
        for i in 0..<count {
            var n = 0.0
            for j in 0..<d { n += r[i * d + j] * r[i * d + j] }
            n = n.squareRoot()
            if n > 0 { for j in 0..<d { u[i * d + j] = r[i * d + j] / n } }
        }
        raw = r
        unit = u
        unitSingle = catalog.unitEmbeddings
    }

    /// Cosine similarity of items i and j.
    @inlinable
    public func cosine(_ i: Int, _ j: Int) -> Double {
        var s = 0.0
        let d = dimension
        for k in 0..<d { s += unit[i * d + k] * unit[j * d + k] }
        return s
    }
}
