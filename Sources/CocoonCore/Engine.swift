import CocoonMath
import Foundation

/// Settings of one run of the engine.
public struct EngineConfig: Sendable, Equatable {
    /// Steps to run (≥ 0).
    public var steps: Int
    /// Items per slate (≥ 1).
    public var slateSize: Int
    /// The run's root seed.
    public var seed: Seed
    /// Worker threads (results do not depend on it).
    public var workers: Int = 1
    /// Users per block (results do not depend on it).
    public var blockSize: Int = 256
    /// Ask the recommender for the tags it holds for each user at every step.
    public var wantsTags: Bool = false

    public init(steps: Int, slateSize: Int, seed: Seed, workers: Int = 1, blockSize: Int = 256, wantsTags: Bool = false) {
        self.steps = steps
        self.slateSize = slateSize
        self.seed = seed
        self.workers = workers
        self.blockSize = blockSize
        self.wantsTags = wantsTags
    }
}

/// How a run ended.
public struct RunOutcome: Sendable {
    /// Steps completed and observed (including step 0 → `steps + 1` snapshots for a full run).
    public let stepsCompleted: Int
    /// The error that stopped the run early, if any.
    public let failure: EngineError?
}

/// The simulation engine: runs a world through a recommender for a number of steps.
///
/// Each step, in this fixed order (DESIGN.md, "What a run is"):
/// 1. interventions due at this step change users' controls or interests;
/// 2. the recommender produces a slate for every active user (one batched call);
/// 3. the engine validates the slates (ids in range, no duplicates, right size);
/// 4. users respond: consume, skip, mark "not interested", leave;
/// 5. the recommender observes the feedback;
/// 6. user state moves: preference drift, satiation, exposure memory, return/leave (5 and 6
///    touch nothing in common and run side by side with two workers or more);
/// 7. observers read an immutable snapshot of the step.
///
/// Users are processed in fixed-size blocks on a ``BlockExecutor``; every random draw comes
/// from a stream keyed by (purpose, the user's stream identity, step), so results do not
/// depend on the number of workers.
public final class Engine {
    public let world: SimulationWorld
    public let behaviour: Behaviour
    public let config: EngineConfig
    public let recommender: Recommender
    /// The live ground truth (intrinsic interests).
    public let truth: GroundTruth

    let executor: BlockExecutor
    let state: UserState
    var controls: ControlTable
    var pendingChanges: [ControlChange] = []
    // Topic centroids (for interest shifts), topics × d.
    let centroids: [Double]
    // Whether interest vectors are unit-norm (mixture worlds) or raw (Dirichlet worlds).
    let unitInterests: Bool

    /// Prepares a run; nothing is called on the recommender yet.
    public init(world: SimulationWorld, behaviour: Behaviour, recommender: Recommender, config: EngineConfig) {
        precondition(config.slateSize >= 1 && config.slateSize <= world.catalog.count, "slate size must be in 1...catalog size")
        self.world = world
        self.behaviour = behaviour
        self.config = config
        self.recommender = recommender
        self.executor = BlockExecutor(workers: config.workers)
        self.truth = GroundTruth(world: world)
        self.state = UserState(world: world, truth: truth, slateSize: config.slateSize, keepConsumed: behaviour.choice == .rankUtility)
        var controls = ControlTable(count: world.users.count)
        for (u, o) in world.users.origin.enumerated() where !world.population.declaredTags[Int(o)].isEmpty {
            for t in world.population.declaredTags[Int(o)] { controls[u].declare(tag: t) }
        }
        self.controls = controls
        self.centroids = world.catalog.topicCentroids()
        self.unitInterests = world.population.interestVectors.rowNorms().allSatisfy { abs($0 - 1) < 1e-3 }
    }

