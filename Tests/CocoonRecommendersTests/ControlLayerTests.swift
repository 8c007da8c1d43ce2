import CocoonCore
import CocoonMath
import CocoonRecommenders
import Testing

let compliantKinds = ["reference", "random", "popularity", "oracle", "profile", "mf", "piao-similarity"]

@Suite struct ControlLayerTests {
    /// Every compliant built-in stops showing a marked item (and its near-duplicates) from the
    /// next slate; the non-compliant ones do not.
    @Test(arguments: compliantKinds + ["engagement-greedy", "popularity-controls-off", "profile-controls-off"])
    func notInterestedItemsNeverReturn(kind: String) throws {
        let w = try world(
            users: 200,
            interventions: [
                Intervention(
                    name: "mark", start: 4, selection: everyone, action: .notInterested(pick: .first, scope: .item, count: 1))
            ]
        ) { c, _ in c.nearDuplicateFraction = 0.15 }
        let off = kind.hasSuffix("-controls-off")
        let base = off ? String(kind.dropLast("-controls-off".count)) : kind
        let s = spec(base) { if off { $0.controls = .off } }
        let (rec, outcome) = run(w, try BuiltinRegistry.make(s), steps: 14)
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
        let marks = rec.snapshots[4].changes.filter { $0.intervention == "mark" }
        #expect(marks.count == 200)
        let geometry = ItemGeometry(w.catalog)
        var reshown = 0
        var nearDupShown = 0
        var nearDupPairs = 0
        for m in marks {
            let u = Int(m.user)
            let dups = (0..<w.catalog.count).filter { $0 != Int(m.target) && geometry.cosine($0, Int(m.target)) >= 0.9 }.map(
                Int32.init)
            for s in rec.snapshots[4...] {
                let slate = s.slate(row: s.row(of: m.user)!)
                if slate.contains(m.target) { reshown += 1 }
                for d in dups {
                    nearDupPairs += 1
                    if slate.contains(d) { nearDupShown += 1 }
                }
            }
            _ = u
        }
        if off || base == "engagement-greedy" {
            #expect(reshown > 0, "\(kind) should show marked items again")
        } else {
            #expect(reshown == 0, "\(kind) showed a marked item \(reshown) times")
            #expect(nearDupShown == 0, "\(kind) showed near-duplicates of marked items \(nearDupShown) times")
        }
    }

    /// With personalisation off, users with different histories get identical slates at a
    /// step (same context); the non-compliant reference keeps personalising.
    @Test(arguments: compliantKinds + ["engagement-greedy", "profile-controls-off"])
    func personalisationOffGivesIdenticalSlates(kind: String) throws {
        let w = try world(
            users: 120,
            interventions: [
                Intervention(name: "off", start: 6, selection: everyone, action: .personalisation(false))
            ])
        let off = kind.hasSuffix("-controls-off")
        let base = off ? String(kind.dropLast("-controls-off".count)) : kind
        // No organic "not interested" marks: they are explicit controls, which the
        // non-personalised feed honours per user.
        var b = Behaviour()
        b.notInterested.enabled = false
        let (rec, outcome) = run(
            w, try BuiltinRegistry.make(spec(base) { if off { $0.controls = .off } }), steps: 10, behaviour: b)
        #expect(outcome.failure == nil)
        // Histories differ before the switch.
        let before = rec.snapshots[5]
        #expect(Set((0..<120).map { Array(before.slate(row: $0)) }).count > 1 || kind == "popularity-x")
        for s in rec.snapshots[6...] {
            let distinct = Set((0..<120).map { Array(s.slate(row: $0)) }).count
            if off || base == "engagement-greedy" {
                #expect(distinct > 1, "\(kind) at step \(s.step)")
            } else {
                #expect(distinct == 1, "\(kind) at step \(s.step): \(distinct) distinct slates")
            }
        }
    }

    @Test func topicMarksSuppressTheTopicForTheHorizon() throws {
        let w = try world(
            users: 150,
            interventions: [
                Intervention(
                    name: "mark", start: 5, selection: everyone,
                    action: .notInterested(pick: .ofTopic(.topInterest), scope: .topic, count: 1))
            ])
        var s = spec("reference")
        s.controls.topicHorizon = 6
        let (rec, _) = run(w, try BuiltinRegistry.make(s), steps: 16)
        var during = 0
        var after = 0
        var before = 0
        for m in rec.snapshots[5].changes where m.intervention == "mark" {
            let topic = m.mark!.topic
            func count(_ steps: ClosedRange<Int>) -> Int {
                steps.reduce(0) { acc, t in
                    let sn = rec.snapshots[t]
                    return acc + sn.slate(row: sn.row(of: m.user)!).filter { w.catalog.topics.primary[Int($0)] == topic }.count
                }
            }
            before += count(1...4)
            during += count(5...10)  // listStep 4 + horizon 6 = suppressed through step 10
            after += count(12...15)
        }
        #expect(before > 100)
        #expect(during == 0)
        #expect(after > 0)
    }

