import CocoonMath

/// Which arm of a run a user belongs to.
public enum Arm: UInt8, Sendable, Codable, CaseIterable {
    /// A user not selected by any twinned intervention.
    case main = 0
    /// A user selected by a twinned intervention (receives it).
    case treated = 1
    /// The untreated copy of a treated user.
    case twin = 2

    /// The label used in reports.
    public var name: String {
        switch self {
        case .main: return "main"
        case .treated: return "treated"
        case .twin: return "twin"
        }
    }
}

/// The users of a run: the population plus the twins, with their arms.
public struct UserTable: Sendable {
    /// Number of users (population plus twins).
    public let count: Int
    /// The population user each row comes from (a twin's origin is its original): the
    /// identity of the user's random streams.
    public let origin: [Int32]
    /// Arm of every user.
    public let arm: [Arm]
    /// For a treated user its twin, for a twin its treated user, otherwise −1.
    public let counterpart: [Int32]
    /// Segment index per user.
    public let segments: [Int32]
    /// Segment labels.
    public let segmentNames: [String]
    /// Persona per user.
    public let seeking: [Bool]
}

/// A world ready to run: catalog, population, users (with twins) and resolved interventions.
public struct SimulationWorld: Sendable {
    /// The items.
    public let catalog: Catalog
    /// The population (ground truth at creation).
    public let population: Population
    /// Users, including twins.
    public let users: UserTable
    /// The scheduled interventions.
    public let interventions: [Intervention]
    /// For every intervention, the users it applies to (ascending; twins never receive a
    /// twinned intervention, and follow their original for the others).
    public let selections: [[Int32]]

    /// Every user's round-0 history (twins share their original's): the population's own
    /// buffer when there are no twins, a gathered copy otherwise.
    public var seedHistory: ListArena {
        if users.count == population.count { return population.seedHistory }  // origin is the identity
        return ListArena(users.origin.lazy.map { population.seedHistory[Int($0)] })
    }

    /// Every user's intrinsic topic mixture at creation (twins share their original's): the
    /// population's own table when there are no twins, a gathered copy otherwise.
    public var interestMix: TopicMixtures {
        if users.count == population.count { return population.interestMix }  // origin is the identity
        var m = TopicMixtures(topics: population.topicCount)
        m.reserveCapacity(users: users.count)
        for o in users.origin { m.appendRow(population.interestMix.row(Int(o))) }
        return m.compacted()
    }

    /// Builds the user table, resolving every selection from `seed`.
    ///
    /// - Throws: ``WorldError`` for an unknown topic or segment name.
    public init(catalog: Catalog, population: Population, interventions: [Intervention], seed: Seed) throws {
        let n = population.count
        let names = catalog.topics.names
        // Which population users each intervention selects.
        var popSelections: [[Bool]] = []
        for iv in interventions {
            if let s = iv.selection.segment, !population.segmentNames.contains(s) {
                throw WorldError.unknownSegment(s, intervention: iv.name, known: population.segmentNames)
            }
            var topIndex: Int? = nil
            if let t = iv.selection.topInterest {
                guard let j = TopicTable.index(of: t, in: names) else {
                    throw WorldError.unknownTopic(t, intervention: iv.name, known: names)
                }
                topIndex = j
            }
            try SimulationWorld.checkTopics(in: iv.action, names: names, intervention: iv.name)
            var chosen = [Bool](repeating: false, count: n)
            for u in 0..<n {
                if let s = iv.selection.segment, population.segmentNames[Int(population.segments[u])] != s { continue }
                if let t = topIndex, population.dominantTopic(of: u) != t { continue }
                if let want = iv.selection.seeking, population.seeking[u] != want { continue }
                var r = seed.stream("selection." + iv.name, u)
                if iv.selection.fraction >= 1 || Sample.uniform(using: &r) < iv.selection.fraction { chosen[u] = true }
            }
            popSelections.append(chosen)
        }
        // Users needing a twin: selected by any twinned intervention.
        var treated = [Bool](repeating: false, count: n)
        for (k, iv) in interventions.enumerated() where iv.twins {
            for u in 0..<n where popSelections[k][u] { treated[u] = true }
        }
        var origin = (0..<n).map { Int32($0) }
        var arm = treated.map { $0 ? Arm.treated : Arm.main }
        var counterpart = [Int32](repeating: -1, count: n)
        for u in 0..<n where treated[u] {
            counterpart[u] = Int32(origin.count)
            origin.append(Int32(u))
            arm.append(.twin)
            counterpart.append(Int32(u))
        }
        let total = origin.count
        var selections: [[Int32]] = []
        for (k, iv) in interventions.enumerated() {
            var rows: [Int32] = []
            for r in 0..<total {
                let o = Int(origin[r])
                guard popSelections[k][o] else { continue }
                if iv.twins && arm[r] == .twin { continue }
                rows.append(Int32(r))
            }
            selections.append(rows)
        }
        self.catalog = catalog
        self.population = population
        self.interventions = interventions
        self.selections = selections
        // Without twins the rows are the population's users: share its arrays (copy-on-write).
        let twinned = total > n
        self.users = UserTable(
            count: total, origin: origin, arm: arm, counterpart: counterpart,
            segments: twinned ? origin.map { population.segments[Int($0)] } : population.segments,
            segmentNames: population.segmentNames,
            seeking: twinned ? origin.map { population.seeking[Int($0)] } : population.seeking)
    }

