import CocoonCore
import CocoonMath
import Foundation
import Testing

/// Hashes every snapshot (slates, outcomes, dwell, changes) and the engine state after the run.
final class TrajectoryHasher: StepObserver {
    var h = Fingerprint()
    func begin(_ run: RunContext) throws {}
    func observe(_ s: StepSnapshot) throws {
        h.add(UInt32(s.step))
        for u in s.users { h.add(UInt32(bitPattern: u)) }
        for i in s.slates { h.add(UInt32(bitPattern: i)) }
        for o in s.outcomes { h.add(UInt32(o.rawValue)) }
        for d in s.dwell { h.add(d.bitPattern) }
        for c in s.changes {
            h.add(UInt32(bitPattern: c.user))
            h.add(UInt32(bitPattern: c.target))
        }
        for u in s.left { h.add(UInt32(bitPattern: u)) }
    }
}

/// Fails at a given step with a chosen fault.
final class FaultyRecommender: Recommender {
    enum Fault { case duplicate, outOfRange, shortAnswer, throwing }
    let name = "faulty"
    let fault: Fault
    let atStep: Int
    let inner = UniformRandomRecommender()
    init(_ fault: Fault, atStep: Int) {
        self.fault = fault
        self.atStep = atStep
    }
    func start(_ world: RecommenderWorld) throws { try inner.start(world) }
    func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        var b = try inner.recommend(request)
        guard request.step == atStep else { return b }
        let k = request.slateSize
        switch fault {
        case .duplicate: b.items[7 * k + 3] = b.items[7 * k + 1]
        case .outOfRange: b.items[5 * k + 2] = 99_999
        case .shortAnswer: b.items.removeLast()
        case .throwing: throw NSError(domain: "test", code: 1, userInfo: [NSLocalizedDescriptionKey: "model exploded"])
        }
        return b
    }
    func observe(_ feedback: FeedbackBatch) throws {}
    func stop() {}
}

@Suite struct EngineTests {
    @Test func trajectoryIsIdenticalForOneTwoAndFourWorkers() throws {
        let world = try smallWorld(
            users: 2000, items: 1500, topics: 12, d: 16,
            interventions: [
                Intervention(
                    name: "mark", start: 5,
                    selection: {
                        var s = Intervention.Selection()
                        s.fraction = 0.3
                        return s
                    }(),
                    action: .notInterested(pick: .random, scope: .item, count: 1), twins: true),
                Intervention(
                    name: "shift", start: 8,
                    selection: {
                        var s = Intervention.Selection()
                        s.fraction = 0.2
                        return s
                    }(),
                    action: .shiftInterest(from: .topInterest, to: .secondInterest, remaining: 0.1)),
            ])
        var b = Behaviour()
        b.session.leaveProbability = 0.05
        b.notInterested.base = 0.01
        func hash(_ workers: Int) -> (UInt64, UInt64) {
            let engine = Engine(
                world: world, behaviour: b, recommender: UniformRandomRecommender(),
                config: EngineConfig(steps: 15, slateSize: 10, seed: Seed(77), workers: workers, blockSize: 128))
            let hasher = TrajectoryHasher()
            let out = engine.run(observers: [hasher])
            #expect(out.failure == nil)
            return (hasher.h.value, engine.stateFingerprint())
        }
        let one = hash(1)
        #expect(hash(2) == one)
        #expect(hash(4) == one)
        // A different seed gives a different trajectory (the hash can fail).
        let other = Engine(
            world: world, behaviour: b, recommender: UniformRandomRecommender(),
            config: EngineConfig(steps: 15, slateSize: 10, seed: Seed(78)))
        let h2 = TrajectoryHasher()
        _ = other.run(observers: [h2])
        #expect(h2.h.value != one.0)
    }

