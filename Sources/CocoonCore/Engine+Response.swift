import CocoonMath
import Foundation

/// The users' responses to one step's slates.
struct StepResponse {
    var outcomes: [Outcome]
    var dwell: DwellTimes
    var left: [Int32]
    var marks: [ControlChange]
}

extension Engine {
    /// Phase 4: every active user responds to its slate (parallel over user blocks).
    func respond(users: [Int32], slates: [Int32], step t: Int) -> StepResponse {
        let k = config.slateSize
        let n = users.count
        let b = behaviour
        let maxMarks = max(b.notInterested.maxPerStep, 0)
        // Blocks write their rows' outcomes straight into the array (no copy).
        var out = [Outcome](repeating: .skipped, count: n * k)
        let leaves = SharedArray<Bool>(repeating: false, count: n)
        let blocks = BlockExecutor.blocks(count: n, blockSize: config.blockSize)
        let catalog = world.catalog
        let unit = catalog.unitEmbeddings.storage
        let raw = catalog.embeddings.storage
        let primary = catalog.topics.primary
        let quality = catalog.quality
        let flags = catalog.flags
        let d = catalog.dimension
        let g = state.topics
        let origin = world.users.origin
        let seeking = world.users.seeking
        let st = state
        let truthVectors = truth.vectors.storage
        let seed = config.seed
        let choiceHash = StableHash.fnv1a64("behaviour.choice")
        let knownHash = StableHash.fnv1a64("behaviour.known")
        let positionLog = (0..<k).map { log2(Double($0 + 1)) }
        // The rows the affinities read (rank-utility: raw attributes, otherwise unit vectors).
        let affinityRows = b.choice == .rankUtility ? raw : unit

        out.fillInParallel { outcomes in executor.forEach(blockCount: blocks.count) { blk, _ in
            var utility = [Double](repeating: 0, count: k)
            var affinity = [Float](repeating: 0, count: k)
            var slateTopicCount = [Float](repeating: 0, count: g)
            for row in blocks[blk] {
                let u = Int(users[row])
                let base = row * k
                var rng = seed.stream(labelHash: choiceHash, Int(origin[u]), t)
                // The next user's slate rows come from memory: asked for now, they are in cache
                // when that user's turn comes.
                if row + 1 < blocks[blk].upperBound {
                    Prefetch.rows(of: affinityRows, slates[(base + k)..<(base + 2 * k)], rowLength: d)
                    // And its state rows (a few elements of each are read, from memory: the
                    // hardware does not foresee them).
                    let next = Int(users[row + 1])
                    Prefetch.row(of: st.pref, next, rowLength: d)
                    if b.satiation.enabled { Prefetch.row(of: st.satiation, next, rowLength: g) }
                    if b.notInterested.enabled && maxMarks > 0 {
                        Prefetch.row(of: st.exposure, next, rowLength: g)
                        Prefetch.ids(of: st.lastSlate, (next * k)..<((next + 1) * k))
                    }
                }
                // Affinity: cosine of the current interest with each shown item
                // (rank-utility: the raw dot product of preference and attributes).
                // Twelve of the k dot products advance together, element by element, in three
                // 4-lane vectors: each is still summed in order, a product then a sum (the same
                // bits), but the sums no longer wait on one another (four at a time, a slate of
                // 10 waited on four chains of d dependent additions, one after another).
                st.pref.withSpan((u * d)..<((u + 1) * d)) { pu in
                    affinityRows.withUnsafeBufferPointer { src in
                        affinity.withUnsafeMutableBufferPointer { a in
                            let lanes = (k + 11) / 12 * 12
                            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: max(lanes, 1)) { rows in
                                for p in 0..<k {
                                    let i = Int(slates[base + p])
                                    precondition(i >= 0 && (i + 1) * d <= src.count, "item \(i) outside the catalog")
                                    rows[p] = src.baseAddress! + i * d
                                }
                                // Lanes past the slate repeat its first row: computed, not kept.
                                for p in k..<lanes { rows[p] = rows[0] }
                                // With AVX-512, up to 16 at once, the same chains (``RowDots``).
                                let done =
                                    d > 0
                                    && pu.withUnsafeBufferPointer { x in
                                        RowDots.compute(
                                            x.baseAddress!, rows: UnsafePointer(rows.baseAddress!), count: k, dimension: d,
                                            into: a.baseAddress!)
                                    }
                                var p = done ? k : 0
                                while p < k {
                                    let r0 = rows[p], r1 = rows[p + 1], r2 = rows[p + 2], r3 = rows[p + 3]
                                    let r4 = rows[p + 4], r5 = rows[p + 5], r6 = rows[p + 6], r7 = rows[p + 7]
                                    let r8 = rows[p + 8], r9 = rows[p + 9], r10 = rows[p + 10], r11 = rows[p + 11]
                                    var s0 = SIMD4<Float>(), s1 = SIMD4<Float>(), s2 = SIMD4<Float>()
                                    for j in 0..<d {
                                        let x = SIMD4<Float>(repeating: pu[j])
                                        s0 = s0 + x * SIMD4(r0[j], r1[j], r2[j], r3[j])
                                        s1 = s1 + x * SIMD4(r4[j], r5[j], r6[j], r7[j])
                                        s2 = s2 + x * SIMD4(r8[j], r9[j], r10[j], r11[j])
                                    }
                                    for l in 0..<min(12, k - p) { a[p + l] = l < 4 ? s0[l] : l < 8 ? s1[l - 4] : s2[l - 8] }
                                    p += 12
                                }
                            }
                        }
                    }
                }
                var consumedAny = false
                switch b.choice {
                case .logit, .cascade:
                    for p in 0..<k {
                        let i = Int(slates[base + p])
                        let topic = Int(primary[i])
                        var v = b.temperature * Double(affinity[p]) + b.qualityWeight * (Double(quality[i]) - 0.5)
                        if b.satiation.enabled { v -= b.satiation.weight * Double(st.satiation[u * g + topic]) }
                        if seeking[u] && flags[i].contains(.borderline) { v += b.seekingBonus }
                        utility[p] = v
                    }
                    if b.choice == .logit {
                        // Softmax over the slate plus the no-click option, position bias included.
                        var mx = b.noClickUtility
                        for p in 0..<k {
                            utility[p] -= b.positionBias * positionLog[p]
                            mx = max(mx, utility[p])
                        }
                        // Each exponential once (the walk below adds the same values again).
                        let none = exp(b.noClickUtility - mx)
                        var total = none
                        for p in 0..<k {
                            utility[p] = exp(utility[p] - mx)
                            total += utility[p]
                        }
                        let target = Sample.uniform(using: &rng) * total
                        var acc = none
                        if target >= acc {
                            for p in 0..<k {
                                acc += utility[p]
                                if target < acc || p == k - 1 {
                                    outcomes[base + p] = .consumed
                                    consumedAny = true
                                    break
                                }
                            }
                        }
                    } else {
                        for p in 0..<k {
                            if p > 0 && !Sample.bernoulli(b.examination, using: &rng) { break }
                            let pClick = 1 / (1 + exp(-(utility[p] - b.noClickUtility)))
                            if Sample.bernoulli(pClick, using: &rng) {
                                outcomes[base + p] = .consumed
                                consumedAny = true
                                break
                            }
                        }
                    }
                case .rankUtility:
                    var best = -1
                    var bestScore = -Double.infinity
                    let past = st.consumed[u]
                    for p in 0..<k {
                        let i = slates[base + p]
                        if past.sortedContains(i) { continue }
                        var kr = seed.stream(labelHash: knownHash, Int(origin[u]), Int(i))
                        let share = Engine.betaMeanSD(b.knownUtilityMean, b.knownUtilitySD, using: &kr)
                        let score = Double(affinity[p]) * share * pow(Double(p + 1), b.rankExponent)
                        if score > bestScore {
                            best = p
                            bestScore = score
                        }
                    }
                    if best >= 0 {
                        outcomes[base + best] = .consumed
                        consumedAny = true
                    }
                case .independent:
                    for p in 0..<k {
                        let i = Int(slates[base + p])
                        var c: Float = 0
                        for j in 0..<d { c = c + truthVectors[u * d + j] * unit[i * d + j] }
                        if Sample.bernoulli(Double(max(0, c)), using: &rng) {
                            outcomes[base + p] = .consumed
                            consumedAny = true
                        }
                    }
                }

                // "Not interested" on shown, unconsumed items.
                if b.notInterested.enabled && maxMarks > 0 {
                    let ni = b.notInterested
                    for t0 in 0..<g { slateTopicCount[t0] = 0 }
                    for p in 0..<k { slateTopicCount[Int(primary[Int(slates[base + p])])] += 1 }
                    var marks = 0
                    let lastStep = st.lastSlateStep[u]
                    for p in 0..<k where marks < maxMarks && outcomes[base + p] != .consumed {
                        let i = slates[base + p]
                        let topic = Int(primary[Int(i)])
                        let share =
                            ni.exposureMemory * Double(st.exposure[u * g + topic]) + (1 - ni.exposureMemory)
                            * Double(slateTopicCount[topic]) / Double(k)
                        var prob = ni.base + ni.affinitySlope * max(0, ni.affinityThreshold - Double(affinity[p]))
                        prob += ni.repetitionSlope * max(0, share - ni.repetitionThreshold)
                        if lastStep > 0 {
                            for q in 0..<k where st.lastSlate[u * k + q] == i {
                                prob += ni.repeatBonus
                                break
                            }
                        }
                        if Sample.bernoulli(prob, using: &rng) {
                            let topicLevel = Sample.bernoulli(ni.topicLevelShare, using: &rng)
                            outcomes[base + p] = topicLevel ? .notInterestedTopic : .notInterested
                            marks += 1
                        }
                    }
                }
                let leaveP = b.session.leaveProbability + (consumedAny ? 0 : b.session.boredomLeave)
                if leaveP > 0 && Sample.bernoulli(leaveP, using: &rng) { leaves[row] = true }
            }
        } }

