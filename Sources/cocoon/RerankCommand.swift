import ArgumentParser
import CocoonCore
import CocoonRecommenders
import Foundation

struct RerankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Re-rank logged candidate lists with a diversity re-ranker.",
        discussion: """
            Reads a catalog (items.csv), candidate lists with scores (candidates.csv: \
            user_id,item_id,score) and, for calibrated and xquad, the users' history \
            (interactions.csv: user_id,item_id[,round]); writes the re-ranked lists as \
            user_id,item_id,rank. Objectives, kernels and tie rules follow METRICS.md §10; \
            file formats are in docs/file-formats.md.

            Parameters (--param NAME=VALUE): mmr lambda; dpp theta, delta, epsilon; \
            dpp-window theta, delta, window; calibrated lambda, alpha; xquad lambda.
            """
    )

    @Option(help: "Re-ranker: mmr, dpp, dpp-window, calibrated or xquad.")
    var method: String

    @Option(help: "Catalog CSV: item_id, topic (or topics), e0, e1, ….")
    var items: String

    @Option(help: "Interactions CSV (user_id,item_id[,round]); needed by calibrated and xquad.")
    var history: String?

    @Option(help: "Candidates CSV: user_id,item_id,score.")
    var candidates: String

    @Option(help: "Items per re-ranked list.")
    var size: Int = 10

    @Option(name: .customLong("param"), help: "A re-ranker parameter, NAME=VALUE (repeatable).")
    var params: [String] = []

    @Option(help: "Output CSV (user_id,item_id,rank).")
    var out: String

    func validate() throws {
        guard size >= 1 else { throw ValidationError("--size must be ≥ 1, got \(size)") }
        guard OfflineRerank.methods.contains(method) else {
            throw ValidationError(
                "unknown --method '\(method)'\(Suggestions.hint(for: method, in: OfflineRerank.methods)); methods: \(OfflineRerank.methods.joined(separator: ", "))"
            )
        }
    }

    func run() throws {
        do {
            let spec = try OfflineRerank.spec(method: method, parameters: params)
            if (method == "calibrated" || method == "xquad") && history == nil {
                note("note: \(method) without --history falls back to the base order for every user")
            }
            let catalog = try Catalog.load(itemsCSV: items)
            let result = try OfflineRerank(
                spec: spec, catalog: catalog, historyPath: history, candidatesPath: candidates, size: size)
            try AtomicFile.write(result.csv(catalog: catalog), to: out)
            note("re-ranked \(result.lists.count) users with \(method) → \(out)")
            if result.normalised {
                note("note: scores were not all in [0, 1]; they were min–max normalised per user first (METRICS.md §10)")
            }
            if !result.fallbacks.isEmpty {
                note("note: \(result.fallbacks.count) users have no history; their lists keep the base order")
            }
        } catch let e as DataFileError {
            throw fail(e.description)
        } catch let e as OfflineRerankError {
            throw fail(e.description)
        } catch let e as CatalogError {
            throw fail("\(items): \(e.description)")
        }
    }
}
