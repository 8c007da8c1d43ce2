import CocoonCore
import Foundation

/// The regulator figures of STANDARD-SUITE.md, computed from a replicate's trajectory as
/// per-user samples that a ``CheckSpec`` summarises.
public enum Figure {
    /// Every figure, with a line of help (`cocoon list figures`).
    public static let all: [(id: String, help: String)] = [
        ("cocoon_ratio", "R_u = H(topics recommended in the window) / H(intrinsic interest)"),
        ("top_topic_amplification", "A_u = share of the user's top intrinsic topic among recommendations / its intrinsic share"),
        ("near_duplicate_free_slates", "slates without a pair of cosine ≥ similarity (a = free slates, b = slates)"),
        ("longest_topic_run", "longest run of one topic in the user's slates"),
        ("ild_vs_baseline", "mean slate ILD (a) against the baseline run's (b)"),
        ("repeats_within", "impressions repeating an item shown in the user's previous `memory` impressions"),
        ("exposure_jaccard_vs_baseline", "mean pairwise Jaccard of exposure sets (a) against the baseline run's (b) (pooled)"),
        (
            "interest_shift_recovery",
            "share of the abandoned topic once `consumed` items were consumed after the shift (a) against before (b)"
        ),
        ("item_reexposure", "impressions of an item the user marked \"not interested\", after the mark"),
        (
            "suppression",
            "exposure of the target (item, near-duplicates, topic, unrelated) for treated users (a) and their twins (b)"
        ),
        ("entropy_vs_twin", "mean slate topic entropy of treated users (a) and their twins (b)"),
        ("cluster_topic_tvd", "largest total-variation distance between the topic distributions of user clusters (pooled)"),
        ("cramers_v", "Cramér's V of the cluster × topic table of impressions (pooled)"),
        ("twin_slate_match", "steps at which a treated user's slate equals the twin's (a) out of steps both were served (b)"),
        ("personalisation_off_kept", "steps after switching off at which the slate is still the non-personalised feed (a) out of steps off (b)"),
        ("tag_share_vs_baseline", "share of a deleted tag's topic (a) against the baseline run's (b)"),
        ("entropy_vs_baseline", "mean slate topic entropy (a) against the baseline run's (b)"),
        ("declared_tag_growth", "share of a declared tag's topic after (a) against the 10 steps before (b, floor 0.001)"),
        ("flagged_after_engagement", "impressions of harmful items after the user's first engagement with one"),
        ("flagged_topics_in_tags", "steps at which the user's tags include a harmful topic"),
        ("unsafe_impressions", "impressions of minorUnsafe or harmful items"),
        ("blocked_impressions", "impressions of items of a topic or creator the user blocked, while blocked"),
        ("borderline_amplification", "borderline impressions (a) against a uniformly random feed of the items a minor may see (b)"),
        ("control_delay", "steps from a control change until the slate reflects it (0 = the next slate)"),
        ("slates_served", "steps with a slate bringing an item the user was not shown before (a) out of steps (b)"),
    ]

    /// Figures summarised over the whole group at once (one sample per replicate; no
    /// user-level interval).
    public static let pooled: Set<String> = ["exposure_jaccard_vs_baseline", "cluster_topic_tvd", "cramers_v"]

    /// Figures that need a baseline run, with the default baseline.
    public static let defaultBaseline: [String: String] = [
        "ild_vs_baseline": "popularity", "exposure_jaccard_vs_baseline": "popularity",
        "tag_share_vs_baseline": "personalisation-off",
        "entropy_vs_baseline": "popularity",
    ]