        var left: [Int32] = []
        var marks: [ControlChange] = []
        let leaveFlags = leaves.toArray()
        for row in 0..<n {
            let u = users[row]
            if leaveFlags[row] { left.append(u) }
            for p in 0..<k {
                let o = out[row * k + p]
                if o == .notInterested || o == .notInterestedTopic {
                    let i = slates[row * k + p]
                    let mark = NotInterestedMark(
                        item: i, listStep: Int32(t), scope: o == .notInterested ? .item : .topic, topic: primary[Int(i)])
                    marks.append(
                        ControlChange(user: u, step: Int32(t), kind: .notInterested, target: i, mark: mark, intervention: nil))
                }
            }
        }
        // Dwell times follow from the outcomes (see `DwellTimes`): derived when read.
        let dwell = DwellTimes(
            outcomes: out, slates: slates, users: users, slateSize: k, seeking: seeking, flags: flags, bonus: Float(b.seekingDwell))
        return StepResponse(outcomes: out, dwell: dwell, left: left, marks: marks)
    }

    /// Phase 6: drift, satiation, exposure memory, consumption record (parallel over blocks).
    func updateState(users: [Int32], slates: [Int32], outcomes: [Outcome], step t: Int) {
        let k = config.slateSize
        let n = users.count
        let b = behaviour
        let blocks = BlockExecutor.blocks(count: n, blockSize: config.blockSize)
        let catalog = world.catalog
        let unit = catalog.unitEmbeddings.storage
        let primary = catalog.topics.primary
        let d = catalog.dimension
        let g = state.topics
        let st = state
        let intrinsic = truth.vectors.storage
        let keepConsumed = state.keepsConsumed
        let keepTopics = state.keepsConsumedTopics

        executor.forEach(blockCount: blocks.count) { blk, _ in
            var delta = [Float](repeating: 0, count: d)
            var slateTopicCount = [Float](repeating: 0, count: g)
            for row in blocks[blk] {
                let u = Int(users[row])
                let base = row * k
                // Drift toward consumed, away from rejected, back toward the intrinsic interest.
                if b.drift.enabled {
                    for j in 0..<d { delta[j] = 0 }
                    var moved = false
                    for p in 0..<k {
                        let i = Int(slates[base + p])
                        let w: Float
                        switch outcomes[base + p] {
                        case .consumed: w = Float(b.drift.towardConsumed)
                        case .notInterested, .notInterestedTopic: w = -Float(b.drift.awayFromRejected)
                        default: continue
                        }
                        moved = true
                        for j in 0..<d { delta[j] = delta[j] + w * unit[i * d + j] }
                    }
                    let rho = Float(b.drift.pullToIntrinsic)
                    st.pref.withMutableSpan((u * d)..<((u + 1) * d)) { pu in
                        var norm: Float = 0
                        for j in 0..<d {
                            let v = pu[j] + delta[j] + rho * (intrinsic[u * d + j] - pu[j])
                            pu[j] = v
                            norm = norm + v * v
                        }
                        if (moved || rho > 0) && norm > 0 {
                            let inv = 1 / norm.squareRoot()
                            for j in 0..<d { pu[j] = pu[j] * inv }
                        }
                    }
                }
                // Satiation and exposure memory per topic.
                for q in 0..<g { slateTopicCount[q] = 0 }
                for p in 0..<k {
                    let i = Int(slates[base + p])
                    let topic = Int(primary[i])
                    slateTopicCount[topic] += 1
                    if outcomes[base + p] == .consumed {
                        if keepTopics { st.consumedTopics[u * g + topic] += 1 }
                        if b.satiation.enabled { st.satiation[u * g + topic] += Float(b.satiation.increment) }
                    }
                }
                let rec = Float(1 - b.satiation.recovery)
                let mem = Float(b.notInterested.exposureMemory)
                for q in 0..<g {
                    if b.satiation.enabled { st.satiation[u * g + q] *= rec }
                    st.exposure[u * g + q] = mem * st.exposure[u * g + q] + (1 - mem) * slateTopicCount[q] / Float(k)
                }
                for p in 0..<k { st.lastSlate[u * k + p] = slates[base + p] }
                st.lastSlateStep[u] = Int32(t)
                if keepConsumed {
                    // In place: a copy taken out and stored back shared its storage with the
                    // array's, so every insertion copied the user's whole list.
                    st.consumed.withMutableSpan(u..<(u + 1)) { c in
                        for p in 0..<k where outcomes[base + p] == .consumed { c[0].sortedInsert(slates[base + p]) }
                    }
                }
            }
        }
    }

    /// A draw from the beta distribution with the given mean and standard deviation (the
    /// parameterisation Chaney et al. use); degenerate when sd is 0.
    static func betaMeanSD(_ mean: Double, _ sd: Double, using r: inout RandomStream) -> Double {
        if sd <= 0 { return mean }
        let v = sd * sd
        let common = mean * (1 - mean) / v - 1
        guard common > 0 else { return mean }
        return Sample.beta(mean * common, (1 - mean) * common, using: &r)
    }
}
