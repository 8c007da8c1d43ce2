import CocoonMath

/// An immutable record of one step, handed to every ``StepObserver``.
///
/// Step 0 is the state before the first slate: no slates, the seed history in
/// ``RunContext/seedHistory``. Metrics read snapshots, never the recommender.
public struct StepSnapshot: Sendable {
    /// The step (0 = before the first slate).
    public let step: Int
    /// Users who received a slate, ascending.
    public let users: [Int32]
    /// Items per slate.
    public let slateSize: Int
    /// The slates (`users.count × slateSize`, row per user in `users` order).
    public let slates: [Int32]
    /// Outcome per slate position.
    public let outcomes: [Outcome]
    /// Dwell of consumed items per slate position (0 elsewhere).
    public let dwell: DwellTimes
    /// Every user's controls at the end of the step (after this step's marks).
    public let controls: ControlTable
    /// Controls that changed at this step: interventions before the slates, then the marks
    /// users made on these slates.
    public let changes: [ControlChange]
    /// The tags the recommender holds for each user in `users` (when requested).
    public let tags: [[Int32]]?
    /// Users who left after this step.
    public let left: [Int32]
    /// Intrinsic topic mixtures of all users at this step (userCount × topics).
    public let intrinsicMix: TopicMixtures

    /// The slate of the user in row `row` of `users`.
    public func slate(row: Int) -> ArraySlice<Int32> {
        slates[(row * slateSize)..<((row + 1) * slateSize)]
    }

    /// The row of user `u` in `users`, or nil if u received no slate (binary search).
    public func row(of u: Int32) -> Int? {
        var lo = 0
        var hi = users.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if users[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo < users.count && users[lo] == u ? lo : nil
    }
}

/// What observers know about a run before step 0.
public struct RunContext: Sendable {
    /// The world.
    public let world: SimulationWorld
    /// Steps to run.
    public let steps: Int
    /// Items per slate.
    public let slateSize: Int
    /// The run's seed.
    public let seed: Seed
    /// Round-0 history per user (twins share their original's).
    public let seedHistory: ListArena
    /// Name of the recommender.
    public let recommenderName: String
    /// How the recommender represents users (nil when it does not say: plugins). Read between
    /// steps, on the engine's thread.
    public var userRepresentation: UserRepresenting? = nil
}

/// A recommender that can show its own representation of users — what it takes users' similarity
/// to be (Chaney et al. pair users this way). Built-in recommenders do; plugins do not.
public protocol UserRepresenting: AnyObject, Sendable {
    /// Every user's representation (users × f rows), or nil when the recommender has none (one
    /// that ranks the same for everyone).
    func userRepresentation() -> Matrix?
}

/// Receives every step's snapshot, in step order, on the engine's thread.
public protocol StepObserver: AnyObject {
    /// Called once before step 0.
    func begin(_ run: RunContext) throws
    /// Called after every step, starting with step 0.
    func observe(_ snapshot: StepSnapshot) throws
}
