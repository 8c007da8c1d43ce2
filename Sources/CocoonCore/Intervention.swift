/// A scheduled change to some users' controls or interests.
///
/// It applies at step `start`, or at every `every`-th step of the window `start...end`, to the
/// users its ``Selection`` picks (fixed when the world is built). With `twins`, each selected
/// user gets a twin in the control arm that shares their state and random streams and never
/// receives the intervention.
public struct Intervention: Sendable, Equatable, Codable {
    /// Which users an intervention applies to. All conditions must hold.
    public struct Selection: Sendable, Equatable, Codable {
        /// Share of the matching users picked (by a per-user draw), in [0, 1].
        public var fraction: Double = 1
        /// Only users of this segment.
        public var segment: String? = nil
        /// Only users whose dominant intrinsic topic is this topic (name).
        public var topInterest: String? = nil
        /// Only users with the "seeking" persona (true) or without it (false).
        public var seeking: Bool? = nil
        public init() {}
    }

    /// A topic, named or relative to the user.
    public enum TopicRef: Sendable, Equatable, Codable {
        /// A topic by name.
        case named(String)
        /// The user's dominant intrinsic topic.
        case topInterest
        /// The user's second intrinsic topic.
        case secondInterest
        /// The topic shown most often in the user's last slate (ties → lower index).
        case topShown
        /// The topic with the largest share of the user's consumption so far (ties → lower index).
        case topConsumed
    }

    /// Which shown item a "not interested" mark picks from the user's last slate.
    public enum ItemPick: Sendable, Equatable, Codable {
        /// The item at rank 1.
        case first
        /// A uniformly random shown item (from the user's intervention stream).
        case random
        /// The best-ranked shown item of a topic (none if the topic was not shown).
        case ofTopic(TopicRef)
    }

    /// What the intervention does.
    public enum Action: Sendable, Equatable, Codable {
        /// Mark `count` distinct shown items "not interested" (item- or topic-level).
        case notInterested(pick: ItemPick, scope: MarkScope, count: Int)
        /// Select an interest tag.
        case declareTag(TopicRef)
        /// Delete an interest tag.
        case deleteTag(TopicRef)
        /// Switch personalisation on or off.
        case personalisation(Bool)
        /// Move intrinsic interest from one topic to another: the `from` share becomes
        /// `remaining` × its old value and the difference goes to `to`.
        case shiftInterest(from: TopicRef, to: TopicRef, remaining: Double)
        /// Block the creator of the best-ranked shown item.
        case blockTopCreator
        /// Block a topic.
        case blockTopic(TopicRef)
    }

    /// The topic references the action uses.
    public var topicReferences: [TopicRef] {
        switch action {
        case .notInterested(let pick, _, _):
            if case .ofTopic(let r) = pick { return [r] }
            return []
        case .declareTag(let r), .deleteTag(let r), .blockTopic(let r): return [r]
        case .shiftInterest(let from, let to, _): return [from, to]
        case .personalisation, .blockTopCreator: return []
        }
    }

    /// Name (unique within a scenario).
    public var name: String
    /// First step it applies at (≥ 1).
    public var start: Int
    /// Last step of the window (nil: only `start`).
    public var end: Int? = nil
    /// Applies every `every` steps within the window (≥ 1).
    public var every: Int = 1
    /// Which users.
    public var selection = Selection()
    /// What it does.
    public var action: Action
    /// Whether selected users get untreated twins.
    public var twins = false

    public init(
        name: String, start: Int, end: Int? = nil, every: Int = 1, selection: Selection = Selection(), action: Action,
        twins: Bool = false
    ) {
        self.name = name
        self.start = start
        self.end = end
        self.every = every
        self.selection = selection
        self.action = action
        self.twins = twins
    }

    /// Whether it applies at `step`.
    public func applies(at step: Int) -> Bool {
        let last = end ?? start
        return step >= start && step <= last && (step - start) % max(every, 1) == 0
    }
}
