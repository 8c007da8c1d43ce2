/// Every user's topic mixture: users × topics weights, read as one flat row-major collection
/// (`mix[u · topics + t]`) whatever the storage.
///
/// Mixtures of a few topics are mostly zeros: such a table keeps each user's non-zero
/// (topic, weight) pairs — 4 bytes a user plus 5 a pair, about 24 bytes for 3–5 of 20 topics
/// instead of 80 (76 MB at a million users). Dense mixtures (Dirichlet worlds, real genre
/// mixtures) stay dense: ``compacted()`` keeps whichever storage is smaller. The weights are
/// the same Floats either way; only the storage differs.
public struct TopicMixtures: RandomAccessCollection, Sendable {
    /// Number of users (rows).
    public private(set) var users: Int
    /// Topics per mixture (columns).
    public let topicCount: Int

    enum Storage: Sendable {
        case dense([Float])
        /// Row u's pairs are `topics[offsets[u]..<offsets[u + 1]]` (ascending) with `weights`.
        case sparse(offsets: [UInt32], topics: [UInt8], weights: [Float])
    }
    private(set) var storage: Storage

    /// Dense weights (`users × topicCount`), kept dense.
    public init(dense weights: [Float], topics: Int) {
        precondition(topics > 0 ? weights.count % topics == 0 : weights.isEmpty, "mixture weights are not a whole number of rows")
        topicCount = topics
        users = topics > 0 ? weights.count / topics : 0
        storage = .dense(weights)
    }

    /// No users yet: add rows with ``appendRow(_:)``, then take ``compacted()``. Rows are
    /// collected sparsely when the topics fit a byte.
    public init(topics: Int) {
        topicCount = topics
        users = 0
        storage = topics <= Int(UInt8.max) + 1 ? .sparse(offsets: [0], topics: [], weights: []) : .dense([])
    }

    /// Reserves room for `users` more rows.
    public mutating func reserveCapacity(users n: Int) {
        switch storage {
        case .dense(var w):
            storage = .dense([])
            w.reserveCapacity(w.count + n * topicCount)
            storage = .dense(w)
        case .sparse(var o, let t, let w):
            storage = .dense([])
            o.reserveCapacity(o.count + n)
            storage = .sparse(offsets: o, topics: t, weights: w)
        }
    }

    /// Adds the next user's mixture (`topicCount` weights).
    public mutating func appendRow<Row: Collection>(_ row: Row) where Row.Element == Float {
        precondition(row.count == topicCount, "a mixture row has \(row.count) weights, expected \(topicCount)")
        switch storage {
        case .dense(var w):
            storage = .dense([])  // keep the buffer uniquely referenced while it grows
            w.append(contentsOf: row)
            storage = .dense(w)
        case .sparse(var o, var t, var w):
            storage = .dense([])
            for (j, x) in row.enumerated() where x != 0 {
                t.append(UInt8(truncatingIfNeeded: j))
                w.append(x)
            }
            precondition(w.count <= Int(UInt32.max), "TopicMixtures: more than 2³² − 1 non-zero weights")
            o.append(UInt32(truncatingIfNeeded: w.count))
            storage = .sparse(offsets: o, topics: t, weights: w)
        }
        users += 1
    }

    /// The same weights in the smaller storage.
    public func compacted() -> TopicMixtures {
        guard case .sparse(_, let t, _) = storage else { return self }
        let sparseBytes = 4 * (users + 1) + 5 * t.count
        return sparseBytes < 4 * users * topicCount ? self : densified()
    }

    /// The same weights stored dense.
    func densified() -> TopicMixtures {
        guard case .sparse(let o, let t, let w) = storage else { return self }
        var dense = [Float](repeating: 0, count: users * topicCount)
        for u in 0..<users {
            for p in Int(o[u])..<Int(o[u + 1]) { dense[u * topicCount + Int(t[p])] = w[p] }
        }
        return TopicMixtures(dense: dense, topics: topicCount)
    }

    /// Whether the pairs are stored sparsely.
    public var isSparse: Bool {
        if case .sparse = storage { return true }
        return false
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { users * topicCount }

    /// Weight `i = u · topics + t` (user u, topic t).
    public subscript(i: Int) -> Float {
        switch storage {
        case .dense(let w):
            return w[i]
        case .sparse(let o, let t, let w):
            let u = i / topicCount
            let topic = UInt8(truncatingIfNeeded: i - u * topicCount)
            for p in Int(o[u])..<Int(o[u + 1]) where t[p] >= topic {
                return t[p] == topic ? w[p] : 0
            }
            return 0
        }
    }

    /// User u's mixture (`topicCount` weights).
    public func row(_ u: Int) -> [Float] {
        switch storage {
        case .dense(let w):
            return Array(w[(u * topicCount)..<((u + 1) * topicCount)])
        case .sparse(let o, let t, let w):
            var out = [Float](repeating: 0, count: topicCount)
            for p in Int(o[u])..<Int(o[u + 1]) { out[Int(t[p])] = w[p] }
            return out
        }
    }

    /// User u's dominant topic: the largest weight, ties → lower index.
    public func dominantTopic(of u: Int) -> Int {
        let w = row(u)
        var best = 0
        for (t, x) in w.enumerated() where x > w[best] { best = t }
        return best
    }

    /// Sets user u's weight of topic t (a sparse table turns dense first: only interest shifts
    /// write, and they may add a topic to a row).
    public mutating func set(user u: Int, topic t: Int, to value: Float) {
        if isSparse { self = densified() }
        guard case .dense(var w) = storage else { return }
        storage = .dense([])
        w[u * topicCount + t] = value
        storage = .dense(w)
    }
}
