import CocoonCore
import CocoonMath

/// The personalised part of a built-in recommender: scores are `userFactors · itemFactorsᵀ`
/// (a BLAS product over user blocks), optionally perturbed by Gumbel noise to sample instead
/// of rank. ``BuiltinRecommender`` adds the control layer, candidate selection, re-rankers
/// and exploration around it.
///
/// Concurrency: ``userFactors(_:into:)`` and ``itemFactors`` are read from several blocks at
/// once during a step; a model mutates its state only in ``start(_:log:truth:)`` and
/// ``observe(_:log:)``, which the engine calls on one thread between steps. Models are
/// therefore `@unchecked Sendable`.
public protocol ScoringModel: AnyObject, Sendable {
    /// Registry kind (`profile`, `mf`, …).
    var kind: String { get }
    /// Prepares the model (called once before step 1).
    func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws
    /// Item factors for the current step (items × f).
    var itemFactors: Matrix { get }
    /// Writes the factors of `users` into the rows of `out` (`users.count × f`). Called from
    /// several blocks at once: read-only.
    func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix)
    /// Scale of the Gumbel noise added to every (user, item) score; 0 = rank exactly.
    var noiseScale: Float { get }
    /// Whether the noise may be uniform instead of Gumbel: true when every base score is equal
    /// (any i.i.d. continuous noise then gives a uniformly random ranking, without logarithms).
    var uniformNoise: Bool { get }
    /// Learns from a step's feedback (after the log has recorded it).
    func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws
    /// Topic weights the model holds for user u (used for the user's tags).
    func topicWeights(of u: Int, log: InteractionLog, topics: TopicTable) -> [Double]
    /// Called on one thread before a step that reads ``topicWeights(of:log:topics:)``: a model
    /// may build them only once someone asks.
    func prepareTopicWeights(log: InteractionLog)
    /// Whether the factor space is the catalog's unit-embedding space (tag projections use
    /// topic directions computed from `itemFactors` either way).
    var readsGroundTruth: Bool { get }
}

extension ScoringModel {
    public var noiseScale: Float { 0 }
    public var uniformNoise: Bool { false }
    public var readsGroundTruth: Bool { false }
    public func prepareTopicWeights(log: InteractionLog) {}
    public func topicWeights(of u: Int, log: InteractionLog, topics: TopicTable) -> [Double] {
        log.topicDistribution(of: u, topics: topics) ?? Array(repeating: 0, count: topics.count)
    }
}
