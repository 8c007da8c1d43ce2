import CocoonMath

/// What a "not interested" mark covers.
public enum MarkScope: String, Sendable, Codable, CaseIterable {
    /// This item.
    case item
    /// "Not this kind of content": the item's topic.
    case topic
}

/// A "not interested" mark: the user marked `item` on the list shown at step `listStep`.
public struct NotInterestedMark: Sendable, Equatable, Codable {
    /// The marked item.
    public var item: Int32
    /// The step of the list the item was shown on (r in METRICS.md §9).
    public var listStep: Int32
    /// Item-level or topic-level.
    public var scope: MarkScope
    /// The item's primary topic.
    public var topic: Int32
    public init(item: Int32, listStep: Int32, scope: MarkScope, topic: Int32) {
        self.item = item
        self.listStep = listStep
        self.scope = scope
        self.topic = topic
    }
}

/// The controls a user holds, kept by the engine and shown to recommenders every step.
///
/// Lists of topics and creators are kept sorted and free of repeats.
public struct UserControls: Sendable, Equatable, Codable {
    /// Whether the feed may use the user's personal data (Art. 17 ¶1: the user can switch it off).
    public var personalisation = true
    /// Interest tags the user selected (topic indices).
    public var declaredTags: [Int32] = []
    /// Tags the user deleted (topic indices): they must stop weighting their topic.
    public var deletedTags: [Int32] = []
    /// Topics the user blocked.
    public var blockedTopics: [Int32] = []
    /// Creators the user blocked.
    public var blockedCreators: [Int32] = []
    /// "Not interested" marks, oldest first.
    public var notInterested: [NotInterestedMark] = []

    public init() {}

    /// Selects a tag (it also stops being deleted).
    public mutating func declare(tag t: Int32) {
        declaredTags.sortedInsert(t)
        deletedTags.sortedRemove(t)
    }

    /// Deletes a tag (it also stops being declared).
    public mutating func delete(tag t: Int32) {
        deletedTags.sortedInsert(t)
        declaredTags.sortedRemove(t)
    }

    /// Blocks a creator.
    public mutating func block(creator c: Int32) { blockedCreators.sortedInsert(c) }

    /// Blocks a topic.
    public mutating func block(topic t: Int32) { blockedTopics.sortedInsert(t) }

    /// Whether the user marked `item` (at item level) at any time.
    public func hasMarked(item: Int32) -> Bool {
        notInterested.contains { $0.item == item }
    }
}

/// Every user's controls, indexed by user. Most users never touch a control, so only users
/// whose controls differ from the defaults hold a ``UserControls`` (a 4-byte slot per user
/// instead of a 48-byte struct: 44 MB at a million users).
public struct ControlTable: RandomAccessCollection, MutableCollection, Sendable, Equatable {
    /// Each user's entry in `entries`, or -1 for the default controls.
    @usableFromInline private(set) var slot: [Int32]
    @usableFromInline private(set) var entries: [UserControls] = []

    /// Default controls for `count` users.
    public init(count: Int) { slot = [Int32](repeating: -1, count: count) }

    @usableFromInline static let defaults = UserControls()

    public var startIndex: Int { 0 }
    public var endIndex: Int { slot.count }

    /// User u's controls. Setting them gives u an entry of its own (kept even if set back to
    /// the defaults, which is rare and harmless).
    /// Reading yields the entry in place (no copy for a field's count or a single element), but
    /// iterating a field (`for m in table[u].notInterested`) copies the whole entry, its five
    /// arrays retained, once per read: use ``withControls(of:_:)`` in hot loops.
    public subscript(u: Int) -> UserControls {
        _read {
            let s = slot[u]
            if s < 0 { yield ControlTable.defaults } else { yield entries[Int(s)] }
        }
        set {
            let s = slot[u]
            if s >= 0 {
                entries[Int(s)] = newValue
            } else if newValue != UserControls() {
                slot[u] = Int32(entries.count)
                entries.append(newValue)
            }
        }
    }

    /// Calls `body` with user u's controls borrowed in place: unlike `let own = table[u]`, no
    /// copy of the entry (its five arrays retained and released) is made; iterating a field
    /// inside `body` retains that field only. (Inlinable: an unspecialised call would copy the
    /// entry through its value witness, every array retained.)
    @inlinable
    public func withControls<R>(of u: Int, _ body: (borrowing UserControls) throws -> R) rethrows -> R {
        let s = slot[u]
        if s < 0 { return try body(ControlTable.defaults) }
        return try entries.withUnsafeBufferPointer { try body($0[Int(s)]) }
    }

    /// Whether user u holds controls of its own (false: the defaults, without building them).
    public func hasOwnControls(_ u: Int) -> Bool { slot[u] >= 0 }

    /// Number of users holding controls of their own.
    public var customisedCount: Int { entries.count }

    public static func == (a: ControlTable, b: ControlTable) -> Bool { a.elementsEqual(b) }
}

/// A control that changed for a user at a step (from an intervention or the user's own
/// behaviour). Recommenders receive the changes of the step with the request; metrics use
/// them to time how fast a control takes effect.
public struct ControlChange: Sendable, Equatable, Codable {
    /// What changed.
    public enum Kind: String, Sendable, Codable {
        case notInterested = "not-interested"
        case declareTag = "declare-tag"
        case deleteTag = "delete-tag"
        case personalisationOff = "personalisation-off"
        case personalisationOn = "personalisation-on"
        case blockCreator = "block-creator"
        case blockTopic = "block-topic"
        case interestShift = "interest-shift"
    }
    /// The user.
    public var user: Int32
    /// The step at which it took effect (before that step's recommendations).
    public var step: Int32
    /// The kind of change.
    public var kind: Kind
    /// The topic, item or creator concerned (−1 when none).
    public var target: Int32
    /// For marks: the mark.
    public var mark: NotInterestedMark?
    /// Name of the intervention that made the change (nil for the user's own marks).
    public var intervention: String?
}