    /// Why a figure cannot be computed for a run (→ NOT APPLICABLE).
    public struct NotApplicable: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The per-user samples of `spec`'s figure for one replicate.
    ///
    /// - Throws: ``NotApplicable`` when the run holds nothing to measure.
    public static func samples(_ spec: CheckSpec, _ run: RunArtifacts) throws -> [UserSample] {
        let ctx = run.context!
        let world = ctx.world
        let catalog = world.catalog
        let topics = catalog.topics
        let geometry = run.recorder.geometry ?? ItemGeometry(catalog)
        let window = try steps(spec, run)
        let members = try groupMembers(spec, world)
        let users = (0..<world.users.count).filter { members[$0] }
        func topicOf(_ i: Int32) -> Int32 { topics.primary[Int(i)] }
        func share(_ l: ArraySlice<Int32>, _ g: Int32) -> Double {
            Double(l.filter { topics.topics(of: Int($0)).contains(g) }.count) / Double(max(l.count, 1))
        }
        func baseline() throws -> RunArtifacts {
            let name = spec.baseline ?? defaultBaseline[spec.figure] ?? "popularity"
            guard let b = run.baselines[name] else { throw NotApplicable(reason: "needs the '\(name)' baseline run") }
            return b
        }
        func changes(_ kind: ControlChange.Kind) -> [(step: Int, change: ControlChange)] {
            var out: [(Int, ControlChange)] = []
            for s in run.snapshots where s.step > 0 {
                for c in s.changes
                where c.kind == kind && (spec.after == nil || c.intervention == spec.after) && members[Int(c.user)] {
                    out.append((s.step, c))
                }
            }
            return out
        }
        func meanOverWindow(_ r: RunArtifacts, _ u: Int, _ f: (ArraySlice<Int32>) -> Double?) -> (Double, Int) {
            var s = 0.0
            var n = 0
            for t in window {
                if let l = r.slate(u, at: t), let v = f(l) {
                    s += v
                    n += 1
                }
            }
            return (s, n)
        }

        switch spec.figure {
        case "cocoon_ratio", "top_topic_amplification":
            let g = topics.count
            let mix = run.snapshots[window.upperBound].intrinsicMix
            return users.compactMap { u in
                var counts = [Double](repeating: 0, count: g)
                var any = false
                for t in window {
                    guard let l = run.slate(u, at: t) else { continue }
                    any = true
                    for i in l { topics.accumulate(item: Int(i), into: &counts) }
                }
                guard any else { return nil }
                let pi = mix.row(u)
                if spec.figure == "cocoon_ratio" {
                    return MetricRecorder.cocoonRatio(counts, intrinsic: pi).map { UserSample($0) }
                }
                var top = 0
                for q in 1..<g where pi[q] > pi[top] { top = q }
                let total = counts.reduce(0, +)
                return UserSample((counts[top] / total) / Double(pi[top]))
            }
        case "near_duplicate_free_slates":
            return users.compactMap { u in
                var free = 0
                var n = 0
                for t in window {
                    guard let l = run.slate(u, at: t) else { continue }
                    n += 1
                    let items = Array(l)
                    var dup = false
                    outer: for a in 0..<items.count {
                        for b in (a + 1)..<items.count where geometry.cosine(Int(items[a]), Int(items[b])) >= spec.similarity {
                            dup = true
                            break outer
                        }
                    }
                    if !dup { free += 1 }
                }
                return n > 0 ? UserSample(Double(free), Double(n)) : nil
            }
        case "longest_topic_run":
            return users.compactMap { u in
                var longest = 0
                var any = false
                for t in window {
                    guard let l = run.slate(u, at: t) else { continue }
                    any = true
                    var run = 0
                    var last: Int32 = -1
                    for i in l {
                        let g = topicOf(i)
                        run = g == last ? run + 1 : 1
                        last = g
                        longest = max(longest, run)
                    }
                }
                return any ? UserSample(Double(longest)) : nil
            }
        case "ild_vs_baseline", "entropy_vs_baseline":
            let b = try baseline()
            let f: (ArraySlice<Int32>) -> Double? =
                spec.figure == "ild_vs_baseline"
                ? { ListMetrics.ildCosine($0, geometry) } : { ListMetrics.topicEntropy($0, topics) }
            return users.compactMap { u in
                let (sa, na) = meanOverWindow(run, u, f)
                let (sb, nb) = meanOverWindow(b, u, f)
                guard na > 0, nb > 0 else { return nil }
                return UserSample(sa / Double(na), sb / Double(nb))
            }
        case "repeats_within":
            return users.map { u in
                var recent: [Int32] = []
                var repeats = 0
                for t in 1...max(window.upperBound, 1) {
                    guard let l = run.slate(u, at: t) else { continue }
                    for i in l {
                        if window.contains(t) && recent.suffix(spec.memory).contains(i) { repeats += 1 }
                        recent.append(i)
                    }
                    if recent.count > spec.memory { recent.removeFirst(recent.count - spec.memory) }
                }
                return UserSample(Double(repeats))
            }
        case "exposure_jaccard_vs_baseline":
            let b = try baseline()
            func value(_ r: RunArtifacts) -> Double? {
                let sets = users.map { u -> [Int32] in
                    var s = Set<Int32>()
                    for t in window { if let l = r.slate(u, at: t) { s.formUnion(l) } }
                    return s.sorted()
                }
                return Homogeneity.meanPairwiseJaccard(sets, itemCount: catalog.count)
            }
            guard let a = value(run), let bv = value(b) else { throw NotApplicable(reason: "no exposure in the window") }
            return [UserSample(a, bv)]
        case "interest_shift_recovery":
            let shifts = changes(.interestShift)
            if shifts.isEmpty { throw NotApplicable(reason: "no interest shift in the run") }
            return shifts.compactMap { (t0, c) in
                let u = Int(c.user)
                let a = c.target
                var pre = 0.0
                var preN = 0
                for t in max(1, t0 - 10)..<t0 {
                    if let l = run.slate(u, at: t) {
                        pre += share(l, a)
                        preN += 1
                    }
                }
                guard preN > 0 else { return nil }
                var consumedSince = 0
                var post: Double? = nil
                for t in t0...run.lastStep {
                    guard let row = run.snapshots[t].row(of: c.user) else { continue }
                    let s = run.snapshots[t]
                    if consumedSince >= spec.consumed {
                        post = share(s.slate(row: row), a)
                        break
                    }
                    consumedSince += s.outcomes[(row * s.slateSize)..<((row + 1) * s.slateSize)].filter { $0 == .consumed }.count
                }
                if post == nil, let l = run.slate(u, at: run.lastStep) { post = share(l, a) }
                return post.map { UserSample($0, pre / Double(preN)) }
            }
        case "item_reexposure":
            let marks = changes(.notInterested)
            if marks.isEmpty { throw NotApplicable(reason: "no \"not interested\" mark in the run") }
            var byUser: [Int: Double] = [:]
            for (t0, c) in marks {
                var n = 0
                for t in max(t0, window.lowerBound)...max(window.upperBound, t0) where t <= run.lastStep {
                    if run.slate(Int(c.user), at: t)?.contains(c.target) ?? false { n += 1 }
                }
                byUser[Int(c.user), default: 0] += Double(n)
            }
            return users.filter { byUser[$0] != nil }.map { UserSample(byUser[$0]!) }
        case "suppression", "entropy_vs_twin":
            let marks = changes(.notInterested)
            var treated: [Int: [ControlChange]] = [:]
            for (_, c) in marks where world.users.arm[Int(c.user)] == .treated { treated[Int(c.user), default: []].append(c) }
            if spec.figure == "entropy_vs_twin" && marks.isEmpty {
                for u in users where world.users.arm[u] == .treated { treated[u] = [] }
            }
            if treated.isEmpty { throw NotApplicable(reason: "no treated user with a twin") }
            let target = spec.target ?? "topic"
            return treated.keys.sorted().compactMap { u in
                let twin = Int(world.users.counterpart[u])
                guard twin >= 0 else { return nil }
                let cs = treated[u]!
                if spec.figure == "entropy_vs_twin" {
                    let (a, na) = meanOverWindow(run, u) { ListMetrics.topicEntropy($0, topics) }
                    let (b, nb) = meanOverWindow(run, twin) { ListMetrics.topicEntropy($0, topics) }
                    return na > 0 && nb > 0 ? UserSample(a / Double(na), b / Double(nb)) : nil
                }
                let markedItems = Set(cs.map(\.target))
                let markedTopics = Set(cs.compactMap { $0.mark?.topic })
                var neighbours = Set<Int32>()
                if target == "near-duplicates" {
                    for a in markedItems {
                        for j in 0..<catalog.count where Int32(j) != a && geometry.cosine(j, Int(a)) >= spec.similarity {
                            neighbours.insert(Int32(j))
                        }
                    }
                    neighbours.subtract(markedItems)
                }
                func exposure(_ v: Int) -> Double {
                    var n = 0
                    for t in window {
                        guard let l = run.slate(v, at: t) else { continue }
                        for i in l {
                            switch target {
                            case "item": if markedItems.contains(i) { n += 1 }
                            case "near-duplicates": if neighbours.contains(i) { n += 1 }
                            case "unrelated": if !markedTopics.contains(topicOf(i)) { n += 1 }
                            default: if markedTopics.contains(topicOf(i)) { n += 1 }
                            }
                        }
                    }
                    return Double(n)
                }
                return UserSample(exposure(u), exposure(twin))
            }
        case "cluster_topic_tvd", "cramers_v":
            let labels = clusterLabels(world)
            let clusters = Array(Set(users.map { labels[$0] })).sorted()
            guard clusters.count >= 2 else { throw NotApplicable(reason: "fewer than 2 user clusters") }
            var table = [[Double]](repeating: [Double](repeating: 0, count: topics.count), count: clusters.count)
            for u in users {
                let row = clusters.firstIndex(of: labels[u])!
                for t in window {
                    if let l = run.slate(u, at: t) { for i in l { topics.accumulate(item: Int(i), into: &table[row]) } }
                }
            }
            if spec.figure == "cramers_v" {
                guard let v = cramersV(table) else { throw NotApplicable(reason: "no impressions in the window") }
                return [UserSample(v)]
            }
            let dists = table.map { r -> [Double] in
                let s = r.reduce(0, +)
                return s > 0 ? r.map { $0 / s } : r
            }
            var worst = 0.0
            for a in 0..<dists.count {
                for b in (a + 1)..<dists.count {
                    worst = max(worst, 0.5 * zip(dists[a], dists[b]).reduce(0) { $0 + abs($1.0 - $1.1) })
                }
            }
            return [UserSample(worst)]
        case "twin_slate_match":
            let pairs = users.filter { world.users.arm[$0] == .treated }
            if pairs.isEmpty { throw NotApplicable(reason: "no twins in the run") }
            return pairs.compactMap { u in
                let v = Int(world.users.counterpart[u])
                var same = 0
                var n = 0
                for t in window {
                    guard let a = run.slate(u, at: t), let b = run.slate(v, at: t) else { continue }
                    n += 1
                    if a.elementsEqual(b) { same += 1 }
                }
                return n > 0 ? UserSample(Double(same), Double(n)) : nil
            }
        case "personalisation_off_kept":
            let offs = changes(.personalisationOff)
            if offs.isEmpty { throw NotApplicable(reason: "no user switched personalisation off") }
            return offs.map { (t0, c) in
                var kept = 0
                var n = 0
                // Every slate while the switch is off must be the non-personalised feed.
                for t in max(t0, window.lowerBound)...max(t0, window.upperBound) where t <= run.lastStep {
                    let s = run.snapshots[t]
                    guard !s.controls[Int(c.user)].personalisation, let row = s.row(of: c.user) else { continue }
                    n += 1
                    if isNonPersonal(s, row: row) { kept += 1 }
                }
                return UserSample(Double(kept), Double(max(n, 1)))
            }
        case "tag_share_vs_baseline":
            let b = try baseline()
            let deletions = changes(.deleteTag)
            if deletions.isEmpty { throw NotApplicable(reason: "no tag deletion in the run") }
            return deletions.compactMap { (_, c) in
                let u = Int(c.user)
                let (sa, na) = meanOverWindow(run, u) { share($0, c.target) }
                let (sb, nb) = meanOverWindow(b, u) { share($0, c.target) }
                return na > 0 && nb > 0 ? UserSample(sa / Double(na), sb / Double(nb)) : nil
            }
        case "declared_tag_growth":
            let decl = changes(.declareTag)
            if decl.isEmpty { throw NotApplicable(reason: "no tag selection in the run") }
            return decl.compactMap { (t0, c) in
                let u = Int(c.user)
                let (sa, na) = meanOverWindow(run, u) { share($0, c.target) }
                var pre = 0.0
                var preN = 0
                for t in max(1, t0 - 10)..<t0 {
                    if let l = run.slate(u, at: t) {
                        pre += share(l, c.target)
                        preN += 1
                    }
                }
                guard na > 0, preN > 0 else { return nil }
                return UserSample(sa / Double(na), max(pre / Double(preN), 0.001))
            }
        case "flagged_after_engagement":
            return users.map { u in
                var engaged = run.context.seedHistory[u].contains { catalog.flags[Int($0)].contains(.harmful) } ? 0 : Int.max
                var n = 0
                for t in 1...max(run.lastStep, 1) where t <= run.lastStep {
                    let s = run.snapshots[t]
                    guard let row = s.row(of: Int32(u)) else { continue }
                    let l = s.slate(row: row)
                    if t > engaged && window.contains(t) { n += l.filter { catalog.flags[Int($0)].contains(.harmful) }.count }
                    for (p, i) in l.enumerated()
                    where s.outcomes[row * s.slateSize + p] == .consumed && catalog.flags[Int(i)].contains(.harmful) {
                        engaged = min(engaged, t)
                    }
                }
                return UserSample(Double(n))
            }
        case "flagged_topics_in_tags":
            let harmful = harmfulTopics(catalog)
            guard run.snapshots.dropFirst().contains(where: { $0.tags != nil }) else {
                throw NotApplicable(reason: "the recommender exposes no user tags")
            }
            return users.map { u in
                var n = 0
                for t in window where t <= run.lastStep {
                    let s = run.snapshots[t]
                    if let row = s.row(of: Int32(u)), let tags = s.tags?[row], tags.contains(where: { harmful[Int($0)] }) {
                        n += 1
                    }
                }
                return UserSample(Double(n))
            }
        case "blocked_impressions":
            return users.map { u in
                var n = 0
                for t in window where t <= run.lastStep {
                    let s = run.snapshots[t]
                    let c = s.controls[u]
                    guard !c.blockedTopics.isEmpty || !c.blockedCreators.isEmpty, let row = s.row(of: Int32(u)) else { continue }
                    for i in s.slate(row: row) {
                        let item = Int(i)
                        if c.blockedCreators.contains(catalog.creators[item]) { n += 1; continue }
                        if catalog.topics.topics(of: item).contains(where: { c.blockedTopics.contains($0) }) { n += 1 }
                    }
                }
                return UserSample(Double(n))
            }
        case "unsafe_impressions":
            return users.map { u in
                var n = 0
                for t in window {
                    if let l = run.slate(u, at: t) {
                        n += l.filter { !catalog.flags[Int($0)].isDisjoint(with: [.minorUnsafe, .harmful]) }.count
                    }
                }
                return UserSample(Double(n))
            }
        case "borderline_amplification":
            // The neutral expectation: the share of borderline items among those a minor may see.
            let allowed = (0..<catalog.count).filter { catalog.flags[$0].isDisjoint(with: [.minorUnsafe, .harmful]) }
            let share = Double(allowed.filter { catalog.flags[$0].contains(.borderline) }.count) / Double(max(allowed.count, 1))
            guard share > 0 else { throw NotApplicable(reason: "the catalog has no borderline items a minor may see") }
            return users.compactMap { u in
                var shown = 0, borderline = 0
                for t in window {
                    guard let l = run.slate(u, at: t) else { continue }
                    shown += l.count
                    borderline += l.filter { catalog.flags[Int($0)].contains(.borderline) }.count
                }
                return shown > 0 ? UserSample(Double(borderline), Double(shown) * share) : nil
            }
        case "control_delay":
            var out: [UserSample] = []
            let kinds: [ControlChange.Kind] = [.notInterested, .blockCreator, .blockTopic, .deleteTag, .personalisationOff]
            for kind in kinds {
                for (t0, c) in changes(kind) where c.intervention != nil {
                    if kind == .deleteTag && !run.snapshots.dropFirst().contains(where: { $0.tags != nil }) { continue }
                    var delay = run.lastStep - t0 + 1
                    for t in t0...max(t0, run.lastStep) where t <= run.lastStep {
                        guard let row = run.snapshots[t].row(of: c.user) else { continue }
                        let s = run.snapshots[t]
                        let l = s.slate(row: row)
                        let effective: Bool
                        switch kind {
                        case .notInterested: effective = !l.contains(c.target)
                        case .blockCreator: effective = !l.contains { catalog.creators[Int($0)] == c.target }
                        case .blockTopic: effective = !l.contains { topicOf($0) == c.target }
                        case .deleteTag: effective = !(s.tags?[row].contains(c.target) ?? false)
                        default: effective = isNonPersonal(s, row: row)
                        }
                        if effective {
                            delay = t - t0
                            break
                        }
                    }
                    out.append(UserSample(Double(delay)))
                }
            }
            if out.isEmpty { throw NotApplicable(reason: "no control change from an intervention") }
            return out
        case "slates_served":
            // A feed is served when the slate brings at least one item the user was not shown
            // before (a repeated onboarding or placeholder slate is not a feed).
            return users.map { u in
                var seen = Set<Int32>()
                for t in 1..<max(1, window.lowerBound) { if let l = run.slate(u, at: t) { seen.formUnion(l) } }
                var n = 0
                for t in window {
                    guard let l = run.slate(u, at: t) else { continue }
                    if l.contains(where: { !seen.contains($0) }) { n += 1 }
                    seen.formUnion(l)
                }
                return UserSample(Double(n), Double(window.count))
            }
        default:
            throw NotApplicable(reason: "unknown figure '\(spec.figure)'")
        }
    }

