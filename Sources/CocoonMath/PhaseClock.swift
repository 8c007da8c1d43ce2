#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where a step's time goes, for the benchmark harness (`Benchmarks/`).
///
/// Off by default, and then free: every timing site checks ``isEnabled`` first. Time is only
/// ever accumulated, never read by the simulation, so it cannot change a result. Phases that run
/// inside user blocks (scoring, top-k) add CPU time summed over workers; the others are wall
/// time of the coordinating thread.
public final class PhaseClock: @unchecked Sendable {
    /// The phases of a step.
    public enum Phase: Int, CaseIterable, Sendable {
        /// The score products of user blocks against item tiles (`sgemm`, or the scorer's own kernel).
        case scoring
        /// Control-layer edits of each tile's scores and top-k selection.
        case topK
        /// The whole `recommend` call (contains scoring and top-k).
        case recommend
        /// Users' responses: choice, dwell, marks.
        case choice
        /// The recommender observing feedback (model update).
        case recommenderUpdate
        /// User state: drift, satiation, memory, sessions.
        case stateUpdate
        /// Step observers: metrics.
        case metrics

        public var name: String {
            switch self {
            case .scoring: "scoring (products)"
            case .topK: "top-k + controls"
            case .recommend: "recommend (total)"
            case .choice: "choice"
            case .recommenderUpdate: "recommender update"
            case .stateUpdate: "state update"
            case .metrics: "metrics"
            }
        }
    }

    /// The process-wide clock the engine and the scorer report to.
    public static let shared = PhaseClock()

    private let lock = NSLock()
    private var totals = [UInt64](repeating: 0, count: Phase.allCases.count)
    nonisolated(unsafe) private static var enabled = false

    /// Whether timings are collected. Set once, before any run starts.
    public static var isEnabled: Bool { enabled }

    /// Turns collection on or off; call before a run, never during one.
    public static func setEnabled(_ on: Bool) { enabled = on }

    /// Monotonic nanoseconds (timing only).
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The start of a timed section: ``now()`` when collection is on, else 0 (no clock read).
    @inline(__always)
    public static func start() -> UInt64 { enabled ? now() : 0 }

    /// Adds `nanoseconds` to a phase.
    public func add(_ phase: Phase, nanoseconds: UInt64) {
        lock.lock()
        totals[phase.rawValue] &+= nanoseconds
        lock.unlock()
    }

    /// Adds the time since `start` (from ``now()``) to a phase when collection is on.
    @inline(__always)
    public func add(_ phase: Phase, since start: UInt64) {
        guard PhaseClock.enabled else { return }
        add(phase, nanoseconds: PhaseClock.now() &- start)
    }

    /// Seconds accumulated per phase, in ``Phase`` order.
    public func seconds() -> [Double] {
        lock.lock()
        defer { lock.unlock() }
        return totals.map { Double($0) / 1e9 }
    }

    /// Clears every total.
    public func reset() {
        lock.lock()
        totals = [UInt64](repeating: 0, count: Phase.allCases.count)
        lock.unlock()
    }
}
