import CocoonCore
import CocoonMath
import Foundation

/// Records the per-step metric series of a run (METRICS.md §11), per group, as a
/// ``StepObserver``.
///
/// List metrics are computed per user on each step's slate (in parallel user blocks; the
/// group means sum in user order), pooled metrics per group, state metrics from the users'
/// cumulative histories. Step 0 carries the state metrics only (no slate exists yet), so a
/// series has `steps + 1` points.
public final class MetricRecorder: StepObserver, @unchecked Sendable {
    /// Recorded metric ids, in report order.
    public let metricIDs: [String]
    /// Steps per cocoon-ratio window.
    public let cocoonWindow: Int
    /// Relevant items per user for relevance-aware metrics (the user's true likes, spread over
    /// their intrinsic topics in proportion to π).
    public let relevantPerUser: Int
    /// How `interaction_jaccard_nn_pairs` pairs users.
    public let nearestNeighbours: NeighbourBasis
    /// Above this many users in a group, all-pairs Jaccard uses a seeded sample of pairs.
    public let exactPairLimit: Int
    /// Pairs sampled above the limit.
    public let pairSample: Int
    /// Above this many users, nearest-neighbour pairs are not computed (O(N²)).
    public let nearestNeighbourLimit: Int
    /// The default of ``nearestNeighbourLimit``.
    public static let defaultNearestNeighbourLimit = 20_000

    /// The groups, in report order (set by ``begin(_:)``).
    public private(set) var groups: [MetricGroup] = []
    /// `series[metric][group][step]` (nil = undefined at that step).
    public internal(set) var series: [[[Double?]]] = []
    /// Whether a metric's values were computed on a seeded sample of pairs.
    public internal(set) var sampled: Set<String> = []

    let executor: BlockExecutor
    let blockSize: Int
    var run: RunContext!
    var geometry: ItemGeometry!
    var wants: Set<String> = []
    // Per-user accumulators.
    /// Per user, the length of the history (seed history + consumption so far).
    var historyCount: [Int32] = []
    /// Per user, the history itself: only kept for the cluster metrics (their dominant topic);
    /// every other metric reads the running sums and counts.
    var history: [[Int32]] = []
    var needHistoryLists = false
    var historySet: [[Int32]] = []
    var consumed: [[Int32]] = []
    var consumedSet: [[Int32]] = []
    var sumRaw: [Double] = []
    /// Per user, the sum of the unit vectors of the history (m_u · |H_u| of §4.3).
    var sumUnit: [Double] = []
    var centroid0: [[Double]?] = []
    var topicCounts: [Double] = []
    var entropy0: [Double?] = []
    /// Each user's current profile topic entropy, and the history length it was computed at
    /// (−1: not yet): it changes only when the user consumes, so a step recomputes it for the
    /// users who did (`profile_topic_entropy_delta`).
    var entropyNow = SharedArray<Double>(repeating: 0, count: 0)
    var entropyAt = SharedArray<Int32>(repeating: -1, count: 0)
    var seedILD: [Double?] = []
    var windowRec: [Double] = []
    var windowCons: [Double] = []
    var relevant: [[Int32]] = []
    /// Per topic, its items' unit rows in panels (built by the first `computeRelevant`).
    var relevancePanels: [RowPanels<Float>] = []
    /// Per user, the number of topics among the relevant items.
    var relevantTopicCount: [Int] = []
    var idealDCG: [Double] = []
    var nearest: [[Int?]] = []  // per group
    /// Items each user consumed in the reference run so far (sorted; only with a reference).
    var referenceSet: [[Int32]] = []
    /// The reference run's consumption (the ideal recommender on the same world and seed), for
    /// `interaction_jaccard_nn_pairs_minus_ideal`. Set before the run.
    public var reference: ConsumptionTrace?
    var wantsNearest: Bool { MetricCatalog.nearestNeighbourMetrics.contains(where: wants.contains) }
    var itemCount: [Int] = []
    var itemUsers: [Int] = []
    var historyUsers = 0
    var historyRows = 0
    /// Flags: user, item, topic, list step r, and the share of the topic in the list the flag
    /// was given on, `share_g(L_u(r))` of §9 (that list never changes, so it is computed once,
    /// when the flag arrives; NaN when the list is missing or empty: the flag then never counts
    /// for the share metrics).
    var flags: [(user: Int32, item: Int32, topic: Int32, r: Int, shareThen: Double)] = []
    var firstFlagStep: [Int32] = []
    var slatesByStep: [[Int32]] = []
    var usersByStep: [[Int32]] = []
    // For the difference-in-differences control of flag metrics, per group and step: the sum of
    // users' slate topic shares and the number of users with a slate, and the same over users
    // already excluded from the control set (they flagged before the evaluated step). The sums
    // are flat per group: step r's share of topic q at `r · topics + q`.
    var shareSum: [[Double]] = []
    var shareCount: [[Int]] = []
    var excludedSum: [[Double]] = []
    var excludedCount: [[Int]] = []
    var excluded: [Bool] = []
    var wantsFlags = false
    // Which per-user accumulators the requested metrics read (the others are never allocated:
    // at a million users each costs hundreds of megabytes).
    var needCentroids = false
    var needUnitSums = false
    var needTopicCounts = false
    var needWindows = false
    var needConsumed = false
    var needItemUsers = false
    var lastStep = 0
    /// Exposure counts of the current step per group and the metrics computed from them
    /// (shared by the exposure metrics: counted, sorted and summed once per step and group).
    var exposureCache: [(counts: [Int], metrics: ExposureMetrics)?] = []
    /// The snapshot rows of each group's members at the current step (shared by the pooled
    /// metrics).
    var rowsCache: [[Int]?] = []
    /// Each group's members (user indices, ascending) at the current step (shared by the
    /// state metrics).
    var memberCache: [[Int]?] = []
    /// Per-step caches shared by the groups: each user's value of a per-user state metric (NaN:
    /// none), and the flag metrics of a group.
    var userValueCache: [String: [Double]] = [:]
    var flagCache: [Int: (delta: Double?, did: Double?)] = [:]
    /// The metrics of the current centroids (all groups), once per step.
    var centroidCache: CentroidValues?
    /// tr Cov(c(0)) per group (constant over the run).
    var variance0Cache: [Int: Double?] = [:]
    let seed: Seed

