import CocoonCore

/// A set of users metrics are aggregated over: the population (every non-twin user), an arm
/// (`arm:treated`, `arm:twin`, `arm:main`) or a segment (`segment:minor`, non-twin users).
public struct MetricGroup: Sendable, Equatable {
    /// `population`, `arm:NAME` or `segment:NAME`.
    public let name: String
    /// Membership per user.
    public let members: [Bool]
    /// Number of members.
    public let size: Int

    public init(name: String, members: [Bool]) {
        self.name = name
        self.members = members
        self.size = members.filter { $0 }.count
    }

    /// The groups of a world, in report order: population, the arms present (treated, twin,
    /// main when twins exist), then each segment when there is more than one.
    public static func standard(for users: UserTable) -> [MetricGroup] {
        var out = [MetricGroup(name: "population", members: users.arm.map { $0 != .twin })]
        if users.arm.contains(.twin) {
            for arm in [Arm.treated, .twin, .main] {
                let m = users.arm.map { $0 == arm }
                if m.contains(true) { out.append(MetricGroup(name: "arm:\(arm.name)", members: m)) }
            }
        }
        if users.segmentNames.count > 1 {
            for (s, name) in users.segmentNames.enumerated() {
                let m = (0..<users.count).map { users.segments[$0] == Int32(s) && users.arm[$0] != .twin }
                if m.contains(true) { out.append(MetricGroup(name: "segment:\(name)", members: m)) }
            }
        }
        return out
    }
}
