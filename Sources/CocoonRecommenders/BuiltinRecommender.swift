import CocoonCore
import CocoonMath
import Foundation

/// A built-in recommender: a ``ScoringModel`` wrapped in the shared control layer
/// (``ControlPolicy``), candidate selection, a chain of re-rankers and exploration.
///
/// Per step, for users with personalisation on: user factors (with deleted-tag directions
/// projected out) times item factors, tile by tile on the block executor; the control layer
/// edits each user's tile (exclusions, topic penalties and boosts) and, for sampling models,
/// adds Gumbel noise; the top M candidates go through the re-rankers (every stage but the last
/// re-orders all candidates, the last picks the slate); exploration replaces some slots.
/// Users with personalisation off get the non-personalised feed: one ranking per step from
/// recent global popularity with a step-keyed rotation, re-ranked without personal data, from
/// which each user's explicit controls remove items.
public final class BuiltinRecommender: Recommender, UserRepresenting, @unchecked Sendable {
    public let name: String
    public let model: ScoringModel
    public let policy: ControlPolicy
    public let rerankers: [Reranker]
    /// Candidates per user before re-ranking (nil: 3 × slate size when re-rankers are set, else
    /// the slate size).
    public let candidateCount: Int?
    public let exploration: Exploration
    /// Steps of random slates before the model is used (Chaney et al.'s start-up period).
    public let warmup: Int
    /// Scale of the step-keyed rotation in the non-personalised feed.
    public let offRotation: Double
    /// Multi-interest candidates (only with re-rankers): besides the top M, the best
    /// `channelSize` items of each of the user's `channelTopics` heaviest topics, and the best
    /// item of every other topic, join the candidates — so diversity re-rankers always have the
    /// user's other interests and every topic to choose from.
    public let channelTopics: Int
    public let channelSize: Int
    /// Users who consumed fewer items than this are cold: they get the non-personalised feed
    /// (personal models know too little about them).
    public let coldStartItems: Int
    /// Pseudo-items of a uniform topic prior mixed into the profile re-rankers calibrate to.
    public let profilePrior: Double
    /// Share of the calibration target given to the user's declared tags.
    public let declaredTagShare: Double

    var world: RecommenderWorld!
    var log: InteractionLog!
    var truth: GroundTruth?
    var geometry: ItemGeometry!
    let random = RandomModel()
    /// Each item's near-duplicates once computed (looked up for every mark of every user each
    /// step).
    var nearDuplicates = NearDuplicateLists(itemCount: 0)
    /// The catalog's unit embeddings normalised once more (what `Matrix.cosineSimilarity` does
    /// to its operands), kept instead of renormalising the catalog for every batch of marks.
    var nearDuplicateRows = Matrix(rows: 0, cols: 0)
    /// Per worker: the similarity block of a batch of marks (64 items × the catalog), kept
    /// between batches instead of allocated (and page-faulted in) for each.
    private var nearDuplicateScratches: [ProductScratch] = []
    /// Per worker: the score tile and heaps of a block, kept between steps. Made for each step,
    /// the tile (a block's users × 2,048 scores) came back from the system as fresh pages every
    /// step: page faults and zeroing that were a quarter of a small world's run (W4).
    private var scoringWorkspaces: [ScoringWorkspace] = []
    // The model's item factors with the control columns appended, kept while the factors do
    // not change.
    var extendedItems: (base: Matrix, items: Matrix)?
    /// The last step's scorer, kept while its items do not change: under OpenBLAS' AVX-512
    /// kernels a scorer packs its items (`ItemPanels`, 2.5 MB at 10,000 items and d = 64), which
    /// a scorer made for each step did again every step.
    var scorerCache: BlockScorer?
    var harmfulTopics: [Bool] = []
    var itemsByCreator: [[Int32]] = []
    /// Items by primary topic and score tile: topic offsets touch only their topic's items.
    var topicTiles: TopicTiles!
    /// Items per tile of scores (a power of two: exclusions are grouped by `item >> log2(tileSize)`).
    package static let tileSize = 2048
    var minorSegment: Int32 = -1
    /// Every user's segment (the world's array, kept apart so per-user look-ups do not go
    /// through the world struct).
    var segments: [Int32] = []
    /// Fallbacks of re-rankers (no history) so far.
    public private(set) var rerankFallbacks = 0

    public init(
        name: String, model: ScoringModel, policy: ControlPolicy = ControlPolicy(), rerankers: [Reranker] = [],
        candidateCount: Int? = nil, exploration: Exploration = Exploration(), warmup: Int = 0, offRotation: Double = 0.3,
        channelTopics: Int = 5, channelSize: Int = 5, coldStartItems: Int = 5, profilePrior: Double = 10,
        declaredTagShare: Double = 0.3
    ) {
        self.name = name
        self.model = model
        self.policy = policy
        self.rerankers = rerankers
        self.candidateCount = candidateCount
        self.exploration = exploration
        self.warmup = warmup
        self.offRotation = offRotation
        self.channelTopics = rerankers.isEmpty ? 0 : channelTopics
        self.channelSize = channelSize
        self.coldStartItems = coldStartItems
        self.profilePrior = profilePrior
        self.declaredTagShare = declaredTagShare
    }

