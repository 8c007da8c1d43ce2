/// Many short `Int32` lists (one per user) in one flat buffer, grown a batch at a time.
///
/// A Swift array per user costs a pointer, a heap block and its header — about 70 bytes before
/// the first element, which at a million users is more than the lists hold. Here the lists are
/// one values buffer and one offsets buffer (compressed sparse rows: 4 bytes a list plus 2 or 4
/// an element; at most 2³² − 1 elements in all). Elements take 2 bytes while every one is in
/// 0..<65,535 — the item ids of catalogs below 65,535 items — and 4 from the first that is
/// not. Lists grow by whole batches (a step's consumption): ``append(_:)`` rebuilds the
/// buffers once per batch, which costs one pass over what the lists hold.
public struct ListArena: RandomAccessCollection, Sendable {
    /// How a list keeps its elements.
    public enum Order: Sendable {
        /// In arrival order, repeats kept.
        case arrival
        /// Ascending, without repeats (a set).
        case sortedUnique
    }

    /// One list: a view of the arena's buffer (no copy).
    public struct List: RandomAccessCollection, Equatable, Sendable {
        @usableFromInline let narrow: [UInt16]
        @usableFromInline let wide: [Int32]
        @usableFromInline let base: Int
        public let count: Int

        @usableFromInline init(narrow: [UInt16], wide: [Int32], base: Int, count: Int) {
            self.narrow = narrow
            self.wide = wide
            self.base = base
            self.count = count
        }

        @inlinable public var startIndex: Int { 0 }
        @inlinable public var endIndex: Int { count }

        @inlinable
        public subscript(i: Int) -> Int32 {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return wide.isEmpty ? NarrowItemID.decode(narrow[base + i]) : wide[base + i]
        }

        public static func == (a: List, b: List) -> Bool { a.elementsEqual(b) }
    }

    public let order: Order
    private var offsets: [UInt32]
    /// The elements in 2 bytes while ``isNarrow``, else in `wide`.
    private var narrow: [UInt16] = []
    private var wide: [Int32] = []
    /// Whether the elements are stored in 2 bytes.
    public private(set) var isNarrow = true

    /// One list per element of `initial`, holding its elements (sorted and de-duplicated for
    /// `.sortedUnique`).
    public init<Lists: Collection>(_ initial: Lists, order: Order = .arrival)
    where Lists.Element: Collection, Lists.Element.Element == Int32 {
        self.order = order
        offsets = [0]
        reserveCapacity(lists: initial.count, elements: initial.reduce(0) { $0 + $1.count })
        for list in initial { appendList(list) }
    }

    /// No lists yet (add them with ``appendList(_:)``).
    public init(order: Order = .arrival) {
        self.order = order
        offsets = [0]
    }

    /// Reserves room for `lists` more lists holding `elements` more elements.
    public mutating func reserveCapacity(lists: Int, elements: Int) {
        offsets.reserveCapacity(offsets.count + lists)
        if isNarrow { narrow.reserveCapacity(narrow.count + elements) } else { wide.reserveCapacity(wide.count + elements) }
    }

    /// Moves the elements to 4 bytes each (once, when the first wide value arrives).
    private mutating func widen() {
        guard isNarrow else { return }
        wide = narrow.map(NarrowItemID.decode)
        narrow = []
        isNarrow = false
    }

    private var elementCount: Int { isNarrow ? narrow.count : wide.count }

    /// Adds a list after the last one (sorted and de-duplicated for `.sortedUnique`).
    public mutating func appendList<C: Collection>(_ list: C) where C.Element == Int32 {
        if order == .sortedUnique {
            var set = Array(list)
            set.sortAndRemoveDuplicates()
            appendElements(set)
        } else {
            appendElements(list)
        }
        offsets.append(ListArena.offset(elementCount))
    }

    private mutating func appendElements<C: Collection>(_ list: C) where C.Element == Int32 {
        if isNarrow && !list.allSatisfy(NarrowItemID.fits) { widen() }
        if isNarrow {
            for x in list { narrow.append(NarrowItemID.encode(x)) }
        } else {
            wide.append(contentsOf: list)
        }
    }