    /// - Parameters:
    ///   - metrics: ids to record (``MetricCatalog/defaultSet`` by default).
    ///   - executor: the executor for per-user computations.
    ///   - seed: the seed of sampled pairs.
    public init(
        metrics: [String] = MetricCatalog.defaultSet, executor: BlockExecutor, blockSize: Int = 256, seed: Seed,
        cocoonWindow: Int = 10, relevantPerUser: Int = 20, exactPairLimit: Int = 3000, pairSample: Int = 50_000,
        nearestNeighbourLimit: Int = MetricRecorder.defaultNearestNeighbourLimit, nearestNeighbours: NeighbourBasis = .seedHistory
    ) {
        self.nearestNeighbours = nearestNeighbours
        self.metricIDs = metrics
        self.executor = executor
        self.blockSize = blockSize
        self.seed = seed
        self.cocoonWindow = cocoonWindow
        self.relevantPerUser = relevantPerUser
        self.exactPairLimit = exactPairLimit
        self.pairSample = pairSample
        self.nearestNeighbourLimit = nearestNeighbourLimit
    }

    /// The series of one metric for one group.
    public func series(_ metric: String, group: String = "population") -> [Double?]? {
        guard let m = metricIDs.firstIndex(of: metric), let g = groups.firstIndex(where: { $0.name == group }) else { return nil }
        return series[m][g]
    }

    /// The last defined value of a metric for a group.
    public func final(_ metric: String, group: String = "population") -> Double? {
        series(metric, group: group)?.last { $0 != nil } ?? nil
    }

    /// Nearest neighbours within each group (members only; none above the user limit).
    func pairNearest(tieSeed: Seed? = nil, _ points: ([Int]) -> [[Double]?]) -> [[Int?]] {
        let n = run.world.users.count
        return groups.map { g in
            let members = (0..<n).filter { g.members[$0] }
            guard members.count <= nearestNeighbourLimit else { return [Int?](repeating: nil, count: n) }
            let nn = StateMetrics.nearestNeighbours(points(members), tieSeed: tieSeed, executor: executor)
            var out = [Int?](repeating: nil, count: n)
            for (j, u) in members.enumerated() { out[u] = nn[j].map { members[$0] } }
            return out
        }
    }

    // MARK: - StepObserver

