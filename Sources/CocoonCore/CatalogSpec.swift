/// How to generate a synthetic catalog.
///
/// Three shapes: `clusters` (topic centroids on the unit sphere, items scattered around their
/// topic's centroid), `dirichlet` (Chaney et al. 2018: non-negative attribute vectors drawn
/// from a Dirichlet; the primary topic is the largest attribute) and `oneHot` (Piao et al.
/// 2023: an item's embedding is the indicator of its topic).
public struct CatalogSpec: Sendable, Equatable, Codable {
    /// The shape of the generated embeddings.
    public enum Shape: String, Sendable, Codable, CaseIterable {
        case clusters, dirichlet
        case oneHot = "one-hot"
    }

    /// Items with a flag: a fraction of all items plus every item of the listed topics.
    public struct FlagSpec: Sendable, Equatable, Codable {
        /// Share of items flagged at random, in [0, 1].
        public var fraction: Double = 0
        /// Topics whose every item is flagged (by name).
        public var topics: [String] = []
        public init(fraction: Double = 0, topics: [String] = []) {
            self.fraction = fraction
            self.topics = topics
        }
    }

    /// Embedding shape.
    public var shape: Shape = .clusters
    /// Number of items (≥ 1).
    public var items: Int = 2000
    /// Embedding dimension d (8…256; `dirichlet` and `oneHot` use the topic count).
    public var dimension: Int = 32
    /// Number of topics (≥ 1).
    public var topics: Int = 20
    /// Optional topic names (default `t0`, `t1`, …).
    public var topicNames: [String]? = nil
    /// Zipf exponent of topic sizes: topic g gets a share ∝ 1/(g+1)^skew (0 = equal sizes).
    public var topicSizeSkew: Double = 0.5
    /// Spread of items around their topic centroid: the norm of the added Gaussian noise
    /// before normalisation (0 = every item on its centroid).
    public var spread: Double = 0.55
    /// Make topic centroids orthonormal when topics ≤ dimension.
    public var orthogonalTopics: Bool = true
    /// Probability that an item also has a second topic (C9 multi-topic items).
    public var secondaryTopicProbability: Double = 0
    /// Share of items that are near-duplicates of another item of their topic (cosine ≥ 0.95).
    public var nearDuplicateFraction: Double = 0.05
    /// Number of creators (each creates within one home topic).
    public var creators: Int = 200
    /// Beta(a, b) parameters of item quality.
    public var qualityAlpha: Double = 2
    public var qualityBeta: Double = 2
    /// Zipf exponent of the popularity prior over a random item order.
    public var popularitySkew: Double = 0.8
    /// Harmful (illegal or bad) items.
    public var harmful = FlagSpec()
    /// Borderline items.
    public var borderline = FlagSpec()
    /// Items unsuitable for minors (harmful items always are too).
    public var minorUnsafe = FlagSpec()
    /// Borderline items share a style: their embeddings lean by this weight toward one common
    /// "sensational" direction (clusters shape), so engagement models can learn it.
    public var borderlineStyle: Double = 1.0
    /// Share of synthetic (AI-generated) items, in [0, 1].
    public var synthetic: Double = 0
    /// Share of synthetic items that carry a label, in [0, 1].
    public var labelledShare: Double = 1
    /// Dirichlet concentration of the per-world attribute prior (`dirichlet` shape).
    public var dirichletConcentration: Double = 100
    /// Scale of the attribute prior (`dirichlet` shape; Chaney et al. use 0.1).
    public var dirichletScale: Double = 0.1

    public init() {}

    /// The topic names to use.
    public var resolvedTopicNames: [String] {
        topicNames ?? (0..<topics).map { "t\($0)" }
    }

    /// The embedding dimension actually generated.
    public var resolvedDimension: Int {
        shape == .clusters ? dimension : topics
    }
}
