/// The topics of a catalog and which items belong to each.
///
/// Items have one or more topics; the first is the item's *primary* topic. In a topic
/// distribution an item adds `1/|topics(i)|` to each of its topics (METRICS.md, C9).
/// Membership is stored compactly (CSR): `offsets[i]..<offsets[i+1]` indexes `members`.
public struct TopicTable: Sendable, Equatable {
    /// Topic names, in table order (index 0, 1, …).
    public let names: [String]
    /// The primary topic of every item.
    public let primary: [Int32]
    /// CSR offsets (itemCount + 1 entries).
    public let offsets: [Int32]
    /// Topic indices of all items, concatenated.
    public let members: [Int32]

    /// Creates a table where every item has exactly one topic.
    public init(names: [String], primary: [Int32]) {
        self.names = names
        self.primary = primary
        self.offsets = (0...primary.count).map { Int32($0) }
        self.members = primary
    }

    /// Creates a table from per-item topic lists (each non-empty, no repeats; the first is
    /// the primary topic).
    public init(names: [String], itemTopics: [[Int32]]) {
        self.names = names
        var offs: [Int32] = [0]
        var mem: [Int32] = []
        offs.reserveCapacity(itemTopics.count + 1)
        for ts in itemTopics {
            precondition(!ts.isEmpty, "every item needs at least one topic")
            mem.append(contentsOf: ts)
            offs.append(Int32(mem.count))
        }
        self.offsets = offs
        self.members = mem
        self.primary = itemTopics.map { $0[0] }
    }

    /// Number of topics.
    public var count: Int { names.count }
    /// Number of items.
    public var itemCount: Int { primary.count }
    /// Whether some item has more than one topic.
    public var isMultiTopic: Bool { members.count != primary.count }

    /// Calls `body` with each topic of item `i`, primary first: the topics of ``topics(of:)``
    /// without an array slice, which retains and releases the table's storage at every call
    /// (contended when worker threads share the table).
    @inlinable
    public func forEachTopic(of i: Int, _ body: (Int32) throws -> Void) rethrows {
        for j in Int(offsets[i])..<Int(offsets[i + 1]) { try body(members[j]) }
    }

    /// The topics of item `i` (primary first).
    @inlinable
    public func topics(of i: Int) -> ArraySlice<Int32> {
        members[Int(offsets[i])..<Int(offsets[i + 1])]
    }

    /// Adds item `i`'s topic shares (`weight / |topics(i)|` per topic) to `distribution`.
    @inlinable
    public func accumulate(item i: Int, weight: Double = 1, into distribution: inout [Double]) {
        accumulate(items: CollectionOfOne(Int32(i)), weight: weight, into: &distribution)
    }

    /// Adds each of `items`' topic shares to `distribution` (`distribution.count` = the topic
    /// count), item by item in order, through pointers for the whole list (one uniqueness check
    /// of the distribution, not one per item).
    @inlinable
    public func accumulate<S: Sequence<Int32>>(items: S, weight: Double = 1, into distribution: inout [Double]) {
        accumulate(items: items, weight: weight, into: &distribution) { _ in }
    }

    /// The same, calling `newTopic(q)` before an item adds to a topic whose entry is still 0:
    /// with positive weights and a distribution that starts at 0, each topic the items touch is
    /// reported once (what a caller visiting only those topics needs).
    @inlinable
    public func accumulate<S: Sequence<Int32>>(
        items: S, weight: Double = 1, into distribution: inout [Double], newTopic: (Int) -> Void
    ) {
        precondition(distribution.count >= names.count, "a distribution of \(distribution.count) topics, \(names.count) expected")
        offsets.withUnsafeBufferPointer { off in
            members.withUnsafeBufferPointer { mem in
                distribution.withUnsafeMutableBufferPointer { dist in
                    for i in items {
                        precondition(i >= 0 && Int(i) < off.count - 1, "item \(i) outside the catalog")
                        let lo = Int(off[Int(i)]), hi = Int(off[Int(i) + 1])
                        if hi - lo == 1 {
                            let q = Int(mem[lo])
                            if dist[q] == 0 { newTopic(q) }
                            dist[q] += weight
                            continue
                        }
                        let w = weight / Double(hi - lo)
                        for j in lo..<hi {
                            let q = Int(mem[j])
                            if dist[q] == 0 { newTopic(q) }
                            dist[q] += w
                        }
                    }
                }
            }
        }
    }

    /// The index of the topic called `name`, or of `#N` (the N-th topic from 0, in catalog
    /// order: a reference that works on any catalog with more than N topics), if any.
    public func index(of name: String) -> Int? { TopicTable.index(of: name, in: names) }

    /// The index of topic `ref` among `names`: a name, or `#N` with 0 ≤ N < names.count.
    public static func index(of ref: String, in names: [String]) -> Int? {
        if let i = names.firstIndex(of: ref) { return i }
        guard ref.hasPrefix("#"), let n = Int(ref.dropFirst()), n >= 0, n < names.count else { return nil }
        return n
    }
}
