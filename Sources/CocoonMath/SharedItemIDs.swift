/// The 2-byte form of an item id, shared by every store that narrows ids (``SharedItemIDs``,
/// ``ListArena``): ids in 0..<65,535 are stored as themselves and 0xFFFF stands for −1 (none).
@usableFromInline
enum NarrowItemID {
    @usableFromInline static let none = UInt16.max

    /// Whether every id of a catalog of `itemCount` items fits.
    @inlinable static func fits(catalog itemCount: Int) -> Bool { itemCount < Int(UInt16.max) }

    /// Whether `x` is an id that fits (−1 does not: lists of items never hold it).
    @inlinable static func fits(_ x: Int32) -> Bool { x >= 0 && x < Int32(UInt16.max) }

    @inlinable static func encode(_ x: Int32) -> UInt16 { x < 0 ? none : UInt16(truncatingIfNeeded: x) }

    @inlinable static func decode(_ v: UInt16) -> Int32 { v == none ? -1 : Int32(v) }
}

/// Item ids (−1 = none) that parallel blocks write at **disjoint** indices, like
/// ``SharedArray``: 2 bytes an id when the catalog has fewer than 65,535 items (0xFFFF stands
/// for −1), 4 bytes otherwise. At a million users a 10-item slate per user is 20 MB instead of
/// 40.
public final class SharedItemIDs: @unchecked Sendable {
    // Inlinable element access: callers in other modules (the choice step's scan of the last
    // slate, the state update) read an id without a call.
    @usableFromInline let narrow: SharedArray<UInt16>
    @usableFromInline let wide: SharedArray<Int32>
    /// Whether ids are stored in 2 bytes.
    public let isNarrow: Bool
    /// Number of ids.
    public let count: Int

    /// `count` ids equal to `value` (−1 or an item below `itemCount`).
    public init(repeating value: Int32, count: Int, itemCount: Int) {
        self.count = count
        isNarrow = NarrowItemID.fits(catalog: itemCount)
        narrow = SharedArray(repeating: isNarrow ? NarrowItemID.encode(value) : 0, count: isNarrow ? count : 0)
        wide = SharedArray(repeating: value, count: isNarrow ? 0 : count)
    }

    /// The id at `i` (−1 = none). Not synchronised: write only indices your block owns.
    @inlinable
    public subscript(i: Int) -> Int32 {
        get {
            isNarrow ? NarrowItemID.decode(narrow[i]) : wide[i]
        }
        set {
            precondition(newValue < 0 || !isNarrow || NarrowItemID.fits(newValue), "item id \(newValue) does not fit 2 bytes")
            if isNarrow { narrow[i] = NarrowItemID.encode(newValue) } else { wide[i] = newValue }
        }
    }

    /// A copy of the ids, in order.
    public func toArray() -> [Int32] { ids(0..<count) }

    /// Appends the ids in `range` other than −1, in order, to `out` (no allocation once `out`
    /// has room).
    public func appendIDs(_ range: Range<Int>, to out: inout [Int32]) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        // Room for the whole range at once, trimmed to the ids present.
        out.appendInPlace(upTo: range.count, filler: 0) { room in
            var n = 0
            if isNarrow {
                narrow.withSpan(range) { s in
                    for j in 0..<s.count where s[j] != NarrowItemID.none {
                        room[n] = Int32(s[j])
                        n += 1
                    }
                }
            } else {
                wide.withSpan(range) { s in
                    for j in 0..<s.count where s[j] >= 0 {
                        room[n] = s[j]
                        n += 1
                    }
                }
            }
            return n
        }
    }

    /// A copy of the ids in `range`, in order.
    public func ids(_ range: Range<Int>) -> [Int32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        if isNarrow {
            return narrow.withSpan(range) { s in (0..<s.count).map { NarrowItemID.decode(s[$0]) } }
        }
        return wide.withSpan(range) { s in (0..<s.count).map { s[$0] } }
    }
}
