import CocoonCore
import CocoonMath
import Foundation

/// `random`: a uniformly random slate (Gumbel noise on zero scores), drawn per user stream
/// and step, so twins get the same slates until an intervention separates them.
public final class RandomModel: ScoringModel, @unchecked Sendable {
    public let kind = "random"
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    public init() {}
    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        itemFactors = Matrix(rows: world.catalog.count, cols: 0)
    }
    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {}
    public var noiseScale: Float { 1 }
    public var uniformNoise: Bool { true }
    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {}
}

/// `popularity`: ranks items by `log(1 + count)` of consumption, all-time or over the last
/// `window` steps (ties broken by the catalog's popularity prior, then item index).
public final class PopularityModel: ScoringModel, @unchecked Sendable {
    public let kind = "popularity"
    /// Count only the last `window` steps (nil = all time).
    public let window: Int?
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    var prior: [Float] = []
    var counts: [Float] = []
    /// Each round's consumed items while in the window (round 0 first); only with a window.
    var events: [[Int32]] = []

    public init(window: Int? = nil) { self.window = window }

    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        prior = world.catalog.popularityPrior
        counts = log.itemCounts
        // All-time counts never take events out: only a window keeps them (round 0's alone
        // are 40 MB at a million users).
        if window != nil {
            var seed: [Int32] = []
            for u in 0..<log.userCount { log.forEachConsumed(by: u) { seed.append($0) } }
            events = [seed]
        }
        refresh()
    }
    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {
        for r in 0..<users.count { out[r, 0] = 1 }
    }
    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {
        var step: [Int32] = []
        feedback.forEachEvent { _, i, _, outcome, _ in
            if outcome == .consumed {
                counts[i] += 1
                step.append(Int32(i))
            }
        }
        if let w = window {
            events.append(step)
            while events.count > w { for i in events.removeFirst() { counts[Int(i)] -= 1 } }
        }
        refresh()
    }

    func refresh() {
        // The prior only breaks ties between equal counts (it is < 1e-3 of one count step).
        itemFactors = Matrix(
            rows: counts.count, cols: 1, values: counts.indices.map { Float(log1p(Double(counts[$0]))) + 1e-4 * prior[$0] })
    }
}

/// `oracle`: the ideal reference: scores every item by the user's **intrinsic** interest
/// (cosine in a clustered world; the raw preference × attribute product in a Dirichlet world).
/// The only built-in that reads ground truth.
public final class OracleModel: ScoringModel, @unchecked Sendable {
    public let kind = "oracle"
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    var truth: GroundTruth?
    public init() {}
    public var readsGroundTruth: Bool { true }

    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        guard let truth else { throw RecommenderError.needsGroundTruth(kind) }
        self.truth = truth
        let unit = truth.vectors.rowNorms().allSatisfy { abs($0 - 1) < 1e-3 }
        itemFactors = unit ? world.catalog.unitEmbeddings : world.catalog.embeddings
    }
    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {
        guard let truth else { return }
        for (r, u) in users.enumerated() { out.setRow(r, to: truth.vectors.row(Int(u))) }
    }
    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {}
    public func topicWeights(of u: Int, log: InteractionLog, topics: TopicTable) -> [Double] {
        truth.map { Array($0.mixture(of: u)).map(Double.init) } ?? []
    }
}

