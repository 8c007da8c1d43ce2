/// A counter-based random number generator: draw n of a stream is a pure function of the
/// stream's key and n.
///
/// Streams are never created from the clock or the system generator: they come from a root
/// ``Seed`` split by stable labels and indices (``Seed/stream(_:_:)``), so a user's draws for
/// one purpose do not depend on how many draws other users or other purposes made, nor on which
/// thread ran first.
///
/// Output n is the SplitMix64 finaliser applied to `key + n·γ` (γ = the 64-bit golden ratio),
/// i.e. SplitMix64 started at `key`. SplitMix64 passes BigCrush; keys are themselves mixed
/// hashes, so two streams overlap only with negligible probability.
public struct RandomStream: RandomNumberGenerator, Sendable {
    /// The stream's key (its identity).
    public let key: UInt64
    /// Number of 64-bit words drawn so far.
    @inlinable public var counter: UInt64 { _counter }
    @usableFromInline var _counter: UInt64

    /// Creates the stream with the given key, positioned at its first draw.
    public init(key: UInt64) {
        self.key = key
        self._counter = 0
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        _counter &+= 1
        return StableHash.splitMix(key &+ _counter &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// The root of all randomness of a run: a 64-bit seed, split into independent streams by
/// stable labels and indices.
///
/// ```swift
/// let root = Seed(42)
/// var choice = root.stream("choice", user, step)   // per user, per purpose, per step
/// let u = Sample.uniform(using: &choice)
/// ```
public struct Seed: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The seed value.
    public let value: UInt64

    /// Creates a seed.
    public init(_ value: UInt64) { self.value = value }

    /// A child seed for `label` (stable across processes and platforms).
    public func derive(_ label: String) -> Seed {
        Seed(StableHash.murmurMix(value ^ StableHash.fnv1a64(label)))
    }

    /// A child seed for an integer index.
    public func derive(_ index: Int) -> Seed {
        Seed(StableHash.murmurMix(value ^ StableHash.splitMix(UInt64(bitPattern: Int64(index)) &+ 0x632B_E59B_D9B4_E019)))
    }

    /// The stream for `label` and the given indices (for example a user id and a step).
    ///
    /// - Complexity: O(label length + number of indices).
    public func stream(_ label: String, _ indices: Int...) -> RandomStream {
        var s = derive(label)
        for i in indices { s = s.derive(i) }
        return RandomStream(key: s.value)
    }

    /// The stream for a label hash computed once with ``StableHash/fnv1a64(_:)`` and the given
    /// indices; the same stream as ``stream(_:_:)`` with the label, without re-hashing it.
    @inlinable
    public func stream(labelHash: UInt64, _ i: Int, _ j: Int) -> RandomStream {
        let s = Seed(StableHash.murmurMix(value ^ labelHash)).derive(i).derive(j)
        return RandomStream(key: s.value)
    }

    public var description: String { String(value) }
}

/// Hashes that are stable across processes (unlike `Hasher`, which is seeded per process).
public enum StableHash {
    /// 64-bit FNV-1a of the UTF-8 bytes of `s`.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The SplitMix64 output function (Stafford's mix 13).
    @inlinable
    public static func splitMix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// MurmurHash3's 64-bit finaliser, used to derive keys (a different mix from the output
    /// function, so a derived key is not a shifted output of its parent).
    @inlinable
    public static func murmurMix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}
