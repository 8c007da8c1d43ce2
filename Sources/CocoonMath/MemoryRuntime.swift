import CBLAS  // the C shim also exports <malloc.h>'s mallopt on Linux

/// Process-wide allocator settings.
///
/// glibc serves blocks of at least its mmap threshold with `mmap` and gives them back to the
/// system when they are freed. But after the first such block is freed it raises the threshold
/// to that block's size (up to 32 MiB), so the arrays of a few MB a step makes and frees at a
/// million users (4–8 bytes a user: active users, marks, metric rows) come from the heap
/// instead, where the freed space stays resident and fragments. Cocoon fixes the threshold at
/// 1 MiB: those arrays map and unmap, smaller ones use the heap. W3 (a million users) peaks at
/// 781 instead of 823 MiB with the same results; see docs/performance.md.
///
/// Fixing the mmap threshold also fixes the trim threshold, which glibc would otherwise raise
/// with it: left at its default of 128 KiB, every free that leaves more than that at the top of
/// the heap hands the pages back, and the next step's arrays of under 1 MiB fault them in again
/// (zeroed by the kernel): about 4,000 faults a step at W2. Cocoon keeps up to 32 MiB at the
/// top: W2 takes a quarter fewer page faults, W3's peak moves by under 1 MiB.
public enum MemoryRuntime {
    /// The fixed mmap threshold, in bytes.
    public static let mmapThreshold = 1 << 20
    /// The free space the heap keeps at its top before it gives pages back, in bytes.
    public static let trimThreshold = 32 << 20

    // A `static let` initialiser runs once, thread-safely (swift_once).
    private static let configured: Bool = {
        #if os(Linux)
        return mallopt(M_MMAP_THRESHOLD, Int32(mmapThreshold)) == 1 && mallopt(M_TRIM_THRESHOLD, Int32(trimThreshold)) == 1
        #else
        return false
        #endif
    }()

    /// Fixes the allocator's mmap and trim thresholds. Idempotent; ``BlockExecutor`` calls it,
    /// and the command-line tool at start-up, before the world is built. Returns whether the
    /// settings took (false off glibc).
    @discardableResult
    public static func ensureConfigured() -> Bool { configured }

    /// Bytes the allocator currently holds in mapped blocks (glibc's `mallinfo2().hblkhd`; 0
    /// off glibc): what the fixed threshold sends past the heap.
    public static var mappedBytes: Int {
        #if os(Linux)
        return Int(mallinfo2().hblkhd)
        #else
        return 0
        #endif
    }
}
