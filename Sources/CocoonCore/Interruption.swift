import Synchronization

/// A process-wide request to stop runs early (set by the `cocoon` tool on Ctrl-C or SIGTERM).
/// The engine checks it before each step and ends the run with ``EngineError/interrupted(step:)``,
/// so what was measured until then is still reported, marked as aborted.
public enum Interruption {
    private static let flag = Atomic<Bool>(false)

    /// Whether a stop was requested.
    public static var isRequested: Bool { flag.load(ordering: .relaxed) }

    /// Requests a stop (safe to call from a signal handler: one atomic store).
    public static func request() { flag.store(true, ordering: .relaxed) }

    /// Clears the request (for tests).
    public static func reset() { flag.store(false, ordering: .relaxed) }
}
