/// Random exploration mixed into a built-in's slates after re-ranking.
public struct Exploration: Sendable, Equatable, Codable {
    /// ε-greedy: each slot independently becomes a random item with this probability.
    public var epsilon: Double = 0
    /// This many slots, evenly spaced from the bottom of the slate, are always random items.
    public var randomSlots: Int = 0

    public init(epsilon: Double = 0, randomSlots: Int = 0) {
        self.epsilon = epsilon
        self.randomSlots = randomSlots
    }

    /// Whether any exploration happens.
    public var isActive: Bool { epsilon > 0 || randomSlots > 0 }

    /// The positions that are always random for a slate of `k` (evenly spaced, last first).
    public func fixedPositions(slateSize k: Int) -> [Int] {
        let r = min(max(randomSlots, 0), k)
        if r == 0 { return [] }
        return (0..<r).map { k - 1 - ($0 * k) / r }.sorted()
    }
}
