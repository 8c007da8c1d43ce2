internal import _CocoonKernels

/// A few dot products of one vector with rows elsewhere in memory, each summed the plain way:
/// `Σᵢ x[i] · row[i]` as one chain in dimension order from +0, a product then a sum (never a
/// fused multiply-add) — how the engine's choice step computes a slate's affinities.
///
/// With AVX-512 (``KernelRuntime/usesAVX512Variants``), up to 16 rows at once: 16 values of
/// each row are read and turned in registers so that each lane is one row, and every step of
/// the chains is one product and one sum of whole registers. The same bits as the scalar loop.
package enum RowDots {
    /// Writes `out[p] = Σᵢ x[i] · rows[p][i]` for p < `count` (1 … 16), i < `dimension`, and
    /// returns true; returns false, having written nothing, where the kernel does not run
    /// (compute them one chain per row then).
    package static func compute(
        _ x: UnsafePointer<Float>, rows: UnsafePointer<UnsafePointer<Float>>, count: Int, dimension: Int,
        into out: UnsafeMutablePointer<Float>
    ) -> Bool {
        guard (1...16).contains(count) && dimension >= 1 else { return false }
        let r = UnsafeRawPointer(rows).assumingMemoryBound(to: UnsafePointer<Float>?.self)
        return cocoon_row_dots(x, r, Int32(count), dimension, out) != 0
    }
}
