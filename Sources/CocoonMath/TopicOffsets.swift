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
        g <= 32 && KernelRuntime.usesAVX512Variants ? 16 : 4
    }
}

/// Each row's topic offsets for one block of users, for ``BlockScorer/topK(users:rows:k:workspace:offsets:adjust:emit:)``
/// to add to the scores before its `adjust` sees them (the own products add them in the kernel,
/// while the scores are still in registers).
public struct RowTopicOffsets: Sendable {
    /// Floats a row's table takes in ``tables`` (two AVX-512 registers of offsets), and so the
    /// most topics.
    public static let stride = 32
    /// Every item's topic, each below ``topicCount``.
    public let topics: [Int32]
    /// Row r's offsets at `r · stride ..< r · stride + topicCount`, zero after them (read only
    /// for rows with offsets).
    public let tables: [Float]
    /// Per row of the block: non-zero where the row has offsets.
    public let rows: [UInt8]
    /// Number of topics (1 to ``stride``).
    public let topicCount: Int

    /// Offsets for a block of `rows.count` rows over the items of `topics`.
    ///
    /// - Precondition: every topic below `topicCount` (not checked item by item: the catalog's
    ///   topics are).
    public init(topics: [Int32], tables: [Float], rows: [UInt8], topicCount: Int) {
        precondition(
            topicCount > 0 && topicCount <= Self.stride, "\(topicCount) topics: kernel offsets take 1 to \(Self.stride)")
        let last = rows.lastIndex { $0 != 0 } ?? -1
        precondition(tables.count >= (last + 1) * Self.stride, "\(tables.count) offsets for row \(last)'s table")
        self.topics = topics
        self.tables = tables
        self.rows = rows
        self.topicCount = topicCount
    }

    /// Adds row r's offsets (if it has any) to its scores of items `first ..< first + scores.count`.
    package func add(row r: Int, first: Int, to scores: UnsafeMutableBufferPointer<Float>) {
        guard rows[r] != 0 else { return }
        precondition(
            first >= 0 && first + scores.count <= topics.count, "topics of items \(first)..<\(first + scores.count) missing")
        topics.withUnsafeBufferPointer { t in
            tables.withUnsafeBufferPointer { o in
                TopicOffsets.add(
                    to: scores, topics: t.baseAddress! + first,
                    offsets: UnsafeBufferPointer(rebasing: o[(r * Self.stride)..<(r * Self.stride + topicCount)]))
            }
        }
    }
}
