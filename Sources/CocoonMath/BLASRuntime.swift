import CBLAS

/// Process-wide OpenBLAS settings and build information.
///
/// OpenBLAS' thread count changes the last bits of `sgemm` results, so Cocoon pins BLAS to one
/// thread and gets its parallelism from ``BlockExecutor`` instead: every user block is scored by
/// a single-threaded `sgemm`, and blocks run in parallel. `openblas_set_num_threads` is
/// process-wide, so it is called exactly once, before any worker starts.
public enum BLASRuntime {
    // A `static let` initialiser runs once, thread-safely (swift_once).
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Pins OpenBLAS to one thread. Idempotent; ``BlockExecutor`` and every BLAS wrapper call it,
    /// and the command-line tool calls it at start-up, before any parallel work.
    public static func ensureConfigured() {
        _ = configured
    }

    /// The number of threads OpenBLAS uses (1 after ``ensureConfigured()``).
    public static var threads: Int {
        Int(openblas_get_num_threads())
    }

    /// OpenBLAS' build description, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"`.
    public static var buildDescription: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p).trimmingCharacters(in: " ")
    }

    /// The CPU kernel OpenBLAS selected at run time, e.g. `"Haswell"`.
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
}

extension String {
    fileprivate func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return String(s)
    }
}
