import CocoonCore

/// Everything measured in one replicate: the run context, every snapshot (the trajectory),
/// the metric series, how the run ended, and the baseline runs of the same world and seed.
public final class RunArtifacts: StepObserver, @unchecked Sendable {
    /// The run's context (set by ``begin(_:)``).
    public private(set) var context: RunContext!
    /// Snapshots of steps 0…(completed − 1).
    public private(set) var snapshots: [StepSnapshot] = []
    /// The metric series.
    public let recorder: MetricRecorder
    /// How the run ended.
    public var outcome: RunOutcome?
    /// Baseline runs by name (`random`, `popularity`, `personalisation-off`).
    public var baselines: [String: RunArtifacts] = [:]
    /// The seed of the replicate.
    public let seed: UInt64

    public init(recorder: MetricRecorder, seed: UInt64) {
        self.recorder = recorder
        self.seed = seed
    }

    public func begin(_ run: RunContext) throws {
        context = run
        try recorder.begin(run)
    }

    public func observe(_ snapshot: StepSnapshot) throws {
        snapshots.append(snapshot)
        try recorder.observe(snapshot)
    }

    /// Whether the run stopped early.
    public var aborted: Bool { outcome?.failure != nil }

    /// The last step observed.
    public var lastStep: Int { max(snapshots.count - 1, 0) }

    /// User u's slate at step t (nil when u got none).
    public func slate(_ u: Int, at t: Int) -> ArraySlice<Int32>? {
        guard t >= 0 && t < snapshots.count else { return nil }
        let s = snapshots[t]
        return s.row(of: Int32(u)).map { s.slate(row: $0) }
    }
}