    public func begin(_ run: RunContext) throws {
        self.run = run
        relevancePanels = []
        wants = Set(metricIDs)
        let c = run.world.catalog
        let n = run.world.users.count
        let d = c.dimension
        let gCount = c.topics.count
        geometry = ItemGeometry(c)
        groups = MetricGroup.standard(for: run.world.users)
        series = metricIDs.map { _ in groups.map { _ in [Double?](repeating: nil, count: run.steps + 1) } }
        // Nearest neighbours need the centroids only when paired by seed history.
        needCentroids = (wantsNearest && nearestNeighbours == .seedHistory) || wants.contains { id in
            ["centroid_drift_cosine", "centroid_drift_l2", "population_total_variance_ratio", "population_mean_pairwise_cosine_distance",
             "cluster_calinski_harabasz", "cluster_davies_bouldin", "polarization_variance_axis_e0"].contains(id)
        }
        needTopicCounts = wants.contains { ["profile_topic_entropy_delta", "calibration_kl", "profile_topic_coverage"].contains($0) }
        needUnitSums = wants.contains("unexpectedness") || wants.contains("serendipity_unexp_x_rel")
        needWindows = wants.contains("cocoon_ratio_rec") || wants.contains("cocoon_ratio_consumed")
        needConsumed = wantsNearest || wants.contains("interaction_jaccard_all_pairs") || wants.contains("consumed_ild_delta")
        needItemUsers = wants.contains("novelty_miuf")
        needHistoryLists = wants.contains("cluster_calinski_harabasz") || wants.contains("cluster_davies_bouldin")
        let seedHistory = run.seedHistory
        historyCount = seedHistory.map { Int32($0.count) }
        history = needHistoryLists ? seedHistory.map { Array($0) } : []
        historySet = needItemUsers ? seedHistory.map { Array(Set($0)).sorted() } : []
        consumed = needConsumed ? Array(repeating: [], count: n) : []
        consumedSet = needConsumed ? Array(repeating: [], count: n) : []
        sumRaw = needCentroids ? [Double](repeating: 0, count: n * d) : []
        sumUnit = needUnitSums ? [Double](repeating: 0, count: n * d) : []
        topicCounts = needTopicCounts ? [Double](repeating: 0, count: n * gCount) : []
        itemCount = [Int](repeating: 0, count: c.count)
        itemUsers = [Int](repeating: 0, count: c.count)
        var row = [Double](repeating: 0, count: gCount)
        for u in 0..<n {
            for i in seedHistory[u] {
                if needTopicCounts {
                    for t in 0..<gCount { row[t] = 0 }
                    c.topics.accumulate(item: Int(i), into: &row)
                    for t in 0..<gCount { topicCounts[u * gCount + t] += row[t] }
                }
                itemCount[Int(i)] += 1
            }
            if needCentroids { MetricRecorder.addRows(seedHistory[u], user: u, from: geometry.raw, into: &sumRaw, dimension: d) }
            if needUnitSums { MetricRecorder.addRows(seedHistory[u], user: u, from: geometry.unit, into: &sumUnit, dimension: d) }
            if needItemUsers { for i in historySet[u] { itemUsers[Int(i)] += 1 } }
            historyRows += Int(historyCount[u])
            if historyCount[u] > 0 { historyUsers += 1 }
        }
        centroid0 = needCentroids ? (0..<n).map { centroid($0) } : []
        entropy0 = needTopicCounts ? (0..<n).map { u in historyCount[u] == 0 ? nil : ListMetrics.entropyBits(topicShares(u)) } : []
        let wantsEntropy = wants.contains("profile_topic_entropy_delta")
        entropyNow = SharedArray(repeating: 0, count: wantsEntropy ? n : 0)
        entropyAt = SharedArray(repeating: -1, count: wantsEntropy ? n : 0)
        seedILD = wants.contains("consumed_ild_delta") ? seedHistory.map { ListMetrics.ildCosine(Array($0)[...], geometry) } : []
        windowRec = needWindows ? [Double](repeating: 0, count: n * gCount) : []
        windowCons = needWindows ? [Double](repeating: 0, count: n * gCount) : []
        if wants.contains("interaction_jaccard_nn_pairs_minus_ideal") {
            // Above the nearest-neighbour limit the metric is undefined and needs no reference.
            guard reference != nil || n > nearestNeighbourLimit else { throw MetricError.noReference }
            if reference != nil { referenceSet = Array(repeating: [], count: n) }
        }
        if wantsNearest {
            switch nearestNeighbours {
            case .seedHistory:
                nearest = pairNearest { members in members.map { self.centroid0[$0] } }
            case .intrinsic:
                nearest = pairNearest { members in
                    members.map { u in run.world.population.interestVectors.row(Int(run.world.users.origin[u])).map(Double.init) }
                }
            case .recommender:
                // Re-paired every step from the recommender's current representation.
                guard run.userRepresentation != nil else { throw MetricError.noUserRepresentation(run.recommenderName) }
            }
        }
        let relevanceMetrics = ["alpha_ndcg_at10", "subtopic_recall_at10", "eild_cosine_rel_logdisc", "serendipity_unexp_x_rel"]
        if relevanceMetrics.contains(where: wants.contains) {
            // Mixtures per user row (a twin has its original's).
            relevant = computeRelevant(mix: run.world.interestMix, users: Array(0..<n))
            refreshRelevance(Array(0..<n))
        }
        wantsFlags = wants.contains { ["flag_reexposure_rate", "flag_topic_share_delta", "flag_topic_share_did"].contains($0) }
        // Each user's first flagged list, for the flag metrics' controls only.
        firstFlagStep = wantsFlags ? [Int32](repeating: .max, count: n) : []
        excluded = [Bool](repeating: false, count: n)
        shareSum = groups.map { _ in [] }
        shareCount = groups.map { _ in [] }
        excludedSum = groups.map { _ in [] }
        excludedCount = groups.map { _ in [] }
    }

