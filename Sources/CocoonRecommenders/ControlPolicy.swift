/// The control layer every built-in recommender shares: how it honours user controls and
/// platform duties. One set of rules, applied by ``BuiltinRecommender`` around any model.
///
/// - Personalisation off: the user gets the non-personalised feed, which reads no personal
///   data (no history, no profile, no attributes); only the user's explicit controls apply.
/// - "Not interested" on an item: the item never returns; items with cosine ≥
///   `nearDuplicateThreshold` to it are excluded for `nearDuplicateHorizon` steps.
/// - "Not this kind of content": the item's topic loses `topicPenalty` score for
///   `topicHorizon` steps after the mark, then recovers fully (the documented decay horizon).
/// - Deleted tags: the topic's direction is projected out of the user's profile every step,
///   so the topic is weighted like any topic the user never showed interest in.
/// - Declared tags: items of the topic gain `tagBoost`.
/// - Blocked creators and topics: never shown.
/// - Harmful items: never shown, never written into tags. Minors: `minorUnsafe` items never
///   shown; borderline items lose `minorBorderlinePenalty`.
/// - Items the user consumed, and items among the user's last `impressionMemory` impressions,
///   are pushed to the end of the ranking (used only if nothing else fills the slate).
public struct ControlPolicy: Sendable, Equatable, Codable {
    /// Master switch; `false` makes a deliberately non-compliant recommender that ignores
    /// every control and duty (validity of the slate is still guaranteed).
    public var enabled = true
    public var honourNotInterested = true
    public var honourPersonalisationOff = true
    public var honourTags = true
    public var honourBlocks = true
    public var filterHarmful = true
    public var protectMinors = true
    /// Cosine similarity at or above which an item is a near-duplicate of a marked one.
    public var nearDuplicateThreshold = 0.9
    /// Steps for which near-duplicates of a marked item stay excluded (0 = forever).
    public var nearDuplicateHorizon = 0
    /// Score taken from a "not this kind of content" topic.
    public var topicPenalty = 2.0
    /// Steps a topic-level mark lasts.
    public var topicHorizon = 500
    /// Score added to items of a declared tag.
    public var tagBoost = 1.0
    /// Score taken from borderline items for minors.
    public var minorBorderlinePenalty = 1.0
    /// Recent impressions pushed down (0 = none).
    public var impressionMemory = 100
    /// Push consumed items down.
    public var excludeConsumed = true
    /// NON-COMPLIANT over-reaction: treat every item-level mark as "not this kind of content"
    /// (the whole topic is suppressed), which narrows the feed beyond what the user asked.
    public var itemMarksSuppressTopic = false
    /// NON-COMPLIANT over-reaction: once a user marks an item "not interested", their feed
    /// loses its diversification (the re-rankers are skipped and the slate follows the raw
    /// scores), which narrows it beyond what the user asked.
    public var itemMarksNarrowFeed = false
    /// What cold users who declared no tags get: `breadth` (compliant: popular items, at most
    /// one per topic), or the NON-COMPLIANT `tag-wall` (the same onboarding slate every step
    /// until the user picks tags — forcing a choice) or `default-topic` (a default interest:
    /// the most popular topic only).
    public var coldStart = "breadth"

    /// The values of ``coldStart``.
    public static let coldStartChoices = ["breadth", "tag-wall", "default-topic"]

    public init() {}

    /// The non-compliant policy (`controls: off`).
    public static var off: ControlPolicy {
        var p = ControlPolicy()
        p.enabled = false
        return p
    }

    var notInterested: Bool { enabled && honourNotInterested }
    var personalisationOff: Bool { enabled && honourPersonalisationOff }
    var tags: Bool { enabled && honourTags }
    var blocks: Bool { enabled && honourBlocks }
    var harmful: Bool { enabled && filterHarmful }
    var minors: Bool { enabled && protectMinors }
}
