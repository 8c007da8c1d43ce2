internal import _CocoonKernels

/// Per-topic offsets added to a row of scores: the control layer's topic penalties, blocks
/// (−∞) and tag boosts, applied to a score tile before the selection.
public enum TopicOffsets {
    /// `scores[j] += offsets[topics[j]]` for every j whose offset is not zero (a zero offset
    /// leaves the score as it is, −0 included). One rounding per score: the bits of that scalar
    /// loop, whichever instruction set runs it (16 scores a step with AVX-512 when there are at
    /// most 32 topics, 8 with AVX2).
    ///
    /// - Parameters:
    ///   - scores: the row's scores.
    ///   - topics: each score's item topic, in `0 ..< offsets.count` (the caller's catalog
    ///     guarantees it: the kernel does not check).
    ///   - offsets: one value per topic.
    public static func add(
        to scores: UnsafeMutableBufferPointer<Float>, topics: UnsafePointer<Int32>, offsets: UnsafeBufferPointer<Float>
    ) {
        guard let x = scores.baseAddress, let o = offsets.baseAddress, scores.count > 0 else { return }
        precondition(offsets.count <= Int(Int32.max), "\(offsets.count) topics")
        cocoon_add_topic_offsets(x, topics, scores.count, o, Int32(offsets.count))
    }

    /// Above which share of a row's items (1 / this) adding to every score of the row costs less
    /// than visiting only the items of its offset topics, one by one: with AVX-512 a whole row
    /// costs about what a sixteenth of it does item by item, with AVX2 about a quarter.
    public static func fullRowDivisor(topicCount g: Int) -> Int {
        g <= 32 && cocoon_topic_offsets_avx512() != 0 ? 16 : 4
    }
}

/// Each row's topic offsets for one block of users, for ``BlockScorer/topK(users:rows:k:workspace:offsets:adjust:emit:)``
/// to add to the scores before its `adjust` sees them (the own products add them in the kernel,
/// while the scores are still in registers).
public struct RowTopicOffsets {
    /// Every item's topic, each in `0 ..< 32`.
    public let topics: UnsafeBufferPointer<Int32>
    /// Per row of the block, its offsets — 32 readable floats, the topics' values first, zero
    /// past them — or nil for a row without offsets.
    public let tables: UnsafeBufferPointer<UnsafePointer<Float>?>
    /// Number of topics (at most 32).
    public let topicCount: Int

    /// Offsets for the rows of `tables` over the items of `topics`.
    ///
    /// - Precondition: `topicCount` ≤ 32 and every topic below it (not checked item by item:
    ///   the catalog's topics are).
    public init(topics: UnsafeBufferPointer<Int32>, tables: UnsafeBufferPointer<UnsafePointer<Float>?>, topicCount: Int) {
        precondition(
            topicCount > 0 && topicCount <= Self.maxTopics, "\(topicCount) topics: kernel offsets take 1 to \(Self.maxTopics)")
        self.topics = topics
        self.tables = tables
        self.topicCount = topicCount
    }

    /// The most topics a table holds (two AVX-512 registers of offsets).
    public static let maxTopics = 32

    /// The offsets of rows `range` (row `range.lowerBound` first).
    func rows(_ range: Range<Int>) -> RowTopicOffsets {
        RowTopicOffsets(topics: topics, tables: UnsafeBufferPointer(rebasing: tables[range]), topicCount: topicCount)
    }

    /// Adds row r's offsets to its scores of items `first ..< first + scores.count`.
    func add(row r: Int, first: Int, to scores: UnsafeMutableBufferPointer<Float>) {
        guard let table = tables[r] else { return }
        precondition(
            first >= 0 && first + scores.count <= topics.count, "topics of items \(first)..<\(first + scores.count) missing")
        TopicOffsets.add(
            to: scores, topics: topics.baseAddress! + first, offsets: UnsafeBufferPointer(start: table, count: topicCount))
    }
}