    public func observe(_ s: StepSnapshot) throws {
        let t = s.step
        lastStep = t
        resetStepCaches(groups: groups.count)
        if wantsFlags {
            slatesByStep.append(s.slates)
            usersByStep.append(s.users)
            // Flags on lists before t count at t (interventions mark the previous list; the
            // users' own marks are on this step's list and count from the next step).
            for ch in s.changes where ch.kind == .notInterested {
                guard let mark = ch.mark else { continue }
                let then = slate(of: ch.user, at: Int(mark.listStep))
                let shareThen = then.map { $0.isEmpty ? .nan : Self.topicShare($0, mark.topic, run.world.catalog.topics) } ?? .nan
                flags.append((ch.user, mark.item, mark.topic, Int(mark.listStep), shareThen))
                firstFlagStep[Int(ch.user)] = min(firstFlagStep[Int(ch.user)], mark.listStep)
            }
        }
        // The control sums of the flag metrics are a pass over every slate on one thread, with
        // state of their own: they run beside the list metrics and the consumption's bookkeeping
        // (on the executor), which neither read nor write it. List metrics use the history before
        // the list was produced (H_u of METRICS.md); state metrics at step t include what was
        // consumed at t.
        let listAndAbsorb = { () -> ListValues in
            let perUser = t > 0 ? self.listMetrics(s) : ListValues()
            if t > 0 { self.absorb(s, vectorSumsAdded: perUser.addedVectorSums) }
            return perUser
        }
        let perUser = wantsFlags ? executor.overlapping({ updateControlSums(s) }, with: listAndAbsorb) : listAndAbsorb()
        if t > 0, let r = reference, t < r.consumed.count {
            for (u, i) in r.consumed[t] where Int(u) < referenceSet.count { referenceSet[Int(u)].sortedInsert(i) }
        }
        if t > 0 && nearestNeighbours == .recommender && wantsNearest {
            // Chaney et al.: the users the recommender itself takes to be most alike (cosine of
            // its user representation; ties, e.g. a representation that is the same for
            // everyone, broken at random from the metric seed).
            let rep = run.userRepresentation?.userRepresentation()
            let tieSeed = seed.derive("nn-ties").derive(t)
            nearest = pairNearest(tieSeed: tieSeed) { members in
                members.map { u in rep.map { m in m.row(u).map(Double.init) } ?? [1] }
            }
        }
        for (m, id) in metricIDs.enumerated() {
            for (gi, g) in groups.enumerated() {
                series[m][gi][t] = value(id, group: g, groupIndex: gi, snapshot: s, perUser: perUser)
            }
        }
        // The step's caches are not kept between steps (per-user values of state metrics are
        // 8 MB each at a million users).
        resetStepCaches(groups: 0)
        if t > 0 && t % cocoonWindow == 0 {
            // Cleared at once (element by element, every write to the stored arrays checked
            // exclusive access: 4 million of them at W2's 100,000 users and 20 topics).
            windowRec.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            windowCons.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }

    /// Empties the caches one step's metrics share (`groups` empty exposure slots).
    func resetStepCaches(groups: Int) {
        exposureCache = .init(repeating: nil, count: groups)
        rowsCache = .init(repeating: nil, count: groups)
        memberCache = .init(repeating: nil, count: groups)
        userValueCache = [:]
        flagCache = [:]
        centroidCache = nil
    }

    /// The topic-share vector of one slate (C9 shares, divided by the slate length).
    /// Writes the slate's topic shares into `v` (length: the topic count), reusing it. `t` is
    /// the catalog's topic table, read once by the caller (reaching it through the run context
    /// retained and released each of its arrays, per slate).
    static func slateShares(_ l: ArraySlice<Int32>, topics t: TopicTable, into v: inout [Double]) {
        for q in v.indices { v[q] = 0 }
        t.accumulate(items: l, into: &v)
        let k = Double(max(l.count, 1))
        for q in v.indices { v[q] = v[q] / k }
    }

    /// Records step t's share sums per group and moves users who flagged before t out of the
    /// control set (for every stored step).
    func updateControlSums(_ s: StepSnapshot) {
        let t = s.step, g = run.world.catalog.topics.count
        var v = [Double](repeating: 0, count: g)  // one slate's topic shares, reused
        let memberships = groups.map(\.members)
        // New exclusions: users whose first flag is on a list before t.
        var newlyExcluded: [Int] = []
        excluded.withUnsafeMutableBufferPointer { excluded in
            firstFlagStep.withUnsafeBufferPointer { first in
                for u in 0..<excluded.count where !excluded[u] && Int(first[u]) < t {
                    excluded[u] = true
                    newlyExcluded.append(u)
                }
            }
        }
        // Their earlier steps' slates join the excluded sums, through a local that owns the
        // sums (an element update of the stored property checked exclusive access each time).
        var exSum: [[Double]] = [], exCount: [[Int]] = []
        swap(&exSum, &excludedSum)
        swap(&exCount, &excludedCount)
        let topicTable = run.world.catalog.topics
        for u in newlyExcluded {
            for r in 0..<min(t, slatesByStep.count) {
                guard let l = slate(of: Int32(u), at: r) else { continue }
                Self.slateShares(l, topics: topicTable, into: &v)
                for gi in memberships.indices where memberships[gi][u] {
                    for q in 0..<g { exSum[gi][r * g + q] += v[q] }
                    exCount[gi][r] += 1
                }
            }
        }
        swap(&exSum, &excludedSum)
        swap(&exCount, &excludedCount)
        for gi in groups.indices {
            shareSum[gi].append(contentsOf: repeatElement(0, count: g))
            shareCount[gi].append(0)
            excludedSum[gi].append(contentsOf: repeatElement(0, count: g))
            excludedCount[gi].append(0)
        }
        // Summed in flat per-group buffers (user order), then stored once.
        let k = s.slateSize
        let groupCount = groups.count
        var sums = [Double](repeating: 0, count: groupCount * g)
        var excl = [Double](repeating: 0, count: groupCount * g)
        var n = [Int](repeating: 0, count: groupCount)
        var nExcl = [Int](repeating: 0, count: groupCount)
        let isExcluded = excluded, topics = run.world.catalog.topics
        // Only the topics a slate touches are added: the others' shares are 0, and adding 0 to
        // a sum of non-negative shares leaves it as it is, so the sums are those of adding every
        // topic (the shares are `slateShares`', item by item in slate order).
        var touched = [Int](repeating: 0, count: g)
        for q in 0..<g { v[q] = 0 }
        let kk = Double(max(k, 1))
        for (row, u32) in s.users.enumerated() {
            let u = Int(u32)
            var nt = 0
            topics.accumulate(items: s.slates[(row * k)..<((row + 1) * k)], into: &v) { q in
                touched[nt] = q
                nt += 1
            }
            for x in 0..<nt { v[touched[x]] = v[touched[x]] / kk }
            for gi in 0..<groupCount where memberships[gi][u] {
                for x in 0..<nt { sums[gi * g + touched[x]] += v[touched[x]] }
                n[gi] += 1
                if isExcluded[u] {
                    for x in 0..<nt { excl[gi * g + touched[x]] += v[touched[x]] }
                    nExcl[gi] += 1
                }
            }
            for x in 0..<nt { v[touched[x]] = 0 }
        }
        for gi in 0..<groupCount {
            for q in 0..<g {
                shareSum[gi][t * g + q] += sums[gi * g + q]
                excludedSum[gi][t * g + q] += excl[gi * g + q]
            }
            shareCount[gi][t] += n[gi]
            excludedCount[gi][t] += nExcl[gi]
        }
    }

    /// User u's slate at a stored step.
    func slate(of u: Int32, at step: Int) -> ArraySlice<Int32>? {
        guard step >= 0, step < usersByStep.count,
            let rows = Self.slateRows(of: u, users: usersByStep[step], population: excluded.count, slateSize: run.slateSize)
        else { return nil }
        return slatesByStep[step][rows]
    }

    /// Where user u's slate lies in a step's slates, whose users are `users` (ascending) of a
    /// population of `population`; nil when u was not active.
    @inline(__always)
    static func slateRows(of u: Int32, users: [Int32], population: Int, slateSize k: Int) -> Range<Int>? {
        // Every user at this step: rows are user indices.
        if users.count == population { return (Int(u) * k)..<((Int(u) + 1) * k) }
        var lo = 0, hi = users.count
        while lo < hi { let mid = (lo + hi) / 2; if users[mid] < u { lo = mid + 1 } else { hi = mid } }
        guard lo < users.count && users[lo] == u else { return nil }
        return (lo * k)..<((lo + 1) * k)
    }

    /// `share_g(L)` of §9: the share of the list's items with topic g among their topics.
    @inline(__always)
    static func topicShare(_ l: ArraySlice<Int32>, _ g: Int32, _ topics: TopicTable) -> Double {
        var hits = 0
        for i in l {
            var has = false
            topics.forEachTopic(of: Int(i)) { has = has || $0 == g }
            if has { hits += 1 }
        }
        return Double(hits) / Double(l.count)
    }

    // MARK: - Accumulation

    /// Adds the step's consumption to the accumulators (`vectorSumsAdded`: the list-metric
    /// pass already added it to the vector sums).
    func absorb(_ s: StepSnapshot, vectorSumsAdded: Bool) {
        let c = run.world.catalog
        let d = c.dimension
        let gCount = c.topics.count
        let k = s.slateSize
        let n = s.users.count
        let offsets = c.topics.offsets, members = c.topics.members
        let outcomes = s.outcomes, slates = s.slates, users = s.users
        let windows = needWindows, topicSums = needTopicCounts, lists = needHistoryLists, itemSets = needItemUsers
        let consumedLists = needConsumed
        let addRaw = needCentroids && !vectorSumsAdded, addUnit = needUnitSums && !vectorSumsAdded
        let raw = geometry.raw, unit = geometry.unit
        // Per slate position: 0 not consumed, 1 consumed, 2 consumed and new to the user's
        // history set. Everything per user is updated by user blocks on the executor (each
        // user's own rows, in slate order: the same sums as one pass); the per-item counts
        // follow from these marks in one pass.
        var marks = [UInt8](repeating: 0, count: n * k)
        let blocks = BlockExecutor.blocks(count: n, blockSize: blockSize)
        let newUsers = marks.fillInParallel { mark in
            historyCount.fillInParallel { histCount in
            history.fillInParallel { hist in
            historySet.fillInParallel { histSet in
            consumed.fillInParallel { cons in
            consumedSet.fillInParallel { consSet in
            windowRec.fillInParallel { wRec in
            windowCons.fillInParallel { wCons in
            topicCounts.fillInParallel { tCounts in
            sumRaw.fillInParallel { rawSums in
            sumUnit.fillInParallel { unitSums in
                executor.map(blockCount: blocks.count) { b, _ -> Int in
                    var fresh = 0
                    for row in blocks[b] {
                        let u = Int(users[row])
                        // The next user's topic rows, of which the slate's topics are touched
                        // (from memory, at places the hardware does not foresee).
                        if row + 1 < blocks[b].upperBound {
                            let next = Int(users[row + 1])
                            if windows {
                                Prefetch.row(of: wRec, next, rowLength: gCount)
                                Prefetch.row(of: wCons, next, rowLength: gCount)
                            }
                            if topicSums { Prefetch.row(of: tCounts, next, rowLength: gCount) }
                        }
                        for p in 0..<k {
                            let i = slates[row * k + p]
                            let lo = Int(offsets[Int(i)])
                            let hi = Int(offsets[Int(i) + 1])
                            let share = 1 / Double(hi - lo)
                            if windows { for j in lo..<hi { wRec[u * gCount + Int(members[j])] += share } }
                            guard outcomes[row * k + p] == .consumed else { continue }
                            mark[row * k + p] = 1
                            if lists { hist.withElement(u) { $0.append(i) } }
                            histCount[u] += 1
                            if histCount[u] == 1 { fresh += 1 }
                            if itemSets && histSet.withElement(u, { $0.sortedInsert(i) }) { mark[row * k + p] = 2 }
                            if consumedLists {
                                cons.withElement(u) { $0.append(i) }
                                consSet.withElement(u) { _ = $0.sortedInsert(i) }
                            }
                            if addRaw { raw.withUnsafeBufferPointer { rawSums.add($0, from: Int(i) * d, count: d, at: u * d) } }
                            if addUnit {
                                unit.withUnsafeBufferPointer { unitSums.add($0, from: Int(i) * d, count: d, at: u * d) }
                            }
                            if topicSums || windows {
                                for j in lo..<hi {
                                    let q = Int(members[j])
                                    if topicSums { tCounts[u * gCount + q] += share }
                                    if windows { wCons[u * gCount + q] += share }
                                }
                            }
                        }
                    }
                    return fresh
                }.reduce(0, +)
            } } } } } } } } } }
        }
        historyUsers += newUsers
        var rows = 0
        marks.withUnsafeBufferPointer { m in
            itemCount.withUnsafeMutableBufferPointer { iCount in
                itemUsers.withUnsafeMutableBufferPointer { iUsers in
                    for x in 0..<m.count where m[x] != 0 {
                        let i = Int(slates[x])
                        iCount[i] += 1
                        if m[x] == 2 { iUsers[i] += 1 }
                        rows += 1
                    }
                }
            }
        }
        historyRows += rows
        // Interest shifts change relevance.
        let shifted = s.changes.filter { $0.kind == .interestShift }.map { Int($0.user) }
        if !shifted.isEmpty && !relevant.isEmpty {
            let fresh = computeRelevant(mix: s.intrinsicMix, users: shifted)
            for (j, u) in shifted.enumerated() { relevant[u] = fresh[j] }
            refreshRelevance(shifted)
        }
    }

    /// `sums[u] += rows[i]` for every item i, in order (row-major, d columns).
    static func addRows<S: Sequence<Int32>>(_ items: S, user u: Int, from rows: [Double], into sums: inout [Double], dimension d: Int) {
        rows.withUnsafeBufferPointer { r in
            sums.withUnsafeMutableBufferPointer { s in
                let dst = s.baseAddress! + u * d
                for i in items {
                    let src = r.baseAddress! + Int(i) * d
                    for j in 0..<d { dst[j] += src[j] }
                }
            }
        }
    }

    func refreshRelevance(_ users: [Int]) {
        let t = run.world.catalog.topics
        if idealDCG.count != relevant.count {
            idealDCG = [Double](repeating: 0, count: relevant.count)
            relevantTopicCount = [Int](repeating: 0, count: relevant.count)
        }
        // Each user's ideal α-DCG and topic count on its own: blocks of users on the executor.
        let rel = relevant
        let ideal = SharedArray<Double>(repeating: 0, count: users.count)
        let topics = SharedArray<Int>(repeating: 0, count: users.count)
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: blockSize)
        executor.forEach(blockCount: blocks.count) { b, _ in
            for j in blocks[b] {
                ideal[j] = ListMetrics.alphaIdealDCG(relevant: rel[users[j]], t)
                topics[j] = ListMetrics.topicSet(rel[users[j]], t).filter { $0 }.count
            }
        }
        for (j, u) in users.enumerated() {
            idealDCG[u] = ideal[j]
            relevantTopicCount[u] = topics[j]
        }
    }