    /// The lists are the collection's elements, `0..<listCount`.
    public var startIndex: Int { 0 }
    public var endIndex: Int { offsets.count - 1 }

    /// Number of lists.
    public var listCount: Int { offsets.count - 1 }

    /// Number of elements in list `l`.
    public func count(_ l: Int) -> Int { Int(offsets[l + 1] - offsets[l]) }

    /// The elements of list `l` (a view of the buffer).
    public subscript(l: Int) -> List {
        let r = range(l)
        return List(narrow: isNarrow ? narrow : [], wide: isNarrow ? [] : wide, base: r.lowerBound, count: r.count)
    }

    /// Appends the elements of list `l`, in order, to `out` (no allocation once `out` has room).
    public func appendElements(of l: Int, to out: inout [Int32]) {
        let r = range(l)
        if isNarrow {
            out.appendInPlace(upTo: r.count, filler: 0) { room in
                narrow.withUnsafeBufferPointer { p in
                    for (j, x) in r.enumerated() { room[j] = NarrowItemID.decode(p[x]) }
                }
                return r.count
            }
        } else {
            out.append(contentsOf: wide[r])
        }
    }

    /// Calls `body` with every element of list `l`, in order.
    public func forEach(in l: Int, _ body: (Int32) throws -> Void) rethrows {
        if isNarrow {
            for r in range(l) { try body(NarrowItemID.decode(narrow[r])) }
        } else {
            for r in range(l) { try body(wide[r]) }
        }
    }

    @inline(__always)
    private func range(_ l: Int) -> Range<Int> { Int(offsets[l])..<Int(offsets[l + 1]) }

    @inline(__always)
    private func element(_ r: Int) -> Int32 { isNarrow ? NarrowItemID.decode(narrow[r]) : wide[r] }

    @inline(__always)
    private static func offset(_ n: Int) -> UInt32 {
        precondition(n <= Int(UInt32.max), "ListArena: more than 2³² − 1 elements")
        return UInt32(truncatingIfNeeded: n)
    }

    /// Adds a batch: `additions` are (list, value) pairs grouped by ascending list (pairs of one
    /// list in arrival order). `.arrival` lists append them; `.sortedUnique` lists merge them in.
    public mutating func append(_ additions: [(list: Int32, value: Int32)]) {
        if additions.isEmpty { return }
        if isNarrow && !additions.allSatisfy({ NarrowItemID.fits($0.value) }) { widen() }
        var newOffsets = [UInt32](repeating: 0, count: offsets.count)
        var newValues: [Int32] = []
        var newNarrow: [UInt16] = []
        if isNarrow { newNarrow.reserveCapacity(narrow.count + additions.count) } else { newValues.reserveCapacity(wide.count + additions.count) }
        var written = 0
        var last: Int32 = 0
        func put(_ x: Int32) {
            if isNarrow { newNarrow.append(NarrowItemID.encode(x)) } else { newValues.append(x) }
            written += 1
            last = x
        }
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
                if isNarrow {
                    newNarrow.append(contentsOf: narrow[old])
                    for x in group { newNarrow.append(NarrowItemID.encode(x)) }
                    written = newNarrow.count
                } else {
                    newValues.append(contentsOf: wide[old])
                    newValues.append(contentsOf: group)
                    written = newValues.count
                }
            case .sortedUnique:
                group.sort()
                var r = old.lowerBound
                var g = 0
                while r < old.upperBound || g < group.count {
                    let x: Int32
                    if g == group.count || (r < old.upperBound && element(r) <= group[g]) {
                        x = element(r)
                        r += 1
                    } else {
                        x = group[g]
                        g += 1
                    }
                    if written == Int(newOffsets[l]) || last != x { put(x) }
                }
            }
            newOffsets[l + 1] = ListArena.offset(written)
        }
        precondition(a == additions.count, "ListArena.append: additions must be grouped by ascending list")
        offsets = newOffsets
        if isNarrow { narrow = newNarrow } else { wide = newValues }
    }

    /// Bytes the buffers hold.
    public var bytes: Int { narrow.capacity * 2 + wide.capacity * 4 + offsets.capacity * 4 }
}