    /// `top-consumed` resolves to the topic each user consumed most in the steps before (ties
    /// to the lower index); users who consumed nothing get no change. The engine keeps those
    /// counts only for runs that refer to them.
    @Test func topConsumedTopicIsTheMostConsumedSoFar() throws {
        let w = try world(
            users: 120, topics: 6,
            interventions: [Intervention(name: "declare", start: 5, selection: everyone, action: .declareTag(.topConsumed))])
        let (rec, outcome) = run(w, try BuiltinRegistry.make(spec("profile")), steps: 5)
        #expect(outcome.failure == nil)
        var checked = 0
        for u in 0..<120 {
            var counts = [Int](repeating: 0, count: 6)
            for s in rec.snapshots[1..<5] {
                guard let row = s.row(of: Int32(u)) else { continue }
                let slate = Array(s.slate(row: row))
                for p in 0..<10 where s.outcomes[row * 10 + p] == .consumed { counts[Int(w.catalog.topics.primary[Int(slate[p])])] += 1 }
            }
            let change = rec.snapshots[5].changes.first { $0.intervention == "declare" && Int($0.user) == u }
            if counts.allSatisfy({ $0 == 0 }) {
                #expect(change == nil)
            } else {
                let best = counts.indices.max { counts[$0] != counts[$1] ? counts[$0] < counts[$1] : $0 > $1 }!
                #expect(change?.target == Int32(best), "user \(u): \(counts)")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    @Test func blockedCreatorsAndDeletedAndDeclaredTags() throws {
        let w = try world(
            users: 150,
            interventions: [
                Intervention(name: "block", start: 3, selection: everyone, action: .blockTopCreator),
                Intervention(name: "delete", start: 3, selection: everyone, action: .deleteTag(.topInterest)),
                Intervention(name: "declare", start: 3, selection: everyone, action: .declareTag(.named("t9"))),
            ])
        let (rec, _) = run(w, try BuiltinRegistry.make(spec("profile")), steps: 12, wantsTags: true)
        var blockedShown = 0
        var topicShare = (before: 0.0, after: 0.0)
        var t9 = (before: 0.0, after: 0.0)
        for u in 0..<150 {
            let creator = rec.snapshots[3].changes.first { $0.intervention == "block" && Int($0.user) == u }!.target
            let topic = Int32(w.population.dominantTopic(of: u))
            for s in rec.snapshots[1...] {
                let slate = s.slate(row: u)
                let share = Double(slate.filter { w.catalog.topics.primary[Int($0)] == topic }.count) / 10
                let share9 = Double(slate.filter { w.catalog.topics.primary[Int($0)] == 9 }.count) / 10
                if s.step < 3 {
                    topicShare.before += share
                    t9.before += share9
                } else {
                    topicShare.after += share
                    t9.after += share9
                    blockedShown += slate.filter { w.catalog.creators[Int($0)] == creator }.count
                }
            }
            // Tags: the deleted topic is gone, the declared one is there (a user whose top
            // topic is t9 deleted it, then declared it again).
            let tags = rec.snapshots.last!.tags![u]
            #expect(tags.contains(9))
            if topic != 9 { #expect(!tags.contains(topic)) }
        }
        #expect(blockedShown == 0)
        #expect(
            topicShare.after / 10 < 0.25 * topicShare.before / 2,
            "dominant-topic share \(topicShare.before / 2 / 150) → \(topicShare.after / 10 / 150)")
        #expect(t9.after / 10 > 1.5 * t9.before / 2)
    }

    @Test func harmfulAndMinorUnsafeItemsAreNeverPushed() throws {
        let w = try world(users: 200, interventions: []) { c, p in
            c.harmful = .init(fraction: 0.02, topics: [])
            c.minorUnsafe = .init(fraction: 0.05, topics: ["t1"])
            p.segments = [.init(name: "adult", share: 0.5), .init(name: "minor", share: 0.5)]
        }
        for kind in compliantKinds + ["engagement-greedy"] {
            let (rec, _) = run(w, try BuiltinRegistry.make(spec(kind)), steps: 8)
            var harmful = 0
            var unsafeToMinors = 0
            for s in rec.snapshots.dropFirst() {
                for (row, u) in s.users.enumerated() {
                    for i in s.slate(row: row) {
                        let f = w.catalog.flags[Int(i)]
                        if f.contains(.harmful) { harmful += 1 }
                        if f.contains(.minorUnsafe) && w.users.segmentNames[Int(w.users.segments[Int(u)])] == "minor" {
                            unsafeToMinors += 1
                        }
                    }
                }
            }
            if kind == "engagement-greedy" {
                #expect(harmful + unsafeToMinors > 0)
            } else {
                #expect(harmful == 0 && unsafeToMinors == 0, "\(kind): \(harmful) harmful, \(unsafeToMinors) unsafe to minors")
            }
        }
    }

    @Test func slatesAreIdenticalForAnyWorkerCount() throws {
        let w = try world(
            users: 400,
            interventions: [
                Intervention(
                    name: "mark", start: 3, selection: everyone, action: .notInterested(pick: .random, scope: .topic, count: 1))
            ])
        for kind in ["reference", "mf", "piao-similarity", "random"] {
            let (a, _) = run(w, try BuiltinRegistry.make(spec(kind)), steps: 6, workers: 1)
            let (b, _) = run(w, try BuiltinRegistry.make(spec(kind)), steps: 6, workers: 3)
            #expect(a.snapshots.map(\.slates) == b.snapshots.map(\.slates), "\(kind)")
            #expect(a.snapshots.map(\.outcomes) == b.snapshots.map(\.outcomes), "\(kind)")
        }
    }
}

/// The soft exclusions (consumed ∪ recent impressions) are grouped by score tile with a counting
/// sort instead of sorted per user: each (user, tile) group must hold exactly that user's items
/// of the tile, and pushing a tile down must lower each distinct item once, however often it
/// repeats.
@Suite struct SoftExclusionTileTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func groupsHoldEachRowsItemsOfTheirTile(seed: UInt64) {
        var r = Seed(seed).stream("tiles")
        let items = 1 + Sample.index(below: 3000, using: &r)
        let tileSize = [1, 64, 256, 2048][Int(seed) % 4]
        var grouped = TileExclusions(tileSize: tileSize, itemCount: items)
        var rows: [[Int32]] = []
        for _ in 0..<(1 + Sample.index(below: 20, using: &r)) {
            // Repeats on purpose: consumed items are also among the impressions.
            let row = (0..<Sample.index(below: 60, using: &r)).map { _ in Int32(Sample.index(below: items, using: &r)) }
            rows.append(row)
            grouped.addRow(row)
        }
        #expect(grouped.rows == rows.count)
        #expect(grouped.tileCount == (items + tileSize - 1) / tileSize)
        for (ri, row) in rows.enumerated() {
            for t in 0..<grouped.tileCount {
                let want = row.filter { Int($0) / tileSize == t }
                #expect(grouped.items(row: ri, tile: t) == want, "seed \(seed) row \(ri) tile \(t)")
            }
        }
    }

    @Test func pushDownLowersEachDistinctItemOnce() {
        var grouped = TileExclusions(tileSize: 4, itemCount: 10)
        grouped.addRow([5, 9, 5, 6, 5, 1])
        var scores: [Float] = [0.5, 0.25, -2, 3]  // items 4..<8 (tile 1)
        scores.withUnsafeMutableBufferPointer { p in
            var span = p.mutableSpan
            grouped.pushDown(row: 0, tile: 1, first: 4, scores: &span)
        }
        #expect(scores == [0.5, 0.25 - 1e4, -2 - 1e4, 3])
    }
}

/// Topic offsets touch each offset topic's items of a tile, found through the per-tile topic
/// index; a row whose offset topics hold most of the catalog adds its table to every score. Both
/// ways must give the scores a plain loop over the items gives.
@Suite struct TopicOffsetTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5])
    func sparseAndDenseOffsetsEqualAPlainLoop(seed: UInt64) {
        var r = Seed(seed).stream("offsets")
        let items = 50 + Sample.index(below: 3000, using: &r)
        let g = 2 + Sample.index(below: 25, using: &r)
        let tileSize = [16, 256, 2048][Int(seed) % 3]
        let primary = (0..<items).map { _ in Int32(Sample.index(below: g, using: &r)) }
        let topicTiles = TopicTiles(primary: primary, topicCount: g, tileSize: tileSize)
        for q in 0..<g {
            #expect(topicTiles.size(of: q) == primary.filter { $0 == q }.count)
            for t in 0..<topicTiles.tileCount {
                #expect(topicTiles.items(topic: q, tile: t) == (0..<items).filter { primary[$0] == q && $0 / tileSize == t }.map(Int32.init))
            }
        }
        // Row 0: one small topic (visited item by item); row 1: most topics (dense); row 2: none.
        var one = [Float](repeating: 0, count: g)
        one[Int(primary[0])] = -2
        var many = (0..<g).map { _ in Float(Sample.index(below: 5, using: &r)) - 2 }
        many[1] = -.infinity
        var rows = TopicOffsetRows(topicCount: g)
        for o in [one, many, nil] { rows.addRow(o, topics: topicTiles, itemCount: items) }
        let base = (0..<items).map { _ in Float(Sample.uniform(using: &r)) }
        for (row, o) in [one, many, nil].enumerated() {
            var scores = base
            for t0 in stride(from: 0, to: items, by: tileSize) {
                let t1 = min(t0 + tileSize, items)
                scores.withUnsafeMutableBufferPointer { p in
                    var span = UnsafeMutableBufferPointer(rebasing: p[t0..<t1]).mutableSpan
                    rows.apply(row: row, tile: t0 / tileSize, first: t0, scores: &span, topics: topicTiles, primary: primary)
                }
            }
            let want = (0..<items).map { i in o.map { base[i] + $0[Int(primary[i])] } ?? base[i] }
            #expect(scores == want, "seed \(seed) row \(row)")
        }
    }
}