    func centroid(_ u: Int) -> [Double]? {
        var c = [Double](repeating: 0, count: geometry.dimension)
        return c.withUnsafeMutableBufferPointer { currentCentroid(u, into: $0) } ? c : nil
    }

    /// Writes user u's history centroid (c_u(t): the running sum of raw embeddings over the
    /// history length) into `row` (d long); false when the history is empty.
    func currentCentroid(_ u: Int, into row: UnsafeMutableBufferPointer<Double>) -> Bool {
        let n = Double(historyCount[u])
        if n == 0 { return false }
        let d = row.count
        sumRaw.withUnsafeBufferPointer { sums in
            for j in 0..<d { row[j] = sums[u * d + j] / n }
        }
        return true
    }

    func topicShares(_ u: Int) -> [Double] {
        let g = run.world.catalog.topics.count
        let row = Array(topicCounts[(u * g)..<((u + 1) * g)])
        let total = Double(historyCount[u])
        return total > 0 ? row.map { $0 / total } : row
    }

    /// True likes: for each intrinsic topic g, the ⌈π_g · R⌉ items of g closest to the user's
    /// intrinsic interest (ties → lower item index).
    func computeRelevant(mix: TopicMixtures, users: [Int]) -> [[Int32]] {
        let c = run.world.catalog
        let gCount = c.topics.count
        let byTopic = c.itemsByPrimaryTopic()
        if relevancePanels.isEmpty {
            relevancePanels = byTopic.map { RowPanels(c.unitEmbeddings, rows: $0) }
        }
        let panels = relevancePanels
        let room = max(8, (panels.map(\.groupCount).max() ?? 0) * 8)
        let truth = run.world.population.interestVectors
        let d = c.dimension
        let origin = run.world.users.origin
        let perUser = relevantPerUser
        // User blocks in parallel; per topic a bounded selection (score, then lower index). The
        // panels give each item's score as the scalar loop over d would, bit for bit.
        let blocks = BlockExecutor.blocks(count: users.count, blockSize: blockSize)
        let out = SharedArray<[Int32]>(repeating: [], count: users.count)
        executor.forEach(blockCount: blocks.count) { b, _ in
            var v = [Float](repeating: 0, count: max(d, 1))
            var scores = [Float](repeating: 0, count: room)
            for j in blocks[b] {
                let u = users[j]
                let o = Int(origin[u])
                for x in 0..<d { v[x] = truth[o, x] }
                var list: [Int32] = []
                for t in 0..<gCount {
                    let share = Double(mix[u * gCount + t])
                    guard share > 0 else { continue }
                    let want = Int((share * Double(perUser)).rounded(.up))
                    var sel = TopKSelector(k: want)
                    scores.withUnsafeMutableBufferPointer { s in
                        v.withUnsafeBufferPointer { panels[t].dots(with: $0.baseAddress!, into: s.baseAddress!) }
                        for (n, i) in byTopic[t].enumerated() { sel.offer(s[n], index: i) }
                    }
                    list.append(contentsOf: sel.sortedIndices())
                }
                out[j] = list.sorted()
            }
        }
        return out.toArray()
    }
}

