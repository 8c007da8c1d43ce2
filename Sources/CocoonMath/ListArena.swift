/// Many short `Int32` lists (one per user) in one flat buffer, grown a batch at a time.
///
/// A Swift array per user costs a pointer, a heap block and its header — about 70 bytes before
/// the first element, which at a million users is more than the lists hold. Here the lists are
/// one values buffer and one offsets buffer (compressed sparse rows: 4 bytes a list plus 4 an
/// element; at most 2³² − 1 elements in all). Lists grow by whole batches (a step's consumption): ``append(_:)`` rebuilds the
/// buffers once per batch, which costs one pass over what the lists hold.
public struct ListArena: RandomAccessCollection, Sendable {
    /// How a list keeps its elements.
    public enum Order: Sendable {
        /// In arrival order, repeats kept.
        case arrival
        /// Ascending, without repeats (a set).
        case sortedUnique
    }

    public let order: Order
    private var offsets: [UInt32]
    private var values: [Int32]

    /// One list per element of `initial`, holding its elements (sorted and de-duplicated for
    /// `.sortedUnique`).
    public init<Lists: Collection>(_ initial: Lists, order: Order = .arrival)
    where Lists.Element: Collection, Lists.Element.Element == Int32 {
        self.order = order
        var offsets = [UInt32](repeating: 0, count: initial.count + 1)
        var values: [Int32] = []
        values.reserveCapacity(initial.reduce(0) { $0 + $1.count })
        var scratch: [Int32] = []
        for (l, list) in initial.enumerated() {
            switch order {
            case .arrival:
                values.append(contentsOf: list)
            case .sortedUnique:
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: list)
                scratch.sortAndRemoveDuplicates()
                values.append(contentsOf: scratch)
            }
            offsets[l + 1] = ListArena.offset(values.count)
        }
        self.offsets = offsets
        self.values = values
    }

    /// No lists yet (add them with ``appendList(_:)``).
    public init(order: Order = .arrival) {
        self.order = order
        offsets = [0]
        values = []
    }

    /// Reserves room for `lists` more lists holding `elements` more elements.
    public mutating func reserveCapacity(lists: Int, elements: Int) {
        offsets.reserveCapacity(offsets.count + lists)
        values.reserveCapacity(values.count + elements)
    }

    /// Adds a list after the last one (sorted and de-duplicated for `.sortedUnique`).
    public mutating func appendList<C: Collection>(_ list: C) where C.Element == Int32 {
        switch order {
        case .arrival:
            values.append(contentsOf: list)
        case .sortedUnique:
            var set = Array(list)
            set.sortAndRemoveDuplicates()
            values.append(contentsOf: set)
        }
        offsets.append(ListArena.offset(values.count))
    }

    /// The lists are the collection's elements, `0..<listCount`.
    public var startIndex: Int { 0 }
    public var endIndex: Int { offsets.count - 1 }

    /// Number of lists.
    public var listCount: Int { offsets.count - 1 }

    /// Number of elements in list `l`.
    public func count(_ l: Int) -> Int { Int(offsets[l + 1] - offsets[l]) }

    /// The elements of list `l` (a view of the buffer).
    public subscript(l: Int) -> ArraySlice<Int32> { values[range(l)] }

    /// Calls `body` with every element of list `l`, in order.
    public func forEach(in l: Int, _ body: (Int32) throws -> Void) rethrows {
        for r in range(l) { try body(values[r]) }
    }

    @inline(__always)
    private func range(_ l: Int) -> Range<Int> { Int(offsets[l])..<Int(offsets[l + 1]) }

    @inline(__always)
    private static func offset(_ n: Int) -> UInt32 {
        precondition(n <= Int(UInt32.max), "ListArena: more than 2³² − 1 elements")
        return UInt32(truncatingIfNeeded: n)
    }

    /// Adds a batch: `additions` are (list, value) pairs grouped by ascending list (pairs of one
    /// list in arrival order). `.arrival` lists append them; `.sortedUnique` lists merge them in.
    public mutating func append(_ additions: [(list: Int32, value: Int32)]) {
        if additions.isEmpty { return }
        var newOffsets = [UInt32](repeating: 0, count: offsets.count)
        var newValues: [Int32] = []
        newValues.reserveCapacity(values.count + additions.count)
        var a = 0
        var group: [Int32] = []
        for l in 0..<listCount {
            group.removeAll(keepingCapacity: true)
            while a < additions.count && Int(additions[a].list) == l {
                group.append(additions[a].value)
                a += 1
            }
            let old = range(l)
            switch order {
            case .arrival:
                newValues.append(contentsOf: values[old])
                newValues.append(contentsOf: group)
            case .sortedUnique:
                group.sort()
                var r = old.lowerBound
                var g = 0
                while r < old.upperBound || g < group.count {
                    let x: Int32
                    if g == group.count || (r < old.upperBound && values[r] <= group[g]) {
                        x = values[r]
                        r += 1
                    } else {
                        x = group[g]
                        g += 1
                    }
                    if newValues.count == Int(newOffsets[l]) || newValues[newValues.count - 1] != x { newValues.append(x) }
                }
            }
            newOffsets[l + 1] = ListArena.offset(newValues.count)
        }
        precondition(a == additions.count, "ListArena.append: additions must be grouped by ascending list")
        offsets = newOffsets
        values = newValues
    }

    /// Bytes the buffers hold.
    public var bytes: Int { values.capacity * 4 + offsets.capacity * 4 }
}
