/// Moderation and provenance flags of a catalog item.
public struct ItemFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Illegal or bad information: must never be pushed or written into a user's tags.
    public static let harmful = ItemFlags(rawValue: 1 << 0)
    /// Legal but borderline (sensational, low quality); "seeking" users linger on it.
    public static let borderline = ItemFlags(rawValue: 1 << 1)
    /// Unsuitable for minors.
    public static let minorUnsafe = ItemFlags(rawValue: 1 << 2)
    /// AI-generated content.
    public static let synthetic = ItemFlags(rawValue: 1 << 3)
    /// Synthetic content that carries a label saying so.
    public static let labelled = ItemFlags(rawValue: 1 << 4)

    /// The flag names used in files and reports, in bit order.
    public static let names: [(String, ItemFlags)] = [
        ("harmful", .harmful), ("borderline", .borderline), ("minorUnsafe", .minorUnsafe),
        ("synthetic", .synthetic), ("labelled", .labelled),
    ]
}
