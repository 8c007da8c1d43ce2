/// Sorted, duplicate-free arrays used as small sets (consumed items, marks, tags, relevant
/// items): binary-search membership and insertion, shared by the engine, the recommenders and
/// the metrics.
extension Array where Element: Comparable {
    /// The index of the first element not less than `x` (binary search; the array is sorted).
    @inlinable
    public func sortedLowerBound(_ x: Element) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Whether the sorted array holds `x`.
    @inlinable
    public func sortedContains(_ x: Element) -> Bool {
        let i = sortedLowerBound(x)
        return i < count && self[i] == x
    }

    /// Inserts `x` into the sorted array unless it is there; returns whether it was added.
    @inlinable
    @discardableResult
    public mutating func sortedInsert(_ x: Element) -> Bool {
        let i = sortedLowerBound(x)
        if i < count && self[i] == x { return false }
        insert(x, at: i)
        return true
    }

    /// Makes the array a sorted, duplicate-free set of its elements.
    @inlinable
    public mutating func sortAndRemoveDuplicates() {
        sort()
        var w = 0
        for r in indices where r == 0 || self[r] != self[w - 1] {
            self[w] = self[r]
            w += 1
        }
        removeLast(count - w)
    }

    /// Removes `x` from the sorted array if it is there; returns whether it was removed.
    @inlinable
    @discardableResult
    public mutating func sortedRemove(_ x: Element) -> Bool {
        let i = sortedLowerBound(x)
        guard i < count && self[i] == x else { return false }
        remove(at: i)
        return true
    }
}

extension MutableCollection where Self: RandomAccessCollection, Element: Comparable {
    /// Sorts in place by insertion: for the short runs of a slate (about ten items) it beats
    /// the general sort, which allocates.
    @inlinable
    public mutating func insertionSort() {
        guard count > 1 else { return }
        var a = index(after: startIndex)
        while a != endIndex {
            let x = self[a]
            var b = a
            while b != startIndex {
                let prev = index(before: b)
                if self[prev] <= x { break }
                self[b] = self[prev]
                b = prev
            }
            self[b] = x
            formIndex(after: &a)
        }
    }
}
