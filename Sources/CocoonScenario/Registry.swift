import CocoonCore
import CocoonMetrics
import CocoonRecommenders

/// Every kind name a scenario can use, with a line of help: what `cocoon list` prints.
public enum Registry {
    /// The categories, in listing order.
    public static let categories = ["recommenders", "rerankers", "behaviours", "choice-rules", "interventions", "metrics", "figures", "baselines", "catalogs"]

    /// The entries of a category.
    public static func entries(_ category: String) -> [(name: String, help: String)] {
        switch category {
        case "recommenders": return BuiltinRegistry.recommenders.map { ($0.kind, $0.help) }
        case "rerankers": return BuiltinRegistry.rerankers.map { ($0.kind, $0.help) }
        case "behaviours":
            return [
                ("default", "logit choice with position bias, satiation, \"not interested\", drift, all on"),
                ("chaney2018", "Chaney, Stewart & Engelhardt 2018: one consumption per step by known utility × rank^−0.8"),
                ("piao2023", "Piao et al. 2023: each shown item accepted with probability cos(intrinsic, item)"),
            ]
        case "choice-rules":
            return [
                ("logit", "multinomial logit over the slate plus a no-click option; at most one consumption"),
                ("cascade", "scan top-down, examine with decaying probability, consume with sigmoid(v − u₀)"),
                ("rank-utility", "consume the item maximising known utility × rank^α, never twice (Chaney et al.)"),
                ("independent", "accept each item with probability max(0, cos(intrinsic, item)) (Piao et al.)"),
            ]
        case "interventions":
            return [
                ("not-interested", "mark shown items (pick: first | random | topic; scope: item | topic; count)"),
                ("declare-tag", "select an interest tag (topic)"),
                ("delete-tag", "delete an interest tag (topic, default top-interest)"),
                ("personalisation-off", "switch personalisation off"),
                ("personalisation-on", "switch personalisation on"),
                ("shift-interest", "move intrinsic interest between topics (from, to, remaining)"),
                ("block-creator", "block the creator of the best-ranked shown item"),
                ("block-topic", "block a topic"),
            ]
        case "metrics": return MetricCatalog.all.map { ($0.id, $0.help) }
        case "figures": return Figure.all.map { ($0.id, $0.help) }
        case "baselines":
            return [
                ("random", "the random recommender on the same world and seeds"),
                ("popularity", "the popularity recommender on the same world and seeds"),
                ("personalisation-off", "Cocoon's non-personalised feed: the reference recommender with everyone's personalisation off from step 1"),
            ]
        case "catalogs":
            return [
                ("generated", "topic clusters (clusters), Dirichlet attributes (dirichlet) or one-hot topics (one-hot)"),
                ("csv", "one CSV: item_id, topic(s), e0…, optional quality, popularity, creator, flags"),
                ("embeddings", "a .npy or CSV matrix and a topics table"),
                ("movielens", "ratings.csv and movies.csv: ALS embeddings, genres as topics, real users' genre mixtures"),
            ]
        default: return []
        }
    }

    /// `cocoon list` output for one or every category.
    public static func text(_ category: String?) -> String {
        let cats = category.map { [$0] } ?? categories
        var out: [String] = []
        for c in cats {
            let e = entries(c)
            let width = e.map(\.name.count).max() ?? 0
            out.append("\(c):")
            for x in e { out.append("  \(x.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(x.help)") }
        }
        return out.joined(separator: "\n")
    }
}