    /// Runs every step, feeding snapshots to `observers`.
    ///
    /// Never throws for a recommender fault: the run stops, the steps already observed stay
    /// observed, and the outcome carries the error. Observer errors stop the run the same way.
    public func run(observers: [StepObserver]) -> RunOutcome {
        let users = world.users
        let seedHistory = world.seedHistory
        var ctx = RunContext(
            world: world, steps: config.steps, slateSize: config.slateSize, seed: config.seed,
            seedHistory: seedHistory, recommenderName: recommender.name)
        ctx.userRepresentation = recommender as? UserRepresenting
        do {
            for o in observers { try o.begin(ctx) }
        } catch {
            return RunOutcome(stepsCompleted: 0, failure: .observerFailed(step: 0, message: "\(error)"))
        }
        if let reader = recommender as? GroundTruthReader { reader.attach(truth) }
        let recWorld = RecommenderWorld(
            catalog: world.catalog, userCount: users.count, segments: users.segments, segmentNames: users.segmentNames,
            attributes: ConsentedAttributes(world.population.attributes, origin: users.origin),
            seedHistory: seedHistory, slateSize: config.slateSize, steps: config.steps,
            seed: config.seed.derive("recommender"), executor: executor, blockSize: config.blockSize,
            streamIDs: users.origin)
        defer { recommender.stop() }
        do {
            try recommender.start(recWorld)
        } catch {
            return RunOutcome(
                stepsCompleted: 0, failure: .recommenderFailed(step: 0, phase: "start", message: Engine.describe(error)))
        }
        // Step 0: the state before the first slate.
        let zero = StepSnapshot(
            step: 0, users: [], slateSize: config.slateSize, slates: [], outcomes: [], dwell: DwellTimes([]), controls: controls,
            changes: [], tags: nil, left: [], intrinsicMix: truth.mix)
        do {
            for o in observers { try o.observe(zero) }
        } catch {
            return RunOutcome(stepsCompleted: 0, failure: .observerFailed(step: 0, message: "\(error)"))
        }
        if config.steps == 0 { return RunOutcome(stepsCompleted: 1, failure: nil) }
        for t in 1...config.steps {
            if Interruption.isRequested { return RunOutcome(stepsCompleted: t, failure: .interrupted(step: t)) }
            do {
                let snapshot = try step(t)
                let clock = PhaseClock.start()
                defer { PhaseClock.shared.add(.metrics, since: clock) }
                do {
                    for o in observers { try o.observe(snapshot) }
                } catch {
                    return RunOutcome(stepsCompleted: t, failure: .observerFailed(step: t, message: "\(error)"))
                }
            } catch let e as EngineError {
                return RunOutcome(stepsCompleted: t, failure: e)
            } catch {
                return RunOutcome(
                    stepsCompleted: t, failure: .recommenderFailed(step: t, phase: "step", message: Engine.describe(error)))
            }
        }
        return RunOutcome(stepsCompleted: config.steps + 1, failure: nil)
    }

    static func describe(_ error: Error) -> String {
        String(describing: error)
    }

    /// One step; see the type's documentation for the order.
    func step(_ t: Int) throws -> StepSnapshot {
        let k = config.slateSize
        // 1. Interventions due at this step; absent users may return.
        state.applyReturns(step: t, behaviour: behaviour, seed: config.seed)
        var changes = pendingChanges
        pendingChanges = []
        let interventionChanges = applyInterventions(step: t)
        changes.append(contentsOf: interventionChanges)

        // 2. The recommender produces a slate for every active user.
        let active = state.activeUsers()
        let request = RecommendRequest(
            step: t, users: active, slateSize: k, controls: controls, changes: changes, wantsTags: config.wantsTags)
        let batch: SlateBatch
        var clock = PhaseClock.start()
        do {
            batch = try recommender.recommend(request)
        } catch let e as EngineError {
            throw e
        } catch {
            throw EngineError.recommenderFailed(step: t, phase: "recommend", message: Engine.describe(error))
        }

        // 3. Validate the slates.
        try validate(batch, users: active, step: t)
        if let tags = batch.tags, tags.count != active.count {
            throw EngineError.recommenderFailed(
                step: t, phase: "recommend", message: "answered tags for \(tags.count) users, expected \(active.count)")
        }

        PhaseClock.shared.add(.recommend, since: clock)

        // 4. Users respond.
        clock = PhaseClock.start()
        let response = respond(users: active, slates: batch.items, step: t)
        PhaseClock.shared.add(.choice, since: clock)

        let madeMarks = response.marks
        pendingChanges = madeMarks

        // 5. The recommender observes the feedback, while the marks users made become controls
        // (visible to the recommender from the next request) and 6. user state moves: neither
        // side reads what the other writes (the recommender knows the users only through
        // requests and feedback), so with two workers or more they run side by side — the
        // recommender's bookkeeping is largely one pass on one thread, the state update runs on
        // the executor.
        let feedback = FeedbackBatch(
            step: t, users: active, slateSize: k, slates: batch.items, outcomes: response.outcomes,
            dwell: response.dwell, left: response.left)
        try executor.overlapping({
            let clock = PhaseClock.start()
            defer { PhaseClock.shared.add(.recommenderUpdate, since: clock) }
            do {
                try recommender.observe(feedback)
            } catch let e as EngineError {
                throw e
            } catch {
                throw EngineError.recommenderFailed(step: t, phase: "observe", message: Engine.describe(error))
            }
        }) {
            for m in madeMarks { controls[Int(m.user)].notInterested.append(m.mark!) }
            let clock = PhaseClock.start()
            updateState(users: active, slates: batch.items, outcomes: response.outcomes, step: t)
            state.applyLeaves(response.left)
            PhaseClock.shared.add(.stateUpdate, since: clock)
        }

        // 7. The snapshot observers read.
        return StepSnapshot(
            step: t, users: active, slateSize: k, slates: batch.items, outcomes: response.outcomes,
            dwell: response.dwell, controls: controls, changes: interventionChanges.isEmpty ? madeMarks : interventionChanges + madeMarks,
            tags: batch.tags, left: response.left, intrinsicMix: truth.mix)
    }