    public func start(_ world: RecommenderWorld) throws {
        self.world = world
        let c = world.catalog
        log = InteractionLog(
            seedHistory: world.seedHistory, itemCount: c.count, impressionMemory: policy.enabled ? policy.impressionMemory : 0,
            steps: world.steps, slateSize: world.slateSize)
        geometry = ItemGeometry(c)
        // A topic is harmful when most of its items are.
        var harmfulCount = [Int](repeating: 0, count: c.topics.count)
        for i in 0..<c.count where c.flags[i].contains(.harmful) { harmfulCount[Int(c.topics.primary[i])] += 1 }
        let sizes = c.topicSizes
        harmfulTopics = (0..<c.topics.count).map { sizes[$0] > 0 && 2 * harmfulCount[$0] > sizes[$0] }
        itemsByCreator = [[Int32]](repeating: [], count: c.creatorCount)
        for i in 0..<c.count { itemsByCreator[Int(c.creators[i])].append(Int32(i)) }
        topicTiles = TopicTiles(primary: c.topics.primary, topicCount: c.topics.count, tileSize: Self.tileSize)
        minorSegment = world.segmentNames.firstIndex(of: "minor").map(Int32.init) ?? -1
        segments = world.segments
        nearDuplicates = NearDuplicateLists(itemCount: policy.notInterested ? c.count : 0)
        try model.start(world, log: log, truth: truth)
        try random.start(world, log: log, truth: nil)
    }

