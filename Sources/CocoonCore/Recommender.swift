import CocoonMath

/// A recommender under test. The engine calls it once per step for all active users
/// (batched), then shows it the users' feedback.
///
/// It sees what a real platform sees: the catalog's public features, user ids, segments,
/// declared tags, consented attributes, the seed history, every user's controls and the
/// feedback events. It never sees intrinsic interests (only a ``GroundTruthReader`` such as
/// the `oracle` reference gets them).
public protocol Recommender: AnyObject {
    /// A short name for reports (e.g. `popularity`, `plugin:python3 rec.py`).
    var name: String { get }

    /// Called once before step 1.
    func start(_ world: RecommenderWorld) throws

    /// Produces one slate of exactly `request.slateSize` distinct item indices per user in
    /// `request.users`, in that order.
    func recommend(_ request: RecommendRequest) throws -> SlateBatch

    /// Receives the users' responses to the slates of the step.
    func observe(_ feedback: FeedbackBatch) throws

    /// Called once when the run ends (normally or not); releases resources.
    func stop()
}

/// A recommender allowed to read ground truth (the `oracle` reference only).
public protocol GroundTruthReader: AnyObject {
    /// Receives the live ground truth before ``Recommender/start(_:)``.
    func attach(_ truth: GroundTruth)
}

/// Every user's attributes as the recommender sees them: nil where the user did not consent. A
/// view of the population's attributes through the users' origins (no per-user copy).
public struct ConsentedAttributes: RandomAccessCollection, Sendable {
    let all: AttributeTable
    let origin: [Int32]

    /// `all` indexed by `origin[u]` for user u.
    public init(_ all: AttributeTable, origin: [Int32]) {
        self.all = all
        self.origin = origin
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { origin.count }
    public subscript(u: Int) -> UserAttributes? {
        let a = all[Int(origin[u])]
        return a.consented ? a : nil
    }
}

/// What a recommender knows about the world when a run starts.
public struct RecommenderWorld: Sendable {
    /// The catalog (public features: embeddings, topics, quality, popularity prior, creators, flags).
    public let catalog: Catalog
    /// Number of users (population plus twins); user ids are `0..<userCount`.
    public let userCount: Int
    /// Segment index per user (platforms know minors, e.g. from youth mode).
    public let segments: [Int32]
    /// Segment labels.
    public let segmentNames: [String]
    /// Consented attributes (nil where the user did not consent).
    public let attributes: ConsentedAttributes
    /// Items each user consumed before step 1 (the platform's logs).
    public let seedHistory: ListArena
    /// Slate size of every request.
    public let slateSize: Int
    /// Number of steps of the run.
    public let steps: Int
    /// The root of the recommender's own randomness (derived from the run seed).
    public let seed: Seed
    /// The executor to score user blocks on (fixed blocks → results independent of workers).
    public let executor: BlockExecutor
    /// Users per block.
    public let blockSize: Int
    /// The random-stream identity of every user: a twin shares its original's identity, so a
    /// built-in that draws per user from `seed.stream(label, streamID[u], step)` treats the
    /// twins alike until an intervention separates them. Not part of the plugin protocol.
    package let streamIDs: [Int32]

    package init(
        catalog: Catalog, userCount: Int, segments: [Int32], segmentNames: [String], attributes: ConsentedAttributes,
        seedHistory: ListArena, slateSize: Int, steps: Int, seed: Seed, executor: BlockExecutor, blockSize: Int,
        streamIDs: [Int32]
    ) {
        self.catalog = catalog
        self.userCount = userCount
        self.segments = segments
        self.segmentNames = segmentNames
        self.attributes = attributes
        self.seedHistory = seedHistory
        self.slateSize = slateSize
        self.steps = steps
        self.seed = seed
        self.executor = executor
        self.blockSize = blockSize
        self.streamIDs = streamIDs
    }

    /// The random-stream identity of user `u` (see `streamIDs`).
    public func streamID(of u: Int) -> Int { Int(streamIDs[u]) }
}

/// One step's request: a slate for every active user.
public struct RecommendRequest: Sendable {
    /// The step (1-based).
    public let step: Int
    /// Active users, ascending.
    public let users: [Int32]
    /// Items per slate.
    public let slateSize: Int
    /// Every user's controls (indexed by user id), as of this step.
    public let controls: ControlTable
    /// The controls that changed since the previous request.
    public let changes: [ControlChange]
    /// Whether the engine wants the tags the recommender holds for each user (S17, S20).
    public let wantsTags: Bool
}

/// A recommender's answer: `users.count × slateSize` item indices, user after user.
public struct SlateBatch: Sendable, Equatable {
    /// Item indices, row-major (one row per requested user, in request order).
    public var items: [Int32]
    /// Optional: the interest tags (topic indices) the recommender holds for each requested
    /// user and would show them, in request order.
    public var tags: [[Int32]]?

