import CocoonMath

extension Engine {
    /// Phase 1: applies every intervention due at step `t`, in scenario order, to its selected
    /// users in ascending order. Returns the changes made.
    func applyInterventions(step t: Int) -> [ControlChange] {
        var changes: [ControlChange] = []
        let primary = world.catalog.topics.primary
        let k = config.slateSize
        for (index, iv) in world.interventions.enumerated() where iv.applies(at: t) {
            for u32 in world.selections[index] {
                let u = Int(u32)
                func change(_ kind: ControlChange.Kind, _ target: Int32, mark: NotInterestedMark? = nil) {
                    changes.append(
                        ControlChange(user: u32, step: Int32(t), kind: kind, target: target, mark: mark, intervention: iv.name))
                }
                switch iv.action {
                case .notInterested(let pick, let scope, let count):
                    let lastStep = state.lastSlateStep[u]
                    guard lastStep > 0 else { continue }
                    let shown = (0..<k).map { state.lastSlate[u * k + $0] }
                    var candidates: [Int32]
                    switch pick {
                    case .first: candidates = shown
                    case .random:
                        var r = config.seed.stream("intervention." + iv.name, Int(world.users.origin[u]), t)
                        candidates = Sample.permutation(k, using: &r).map { shown[$0] }
                    case .ofTopic(let ref):
                        guard let topic = resolve(ref, user: u) else { continue }
                        candidates = shown.filter { primary[Int($0)] == topic }
                    }
                    var made = 0
                    for i in candidates where made < count && !controls[u].hasMarked(item: i) {
                        let mark = NotInterestedMark(item: i, listStep: lastStep, scope: scope, topic: primary[Int(i)])
                        controls[u].notInterested.append(mark)
                        change(.notInterested, i, mark: mark)
                        made += 1
                    }
                case .declareTag(let ref):
                    guard let topic = resolve(ref, user: u) else { continue }
                    controls[u].declare(tag: topic)
                    change(.declareTag, topic)
                case .deleteTag(let ref):
                    guard let topic = resolve(ref, user: u) else { continue }
                    controls[u].delete(tag: topic)
                    change(.deleteTag, topic)
                case .personalisation(let on):
                    controls[u].personalisation = on
                    change(on ? .personalisationOn : .personalisationOff, -1)
                case .blockTopCreator:
                    guard state.lastSlateStep[u] > 0 else { continue }
                    let c = world.catalog.creators[Int(state.lastSlate[u * k])]
                    controls[u].block(creator: c)
                    change(.blockCreator, c)
                case .blockTopic(let ref):
                    guard let topic = resolve(ref, user: u) else { continue }
                    controls[u].block(topic: topic)
                    change(.blockTopic, topic)
                case .shiftInterest(let fromRef, let toRef, let remaining):
                    guard let from = resolve(fromRef, user: u), let to = resolve(toRef, user: u), from != to else { continue }
                    shiftInterest(user: u, from: Int(from), to: Int(to), remaining: remaining)
                    change(.interestShift, from)
                }
            }
        }
        return changes
    }

    /// Resolves a topic reference for user u (nil when it does not apply, e.g. nothing shown).
    func resolve(_ ref: Intervention.TopicRef, user u: Int) -> Int32? {
        let g = truth.topicCount
        switch ref {
        case .named(let name): return world.catalog.topics.index(of: name).map(Int32.init)
        case .topInterest: return Int32(truth.dominantTopic(of: u))
        case .secondInterest:
            let row = Array(truth.mixture(of: u))
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
            return order.count > 1 && row[order[1]] > 0 ? Int32(order[1]) : nil
        case .topShown:
            guard state.lastSlateStep[u] > 0 else { return nil }
            var counts = [Int](repeating: 0, count: g)
            let k = config.slateSize
            for p in 0..<k { counts[Int(world.catalog.topics.primary[Int(state.lastSlate[u * k + p])])] += 1 }
            var best = 0
            for q in 1..<max(g, 1) where counts[q] > counts[best] { best = q }
            return Int32(best)
        case .topConsumed:
            var best = -1
            var bestCount: Float = 0
            for q in 0..<g where state.consumedTopics[u * g + q] > bestCount {
                best = q
                bestCount = state.consumedTopics[u * g + q]
            }
            return best >= 0 ? Int32(best) : nil
        }
    }

    /// Moves intrinsic interest from topic `from` to `to`: π_from ← remaining·π_from and the
    /// difference goes to `to`. The interest vector (and the current interest) move by the same
    /// amounts along the topic centroids, then are normalised (one-hot and Dirichlet worlds move
    /// the coordinates themselves).
    func shiftInterest(user u: Int, from: Int, to: Int, remaining: Double) {
        let g = truth.topicCount
        let d = truth.dimension
        let old = truth.mix[u * g + from]
        let moved = old * Float(1 - remaining)
        truth.mix.set(user: u, topic: from, to: old - moved)
        truth.mix.set(user: u, topic: to, to: truth.mix[u * g + to] + moved)
        var vec = Array(truth.vectors.row(u))
        var pref = (0..<d).map { state.pref[u * d + $0] }
        for j in 0..<d {
            let step = Float(Double(moved) * (centroids[to * d + j] - centroids[from * d + j]))
            vec[j] += step
            pref[j] += step
        }
        if unitInterests {
            vec = BLAS.normalized(vec)
            pref = BLAS.normalized(pref)
        } else {
            // Raw (Dirichlet) preference vectors stay non-negative.
            vec = vec.map { max($0, 0) }
            pref = pref.map { max($0, 0) }
        }
        truth.vectors.setRow(u, to: vec)
        for j in 0..<d { state.pref[u * d + j] = pref[j] }
    }
}
