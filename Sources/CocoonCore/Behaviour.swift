/// How simulated users respond to slates and how their state moves. Every part can be
/// switched off and every number changed; ``preset(_:)`` returns published models.
///
/// Utility of the item at 0-based slate position p for user u (the `logit` and `cascade`
/// rules):
/// ```
/// v = τ·cos(pref_u, e_i) + w_q·(quality_i − ½) − w_s·sat_u[topic(i)] + b_seek·borderline_i
///     − w_pos·log2(p + 1)
/// ```
public struct Behaviour: Sendable, Equatable, Codable {
    /// How a user picks what to consume from a slate.
    public enum ChoiceRule: String, Sendable, Codable, CaseIterable {
        /// Multinomial logit over the slate plus a no-click option; at most one consumption.
        case logit
        /// Scan top-down: examine with a decaying probability, consume with sigmoid(v − u₀); stop
        /// after the first consumption.
        case cascade
        /// Chaney et al. 2018: always consume the shown item maximising known utility ×
        /// rank^α (never an item consumed before).
        case rankUtility = "rank-utility"
        /// Piao et al. 2023: accept each shown item independently with probability
        /// max(0, cos(intrinsic_u, e_i)); accepted items are consumed, the rest rejected.
        case independent
    }

    /// Per-topic satiation: consuming a topic raises `sat[t]` by `increment`; every step it
    /// recovers by the factor `1 − recovery`.
    public struct Satiation: Sendable, Equatable, Codable {
        public var enabled = true
        public var increment = 0.25
        public var recovery = 0.15
        public var weight = 1.0
        public init() {}
    }

    /// "Not interested" marks. For each shown, unconsumed item the probability is
    /// `base + affinitySlope·max(0, affinityThreshold − cos) + repetitionSlope·max(0, share_t −
    /// repetitionThreshold) + repeatBonus·[item was in the previous slate]`, where share_t is
    /// the recent exposure share of the item's topic. At most `maxPerStep` marks per step; a
    /// mark is "not this kind of content" (topic-level) with probability `topicLevelShare`.
    public struct NotInterested: Sendable, Equatable, Codable {
        public var enabled = true
        public var base = 0.0005
        public var affinityThreshold = 0.1
        public var affinitySlope = 0.05
        public var repetitionThreshold = 0.5
        public var repetitionSlope = 0.1
        public var repeatBonus = 0.02
        public var topicLevelShare = 0.3
        public var maxPerStep = 1
        /// Memory of the topic exposure share (EMA factor per step).
        public var exposureMemory = 0.8
        public init() {}
    }

    /// Preference drift of the current interest `pref` (unit vector):
    /// `pref ← normalise(pref + η₊·Σ e_consumed − η₋·Σ e_rejected + ρ·(intrinsic − pref))`.
    public struct Drift: Sendable, Equatable, Codable {
        public var enabled = true
        public var towardConsumed = 0.05
        public var awayFromRejected = 0.05
        public var pullToIntrinsic = 0.05
        public init() {}
    }

    /// Sessions: an active user leaves after a step with `leaveProbability` (plus
    /// `boredomLeave` if nothing was consumed); an absent user returns with `returnProbability`.
    public struct Session: Sendable, Equatable, Codable {
        public var leaveProbability = 0.0
        public var boredomLeave = 0.0
        public var returnProbability = 0.5
        public init() {}
    }

    /// The rule for picking items.
    public var choice: ChoiceRule = .logit
    /// τ: utility per unit of cosine affinity.
    public var temperature = 6.0
    /// u₀: utility of not consuming anything.
    public var noClickUtility = 3.0
    /// w_pos: utility lost per doubling of the slate position (position bias).
    public var positionBias = 0.6
    /// w_q: utility per unit of quality above ½.
    public var qualityWeight = 1.0
    /// Cascade: probability of examining the next position.
    public var examination = 0.8
    /// Rank-utility rule: the attention exponent α (Chaney et al.: −0.8).
    public var rankExponent = -0.8
    /// Rank-utility rule: mean share of the true utility the user knows (Chaney: 0.98).
    public var knownUtilityMean = 0.98
    /// Rank-utility rule: standard deviation of that share (Chaney: 1e-5).
    public var knownUtilitySD = 1e-5
    /// b_seek: extra utility of borderline items for users with the "seeking" persona.
    public var seekingBonus = 2.5
    /// Dwell time of a consumed item is `1 + seekingDwell·borderline` for seekers, 1 otherwise.
    public var seekingDwell = 3.0
    /// Satiation part.
    public var satiation = Satiation()
    /// "Not interested" part.
    public var notInterested = NotInterested()
    /// Drift part.
    public var drift = Drift()
    /// Session part.
    public var session = Session()

    public init() {}

    /// The named presets.
    public static let presetNames = ["default", "chaney2018", "piao2023"]

    /// A published model.
    ///
    /// - `default`: the logit model above with every part on.
    /// - `chaney2018`: Chaney, Stewart & Engelhardt (RecSys 2018): one consumption per step by
    ///   known utility × rank^−0.8, no satiation, no drift, no "not interested".
    /// - `piao2023`: Piao et al. (Nature Machine Intelligence 2023): each shown item accepted
    ///   with probability cos(intrinsic, item), no drift of the intrinsic interest (the
    ///   observed interest adapts inside the `piao-similarity` recommender), no satiation, no
    ///   "not interested".
    public static func preset(_ name: String) -> Behaviour? {
        var b = Behaviour()
        switch name {
        case "default": return b
        case "chaney2018":
            b.choice = .rankUtility
            b.satiation.enabled = false
            b.drift.enabled = false
            b.notInterested.enabled = false
            b.positionBias = 0
            return b
        case "piao2023":
            b.choice = .independent
            b.satiation.enabled = false
            b.drift.enabled = false
            b.notInterested.enabled = false
            b.positionBias = 0
            return b
        default: return nil
        }
    }
}