/// `profile`: content-based: a user's profile is the decayed sum of the unit embeddings of
/// what they consumed (each new consumption multiplies older weights by `1 − decay`); scores
/// are cosines of profile and item. With `dwellWeighted`, each item counts by its dwell time.
///
/// The profile is a function of the log's consumption list. While users × d floats fit in
/// ``keptProfileBudget`` bytes (64 MiB: 262,144 users at d = 64) the model keeps every profile
/// up to date as consumption arrives; above it, it builds each block's profiles when the block
/// is scored, by replaying the list, instead of holding them (128 MB at a million users and
/// d = 32). Both do the same operations in the same order, so they give the same bits; the
/// replay costs O(history · d) per user and step, mostly cache misses on the history's item
/// rows (docs/performance.md). Dwell-weighted profiles are always kept, as the log has no
/// dwell times.
public final class ProfileModel: ScoringModel, @unchecked Sendable {
    public let kind: String
    /// Forgetting per new consumption (0 = remember everything equally).
    public let decay: Double
    /// Weight consumption by dwell time (engagement chasing).
    public let dwellWeighted: Bool
    /// Bytes of kept profiles (users × d × 4) above which profiles are replayed instead.
    public let keptProfileBudget: Int
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    /// The kept profiles (users × d); empty when they are replayed.
    package private(set) var profiles = Matrix(rows: 0, cols: 0)
    /// The log the profiles are replayed from.
    var log: InteractionLog?
    /// Decayed topic weights per user (users × topics), the tags' and re-rankers' view.
    /// Built on first use (``prepareTopicWeights(log:)``) by replaying the log, which gives the
    /// same values as keeping them from the start (same operations in the same order); runs
    /// that never ask (no re-rankers, no tag checks) do not hold them (160 MB at a million
    /// users). Dwell-weighted profiles keep them from the start, as the log has no dwell times.
    var topicWeightsStore: [Double] = []
    var topicCount = 0

    /// The default of ``keptProfileBudget``: 64 MiB.
    public static let defaultKeptProfileBudget = 64 << 20

    public init(kind: String = "profile", decay: Double = 0.05, dwellWeighted: Bool = false, keptProfileBudget: Int = ProfileModel.defaultKeptProfileBudget) {
        self.kind = kind
        self.decay = decay
        self.dwellWeighted = dwellWeighted
        self.keptProfileBudget = keptProfileBudget
    }

