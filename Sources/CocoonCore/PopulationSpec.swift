/// How to generate a synthetic population.
public struct PopulationSpec: Sendable, Equatable, Codable {
    /// How intrinsic interests are drawn.
    public enum Shape: String, Sendable, Codable, CaseIterable {
        /// 3–5 real interests with a dominant share, embedded as a mixture of topic centroids.
        case mixture
        /// Chaney et al. 2018: preference vectors from a Dirichlet over the catalog attributes
        /// (use with a `dirichlet` catalog).
        case dirichlet
    }

    /// A user segment and its share of the population.
    public struct Segment: Sendable, Equatable, Codable {
        /// Segment label (`adult`, `minor`, `elderly` or any user-defined label).
        public var name: String
        /// Share of users, > 0 (shares are normalised).
        public var share: Double
        /// Share of the segment's users with the "seeking" persona (linger on borderline items).
        public var seeking: Double = 0
        /// If set, the segment's users draw their interests from these topics only (by name):
        /// user clusters with very different histories.
        public var topics: [String]? = nil
        public init(name: String, share: Double, seeking: Double = 0, topics: [String]? = nil) {
            self.name = name
            self.share = share
            self.seeking = seeking
            self.topics = topics
        }
    }

    /// Interest shape.
    public var shape: Shape = .mixture
    /// Number of users (≥ 1).
    public var users: Int = 1000
    /// Fewest and most real interests per user.
    public var minInterests: Int = 3
    public var maxInterests: Int = 5
    /// Range of the dominant interest's share.
    public var minDominantShare: Double = 0.3
    public var maxDominantShare: Double = 0.5
    /// Norm of the Gaussian noise added to the interest embedding before normalisation.
    public var interestNoise: Double = 0.15
    /// Segments (default: everyone `adult`).
    public var segments: [Segment] = [Segment(name: "adult", share: 1)]
    /// Probability that a user declares interest tags at sign-up (never required).
    public var declaredTagProbability: Double = 0
    /// Probability that a user consents to the platform reading their attributes.
    public var attributeConsent: Double = 0.5
    /// Items each user consumed before step 1 (the round-0 seed history).
    public var seedHistory: Int = 10
    /// Scale of the per-world preference prior (`dirichlet` shape; Chaney et al. use 10).
    public var dirichletScale: Double = 10

    public init() {}
}