    private static func checkTopics(in action: Intervention.Action, names: [String], intervention: String) throws {
        func check(_ r: Intervention.TopicRef) throws {
            if case .named(let s) = r, TopicTable.index(of: s, in: names) == nil {
                throw WorldError.unknownTopic(s, intervention: intervention, known: names)
            }
        }
        switch action {
        case .notInterested(let pick, _, _): if case .ofTopic(let r) = pick { try check(r) }
        case .declareTag(let r), .deleteTag(let r), .blockTopic(let r): try check(r)
        case .shiftInterest(let a, let b, _):
            try check(a)
            try check(b)
        case .personalisation, .blockTopCreator: break
        }
    }
}

/// Why a world cannot be built.
public enum WorldError: Error, Equatable, CustomStringConvertible {
    case unknownTopic(String, intervention: String, known: [String])
    case unknownSegment(String, intervention: String, known: [String])

    public var description: String {
        switch self {
        case .unknownTopic(let t, let iv, let known):
            return
                "intervention '\(iv)' names topic '\(t)', which the catalog does not have (topics: \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", …" : ""))"
        case .unknownSegment(let s, let iv, let known):
            return
                "intervention '\(iv)' selects segment '\(s)', which the population does not have (segments: \(known.joined(separator: ", ")))"
        }
    }
}

/// The live ground truth: intrinsic interests, which only shift interventions change.
///
/// The engine owns it and mutates it only between steps; readers (the `oracle` reference and
/// the metrics) read it while no step is running.
public final class GroundTruth: @unchecked Sendable {
    /// Number of users (including twins).
    public let userCount: Int
    /// Topics per mixture.
    public let topicCount: Int
    /// Embedding dimension.
    public let dimension: Int
    /// Intrinsic topic mixture per user (userCount × topics).
    public package(set) var mix: TopicMixtures
    /// Intrinsic interest vector per user (userCount × d).
    public package(set) var vectors: Matrix

    package init(world: SimulationWorld) {
        let p = world.population
        let g = p.topicCount
        let d = p.interestVectors.cols
        userCount = world.users.count
        topicCount = g
        dimension = d
        // Without twins every user is their own origin: share the population's arrays
        // (copy-on-write: an interest shift copies them then, not before).
        mix = world.interestMix
        if userCount == p.count {
            vectors = p.interestVectors
            return
        }
        var v = [Float](repeating: 0, count: userCount * d)
        for (r, o) in world.users.origin.enumerated() {
            for j in 0..<d { v[r * d + j] = p.interestVectors[Int(o), j] }
        }
        vectors = Matrix(rows: userCount, cols: d, values: v)
    }

    /// User u's intrinsic topic mixture.
    public func mixture(of u: Int) -> [Float] { mix.row(u) }

    /// User u's dominant intrinsic topic (ties → lower index).
    public func dominantTopic(of u: Int) -> Int {
        mix.dominantTopic(of: u)
    }
}