    /// The window of a check, clamped to the steps observed.
    static func steps(_ spec: CheckSpec, _ run: RunArtifacts) throws -> ClosedRange<Int> {
        var lo = spec.from ?? 1
        var hi = spec.to ?? run.context.steps
        if let name = spec.after {
            guard let iv = run.context.world.interventions.first(where: { $0.name == name }) else {
                throw NotApplicable(reason: "no intervention named '\(name)'")
            }
            lo = iv.start + (spec.from ?? 1) - 1
            hi = spec.to.map { iv.start + $0 - 1 } ?? run.context.steps
        }
        hi = min(hi, run.lastStep)
        lo = max(lo, 1)
        guard lo <= hi else { throw NotApplicable(reason: "the window has no observed step (run ended at step \(run.lastStep))") }
        return lo...hi
    }

    /// The members of a check's group (with the persona filter).
    static func groupMembers(_ spec: CheckSpec, _ world: SimulationWorld) throws -> [Bool] {
        guard
            var m = MetricGroup.standard(for: world.users).first(where: { $0.name == spec.group })?.members
                ?? groupByName(spec.group, world)
        else {
            throw NotApplicable(reason: "the run has no users in group '\(spec.group)'")
        }
        if let p = spec.persona {
            for u in m.indices where m[u] { m[u] = world.users.seeking[u] == (p == "seeking") }
        }
        return m
    }

