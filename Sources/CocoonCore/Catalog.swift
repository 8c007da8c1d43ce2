import CocoonMath

/// The items of a world: embeddings, topics, quality, popularity prior, creators and flags.
///
/// Item `i` is addressed by its index `0..<count` everywhere in the engine and the plugin
/// protocol; ``externalIDs`` keeps the identifiers of a loaded catalog for reports.
public struct Catalog: Sendable {
    /// Item embeddings, one row per item (count × d), as generated or loaded.
    public let embeddings: Matrix
    /// The embeddings scaled to unit norm (cosine similarity is a dot product of these rows).
    public let unitEmbeddings: Matrix
    /// Topic names and item membership.
    public let topics: TopicTable
    /// Quality in [0, 1] per item.
    public let quality: [Float]
    /// Popularity prior per item (≥ 0, sums to 1): how often the world outside the simulated
    /// population engages with the item.
    public let popularityPrior: [Float]
    /// Creator index per item.
    public let creators: [Int32]
    /// Number of creators.
    public let creatorCount: Int
    /// Flags per item.
    public let flags: [ItemFlags]
    /// Identifiers of a loaded catalog (nil for a generated one: ids are the indices).
    public let externalIDs: [String]?

    /// Number of items.
    public var count: Int { embeddings.rows }
    /// Embedding dimension.
    public var dimension: Int { embeddings.cols }

    /// Creates a catalog, checking every invariant.
    ///
    /// - Throws: ``CatalogError`` naming the first offending item.
    public init(
        embeddings: Matrix, topics: TopicTable, quality: [Float]? = nil, popularityPrior: [Float]? = nil,
        creators: [Int32]? = nil, flags: [ItemFlags]? = nil, externalIDs: [String]? = nil
    ) throws {
        let m = embeddings.rows
        guard m > 0 else { throw CatalogError.empty }
        guard topics.itemCount == m else { throw CatalogError.sizeMismatch(field: "topics", expected: m, got: topics.itemCount) }
        for (name, arr) in [
            ("quality", quality?.count), ("popularityPrior", popularityPrior?.count), ("creators", creators?.count),
            ("flags", flags?.count), ("externalIDs", externalIDs?.count),
        ] {
            if let c = arr, c != m { throw CatalogError.sizeMismatch(field: name, expected: m, got: c) }
        }
        let norms = embeddings.rowNorms()
        for i in 0..<m {
            if !embeddings.row(i).allSatisfy({ $0.isFinite }) { throw CatalogError.nonFinite(item: i) }
            if norms[i] == 0 { throw CatalogError.zeroNorm(item: i) }
        }
        for i in 0..<m {
            for t in topics.topics(of: i) where t < 0 || Int(t) >= topics.count {
                throw CatalogError.topicOutOfRange(item: i, topic: Int(t), count: topics.count)
            }
        }
        let q = quality ?? Array(repeating: 0.5, count: m)
        if let bad = q.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw CatalogError.valueOutOfRange(field: "quality", item: bad, value: Double(q[bad]), range: "0...1")
        }
        var p = popularityPrior ?? Array(repeating: 1, count: m)
        if let bad = p.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
            throw CatalogError.valueOutOfRange(field: "popularityPrior", item: bad, value: Double(p[bad]), range: "≥ 0")
        }
        let total = p.reduce(0, +)
        if total <= 0 { p = Array(repeating: 1 / Float(m), count: m) } else { p = p.map { $0 / total } }
        let c = creators ?? (0..<m).map { Int32($0) }
        if let bad = c.firstIndex(where: { $0 < 0 }) {
            throw CatalogError.valueOutOfRange(field: "creator", item: bad, value: Double(c[bad]), range: "≥ 0")
        }
        self.embeddings = embeddings
        self.unitEmbeddings = embeddings.rowNormalized()
        self.topics = topics
        self.quality = q
        self.popularityPrior = p
        self.creators = c
        self.creatorCount = Int(c.max() ?? -1) + 1
        self.flags = flags ?? Array(repeating: [], count: m)
        self.externalIDs = externalIDs
    }

    /// The identifier of item `i` for reports: the external id, or the index.
    public func id(of i: Int) -> String { externalIDs?[i] ?? String(i) }

    /// Items whose flags intersect `flags`, ascending.
    public func items(flagged f: ItemFlags) -> [Int] {
        flags.indices.filter { !flags[$0].isDisjoint(with: f) }
    }

    /// Number of items per primary topic.
    public var topicSizes: [Int] {
        var s = [Int](repeating: 0, count: topics.count)
        for t in topics.primary { s[Int(t)] += 1 }
        return s
    }

    /// Cosine similarity of items `i` and `j`.
    public func cosine(_ i: Int, _ j: Int) -> Float {
        BLAS.dot(unitEmbeddings.row(i), unitEmbeddings.row(j))
    }
}

/// Why a catalog is invalid.
public enum CatalogError: Error, Equatable, CustomStringConvertible {
    case empty
    case sizeMismatch(field: String, expected: Int, got: Int)
    case nonFinite(item: Int)
    case zeroNorm(item: Int)
    case topicOutOfRange(item: Int, topic: Int, count: Int)
    case valueOutOfRange(field: String, item: Int, value: Double, range: String)

    public var description: String {
        switch self {
        case .empty: return "the catalog has no items"
        case .sizeMismatch(let f, let e, let g): return "catalog field '\(f)' has \(g) entries for \(e) items"
        case .nonFinite(let i): return "item \(i) has a non-finite embedding value"
        case .zeroNorm(let i):
            return "item \(i) has a zero-norm embedding (cosine similarity is undefined); remove it or give it a non-zero vector"
        case .topicOutOfRange(let i, let t, let c): return "item \(i) has topic index \(t), outside 0..<\(c)"
        case .valueOutOfRange(let f, let i, let v, let r): return "item \(i) has \(f) = \(v), allowed range \(r)"
        }
    }
}
