import CocoonMath

/// Optional user attributes a recommender may read only with consent.
public struct UserAttributes: Sendable, Hashable, Codable {
    /// Age band, e.g. `under-18`, `18-29`, `65+`.
    public var ageBand: String
    /// Occupation, e.g. `student`, `worker`.
    public var occupation: String
    /// Consumption level: `low`, `mid` or `high`.
    public var consumptionLevel: String
    /// Whether the user consented to the platform reading these attributes.
    public var consented: Bool
}

/// Every user's attributes, stored as a code per user into a table of the distinct values (a
/// few hundred at most: at a million users 4 bytes a user instead of 56).
public struct AttributeTable: RandomAccessCollection, Sendable {
    private var codes: [UInt32] = []
    private var values: [UserAttributes] = []
    private var index: [UserAttributes: UInt32] = [:]

    public init() {}

    public init<S: Sequence>(_ attributes: S) where S.Element == UserAttributes {
        for a in attributes { append(a) }
    }

    /// Adds the next user's attributes.
    public mutating func append(_ a: UserAttributes) {
        if let c = index[a] {
            codes.append(c)
        } else {
            let c = UInt32(values.count)
            values.append(a)
            index[a] = c
            codes.append(c)
        }
    }

    public mutating func reserveCapacity(_ n: Int) { codes.reserveCapacity(n) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { codes.count }
    public subscript(u: Int) -> UserAttributes { values[Int(codes[u])] }
}

/// The users of a world and their ground truth, which no recommender sees (except `oracle`).
public struct Population: Sendable {
    /// Number of users.
    public let count: Int
    /// Number of topics of the mixtures.
    public let topicCount: Int
    /// Intrinsic topic mixture π of every user (count × topics, rows sum to 1; sparse when
    /// users have a few topics each).
    public let interestMix: TopicMixtures
    /// Intrinsic interest embedding of every user (count × d): unit-norm for `mixture`,
    /// the raw preference vector for `dirichlet`.
    public let interestVectors: Matrix
    /// Segment index per user (into ``segmentNames``).
    public let segments: [Int32]
    /// Segment labels.
    public let segmentNames: [String]
    /// Whether each user has the "seeking" persona.
    public let seeking: [Bool]
    /// Topics each user declared at sign-up (often empty).
    public let declaredTags: [[Int32]]
    /// Attributes per user.
    public let attributes: AttributeTable
    /// Items each user consumed before step 1 (round 0), in one flat buffer.
    public let seedHistory: ListArena

    /// User u's intrinsic topic mixture.
    public func mixture(of u: Int) -> [Float] { interestMix.row(u) }

    /// User u's dominant intrinsic topic (ties → lower index).
    public func dominantTopic(of u: Int) -> Int { interestMix.dominantTopic(of: u) }

    /// Memberwise initialiser (used by loaders and tests).
    public init(
        topicCount: Int, interestMix: TopicMixtures, interestVectors: Matrix, segments: [Int32], segmentNames: [String],
        seeking: [Bool], declaredTags: [[Int32]], attributes: AttributeTable, seedHistory: ListArena
    ) {
        let n = interestVectors.rows
        precondition(
            interestMix.count == n * topicCount && segments.count == n && seeking.count == n
                && declaredTags.count == n && attributes.count == n && seedHistory.count == n,
            "population arrays disagree on the user count")
        self.count = n
        self.topicCount = topicCount
        self.interestMix = interestMix
        self.interestVectors = interestVectors
        self.segments = segments
        self.segmentNames = segmentNames
        self.seeking = seeking
        self.declaredTags = declaredTags
        self.attributes = attributes
        self.seedHistory = seedHistory
    }
}