    static func groupByName(_ name: String, _ world: SimulationWorld) -> [Bool]? {
        let u = world.users
        if name.hasPrefix("segment:"), let s = u.segmentNames.firstIndex(of: String(name.dropFirst(8))) {
            return (0..<u.count).map { u.segments[$0] == Int32(s) && u.arm[$0] != .twin }
        }
        if name.hasPrefix("arm:"), let a = Arm.allCases.first(where: { $0.name == name.dropFirst(4) }) {
            return u.arm.map { $0 == a }
        }
        return nil
    }

    /// Cluster of each user: the segment when the population has several, else the dominant
    /// intrinsic topic.
    static func clusterLabels(_ world: SimulationWorld) -> [Int] {
        if world.users.segmentNames.count > 1 { return world.users.segments.map(Int.init) }
        return world.users.origin.map { world.population.dominantTopic(of: Int($0)) }
    }

    /// Cramér's V of a contingency table (rows × columns with positive totals).
    static func cramersV(_ table: [[Double]]) -> Double? {
        let rows = table.filter { $0.reduce(0, +) > 0 }
        guard rows.count >= 2 else { return nil }
        let cols = (0..<rows[0].count).filter { c in rows.contains { $0[c] > 0 } }
        guard cols.count >= 2 else { return 0 }
        let n = rows.reduce(0) { $0 + $1.reduce(0, +) }
        let rowSums = rows.map { $0.reduce(0, +) }
        let colSums = cols.map { c in rows.reduce(0) { $0 + $1[c] } }
        var chi = 0.0
        for (r, row) in rows.enumerated() {
            for (j, c) in cols.enumerated() {
                let e = rowSums[r] * colSums[j] / n
                chi += (row[c] - e) * (row[c] - e) / e
            }
        }
        return (chi / (n * Double(min(rows.count, cols.count) - 1))).squareRoot()
    }

    /// Topics most of whose items are harmful.
    static func harmfulTopics(_ c: Catalog) -> [Bool] {
        var harmful = [Int](repeating: 0, count: c.topics.count)
        for i in 0..<c.count where c.flags[i].contains(.harmful) { harmful[Int(c.topics.primary[i])] += 1 }
        let sizes = c.topicSizes
        return (0..<c.topics.count).map { sizes[$0] > 0 && 2 * harmful[$0] > sizes[$0] }
    }

    /// Whether the slate of row `row` is the non-personalised one: it equals the slate most
    /// users with personalisation off received at that step.
    static func isNonPersonal(_ s: StepSnapshot, row: Int) -> Bool {
        var counts: [[Int32]: Int] = [:]
        for (r, u) in s.users.enumerated() where !s.controls[Int(u)].personalisation {
            counts[Array(s.slate(row: r)), default: 0] += 1
        }
        // The modal slate (ties → the lexicographically smallest, for determinism).
        guard
            let modal = counts.max(by: {
                $0.value != $1.value ? $0.value < $1.value : $0.key.lexicographicallyPrecedes($1.key) == false
            })?.key
        else { return false }
        return Array(s.slate(row: row)) == modal
    }
}