    public func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        let k = request.slateSize
        var slates = [Int32](repeating: -1, count: request.users.count * k)
        var offRows: [Int] = []
        var coldRows = Set<Int>()
        // Users with personalisation off, and cold users the model knows nothing about, get the
        // non-personalised feed.
        let coldStart = !(model is RandomModel) && !(model is PopularityModel) && !model.readsGroundTruth && request.step > warmup
        for (row, u) in request.users.enumerated() {
            // Only users with controls of their own can have switched personalisation off.
            let off = policy.personalisationOff && request.controls.hasOwnControls(Int(u)) && !request.controls[Int(u)].personalisation
            let cold = !off && coldStart && log.consumedCount(of: Int(u)) < coldStartItems
            if off || cold {
                offRows.append(row)
                if cold { coldRows.insert(row) }
            }
        }
        prepareNearDuplicates(request)
        if !rerankers.isEmpty || request.wantsTags { model.prepareTopicWeights(log: log) }
        if !offRows.isEmpty { try fillNonPersonal(request, rows: offRows, cold: coldRows, into: &slates) }
        // The other rows are personalised: all of them, usually, which needs no list of rows
        // (8 bytes a user).
        let n = request.users.count
        if offRows.isEmpty {
            try fillPersonal(request, rows: nil, into: &slates)
        } else if offRows.count < n {
            var onRows: [Int] = []
            onRows.reserveCapacity(n - offRows.count)
            var next = 0  // offRows ascend
            for row in 0..<n {
                if next < offRows.count && offRows[next] == row { next += 1 } else { onRows.append(row) }
            }
            try fillPersonal(request, rows: onRows, into: &slates)
        }
        var tags: [[Int32]]? = nil
        if request.wantsTags {
            tags = request.users.map { userTags(Int($0), controls: request.controls[Int($0)]) }
        }
        return SlateBatch(items: slates, tags: tags)
    }

    public func observe(_ feedback: FeedbackBatch) throws {
        log.record(feedback)
        try model.observe(feedback, log: log)
    }

    public func stop() {}

    /// The model's user factors (the scoring space), or nil for a model without any (random);
    /// popularity's are the same for everyone, so every pair ties.
    public func userRepresentation() -> Matrix? {
        let f = model.itemFactors.cols
        guard f > 0, log != nil else { return nil }
        var m = Matrix(rows: log.userCount, cols: f)
        model.userFactors(Array(0..<Int32(log.userCount))[...], into: &m)
        return m
    }

    // MARK: - Controls

    /// What the control layer does to one user's scores this step.
    struct Adjustments {
        var hard: [Int32] = []  // never shown (sorted)
        var soft: [Int32] = []  // pushed to the end (sorted; the personalised path groups them by tile instead)
        var topicOffsets: [Float]? = nil
        var isMinor = false
    }

    /// A scored block's ``Adjustments``, row by row, in flat buffers (no arrays per user): each
    /// row's sorted hard exclusions, its topic offsets when it has any, whether it is a minor.
    struct BlockAdjustments {
        private(set) var hard: [Int32] = []
        private var hardStarts: [Int32] = [0]
        private var offsets: [Float] = []
        /// Per row: where its offsets start in `offsets`, or −1 for none.
        private var offsetStarts: [Int32] = []
        private(set) var isMinor: [Bool] = []
        let topicCount: Int

        init(topicCount: Int) { self.topicCount = topicCount }

        /// Adds user u's row (the next one).
        mutating func addRow(user u: Int, of layer: ControlLayer, controls: ControlTable, step t: Int) {
            let start = hard.count, offsetBase = offsets.count
            let has = layer.appendAdjustments(for: u, controls: controls, step: t, hard: &hard, offsets: &offsets)
            let end = hard.count
            if end - start > 1 {
                hard.withUnsafeMutableBufferPointer { all in
                    var row = UnsafeMutableBufferPointer(rebasing: all[start..<end])
                    row.sort()
                }
            }
            hardStarts.append(Int32(end))
            offsetStarts.append(has ? Int32(offsetBase) : -1)
            isMinor.append(layer.isMinor(u))
        }

        /// Row r's hard exclusions, sorted.
        func hardItems(row r: Int) -> ArraySlice<Int32> { hard[Int(hardStarts[r])..<Int(hardStarts[r + 1])] }

        /// Row r's topic offsets, or nil.
        func topicOffsets(row r: Int) -> ArraySlice<Float>? {
            let o = Int(offsetStarts[r])
            return o < 0 ? nil : offsets[o..<(o + topicCount)]
        }

        /// Row r as an ``Adjustments`` value (for the paths that need one: fills, exploration).
        func adjustments(row r: Int) -> Adjustments {
            Adjustments(hard: Array(hardItems(row: r)), soft: [], topicOffsets: topicOffsets(row: r).map(Array.init), isMinor: isMinor[r])
        }
    }

    /// The control layer's adjustments for user u; `personal` adds the soft exclusions, sorted.
    func adjustments(for u: Int, controls: ControlTable, step t: Int, personal: Bool, layer: ControlLayer) -> Adjustments {
        var a = controlAdjustments(for: u, controls: controls, step: t, layer: layer)
        if personal {
            var soft: [Int32] = []
            softExclusions.append(of: u, to: &soft)
            soft.sortAndRemoveDuplicates()
            a.soft = soft
        }
        return a
    }

    /// The items the control layer pushes to the end of a user's personalised feed: what the
    /// user consumed (when excluded) and their recent impressions (any order, may repeat). The
    /// log and the policy are read once, when a request takes this value, not per user.
    struct SoftExclusions {
        let log: InteractionLog
        let consumed: Bool
        let recent: Bool

        func append(of u: Int, to out: inout [Int32]) {
            if consumed { log.appendConsumed(by: u, to: &out) }
            if recent { log.appendRecentImpressions(of: u, to: &out) }
        }
    }

    var softExclusions: SoftExclusions {
        SoftExclusions(log: log, consumed: policy.excludeConsumed, recent: policy.enabled && log.impressionMemory > 0)
    }

    /// The adjustments that come from u's own controls and segment (hard exclusions, topic
    /// offsets), without the soft ones.
    func controlAdjustments(for u: Int, controls table: ControlTable, step t: Int, layer: ControlLayer) -> Adjustments {
        var a = Adjustments()
        a.isMinor = layer.isMinor(u)
        var offsets: [Float] = []
        if layer.appendAdjustments(for: u, controls: table, step: t, hard: &a.hard, offsets: &offsets) { a.topicOffsets = offsets }
        a.hard.sort()
        return a
    }

    /// The control layer's tables as values taken once per request (after its near-duplicates
    /// are prepared): read through the recommender, each user's marks had retained its
    /// near-duplicate list and checked exclusive access to the stored property.
    struct ControlLayer {
        let policy: ControlPolicy
        let nearDuplicates: NearDuplicateLists
        let itemsByCreator: [[Int32]]
        let segments: [Int32]
        let minorSegment: Int32
        let topicCount: Int

        init(_ r: BuiltinRecommender) {
            policy = r.policy
            nearDuplicates = r.nearDuplicates
            itemsByCreator = r.itemsByCreator
            segments = r.segments
            minorSegment = r.minorSegment
            topicCount = r.world.catalog.topics.count
        }

        /// Whether user u is in the minors' segment.
        func isMinor(_ u: Int) -> Bool { segments[u] == minorSegment }

        /// The core of ``BuiltinRecommender/controlAdjustments(for:controls:step:layer:)``, appending
        /// to buffers a caller reuses: u's hard exclusions (unsorted) to `hard`, and, when u has
        /// topic offsets, their `topicCount` values to the end of `offsets` (returns whether it
        /// appended them). The personalised path keeps a block's users in one set of buffers
        /// this way (an array or two per user with controls, allocated and freed every step,
        /// were 2–3% of W2's step).
        func appendAdjustments(for u: Int, controls table: ControlTable, step t: Int, hard: inout [Int32], offsets: inout [Float]) -> Bool {
            // Users who never touched a control (most) have nothing more.
            guard policy.enabled, table.hasOwnControls(u) else { return false }
            let g = topicCount
            let base = offsets.count
            var has = false
            func offset(_ t: Int32, _ v: Float) {
                if !has {
                    offsets.append(contentsOf: repeatElement(0, count: g))
                    has = true
                }
                offsets[base + Int(t)] += v
            }
            // u's controls borrowed in place (a copy, `let own = table[u]`, retained and released
            // its five arrays; a read of a field through the subscript copied the whole entry).
            table.withControls(of: u) { own in
                if policy.notInterested {
                    for m in own.notInterested {
                        switch policy.itemMarksSuppressTopic ? .topic : m.scope {
                        case .item:
                            hard.append(m.item)
                            if policy.nearDuplicateHorizon == 0 || t - Int(m.listStep) <= policy.nearDuplicateHorizon {
                                nearDuplicates.append(of: Int(m.item), to: &hard)
                            }
                        case .topic:
                            hard.append(m.item)
                            if t - Int(m.listStep) <= policy.topicHorizon { offset(m.topic, -Float(policy.topicPenalty)) }
                        }
                    }
                }
                if policy.blocks {
                    for cr in own.blockedCreators where Int(cr) < itemsByCreator.count {
                        hard.append(contentsOf: itemsByCreator[Int(cr)])
                    }
                    for t in own.blockedTopics { offset(t, -.infinity) }
                }
                if policy.tags {
                    for t in own.declaredTags { offset(t, Float(policy.tagBoost)) }
                }
            }
            // minorUnsafe and borderline items of minors are handled by the extra item columns.
            return has
        }
    }

    /// Whether the control layer forbids item i for a user (used by fills and exploration).
    func isHard(_ i: Int32, _ a: Adjustments) -> Bool {
        let f = world.catalog.flags[Int(i)]
        if policy.harmful && f.contains(.harmful) { return true }
        if policy.minors && a.isMinor && f.contains(.minorUnsafe) { return true }
        if let o = a.topicOffsets, o[Int(world.catalog.topics.primary[Int(i)])] == -.infinity { return true }
        return a.hard.sortedContains(i)
    }

    /// Computes (once per item, cached) the near-duplicates of newly marked items.
    func prepareNearDuplicates(_ request: RecommendRequest) {
        guard policy.notInterested else { return }
        let c = world.catalog
        var missing: [Int32] = []
        var pending = [Bool](repeating: false, count: c.count)
        for ch in request.changes where ch.kind == .notInterested {
            if let m = ch.mark, m.scope == .item, !nearDuplicates.isComputed(Int(m.item)), !pending[Int(m.item)] {
                pending[Int(m.item)] = true
                missing.append(m.item)
            }
        }
        if missing.isEmpty { return }
        // In blocks of items: at a million users nearly every item is marked in the first
        // steps, and a missing × catalog similarity matrix would be catalog² floats. The blocks
        // run on the executor (single-threaded BLAS each, the same product shapes whatever the
        // worker count, so the same bits); each writes only its own items' lists.
        let th = Float(policy.nearDuplicateThreshold)
        // Row normalisation is per row: gathering normalised rows equals normalising gathered ones.
        if nearDuplicateRows.rows != c.count { nearDuplicateRows = c.unitEmbeddings.rowNormalized() }
        let rows = nearDuplicateRows
        let ranges = BlockExecutor.blocks(count: missing.count, blockSize: Self.nearDuplicateBlock)
        let marked = missing
        let scratch = Self.pool(&nearDuplicateScratches, workers: world.executor.workers, ProductScratch.init)
        let lists = world.executor.map(blockCount: ranges.count) { b, w -> [[Int32]] in
            let block = marked[ranges[b]]
            let near = rows.gatherRows(block).columnsAtLeast(th, inProductWithTransposeOf: rows, scratch: scratch[w])
            return zip(block, near).map { i, list in list.filter { $0 != i } }
        }
        for (b, range) in ranges.enumerated() {
            for (r, i) in missing[range].enumerated() { nearDuplicates.set(Int(i), lists[b][r]) }
        }
    }

    /// Items' near-duplicate lists, in one flat buffer (an array per item, reached through
    /// an array of arrays, retained each list at every look-up of every user's marks).
    struct NearDuplicateLists {
        private var flat: [Int32] = []
        /// Per item: where its list lies in `flat`; start −1 while not computed.
        private var start: [Int]
        private var end: [Int]

        init(itemCount: Int) {
            start = [Int](repeating: -1, count: itemCount)
            end = [Int](repeating: -1, count: itemCount)
        }

        func isComputed(_ i: Int) -> Bool { start[i] >= 0 }

        /// Sets item i's list (once).
        mutating func set(_ i: Int, _ list: [Int32]) {
            precondition(start[i] < 0, "item \(i)'s near-duplicates are already set")
            start[i] = flat.count
            flat.append(contentsOf: list)
            end[i] = flat.count
        }

        /// Appends item i's list to `out` (nothing while not computed).
        func append(of i: Int, to out: inout [Int32]) {
            let a = start[i]
            if a < 0 { return }
            let b = end[i]
            flat.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[a..<b])) }
        }
    }

    /// A kept per-worker pool with at least `workers` members (made on first need).
    private static func pool<T>(_ pool: inout [T], workers: Int, _ make: () -> T) -> [T] {
        while pool.count < workers { pool.append(make()) }
        return pool
    }

    /// Items whose near-duplicates are computed in one product.
    static let nearDuplicateBlock = 64

    // MARK: - Personalised path

    /// Personalised slates for `rows` of the request (nil: every row).
    func fillPersonal(_ request: RecommendRequest, rows given: [Int]?, into slates: inout [Int32]) throws {
        let everyRow = given == nil
        let rowList = given ?? []
        let rowCount = given?.count ?? request.users.count
        let t = request.step
        let k = request.slateSize
        let active: ScoringModel = t <= warmup ? random : model
        let c = world.catalog
        let m = max(candidateCount ?? (rerankers.isEmpty ? k : 3 * k), k)
        // Item side: model factors plus control columns (harmful; minors).
        let base = active.itemFactors
        let f = base.cols
        let useHarmful = policy.harmful && c.flags.contains { $0.contains(.harmful) }
        let useMinor = policy.minors && minorSegment >= 0
        let extra = (useHarmful ? 1 : 0) + (useMinor ? 1 : 0)
        var items = base
        if extra > 0, let cached = extendedItems, cached.base == base, cached.items.cols == f + extra {
            // Same factors as the last step (an identical buffer compares in O(1)).
            items = cached.items
        } else if extra > 0 {
            var v = [Float](repeating: 0, count: c.count * (f + extra))
            for i in 0..<c.count {
                for j in 0..<f { v[i * (f + extra) + j] = base[i, j] }
                var col = f
                if useHarmful {
                    v[i * (f + extra) + col] = c.flags[i].contains(.harmful) ? -1e9 : 0
                    col += 1
                }
                if useMinor {
                    v[i * (f + extra) + col] =
                        c.flags[i].contains(.minorUnsafe)
                        ? -1e9 : (c.flags[i].contains(.borderline) ? -Float(policy.minorBorderlinePenalty) : 0)
                }
            }
            items = Matrix(rows: c.count, cols: f + extra, values: v)
            extendedItems = (base, items)
        }
        // Topic directions are needed only to project deleted tags out.
        let anyDeleted = policy.tags && (0..<rowCount).contains { j in
            let u = Int(request.users[everyRow ? j : rowList[j]])
            return request.controls.hasOwnControls(u) && !request.controls[u].deletedTags.isEmpty
        }
        let directions = anyDeleted ? topicDirections(base) : []
        // The same items as the last step (an identical buffer compares in O(1)): its scorer.
        let scorer: BlockScorer
        if let cached = scorerCache, cached.items == items {
            scorer = cached
        } else {
            scorer = BlockScorer(items: items, tileSize: Self.tileSize)
            scorerCache = scorer
        }
        let users = request.users
        let blocks = BlockExecutor.blocks(count: rowCount, blockSize: world.blockSize)
        let spaces = Self.pool(&scoringWorkspaces, workers: world.executor.workers, ScoringWorkspace.init)
        let fallbacks = SharedArray<Int32>(repeating: 0, count: blocks.count)
        let controls = request.controls
        let noise = active.noiseScale
        let uniform = active.uniformNoise
        let seed = world.seed
        let streamIDs = world.streamIDs
        let noiseHash = StableHash.fnv1a64("scores.noise")
        // Needed only when a user runs out of candidates: computed on first use.
        let fillOrder = Lazy { self.nonPersonalRanking(step: t) }
        let topicTiles = self.topicTiles!
        let topics = c.topics
        let primaryTopics = topics.primary
        let tileSize = scorer.tileSize
        // Slates that are just the top k (no re-ranking, interest channels or exploration).
        let plainSlates = rerankers.isEmpty && channelTopics == 0 && !exploration.isActive && m == k
        let softExclusions = self.softExclusions
        let layer = ControlLayer(self)
        // Blocks write their users' slates straight into `slates` (disjoint rows, no copy).
        _ = try slates.fillInParallel { out in try world.executor.tryMap(blockCount: blocks.count) { b, w -> Int in
            let blockRows = blocks[b]
            let bUsers = blockRows.map { users[everyRow ? $0 : rowList[$0]] }
            var userMatrix = Matrix(rows: bUsers.count, cols: f)
            active.userFactors(bUsers[...], into: &userMatrix)
            var adj = BlockAdjustments(topicCount: topics.count)
            // What the control layer does to each row's tiles, in flat per-block buffers (the
            // per-tile closure below then touches no reference-counted value): soft and hard
            // exclusions grouped by tile, topic offsets.
            var soft = TileExclusions(tileSize: scorer.tileSize, itemCount: c.count)
            var hard = TileExclusions(tileSize: scorer.tileSize, itemCount: c.count)
            var offsets = TopicOffsetRows(topicCount: topics.count)
            var gathered: [Int32] = []
            for (r, u32) in bUsers.enumerated() {
                let u = Int(u32)
                adj.addRow(user: u, of: layer, controls: controls, step: t)
                gathered.removeAll(keepingCapacity: true)
                softExclusions.append(of: u, to: &gathered)
                soft.addRow(gathered[...])
                hard.addRow(adj.hardItems(row: r))
                offsets.addRow(adj.topicOffsets(row: r), topics: topicTiles, itemCount: c.count)
            }
            if extra > 0 || !directions.isEmpty {
                // Deleted tags projected out of the factors, then the control columns.
                var extended = Matrix(rows: bUsers.count, cols: f + extra)
                let width = f + extra
                userMatrix.storage.withUnsafeBufferPointer { src in
                    extended.withMutableStorage { dstArray in
                        dstArray.withUnsafeMutableBufferPointer { dst in
                            for (r, u32) in bUsers.enumerated() {
                                let row = dst.baseAddress! + r * width
                                for j in 0..<f { row[j] = src[r * f + j] }
                                if !directions.isEmpty && controls.hasOwnControls(Int(u32)) {
                                    for tag in controls[Int(u32)].deletedTags where Int(tag) < directions.count {
                                        let dir = directions[Int(tag)]
                                        var dot: Float = 0
                                        for j in 0..<f { dot = dot + row[j] * dir[j] }
                                        for j in 0..<f { row[j] = row[j] - dot * dir[j] }
                                    }
                                }
                                var col = f
                                if useHarmful { row[col] = 1; col += 1 }
                                if useMinor { row[col] = adj.isMinor[r] ? 1 : 0 }
                            }
                        }
                    }
                }
                userMatrix = extended
            }
            var rngs = noise > 0 ? bUsers.map { seed.stream(labelHash: noiseHash, Int(streamIDs[Int($0)]), t) } : []
            // The model's topic weights: the re-rankers' profile and the interest channels.
            let weights: [[Double]] = self.rerankers.isEmpty ? [] : bUsers.map { self.model.topicWeights(of: Int($0), log: self.log, topics: topics) }
            let gCount = topics.count
            // One selector per topic: `channelSize` items for the heaviest topics, 1 for the others.
            var channels: [[TopKSelector]] = []
            if self.channelTopics > 0 {
                for (r, w) in weights.enumerated() {
                    let excluded = self.excludedTopics(bUsers[r], controls: controls[Int(bUsers[r])], step: t, topicOffsets: adj.topicOffsets(row: r))
                    let order = (0..<min(gCount, w.count)).filter { w[$0] > 0 && !excluded[$0] }
                        .sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }.prefix(self.channelTopics)
                    var sels = [TopKSelector](repeating: TopKSelector(k: 1), count: gCount)
                    for q in order { sels[q] = TopKSelector(k: self.channelSize) }
                    for q in 0..<gCount where excluded[q] { sels[q] = TopKSelector(k: 0) }
                    channels.append(sels)
                }
            }
            var local = [Int32](repeating: -1, count: bUsers.count * k)
            var localFallbacks: Int32 = 0
            var failure: Error? = nil
            // The per-tile closure runs users × tiles times: it captures only constants (the
            // control layer's tables, built as `var`s, are rebound as `let`s) and buffer pointers;
            // a captured `var` would be boxed, copied and access-checked on every call.
            let adjs = adj
            rngs.withUnsafeMutableBufferPointer { rngBuffer in
            channels.withUnsafeMutableBufferPointer { channelBuffer in
            let rngs = rngBuffer, channels = channelBuffer, soft = soft, hard = hard, offsets = offsets
            // The topic offsets go into the scorer's own products kernel when it has one (they
            // are then added before the noise would be: only without noise).
            let kernelOffsets = noise == 0 && scorer.addsOffsetsInKernel ? offsets.kernelOffsets(primary: primaryTopics) : nil
            let offsetsAdded = kernelOffsets != nil
            // The adjustment below only lowers scores (push-downs, exclusions; the channels just
            // read them) unless it adds noise or topic offsets the kernel did not add.
            let lowersOnly = noise == 0 && (offsetsAdded || !offsets.hasOffsets)
            scorer.topK(
                users: userMatrix, rows: 0..<bUsers.count, k: m, workspace: spaces[w], offsets: kernelOffsets,
                adjust: { r, first, span in
                    let n = span.count
                    if noise > 0 {
                        if uniform {
                            for j in 0..<n { span[j] = span[j] + noise * Sample.uniformFloat(using: &rngs[r]) }
                        } else {
                            for j in 0..<n { span[j] = span[j] + noise * Float(Sample.gumbel(using: &rngs[r])) }
                        }
                    }
                    let tile = first / tileSize
                    if !offsetsAdded {
                        offsets.apply(row: r, tile: tile, first: first, scores: &span, topics: topicTiles, primary: primaryTopics)
                    }
                    soft.pushDown(row: r, tile: tile, first: first, scores: &span)
                    hard.exclude(row: r, tile: tile, first: first, scores: &span)
                    if !channels.isEmpty {
                        channels[r].withUnsafeMutableBufferPointer { sels in
                            span.withUnsafeMutableBufferPointer { row in
                                primaryTopics.withUnsafeBufferPointer { prim in
                                    TopKSelector.offerByTopic(UnsafeBufferPointer(row), baseIndex: first, topics: prim, into: sels)
                                }
                            }
                        }
                    }
                },
                adjustLowersOnly: lowersOnly,
                // The channels read every score of the span; push-downs and exclusions only their own.
                adjustEditsOnly: channels.isEmpty,
                emit: { r, sel in
                    guard failure == nil else { return }
                    if plainSlates && sel.count == k && sel.threshold > -1e8 {
                        // The usual case: k candidates, none excluded, nothing to re-rank.
                        _ = sel.drainSorted(into: &local, at: r * k)
                        return
                    }
                    let u = Int(bUsers[r])
                    var cands = sel.sorted().filter { $0.score > -1e8 }
                    if !channels.isEmpty {
                        // Merge the interest channels' best items, keeping C sorted by (score, index).
                        let have = Set(cands.map(\.index))
                        var extra: [(index: Int32, score: Float)] = []
                        // Only items the control layer does not push down (no consumed or recent items).
                        for ch in channels[r] { for c in ch.sorted() where c.score > -1e3 && !have.contains(c.index) { extra.append(c) } }
                        if !extra.isEmpty {
                            cands += extra
                            cands.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
                        }
                    }
                    if cands.count < k {
                        let a = adjs.adjustments(row: r)
                        // Not enough candidates: take the non-personalised order, then any item.
                        let have = Set(cands.map(\.index))
                        for i in fillOrder.value where cands.count < k && !have.contains(i) && !self.isHard(i, a) {
                            cands.append((i, -1e6))
                        }
                        if cands.count < k {
                            let have2 = Set(cands.map(\.index))
                            for i in 0..<Int32(c.count) where cands.count < k && !have2.contains(i) && !self.isHard(i, a) {
                                cands.append((i, -1e7))
                            }
                        }
                        if cands.count < k {
                            failure = RecommenderError.cannotFill(step: t, user: u, available: cands.count, needed: k)
                            return
                        }
                    }
                    var slate: [Int32]
                    if self.rerankers.isEmpty || (self.policy.itemMarksNarrowFeed && controls[u].notInterested.contains { $0.scope == .item }) {
                        slate = cands.prefix(k).map(\.index)
                    } else {
                        // The profile re-rankers calibrate to: the model's (decayed) topic weights,
                        // smoothed toward uniform by `profilePrior` pseudo-items, so a short history
                        // is not taken for a narrow taste.
                        let excluded = self.excludedTopics(bUsers[r], controls: controls[u], step: t, topicOffsets: adjs.topicOffsets(row: r))
                        var profile = self.smoothedProfile(weights[r], items: self.log.consumedCount(of: u), excluding: excluded)
                        let declared = self.policy.tags ? controls[u].declaredTags : []
                        if !declared.isEmpty {
                            // Declared tags take `declaredTagShare` of the calibration target.
                            var p = profile ?? [Double](repeating: 0, count: gCount)
                            let share = profile == nil ? 1 : self.declaredTagShare
                            p = p.map { $0 * (1 - share) }
                            for d in declared where Int(d) < gCount { p[Int(d)] += share / Double(declared.count) }
                            profile = p
                        }
                        let (s, fb) = self.rerank(cands, profile: profile, size: k)
                        slate = s
                        localFallbacks += fb
                    }
                    if self.exploration.isActive { self.explore(&slate, user: u, step: t, adjustments: adjs.adjustments(row: r)) }
                    for p in 0..<k { local[r * k + p] = slate[p] }
                })
            }
            }
            if let failure { throw failure }
            for (r, j) in blockRows.enumerated() {
                let row = everyRow ? j : rowList[j]
                for p in 0..<k { out[row * k + p] = local[r * k + p] }
            }
            fallbacks[b] = localFallbacks
            return 0
        } }
        rerankFallbacks += Int(fallbacks.toArray().reduce(0, +))
    }

    /// `(n·w + c·uniform) / (n + c)` with n the user's consumed items and c = `profilePrior`;
    /// nil when the model holds no weight.
    /// Topics the user excluded (deleted tags, suppressed or blocked topics) get no weight.
    func smoothedProfile(_ w: [Double], items n: Int, excluding excluded: [Bool]) -> [Double]? {
        let kept = w.indices.map { excluded[$0] ? 0 : w[$0] }
        let total = kept.reduce(0, +)
        guard total > 0 else { return nil }
        let open = Double(excluded.filter { !$0 }.count), c = profilePrior, nn = Double(n)
        return kept.indices.map { excluded[$0] ? 0 : (nn * kept[$0] / total + c / open) / (nn + c) }
    }

    /// Topics the control layer keeps out of a user's calibration target and interest channels:
    /// deleted tags, topics marked "not this kind of content" (within the horizon), blocked topics.
    /// (`topicOffsets`: the user's, from its ``Adjustments`` or its row of ``BlockAdjustments``.)
    func excludedTopics(_ u32: Int32, controls: UserControls, step t: Int, topicOffsets: ArraySlice<Float>?) -> [Bool] {
        let g = world.catalog.topics.count
        var out = [Bool](repeating: false, count: g)
        guard policy.enabled else { return out }
        if policy.tags { for d in controls.deletedTags where Int(d) < g { out[Int(d)] = true } }
        if let o = topicOffsets {
            let o0 = o.startIndex
            for q in 0..<g where o[o0 + q] < 0 { out[q] = true }
        }
        return out
    }

    /// Unit topic directions in the factor space: the normalised mean factor of each topic's items.
    func topicDirections(_ factors: Matrix) -> [[Float]] {
        let c = world.catalog
        let f = factors.cols
        if f == 0 { return [] }
        var dirs = [[Float]](repeating: [Float](repeating: 0, count: f), count: c.topics.count)
        for i in 0..<c.count {
            let t = Int(c.topics.primary[i])
            for j in 0..<f { dirs[t][j] += factors[i, j] }
        }
        return dirs.map { BLAS.normalized($0) }
    }

    /// Runs the re-ranker chain; returns the slate and the number of fallbacks.
    /// Runs the re-ranker chain on one user's candidates (sorted by score, then index) and
    /// returns the slate and the number of fallbacks. Scores are min–max normalised first.
    /// A filter stage (dedupe) drops what it skips; any other stage but the last re-orders the
    /// first `2k` candidates (the rest keep their order); the last stage picks the slate.
    func rerank(_ cands: [(index: Int32, score: Float)], profile: [Double]?, size k: Int) -> ([Int32], Int32) {
        // Positions into `cands` travel through the chain, so scores need no lookup table.
        let normalised = minMaxNormalised(cands.map { Double($0.score) })
        var order = Array(cands.indices)
        var fallbacks: Int32 = 0
        for (s, r) in rerankers.enumerated() {
            let last = s == rerankers.count - 1
            let head = r.isFilter || last ? order : Array(order.prefix(2 * k))
            let input = RerankInput(items: head.map { cands[$0].index }, scores: head.map { normalised[$0] }, profile: profile)
            let out = r.rerank(input, size: last ? k : head.count, geometry: geometry, topics: world.catalog.topics)
            if out.fallback && !r.isFilter { fallbacks += 1 }
            // Map the output items back to positions (they are items of `head`; a linear scan of
            // a few dozen ids is cheaper than hashing).
            let headItems = input.items
            var next = out.items.map { item in head[headItems.firstIndex(of: item)!] }
            if r.isFilter && !last { next = Array(next.prefix(max(out.chosen, k))) }
            if !r.isFilter && !last { next += order.dropFirst(head.count) }
            order = next
        }
        return (Array(order.prefix(k)).map { cands[$0].index }, fallbacks)
    }

    /// ε-greedy and fixed random slots, with items drawn from the user's exploration stream.
    func explore(_ slate: inout [Int32], user u: Int, step t: Int, adjustments a: Adjustments) {
        let k = slate.count
        var r = world.seed.stream("explore", world.streamID(of: u), t)
        let fixed = exploration.fixedPositions(slateSize: k)
        for p in 0..<k {
            let replace = fixed.contains(p) || (exploration.epsilon > 0 && Sample.bernoulli(exploration.epsilon, using: &r))
            guard replace else { continue }
            for _ in 0..<64 {
                let i = Int32(Sample.index(below: world.catalog.count, using: &r))
                if !slate.contains(i) && !isHard(i, a) {
                    slate[p] = i
                    break
                }
            }
        }
    }

    // MARK: - Non-personalised path

    /// The step's non-personalised ranking of every item: log(1 + recent consumption) plus a
    /// Gumbel rotation keyed by (step, item) — the same for every user.
    func nonPersonalRanking(step t: Int) -> [Int32] {
        let c = world.catalog
        var r = world.seed.stream("non-personal", t)
        let scores = (0..<c.count).map { i in
            log1p(Double(log.recentCounts[i])) + 1e-3 * Double(c.popularityPrior[i]) + offRotation * Sample.gumbel(using: &r)
        }
        return (0..<Int32(c.count)).sorted { scores[Int($0)] != scores[Int($1)] ? scores[Int($0)] > scores[Int($1)] : $0 < $1 }
    }

    /// The non-personalised feed for users with personalisation off, and the cold-start feed
    /// for users with too little history: the same ranking, but cold users see at most one item
    /// per topic (breadth first, to learn what they like).
    func fillNonPersonal(_ request: RecommendRequest, rows: [Int], cold: Set<Int> = [], into slates: inout [Int32]) throws {
        let t = request.step
        let k = request.slateSize
        let topics = world.catalog.topics
        var base = nonPersonalRanking(step: t)
        // Globally forbidden items never enter the shared list.
        base.removeAll { i in policy.harmful && world.catalog.flags[Int(i)].contains(.harmful) }
        let m = min(base.count, max(candidateCount ?? 3 * k, k) * 3)
        let breadth: [Reranker] = [TopicCapReranker(maxPerTopic: 1, maxRun: 1)]
        /// The re-ranker chain on the head of an ordering (no personal data: no profile).
        func diversified(_ order: [Int32], coldStart: Bool = false) -> [Int32] {
            let chain = coldStart ? breadth : rerankers
            guard !chain.isEmpty else { return order }
            let head = Array(order.prefix(m))
            var scoreOf = [Int32: Double]()
            for (j, i) in head.enumerated() { scoreOf[i] = Double(head.count - j) / Double(head.count) }
            var items = head
            for r in chain {
                let out = r.rerank(RerankInput(items: items, scores: items.map { scoreOf[$0]! }, profile: nil),
                                   size: items.count, geometry: geometry, topics: topics)
                items = r.isFilter ? Array(out.items.prefix(max(out.chosen, k))) + out.items.dropFirst(max(out.chosen, k)) : out.items
            }
            return items + order.dropFirst(head.count)
        }
        let shared = diversified(base)
        let sharedCold = cold.isEmpty ? [] : diversified(base, coldStart: true)
        // The same for every user: built once, on first use.
        let onboarding = Lazy { self.onboardingSlate(k) }
        var rankScore = [Double](repeating: 0, count: world.catalog.count)
        for (j, i) in base.enumerated() { rankScore[Int(i)] = 1 - Double(j) / Double(base.count) }
        let layer = ControlLayer(self)
        for row in rows {
            let u = Int(request.users[row])
            let isCold = cold.contains(row)
            // Cold users are personalised users with little history: their own consumed and
            // recent items are pushed back so the feed moves on; users with personalisation
            // off get exactly the shared feed.
            let a = adjustments(for: u, controls: request.controls, step: t, personal: isCold, layer: layer)
            var order = isCold ? sharedCold : shared
            // NON-COMPLIANT cold-start switches apply until the user picks tags.
            let untagged = isCold && request.controls[u].declaredTags.isEmpty
            let wall = untagged && policy.coldStart == "tag-wall"
            if isCold && !a.soft.isEmpty {
                // Breadth first among the items this user has not seen or consumed yet.
                order = diversified(base.filter { !a.soft.sortedContains($0) }, coldStart: true)
            }
            if untagged {
                switch policy.coldStart {
                case "tag-wall":
                    // NON-COMPLIANT: the onboarding slate (each of the first topics' most
                    // popular item by the catalog prior), the same every step until tags are picked.
                    let slate = onboarding.value
                    order = slate + order.filter { !slate.contains($0) }
                case "default-topic":
                    // NON-COMPLIANT: a default interest, the topic of the top-ranked item.
                    if let first = base.first {
                        let q = topics.primary[Int(first)]
                        order = base.filter { topics.primary[Int($0)] == q } + base.filter { topics.primary[Int($0)] != q }
                    }
                default:
                    break
                }
            }
            if let o = a.topicOffsets, o.contains(where: { $0 > 0 }) {
                // Declared tags re-rank the shared list for this user (rank score + boost).
                order = diversified(base.sorted { x, y in
                    let sx = rankScore[Int(x)] + Double(o[Int(topics.primary[Int(x)])])
                    let sy = rankScore[Int(y)] + Double(o[Int(topics.primary[Int(y)])])
                    return sx != sy ? sx > sy : x < y
                }, coldStart: false)   // a user who declared tags told us what they like
            }
            var slate: [Int32] = []
            for i in order where slate.count < k {
                if isHard(i, a) { continue }
                if let o = a.topicOffsets, o[Int(topics.primary[Int(i)])] < 0 { continue }
                if !wall && !a.soft.isEmpty && a.soft.sortedContains(i) { continue }
                slate.append(i)
            }
            if slate.count < k {
                for i in order where slate.count < k && !slate.contains(i) && !isHard(i, a) { slate.append(i) }
            }
            guard slate.count == k else { throw RecommenderError.cannotFill(step: t, user: u, available: slate.count, needed: k) }
            for p in 0..<k { slates[row * k + p] = slate[p] }
        }
    }

    /// The first items of the `k` lowest-numbered topics with items, each topic's most popular
    /// by the catalog prior (a fixed "pick your interests" slate).
    func onboardingSlate(_ k: Int) -> [Int32] {
        let c = world.catalog
        var best = [Int32](repeating: -1, count: c.topics.count)
        for i in 0..<c.count where !c.flags[i].contains(.harmful) {
            let q = Int(c.topics.primary[i])
            if best[q] < 0 || c.popularityPrior[i] > c.popularityPrior[Int(best[q])] { best[q] = Int32(i) }
        }
        var out = best.filter { $0 >= 0 }
        if out.count < k { out += (0..<Int32(c.count)).filter { !out.contains($0) }.prefix(k - out.count) }
        return Array(out.prefix(k))
    }

    // MARK: - Tags

    /// The tags shown to user u: the model's top three topics (weight > 0), plus declared tags;
    /// compliant recommenders never list deleted or harmful topics, and use no personal data
    /// when personalisation is off.
    func userTags(_ u: Int, controls: UserControls) -> [Int32] {
        let g = world.catalog.topics.count
        var tags: [Int32] = []
        if !(policy.personalisationOff && !controls.personalisation) {
            let w = model.topicWeights(of: u, log: log, topics: world.catalog.topics)
            let order = (0..<min(g, w.count)).filter { w[$0] > 0 }.sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
            for t in order {
                if tags.count == 3 { break }
                if policy.tags && controls.deletedTags.contains(Int32(t)) { continue }
                if policy.harmful && harmfulTopics[t] { continue }
                tags.append(Int32(t))
            }
        }
        if policy.tags { for t in controls.declaredTags where !tags.contains(t) { tags.append(t) } }
        return tags.sorted()
    }
}

extension BuiltinRecommender: GroundTruthReader {
    public func attach(_ truth: GroundTruth) {
        if model.readsGroundTruth { self.truth = truth }
    }
}

/// A value computed on first use, once, from any thread.
final class Lazy<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    private let make: () -> T

    init(_ make: @escaping () -> T) { self.make = make }

    var value: T {
        lock.lock()
        defer { lock.unlock() }
        if let v = stored { return v }
        let v = make()
        stored = v
        return v
    }
}
