import CocoonCore

/// A re-ranker by registry name and its parameters (METRICS.md §10 defaults).
public struct RerankerSpec: Sendable, Equatable, Codable {
    /// `mmr`, `dpp`, `dpp-window`, `calibrated`, `xquad`, `topic-cap` or `dedupe`.
    public var kind: String
    public var lambda: Double? = nil
    public var theta: Double? = nil
    public var delta: Double? = nil
    public var epsilon: Double? = nil
    public var window: Int? = nil
    public var alpha: Double? = nil
    public var maxPerTopic: Int? = nil
    public var maxRun: Int? = nil
    public var threshold: Double? = nil

    public init(kind: String) { self.kind = kind }

    /// The parameters each kind accepts.
    public static let parameters: [String: [String]] = [
        "mmr": ["lambda"],
        "dpp": ["theta", "delta", "epsilon"],
        "dpp-window": ["theta", "delta", "window"],
        "calibrated": ["lambda", "alpha"],
        "xquad": ["lambda"],
        "topic-cap": ["maxPerTopic", "maxRun"],
        "dedupe": ["threshold"],
    ]

    /// Builds the re-ranker (nil for an unknown kind).
    public func make() -> Reranker? {
        switch kind {
        case "mmr": return MMRReranker(lambda: lambda ?? 0.7)
        case "dpp": return DPPReranker(theta: theta ?? 0.7, delta: delta ?? 0.1, epsilon: epsilon ?? 1e-10)
        case "dpp-window": return SlidingWindowDPPReranker(theta: theta ?? 0.7, delta: delta ?? 0.1, window: window ?? 3)
        case "calibrated": return CalibratedReranker(lambda: lambda ?? 0.5, alpha: alpha ?? 0.01)
        case "xquad": return XQuADReranker(lambda: lambda ?? 0.5)
        case "topic-cap": return TopicCapReranker(maxPerTopic: maxPerTopic ?? 3, maxRun: maxRun ?? 2)
        case "dedupe": return NearDuplicateReranker(threshold: threshold ?? 0.9)
        default: return nil
        }
    }
}

/// A built-in recommender by registry name, with its model parameters, control policy,
/// re-rankers and exploration.
public struct RecommenderSpec: Sendable, Equatable, Codable {
    /// Registry kind (see ``BuiltinRegistry/recommenders``).
    public var kind: String = "reference"
    /// popularity: count only the last `window` steps (nil = all time).
    public var window: Int? = nil
    /// profile / reference: forgetting per new consumption (nil: 0.15 for `reference`, 0.05 for
    /// `profile`).
    public var decay: Double? = nil
    /// mf: latent factors, L2 regularisation, confidence weight, ALS sweeps, retraining period
    /// in steps (0 = train once).
    public var factors: Int = 16
    public var regularization: Double = 0.1
    public var alpha: Double = 10
    public var iterations: Int = 8
    public var retrainEvery: Int = 1
    /// piao-similarity: matching strength β, feedback γ₊ and γ₋, noise σ.
    public var beta: Double = 7
    public var gammaPlus: Double = 0.5
    public var gammaMinus: Double = -0.1
    public var sigma: Double = 0.01
    /// The control layer.
    public var controls = ControlPolicy()
    /// Re-rankers applied after candidate selection, in order (nil: the kind's default chain).
    public var rerankers: [RerankerSpec]? = nil
    /// Candidates per user before re-ranking.
    public var candidates: Int? = nil
    /// Exploration.
    public var exploration = Exploration()
    /// Steps of random slates before the model is used.
    public var warmup: Int = 0
    /// plugin: the command to run (first element: the program).
    public var command: [String] = []
    /// plugin: seconds to wait for each answer.
    public var timeout: Double = 30
    /// plugin: how the catalog reaches the plugin: `auto`, `inline` or `file`.
    public var catalogTransfer = "auto"

    public init(kind: String = "reference") { self.kind = kind }
}

