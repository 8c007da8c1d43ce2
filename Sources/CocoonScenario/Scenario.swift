import CocoonCore
import CocoonMetrics
import CocoonRecommenders

/// Where a scenario's catalog comes from.
public enum CatalogSource: Sendable, Equatable {
    /// Generated from a spec (the default).
    case generated(CatalogSpec)
    /// One CSV file (docs/file-formats.md).
    case csv(String)
    /// An embedding matrix (`.npy` or CSV) and a topics table.
    case embeddings(String, topics: String)
    /// MovieLens-format ratings and movies (docs/validation.md).
    case movielens(MovieLensSpec)
}

/// Options of a MovieLens-format world.
public struct MovieLensSpec: Sendable, Equatable, Codable {
    /// Folder with ratings.csv and movies.csv.
    public var path: String = "../shared/data/ml-latest-small"
    /// Embedding dimension learned from the ratings.
    public var factors: Int = 32
    /// Ratings at or above this count as positive interactions.
    public var minRating: Double = 3.5
    /// Movies with fewer positive ratings are left out.
    public var minRatings: Int = 5
    /// ALS sweeps.
    public var iterations: Int = 10
    public init() {}
}

/// Options of the report.
public struct ReportOptions: Sendable, Equatable {
    /// Bootstrap resamples per check.
    public var bootstrap: Int = 1000
    /// Title (default: the scenario name).
    public var title: String? = nil
    public init() {}
}

/// A scenario (schema v1, docs/scenario-schema.md): a world, a population, user behaviour, a
/// recommender, interventions, the metrics to record and the checks to judge.
public struct Scenario: Sendable, Equatable {
    public var version = 1
    public var name = "scenario"
    public var description = ""
    /// The clause the scenario tests (shown beside every check).
    public var clause = ""
    /// The clause in English (shown beside the original).
    public var clauseEnglish = ""
    public var seed: UInt64 = 42
    /// Replicates: seeds `seed`, `seed + 1`, ….
    public var replicates = 1
    public var steps = 50
    public var slateSize = 10
    public var catalog: CatalogSource = .generated(CatalogSpec())
    public var population = PopulationSpec()
    /// The behaviour preset the scenario started from (`default`, `chaney2018`, `piao2023`).
    public var behaviourPreset = "default"
    public var behaviour = Behaviour()
    public var recommender = RecommenderSpec()
    /// Reference baselines run on the same world and seeds: `random`, `popularity`,
    /// `personalisation-off`.
    public var baselines: [String] = []
    public var interventions: [Intervention] = []
    public var metrics: [String] = MetricCatalog.defaultSet
    /// Steps per cocoon-ratio window.
    public var cocoonWindow = 10
    /// Relevant items per user for relevance-aware metrics.
    public var relevantPerUser = 20
    /// How `interaction_jaccard_nn_pairs` pairs users: seed-history centroids, intrinsic interest
    /// vectors (true preferences) or the recommender's own user representation (Chaney et al.).
    public var nearestNeighbours = NeighbourBasis.seedHistory
    public var checks: [CheckSpec] = []
    public var report = ReportOptions()
    /// Context notes printed in the scorecard.
    public var notes: [String] = []
    /// A suite-level check instead of a run: `reproducibility` (S30) re-runs every other
    /// scenario of the suite with another thread count and compares the scorecards byte for
    /// byte.
    public var suiteCheck: String? = nil

    public init() {}

    /// The names of the baselines Cocoon knows.
    public static let baselineNames = ["random", "popularity", "personalisation-off"]
}
