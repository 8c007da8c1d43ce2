import CocoonCore
import Foundation

/// Re-ranking of logged candidate lists (`cocoon rerank`): a team's own candidates, our
/// re-rankers, METRICS.md §10 to the letter.
public struct OfflineRerank {
    /// The re-ranked lists per user id, users in natural order.
    public let lists: [(user: String, items: [Int32])]
    /// Users for which the re-ranker fell back to the base order (no history).
    public let fallbacks: [String]
    /// Whether scores were min–max normalised per user (they were not all in [0, 1]).
    public let normalised: Bool
    /// The candidates used (per user, base order) and their scores, for summaries.
    public let candidates: [String: [(item: Int32, score: Double)]]

    /// Methods `cocoon rerank` accepts.
    public static let methods = ["mmr", "dpp", "dpp-window", "calibrated", "xquad"]

    /// Builds a re-ranker spec from a method name and `NAME=VALUE` parameters.
    ///
    /// - Throws: ``OfflineRerankError`` naming the bad method, parameter or value.
    public static func spec(method: String, parameters: [String]) throws -> RerankerSpec {
        guard methods.contains(method) else {
            throw OfflineRerankError.unknownMethod(method, Suggestions.hint(for: method, in: methods))
        }
        var s = RerankerSpec(kind: method)
        let allowed = RerankerSpec.parameters[method] ?? []
        for p in parameters {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw OfflineRerankError.badParameter(p, "expected NAME=VALUE") }
            let (name, value) = (parts[0], parts[1])
            guard allowed.contains(name) else {
                throw OfflineRerankError.badParameter(
                    p, "'\(method)' takes \(allowed.joined(separator: ", "))\(Suggestions.hint(for: name, in: allowed))")
            }
            if name == "window" {
                guard let v = Int(value), v >= 1 else {
                    throw OfflineRerankError.badParameter(p, "window must be an integer ≥ 1")
                }
                s.window = v
                continue
            }
            guard let v = Double(value), v.isFinite else {
                throw OfflineRerankError.badParameter(p, "'\(value)' is not a number")
            }
            switch name {
            case "lambda":
                guard (0...1).contains(v) else { throw OfflineRerankError.badParameter(p, "lambda must be in [0, 1]") }
                s.lambda = v
            case "theta":
                guard v >= 0 && v < 1 else { throw OfflineRerankError.badParameter(p, "theta must be in [0, 1)") }
                s.theta = v
            case "delta":
                guard v >= 0 else { throw OfflineRerankError.badParameter(p, "delta must be ≥ 0") }
                s.delta = v
            case "epsilon":
                guard v > 0 else { throw OfflineRerankError.badParameter(p, "epsilon must be > 0") }
                s.epsilon = v
            case "alpha":
                guard v > 0 && v < 1 else { throw OfflineRerankError.badParameter(p, "alpha must be in (0, 1)") }
                s.alpha = v
            default: break
            }
        }
        return s
    }

    /// Loads the files and re-ranks every user's candidates to `size` items.
    public init(spec: RerankerSpec, catalog: Catalog, historyPath: String?, candidatesPath: String, size: Int) throws {
        guard let reranker = spec.make() else { throw OfflineRerankError.unknownMethod(spec.kind, "") }
        let cands = try LogFiles.scoredCandidates(candidatesPath, catalog: catalog)
        var profiles: [String: [Double]] = [:]
        if let historyPath {
            var sums: [String: [Double]] = [:]
            var counts: [String: Double] = [:]
            for e in try LogFiles.interactions(historyPath, catalog: catalog) {
                var p = sums[e.user] ?? [Double](repeating: 0, count: catalog.topics.count)
                catalog.topics.accumulate(item: Int(e.item), into: &p)
                sums[e.user] = p
                counts[e.user, default: 0] += 1
            }
            for (u, p) in sums { profiles[u] = p.map { $0 / counts[u]! } }
        }
        let allInUnit = cands.values.allSatisfy { $0.allSatisfy { $0.score >= 0 && $0.score <= 1 } }
        let scaleMatters = ["mmr", "xquad", "dpp", "dpp-window"].contains(spec.kind)
        let geometry = ItemGeometry(catalog)
        var lists: [(String, [Int32])] = []
        var fallbacks: [String] = []
        for u in cands.keys.sorted(by: LogFiles.userOrder) {
            let c = cands[u]!
            var scores = c.map(\.score)
            if !allInUnit && scaleMatters { scores = minMaxNormalised(scores) }
            let out = reranker.rerank(
                RerankInput(items: c.map(\.item), scores: scores, profile: profiles[u]), size: size, geometry: geometry,
                topics: catalog.topics)
            if out.fallback { fallbacks.append(u) }
            lists.append((u, out.items))
        }
        self.lists = lists
        self.fallbacks = fallbacks
        self.normalised = !allInUnit && scaleMatters
        self.candidates = cands
    }

    /// The lists as `user_id,item_id,rank` CSV.
    public func csv(catalog: Catalog) -> String {
        var s = "user_id,item_id,rank\n"
        for (u, items) in lists {
            for (r, i) in items.enumerated() { s += "\(u),\(catalog.id(of: Int(i))),\(r + 1)\n" }
        }
        return s
    }
}

/// Errors of `cocoon rerank`.
public enum OfflineRerankError: Error, Equatable, CustomStringConvertible {
    case unknownMethod(String, String)
    case badParameter(String, String)

    public var description: String {
        switch self {
        case .unknownMethod(let m, let hint):
            return "unknown method '\(m)'\(hint); methods: \(OfflineRerank.methods.joined(separator: ", "))"
        case .badParameter(let p, let why): return "bad --param '\(p)': \(why)"
        }
    }
}