/// Every built-in recommender and re-ranker, with a line of help (`cocoon list`).
public enum BuiltinRegistry {
    /// Recommender kinds, in listing order.
    public static let recommenders: [(kind: String, help: String)] = [
        (
            "reference",
            "compliant reference: content profile with forgetting (decay 0.15), near-duplicate removal, calibrated re-ranking, topic cap"
        ),
        ("random", "uniformly random slates (honours controls)"),
        ("popularity", "most consumed items, all-time or over a recent window (window: N)"),
        ("oracle", "ideal reference: ranks by the user's intrinsic interest (reads ground truth)"),
        ("profile", "content-based: decayed profile of consumed items (decay 0.05)"),
        ("mf", "implicit ALS matrix factorisation, retrained every N steps (factors, retrainEvery; 0 = single training)"),
        (
            "piao-similarity",
            "Piao et al. 2023: softmax(β·similarity) sampling on an adaptive observed interest (beta, gammaPlus, gammaMinus, sigma)"
        ),
        ("engagement-greedy", "NON-COMPLIANT: chases dwell-weighted engagement, ignores every user control and duty"),
        ("plugin", "an out-of-process recommender speaking the plugin protocol (command: [...])"),
    ]

    /// Re-ranker kinds, in listing order.
    public static let rerankers: [(kind: String, help: String)] = [
        ("mmr", "maximal marginal relevance (lambda = 0.7)"),
        ("dpp", "DPP greedy MAP by incremental Cholesky (theta = 0.7, delta = 0.1, epsilon = 1e-10)"),
        ("dpp-window", "sliding-window DPP (theta, delta, window = 3)"),
        ("calibrated", "Steck's calibrated greedy (lambda = 0.5, alpha = 0.01)"),
        ("xquad", "xQuAD with topics as aspects (lambda = 0.5)"),
        ("topic-cap", "at most maxPerTopic = 3 items of a topic, runs of at most maxRun = 2"),
        ("dedupe", "removes near-duplicates (threshold = 0.9 cosine)"),
    ]

    /// The default re-ranker chain of a kind.
    public static func defaultRerankers(for kind: String) -> [RerankerSpec] {
        guard kind == "reference" else { return [] }
        var cap = RerankerSpec(kind: "topic-cap")
        cap.maxPerTopic = 3
        cap.maxRun = 2
        return [RerankerSpec(kind: "dedupe"), RerankerSpec(kind: "calibrated"), cap]
    }

    /// Builds a built-in recommender (not `plugin`, which the plugin client builds).
    ///
    /// - Throws: ``RegistryError`` for an unknown kind or re-ranker.
    public static func make(_ spec: RecommenderSpec) throws -> BuiltinRecommender {
        let model: ScoringModel
        var policy = spec.controls
        switch spec.kind {
        case "reference", "profile": model = ProfileModel(kind: spec.kind, decay: spec.decay ?? (spec.kind == "reference" ? 0.15 : 0.05))
        case "random": model = RandomModel()
        case "popularity": model = PopularityModel(window: spec.window)
        case "oracle": model = OracleModel()
        case "mf":
            model = MatrixFactorizationModel(
                factors: spec.factors, regularization: spec.regularization, alpha: spec.alpha, iterations: spec.iterations,
                retrainEvery: spec.retrainEvery, warmup: spec.warmup)
        case "piao-similarity":
            model = PiaoSimilarityModel(
                beta: spec.beta, gammaPlus: spec.gammaPlus, gammaMinus: spec.gammaMinus, sigma: spec.sigma)
        case "engagement-greedy":
            model = ProfileModel(kind: "engagement-greedy", decay: 0, dwellWeighted: true)
            policy = .off
        default:
            throw RegistryError.unknown(
                kind: "recommender", name: spec.kind, known: recommenders.map(\.kind).filter { $0 != "plugin" })
        }
        let chain = spec.rerankers ?? defaultRerankers(for: spec.kind)
        let rerankers = try chain.map { r -> Reranker in
            guard let made = r.make() else {
                throw RegistryError.unknown(kind: "re-ranker", name: r.kind, known: BuiltinRegistry.rerankers.map(\.kind))
            }
            return made
        }
        return BuiltinRecommender(
            name: spec.kind, model: model, policy: policy, rerankers: rerankers,
            candidateCount: spec.candidates, exploration: spec.exploration, warmup: spec.warmup)
    }
}

/// An unknown registry name.
public enum RegistryError: Error, Equatable, CustomStringConvertible {
    case unknown(kind: String, name: String, known: [String])

    public var description: String {
        switch self {
        case .unknown(let kind, let name, let known):
            return "unknown \(kind) '\(name)' (known: \(known.joined(separator: ", ")))"
        }
    }
}