    /// Whether the profiles are kept (else replayed per block).
    public var keepsProfiles: Bool { profiles.rows > 0 }

    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        let c = world.catalog
        itemFactors = c.unitEmbeddings
        topicCount = c.topics.count
        catalog = c
        self.log = log
        executor = world.executor
        if dwellWeighted {
            topicWeightsStore = [Double](repeating: 0, count: world.userCount * topicCount)
        }
        guard dwellWeighted || world.userCount * c.dimension * 4 <= keptProfileBudget else { return }
        profiles = Matrix(rows: world.userCount, cols: c.dimension)
        for u in 0..<world.userCount {
            log.forEachConsumed(by: u) { i in
                addProfile(user: u, item: Int(i), weight: 1, catalog: c)
                if dwellWeighted { addTopics(user: u, item: Int(i), weight: 1, catalog: c) }
            }
        }
    }
    var catalog: Catalog?
    /// The world's executor: kept profiles take a step's consumption by user blocks.
    var executor = BlockExecutor(workers: 1)

    /// Adds a consumption to a kept profile: `p ← keep · p + w · e` (`1 · e` is `e` exactly, so
    /// with w = 1 this is the replay's step).
    func addProfile(user u: Int, item i: Int, weight w: Float, catalog c: Catalog) {
        let keep = Float(1 - decay)
        let d = c.dimension
        c.unitEmbeddings.storage.withUnsafeBufferPointer { e in
            profiles.withMutableRow(u) { row in
                for j in 0..<d { row[j] = keep * row[j] + w * e[i * d + j] }
            }
        }
    }

    func addTopics(user u: Int, item i: Int, weight w: Float, catalog c: Catalog) {
        let keep = Double(Float(1 - decay))
        let g = topicCount
        for t in 0..<g { topicWeightsStore[u * g + t] *= keep }
        var tmp = [Double](repeating: 0, count: g)
        c.topics.accumulate(item: i, weight: Double(w), into: &tmp)
        for t in 0..<g { topicWeightsStore[u * g + t] += tmp[t] }
    }

    public func prepareTopicWeights(log: InteractionLog) {
        guard topicWeightsStore.isEmpty, let c = catalog, topicCount > 0 else { return }
        topicWeightsStore = [Double](repeating: 0, count: log.userCount * topicCount)
        for u in 0..<log.userCount {
            log.forEachConsumed(by: u) { i in addTopics(user: u, item: Int(i), weight: 1, catalog: c) }
        }
    }

    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {
        if keepsProfiles {
            for (r, u) in users.enumerated() {
                out.setRow(r, to: profiles.row(Int(u)))
                out.normalizeRow(r)
            }
            return
        }
        guard let c = catalog, let log else { return }
        // The same step as `addProfile` with weight 1, replayed from the log into the output
        // row and normalised there.
        let keep = Float(1 - decay)
        var history: [Int32] = []
        for (r, u) in users.enumerated() {
            history.removeAll(keepingCapacity: true)
            log.appendConsumed(by: Int(u), to: &history)
            c.unitEmbeddings.decayedSum(ofRows: history, keep: keep, into: &out, row: r)
            out.normalizeRow(r)
        }
    }

    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {
        // The profiles are replayed from the log; kept topic weights move as they arrive.
        guard let c = catalog, keepsProfiles || !topicWeightsStore.isEmpty else { return }
        if topicWeightsStore.isEmpty && zip(feedback.users, feedback.users.dropFirst()).allSatisfy({ $0 < $1 }) {
            // Kept profiles only, every consumption weighing 1 (dwell weighting keeps topic
            // weights): each user's row takes its consumption in slate order, users by blocks
            // on the executor (the engine's users ascend, so the rows are disjoint and the bits
            // those of one pass), without a call per shown position.
            observeProfiles(feedback, catalog: c)
            return
        }
        feedback.forEachEvent { u, i, _, outcome, dwell in
            guard outcome == .consumed else { return }
            let w = dwellWeighted ? dwell : 1
            if keepsProfiles { addProfile(user: u, item: i, weight: w, catalog: c) }
            if !topicWeightsStore.isEmpty { addTopics(user: u, item: i, weight: w, catalog: c) }
        }
    }

    /// ``addProfile(user:item:weight:catalog:)`` with weight 1 for every consumed position of
    /// the batch, user blocks in parallel.
    func observeProfiles(_ feedback: FeedbackBatch, catalog c: Catalog) {
        let keep = Float(1 - decay)
        let d = c.dimension, k = feedback.slateSize
        let users = feedback.users, slates = feedback.slates, outcomes = feedback.outcomes
        let embeddings = c.unitEmbeddings.storage
        precondition(
            slates.count == users.count * k && outcomes.count == slates.count,
            "a feedback batch of \(users.count) users, \(slates.count) items")
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: 4096)
        profiles.withMutableStorage { storage in
            storage.fillInParallel { rows in
                executor.forEach(blockCount: blocks.count) { b, _ in
                    embeddings.withUnsafeBufferPointer { e in
                        for r in blocks[b] {
                            let u = Int(users[r])
                            for p in 0..<k where outcomes[r * k + p] == .consumed {
                                let i = Int(slates[r * k + p])
                                precondition(i >= 0 && (i + 1) * d <= e.count, "item \(i) outside the catalog")
                                // `keep · p + 1 · e` (1 · e is e exactly): the replay's step.
                                rows.withElements((u * d)..<((u + 1) * d)) { row in
                                    Matrix.decayStep(row.baseAddress!, adding: e.baseAddress! + i * d, count: d, keep: keep)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func topicWeights(of u: Int, log: InteractionLog, topics: TopicTable) -> [Double] {
        let g = topicCount
        let w = Array(topicWeightsStore[(u * g)..<((u + 1) * g)])
        let s = w.reduce(0, +)
        return s > 0 ? w.map { $0 / s } : w
    }
}

/// Errors of built-in recommenders.
public enum RecommenderError: Error, Equatable, CustomStringConvertible {
    case needsGroundTruth(String)
    case cannotFill(step: Int, user: Int, available: Int, needed: Int)

    public var description: String {
        switch self {
        case .needsGroundTruth(let k): return "recommender '\(k)' needs ground truth, which the engine did not attach"
        case .cannotFill(let s, let u, let a, let n):
            return
                "step \(s), user \(u): only \(a) items may be shown to this user after the controls, the slate needs \(n); use a larger catalog or a smaller slate"
        }
    }
}