    @Test func twinsMatchUntilTheInterventionAndDifferOnlyByIt() throws {
        let sel = { () -> Intervention.Selection in
            var s = Intervention.Selection()
            s.fraction = 0.5
            return s
        }()
        let world = try smallWorld(
            users: 100,
            interventions: [
                Intervention(
                    name: "mark", start: 6, selection: sel, action: .notInterested(pick: .first, scope: .item, count: 1),
                    twins: true)
            ])
        let treated = (0..<world.users.count).filter { world.users.arm[$0] == .treated }
        #expect(treated.count > 30 && world.users.count == 100 + treated.count)
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: UniformRandomRecommender(),
            config: EngineConfig(steps: 12, slateSize: 10, seed: Seed(3)))
        let rec = Recorder()
        _ = engine.run(observers: [rec])
        for u in treated {
            let twin = Int(world.users.counterpart[u])
            #expect(world.users.arm[twin] == .twin && Int(world.users.counterpart[twin]) == u)
            for s in rec.snapshots.dropFirst() {
                // The recommender ignores controls, so slates and responses stay identical …
                #expect(s.slate(row: u).elementsEqual(s.slate(row: twin)))
                #expect(s.outcomes[(u * 10)..<(u * 10 + 10)].elementsEqual(s.outcomes[(twin * 10)..<(twin * 10 + 10)]))
            }
            #expect(engine.currentInterest(of: u) == engine.currentInterest(of: twin))
            // … and the only difference is the mark the intervention made.
            let ivChanges = rec.snapshots[6].changes.filter { $0.intervention == "mark" }
            #expect(!ivChanges.contains { Int($0.user) == twin })
            let mine = ivChanges.filter { Int($0.user) == u }
            #expect(mine.count == 1 && mine[0].target == rec.snapshots[5].slates[u * 10] && mine[0].mark?.listStep == 5)
            let last = rec.snapshots.last!
            var withoutIntervention = last.controls[u]
            withoutIntervention.notInterested.removeAll { $0 == mine[0].mark! }
            #expect(withoutIntervention == last.controls[twin])
        }
    }

    @Test func interestShiftSeparatesTwinsOnlyAfterIt() throws {
        let sel = { () -> Intervention.Selection in
            var s = Intervention.Selection()
            s.fraction = 0.5
            return s
        }()
        let world = try smallWorld(
            users: 80,
            interventions: [
                Intervention(
                    name: "shift", start: 10, selection: sel,
                    action: .shiftInterest(from: .topInterest, to: .secondInterest, remaining: 0.1), twins: true)
            ])
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: UniformRandomRecommender(),
            config: EngineConfig(steps: 20, slateSize: 10, seed: Seed(4)))
        let rec = Recorder()
        _ = engine.run(observers: [rec])
        var differAfter = 0
        for u in 0..<world.users.count where world.users.arm[u] == .treated {
            let twin = Int(world.users.counterpart[u])
            for s in rec.snapshots[1..<10] {
                #expect(s.outcomes[(u * 10)..<(u * 10 + 10)].elementsEqual(s.outcomes[(twin * 10)..<(twin * 10 + 10)]))
            }
            let g = 8
            let before = Array(rec.snapshots[9].intrinsicMix[(u * g)..<(u * g + g)])
            let after = Array(rec.snapshots[10].intrinsicMix[(u * g)..<(u * g + g)])
            let twinAfter = Array(rec.snapshots[10].intrinsicMix[(twin * g)..<(twin * g + g)])
            #expect(twinAfter == before)
            let top = before.indices.max { before[$0] < before[$1] }!
            #expect(abs(after[top] - before[top] * 0.1) < 1e-6)
            #expect(abs(after.reduce(0, +) - 1) < 1e-5)
            if rec.snapshots[10...].contains(where: {
                !$0.outcomes[(u * 10)..<(u * 10 + 10)].elementsEqual($0.outcomes[(twin * 10)..<(twin * 10 + 10)])
            }) {
                differAfter += 1
            }
        }
        #expect(differAfter > 10)
    }

    @Test(arguments: [FaultyRecommender.Fault.duplicate, .outOfRange, .shortAnswer, .throwing])
    func invalidAnswersStopTheRunAndKeepWhatWasMeasured(fault: FaultyRecommender.Fault) throws {
        let world = try smallWorld(users: 20)
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: FaultyRecommender(fault, atStep: 4),
            config: EngineConfig(steps: 10, slateSize: 10, seed: Seed(5)))
        let rec = Recorder()
        let out = engine.run(observers: [rec])
        #expect(rec.snapshots.map(\.step) == [0, 1, 2, 3])
        #expect(out.stepsCompleted == 4)
        let failure = try #require(out.failure)
        #expect(failure.step == 4)
        switch (fault, failure) {
        case (.duplicate, .invalidSlate(_, let user, let pos, _, let why)):
            #expect(user == 7 && pos == 3 && why.contains("more than once"))
            #expect(failure.description.hasPrefix("invalid slate at step 4, user 7, slate position 4"))
        case (.outOfRange, .invalidSlate(_, let user, let pos, let item, _)):
            #expect(user == 5 && pos == 2 && item == 99_999)
            #expect(failure.description.contains("outside the catalog (0..<500)"))
        case (.shortAnswer, .wrongSlateCount(_, let expected, let got)):
            #expect(expected == 200 && got == 199)
        case (.throwing, .recommenderFailed(_, let phase, let message)):
            #expect(phase == "recommend" && message.contains("model exploded"))
        default:
            Issue.record("unexpected failure \(failure)")
        }
    }

    @Test func controlsReachTheRecommenderBeforeTheNextSlate() throws {
        let sel = Intervention.Selection()
        let world = try smallWorld(
            users: 10,
            interventions: [
                Intervention(name: "off", start: 3, selection: sel, action: .personalisation(false)),
                Intervention(name: "tag", start: 4, selection: sel, action: .deleteTag(.topInterest)),
            ])
        final class Spy: Recommender {
            let name = "spy"
            var requests: [RecommendRequest] = []
            func start(_ world: RecommenderWorld) throws {}
            func recommend(_ r: RecommendRequest) throws -> SlateBatch {
                requests.append(r)
                return SlateBatch(items: r.users.flatMap { _ in (0..<Int32(r.slateSize)).map { $0 } })
            }
            func observe(_ f: FeedbackBatch) throws {}
            func stop() {}
        }
        let spy = Spy()
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: spy, config: EngineConfig(steps: 5, slateSize: 10, seed: Seed(1)))
        _ = engine.run(observers: [])
        #expect(spy.requests[1].controls.allSatisfy { $0.personalisation })
        #expect(spy.requests[2].controls.allSatisfy { !$0.personalisation })
        #expect(spy.requests[2].changes.filter { $0.kind == .personalisationOff }.count == 10)
        for u in 0..<10 {
            #expect(spy.requests[3].controls[u].deletedTags == [Int32(world.population.dominantTopic(of: u))])
        }
    }

    @Test func aLargeStepNeverAllocatesUsersTimesItems() throws {
        // 100,000 users × 20,000 items: a whole score matrix would be 8 GB of floats.
        let world = try smallWorld(users: 100_000, items: 20_000, topics: 16, d: 8) { _, p in p.seedHistory = 2 }
        final class DotTopK: Recommender {
            let name = "dot"
            var world: RecommenderWorld!
            var maxTile = 0
            func start(_ world: RecommenderWorld) throws { self.world = world }
            func recommend(_ r: RecommendRequest) throws -> SlateBatch {
                let scorer = BlockScorer(items: world.catalog.unitEmbeddings, tileSize: 2048)
                let k = r.slateSize
                let blocks = BlockExecutor.blocks(count: r.users.count, blockSize: world.blockSize)
                let spaces = (0..<world.executor.workers).map { _ in ScoringWorkspace() }
                // User vectors: the unit embedding of each user's first seed item.
                let rows = r.users.map { Int(world.seedHistory[Int($0)].first ?? 0) }
                let userMatrix = world.catalog.unitEmbeddings.gatherRows(rows)
                let out = SharedArray<Int32>(repeating: -1, count: r.users.count * k)
                world.executor.forEach(blockCount: blocks.count) { b, w in
                    var local = [Int32](repeating: 0, count: blocks[b].count * k)
                    scorer.topK(users: userMatrix, rows: blocks[b], k: k, workspace: spaces[w]) { row, sel in
                        _ = sel.drainSorted(into: &local, at: row * k)
                    }
                    for (j, v) in local.enumerated() { out[blocks[b].lowerBound * k + j] = v }
                }
                maxTile = world.blockSize * scorer.tileSize
                return SlateBatch(items: out.toArray())
            }
            func observe(_ f: FeedbackBatch) throws {}
            func stop() {}
        }
        let rec = DotTopK()
        let before = peakRSSBytes()
        let engine = Engine(
            world: world, behaviour: Behaviour(), recommender: rec,
            config: EngineConfig(steps: 1, slateSize: 10, seed: Seed(2), workers: 2, blockSize: 256))
        let out = engine.run(observers: [])
        #expect(out.failure == nil)
        let after = peakRSSBytes()
        // The scoring memory is one tile per worker: 256 users × 2,048 items.
        #expect(rec.maxTile == 256 * 2048)
        // Peak memory grew by far less than one users × items matrix (8 GB).
        #expect(after - before < 1 << 30, "peak RSS grew by \((after - before) >> 20) MiB")
    }
}

func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
