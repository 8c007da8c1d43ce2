internal import _CocoonKernels

/// Intersections of small duplicate-free sets of item indices (a slate, a short history): every
/// pair of elements is compared by a SIMD kernel (8 at a time with AVX2), which beats a sort or
/// a merge, whose branches the data decide, up to a few dozen elements a set.
public enum SmallSets {
    /// Pairs of elements up to which ``intersectionCount(_:_:)`` is the cheaper way (32 × 32).
    public static let pairLimit = 1024

    /// |a ∩ b| for duplicate-free sets in any order (the number of equal pairs of elements).
    ///
    /// - Complexity: O(|a| · |b| / 8) with AVX2.
    public static func intersectionCount(_ a: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<Int32>) -> Int {
        guard let pa = a.baseAddress, let pb = b.baseAddress, !a.isEmpty, !b.isEmpty else { return 0 }
        return cocoon_count_equal_pairs(pa, a.count, pb, b.count)
    }
}