/// How `interaction_jaccard_nn_pairs` pairs each user with a nearest neighbour.
public enum NeighbourBasis: String, Sendable, CaseIterable {
    /// Cosine of seed-history topic centroids (fixed for the run).
    case seedHistory = "seed-history"
    /// Cosine of intrinsic interest vectors, the true preferences (fixed for the run).
    case intrinsic
    /// Cosine of the recommender's own user representation, re-paired every step (Chaney et
    /// al.); needs a recommender that exposes one (the built-in ones).
    case recommender
}

/// Every step's consumption of a run, (user, item) in event order: the reference that
/// `interaction_jaccard_nn_pairs_minus_ideal` compares with.
public final class ConsumptionTrace: StepObserver {
    /// Per step (index 0: none), the consumed (user, item) pairs.
    public private(set) var consumed: [[(user: Int32, item: Int32)]] = [[]]

    public init() {}
    public func begin(_ run: RunContext) throws {}
    public func observe(_ s: StepSnapshot) throws {
        guard s.step > 0 else { return }
        let k = s.slateSize
        var step: [(user: Int32, item: Int32)] = []
        for (row, u) in s.users.enumerated() {
            for p in 0..<k where s.outcomes[row * k + p] == .consumed { step.append((u, s.slates[row * k + p])) }
        }
        consumed.append(step)  // steps arrive in order: consumed[t] is step t
    }
}

/// Errors of the metric recorder.
public enum MetricError: Error, CustomStringConvertible, Equatable {
    case noUserRepresentation(String)
    case noReference

    public var description: String {
        switch self {
        case .noUserRepresentation(let name):
            return "metricOptions.nearestNeighbours: recommender needs the recommender's user representation, and '\(name)' does not expose one (built-in recommenders do, plugins do not); use nearestNeighbours: intrinsic or seed-history"
        case .noReference:
            return "interaction_jaccard_nn_pairs_minus_ideal needs a reference run of the ideal recommender, which `cocoon run` and `cocoon sweep` make; this caller gave none (set MetricRecorder.reference) — or record interaction_jaccard_nn_pairs instead"
        }
    }
}
