import CBLAS
internal import _CocoonKernels

#if canImport(Glibc)
import Glibc
#endif

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

    /// The OpenBLAS kernel for this CPU's features (`"Cooperlake"`, `"SkylakeX"`, `"Haswell"`,
    /// `"SandyBridge"`), or nil for older x86 CPUs and other architectures.
    public static var coreForCPU: String? {
        cocoon_blas_core_for_cpu().map { String(cString: $0) }
    }

    /// The kernel to ask OpenBLAS for instead of the one it chose, or nil to keep its choice.
    ///
    /// OpenBLAS picks a kernel by CPU model when it loads, and releases before 0.3.25 (Debian
    /// 12 ships 0.3.21) fall back to `Prescott`, their SSE3 kernel, on models newer than
    /// themselves — on an Emerald Rapids Xeon its sgemm is about 4× slower than the AVX-512 one. Only that
    /// fallback is replaced, by the kernel for the CPU's features, and never when the user
    /// named one in `OPENBLAS_CORETYPE` (which is also how to keep `Prescott`).
    ///
    /// - Parameters:
    ///   - libraryCore: the kernel OpenBLAS chose (``coreName``).
    ///   - requested: the value of `OPENBLAS_CORETYPE`, nil when unset.
    ///   - cpuCore: the kernel for the CPU's features (``coreForCPU``).
    public static func replacementCore(libraryCore: String, requested: String?, cpuCore: String?) -> String? {
        if let requested, !requested.isEmpty { return nil }
        guard libraryCore.lowercased() == "prescott", let cpuCore, cpuCore.lowercased() != "prescott" else { return nil }
        return cpuCore
    }

    /// When OpenBLAS fell back to its `Prescott` kernel on a CPU it did not recognise (see
    /// ``replacementCore(libraryCore:requested:cpuCore:)``), starts this program again with
    /// `OPENBLAS_CORETYPE` naming the kernel for the CPU's features: the kernel is chosen when
    /// the library loads, before any of the program's code runs, so a new process is the only
    /// way to change it. Call it first thing in `main`, before any output or thread. Returns
    /// when there is nothing to do, or if the program cannot be started again (the process
    /// then goes on with OpenBLAS' choice); otherwise it does not return. Child processes
    /// inherit the setting.
    public static func restartWithKernelForThisCPU() {
        #if os(Linux)
        let requested = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        guard let core = replacementCore(libraryCore: coreName, requested: requested, cpuCore: coreForCPU) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // not started again: keep the library's choice
        #endif
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