    public init(items: [Int32], tags: [[Int32]]? = nil) {
        self.items = items
        self.tags = tags
    }
}

/// What a user did with a slate position.
public enum Outcome: UInt8, Sendable, Codable, CaseIterable {
    /// Not shown (the user was inactive).
    case none = 0
    /// Shown, not consumed.
    case skipped = 1
    /// Consumed (clicked, watched, accepted).
    case consumed = 2
    /// Marked "not interested" (this item).
    case notInterested = 3
    /// Marked "not interested" with "not this kind of content".
    case notInterestedTopic = 4

    /// The name used in files and the plugin protocol.
    public var name: String {
        switch self {
        case .none: return "none"
        case .skipped: return "skipped"
        case .consumed: return "consumed"
        case .notInterested: return "not-interested"
        case .notInterestedTopic: return "not-interested-topic"
        }
    }
}

/// The responses of one step, aligned with the slates.
public struct FeedbackBatch: Sendable {
    /// The step.
    public let step: Int
    /// The users who received slates, ascending.
    public let users: [Int32]
    /// Items per slate.
    public let slateSize: Int
    /// The slates, as validated (`users.count × slateSize`).
    public let slates: [Int32]
    /// The outcome of every slate position (aligned with `slates`).
    public let outcomes: [Outcome]
    /// Dwell time of consumed items (0 elsewhere), aligned with `slates`.
    public let dwell: DwellTimes
    /// Users who left after this step (no slate until they return).
    public let left: [Int32]

    package init(step: Int, users: [Int32], slateSize: Int, slates: [Int32], outcomes: [Outcome], dwell: DwellTimes, left: [Int32]) {
        self.step = step
        self.users = users
        self.slateSize = slateSize
        self.slates = slates
        self.outcomes = outcomes
        self.dwell = dwell
        self.left = left
    }

    /// Calls `body(user, item, position, outcome, dwell)` for every shown position, in order.
    public func forEachEvent(_ body: (Int, Int, Int, Outcome, Float) throws -> Void) rethrows {
        let k = slateSize
        for (row, u) in users.enumerated() {
            for p in 0..<k {
                let j = row * k + p
                try body(Int(u), Int(slates[j]), p, outcomes[j], dwell[j])
            }
        }
    }
}

/// Dwell times of a step's slate positions: 0 where the item was not consumed.
///
/// The engine's dwell is a function of the outcome, the user's persona and the item's flags
/// (`1 + seekingDwell` for a seeker's consumed borderline item, 1 for another consumed item),
/// so its batches derive each value when it is read instead of storing a Float per position
/// (40 MB a step at a million users with 10-item slates). Tests and loaders may store them.
public struct DwellTimes: RandomAccessCollection, Sendable {
    enum Storage: Sendable {
        case stored([Float])
        case derived(outcomes: [Outcome], slates: [Int32], users: [Int32], slateSize: Int, seeking: [Bool], flags: [ItemFlags], bonus: Float)
    }
    let storage: Storage
    public let count: Int

    /// Stored values, one per slate position.
    public init(_ values: [Float]) {
        storage = .stored(values)
        count = values.count
    }

    /// The engine's rule: a consumed item dwells `1 + bonus` when user `users[row]` is a
    /// seeker (`seeking`) and the item is flagged borderline, 1 otherwise.
    init(outcomes: [Outcome], slates: [Int32], users: [Int32], slateSize: Int, seeking: [Bool], flags: [ItemFlags], bonus: Float) {
        storage = .derived(outcomes: outcomes, slates: slates, users: users, slateSize: slateSize, seeking: seeking, flags: flags, bonus: bonus)
        count = outcomes.count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(j: Int) -> Float {
        switch storage {
        case .stored(let values):
            return values[j]
        case .derived(let outcomes, let slates, let users, let k, let seeking, let flags, let bonus):
            guard outcomes[j] == .consumed else { return 0 }
            let u = Int(users[j / k])
            return 1 + ((seeking[u] && flags[Int(slates[j])].contains(.borderline)) ? bonus : 0)
        }
    }
}
