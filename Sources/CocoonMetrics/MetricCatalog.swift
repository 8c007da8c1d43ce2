/// The metrics a run records per step, with a line of help each (`cocoon list metrics`).
public enum MetricCatalog {
    /// How a metric is recorded in a run.
    public enum Kind: String, Sendable {
        /// Per user on each step's slate, then averaged per group.
        case list
        /// Pooled over a group's slates at each step.
        case pooled
        /// Over users' consumption or centroids, per step (step 0 included).
        case state
        /// Per window of `cocoonWindow` steps.
        case window
    }

    /// Every metric a run can record: id, kind, help.
    public static let all: [(id: String, kind: Kind, help: String)] = [
        ("ild_cosine", .list, "intra-list diversity: mean 1 − cos over slate pairs"),
        ("ild_topic", .list, "share of slate pairs with different topics"),
        ("topic_coverage", .list, "topics in the slate / catalog topics"),
        ("list_topic_entropy_bits", .list, "entropy (bits) of the slate's topic shares"),
        ("calibration_kl", .list, "Steck miscalibration of the slate against the user's history (nats)"),
        ("profile_topic_coverage", .list, "share of the history's topics present in the slate"),
        ("novelty_miuf", .list, "mean inverse user frequency of slate items (bits)"),
        ("unexpectedness", .list, "mean 1 − cos of slate items to the history's mean unit vector"),
        ("arp", .list, "average recommendation popularity (interaction count)"),
        ("tail_percentage", .list, "share of slate items in the long tail (bottom 20% of interacted items)"),
        ("alpha_ndcg_at10", .list, "alpha-nDCG@10 with topics as aspects (relevance = the user's true likes)"),
        ("subtopic_recall_at10", .list, "topics of relevant slate items / topics of relevant items"),
        ("eild_cosine_rel_logdisc", .list, "rank- and relevance-aware ILD (Vargas & Castells)"),
        ("serendipity_unexp_x_rel", .list, "unexpected and relevant"),
        ("aggregate_diversity", .pooled, "distinct items shown"),
        ("catalog_coverage", .pooled, "distinct items shown / catalog size"),
        ("gini_exposure", .pooled, "Gini of item exposure over the whole catalog"),
        ("entropy_exposure_bits", .pooled, "entropy of item exposure (bits)"),
        ("entropy_exposure_normalised", .pooled, "exposure entropy / log2 catalog size"),
        ("rec_jaccard_all_pairs", .pooled, "mean Jaccard of slates over all user pairs (seeded sample above 3,000 users)"),
        ("personalization", .pooled, "1 − mean pairwise slate overlap / k"),
        ("interaction_jaccard_all_pairs", .state, "mean Jaccard of items consumed since step 1, all user pairs"),
        ("interaction_jaccard_nn_pairs", .state, "mean Jaccard of consumption between nearest-neighbour users (Chaney et al.)"),
        ("interaction_jaccard_nn_pairs_minus_ideal", .state,
         "the same pairs' Jaccard minus their Jaccard under the ideal recommender (a reference run; optional)"),
        ("centroid_drift_cosine", .state, "1 − cos of the history centroid now and at round 0"),
        ("centroid_drift_l2", .state, "distance of the history centroid now and at round 0"),
        ("profile_topic_entropy_delta", .state, "history topic entropy now − at round 0 (< 0: cocoon)"),
        ("consumed_ild_delta", .state, "ILD of consumed items − ILD of seed items (every 10 steps and at the end)"),
        ("population_total_variance_ratio", .state, "spread of user centroids now / at round 0 (< 1: users converge)"),
        ("population_mean_pairwise_cosine_distance", .state, "mean 1 − cos between user centroids"),
        ("cocoon_ratio_rec", .window, "H(recommended topics in the window) / H(intrinsic interest) (Piao et al.)"),
        ("cocoon_ratio_consumed", .window, "H(consumed topics in the window) / H(intrinsic interest)"),
        ("flag_reexposure_rate", .pooled, "share of 'not interested' flags whose item is shown again"),
        ("flag_topic_share_delta", .pooled, "change of the flagged topic's share since the flag"),
        ("flag_topic_share_did", .pooled, "the same, minus the change for users without flags"),
        ("cluster_calinski_harabasz", .state, "Calinski–Harabasz index of centroids by dominant topic (optional)"),
        ("cluster_davies_bouldin", .state, "Davies–Bouldin index of centroids by dominant topic (optional)"),
        ("polarization_variance_axis_e0", .state, "variance of centroids along the first axis (optional)"),
    ]

    /// The metrics recorded when a scenario does not list its own (§11 scorecard set without
    /// the optional cluster metrics).
    public static let defaultSet: [String] = all.map(\.id).filter {
        ![
            "cluster_calinski_harabasz", "cluster_davies_bouldin", "polarization_variance_axis_e0", "profile_topic_coverage",
            "interaction_jaccard_nn_pairs_minus_ideal",
        ].contains($0)
    }

    /// The metrics that pair each user with a nearest neighbour (`metricOptions.nearestNeighbours`).
    public static let nearestNeighbourMetrics = ["interaction_jaccard_nn_pairs", "interaction_jaccard_nn_pairs_minus_ideal"]

    /// The kind of a metric id (nil when unknown).
    public static func kind(of id: String) -> Kind? { all.first { $0.id == id }?.kind }

    /// Which way a metric improves, for regression comparisons (`cocoon compare`).
    public enum Direction: String, Sendable {
        /// More diversity, coverage, novelty or relevance.
        case higher
        /// Less concentration, homogenisation, miscalibration or re-exposure.
        case lower
        /// Descriptive only (drift, counts): a change is reported, never a regression.
        case neutral
    }

    /// The direction in which a metric id improves (`neutral` for unknown ids).
    public static func direction(of id: String) -> Direction {
        switch id {
        case "ild_cosine", "ild_topic", "topic_coverage", "list_topic_entropy_bits", "profile_topic_coverage", "novelty_miuf",
            "unexpectedness", "tail_percentage", "alpha_ndcg_at10", "subtopic_recall_at10", "eild_cosine_rel_logdisc",
            "serendipity_unexp_x_rel", "aggregate_diversity", "catalog_coverage", "entropy_exposure_bits",
            "entropy_exposure_normalised", "personalization", "cocoon_ratio_rec", "cocoon_ratio_consumed",
            "profile_topic_entropy_delta", "consumed_ild_delta", "population_total_variance_ratio",
            "population_mean_pairwise_cosine_distance":
            return .higher
        case "calibration_kl", "arp", "gini_exposure", "rec_jaccard_all_pairs", "interaction_jaccard_all_pairs",
            "interaction_jaccard_nn_pairs", "interaction_jaccard_nn_pairs_minus_ideal", "flag_reexposure_rate", "flag_topic_share_delta", "flag_topic_share_did":
            return .lower
        default:
            return .neutral
        }
    }
}
