import CocoonCore
import CocoonMath
import Foundation

/// Builds the world of a scenario replicate.
public enum WorldBuilder {
    /// A catalog loaded from files once for all replicates (nil for generated catalogs).
    public static func loadCatalog(_ source: CatalogSource) throws -> Catalog? {
        switch source {
        case .generated: return nil
        case .csv(let p): return try Catalog.load(itemsCSV: p)
        case .embeddings(let e, let t): return try Catalog.load(embeddings: e, topics: t)
        case .movielens(let spec): return try MovieLensWorld.load(spec).catalog
        }
    }

    /// The world of the replicate with seed `seed`; a generated population is drawn in blocks
    /// of users on `executor` (the same world for any worker count).
    public static func world(
        _ s: Scenario, seed: UInt64, loaded: Catalog?, extra: [Intervention] = [], executor: BlockExecutor = BlockExecutor(workers: 1)
    ) throws -> SimulationWorld {
        let root = Seed(seed)
        let catalog: Catalog
        if case .generated(let spec) = s.catalog {
            catalog = try Catalog.generate(spec, seed: root.derive("catalog"))
        } else {
            catalog = loaded!
        }
        guard s.slateSize <= catalog.count else {
            throw RunError.world("slate size \(s.slateSize) exceeds the catalog's \(catalog.count) items")
        }
        var population: Population
        if case .movielens(let spec) = s.catalog {
            population = try MovieLensWorld.population(s.population, catalog: catalog, spec: spec, seed: root.derive("population"))
        } else {
            population = Population.generate(s.population, catalog: catalog, seed: root.derive("population"), executor: executor)
        }
        do {
            return try SimulationWorld(catalog: catalog, population: population, interventions: s.interventions + extra, seed: root.derive("world"))
        } catch let e as WorldError {
            throw RunError.world(e.description)
        }
    }
}