    /// Checks every slate: count, ids in range, no duplicates (C5: reject, never repair).
    func validate(_ batch: SlateBatch, users: [Int32], step t: Int) throws {
        let k = config.slateSize
        let m = world.catalog.count
        guard batch.items.count == users.count * k else {
            throw EngineError.wrongSlateCount(step: t, expected: users.count * k, got: batch.items.count)
        }
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: config.blockSize)
        let items = batch.items
        // Parallel check; the error of the lowest block (→ lowest user) is reported.
        _ = try executor.tryMap(blockCount: blocks.count) { b, _ -> Int in
            var seen = [Int32](repeating: 0, count: k)
            var sorted: [Int32] = []  // long slates' scratch copy
            for row in blocks[b] {
                let u = Int(users[row])
                for p in 0..<k {
                    let i = items[row * k + p]
                    if i < 0 || Int(i) >= m {
                        throw EngineError.invalidSlate(
                            step: t, user: u, position: p, item: Int(i), reason: "item id \(i) is outside the catalog (0..<\(m))")
                    }
                    seen[p] = i
                }
                // Repeats: the smallest repeated id, reported at its last position. Short slates
                // compare every pair (no copy or sort per user); long ones sort a scratch copy.
                var repeated: Int32? = nil
                if k <= 32 {
                    for p in 1..<max(k, 1) where seen[p] < (repeated ?? .max) {
                        if seen[..<p].contains(seen[p]) { repeated = seen[p] }
                    }
                } else {
                    sorted.removeAll(keepingCapacity: true)
                    sorted.append(contentsOf: seen)
                    sorted.sort()
                    repeated = (1..<k).first { sorted[$0] == sorted[$0 - 1] }.map { sorted[$0] }
                }
                if let v = repeated {
                    throw EngineError.invalidSlate(
                        step: t, user: u, position: seen.lastIndex(of: v)!, item: Int(v),
                        reason: "item \(v) appears more than once in the slate")
                }
            }
            return 0
        }
    }
}

extension Engine {
    /// User u's current interest vector (test and debugging hook).
    package func currentInterest(of u: Int) -> [Float] {
        let d = state.dimension
        return (0..<d).map { state.pref[u * d + $0] }
    }

    /// User u's satiation per topic (test and debugging hook).
    package func satiation(of u: Int) -> [Float] {
        (0..<state.topics).map { state.satiation[u * state.topics + $0] }
    }

    /// A 64-bit fingerprint of all user state (interests, satiation, exposure, last slates,
    /// activity, controls), for determinism tests.
    package func stateFingerprint() -> UInt64 {
        var h = Fingerprint()
        for v in state.pref.toArray() { h.add(v.bitPattern) }
        for v in state.satiation.toArray() { h.add(v.bitPattern) }
        for v in state.exposure.toArray() { h.add(v.bitPattern) }
        for v in state.lastSlate.toArray() { h.add(UInt32(bitPattern: v)) }
        for a in state.active { h.add(a ? 1 : 0) }
        for v in truth.mix { h.add(v.bitPattern) }
        for c in controls {
            h.add(c.personalisation ? 1 : 0)
            for t in c.declaredTags + c.deletedTags + c.blockedTopics + c.blockedCreators { h.add(UInt32(bitPattern: t)) }
            for m in c.notInterested {
                h.add(UInt32(bitPattern: m.item))
                h.add(UInt32(bitPattern: m.listStep))
            }
        }
        return h.value
    }
}

/// FNV-1a over 32-bit words: a stable fingerprint for determinism checks (not a secure hash).
package struct Fingerprint {
    package private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    package init() {}
    package mutating func add(_ word: UInt32) {
        var w = word
        for _ in 0..<4 {
            value ^= UInt64(w & 0xFF)
            value &*= 0x0000_0100_0000_01B3
            w >>= 8
        }
    }
}
