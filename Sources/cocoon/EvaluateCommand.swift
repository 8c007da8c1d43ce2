import ArgumentParser
import CocoonCore
import CocoonMetrics
import Foundation

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compute every METRICS.md metric on logged recommendations.",
        discussion: """
            For auditors with a platform's impression logs rather than a recommender. Writes \
            DIR/metrics.json (keys are the METRICS.md metric ids; per-user values, series and \
            nearest-neighbour pairs nested as in expected-public.json) and DIR/metrics.md. \
            File formats: docs/file-formats.md.
            """
    )

    @Option(help: "Catalog CSV: item_id, topic (or topics), e0, e1, ….")
    var items: String
    @Option(help: "Interactions CSV: user_id,item_id[,round] (round 0 = seed history).")
    var history: String
    @Option(help: "The evaluated lists: user_id,item_id,rank.")
    var recs: String
    @Option(help: "Relevant items: user_id,item_id (enables relevance-aware metrics).")
    var relevant: String?
    @Option(help: "\"Not interested\" flags: user_id,item_id,round (needs --recs-before).")
    var flags: String?
    @Option(name: .customLong("recs-before"), help: "The lists shown where the flags were given: user_id,item_id,rank.")
    var recsBefore: String?
    @Option(help: "List cutoff k.")
    var k: Int = 10
    @Option(help: "Output folder.")
    var out: String

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be ≥ 1, got \(k)") }
        if (flags == nil) != (recsBefore == nil) {
            throw ValidationError(
                "--flags and --recs-before go together (flag metrics compare the list where the flag was given with the evaluated list)"
            )
        }
    }

    func run() throws {
        do {
            let data = try LoggedData(
                items: items, history: history, recs: recs, relevant: relevant, flags: flags, recsBefore: recsBefore)
            let evaluation = OfflineEvaluation(data, k: k)
            var inputs = [("items", items), ("history", history), ("recs", recs)]
            if let relevant { inputs.append(("relevant", relevant)) }
            if let flags { inputs.append(("flags", flags)) }
            if let recsBefore { inputs.append(("recs_before", recsBefore)) }
            try AtomicFile.write(evaluation.json(inputs: inputs).serialized(), to: out + "/metrics.json")
            try AtomicFile.write(evaluation.markdown(title: "Metrics of \(recs)"), to: out + "/metrics.md")
            note(
                "evaluated \(data.users.count) users, \(evaluation.metrics.count) metrics → \(out)/metrics.json, \(out)/metrics.md"
            )
        } catch let e as DataFileError {
            throw fail(e.description)
        } catch let e as CatalogError {
            throw fail("\(items): \(e.description)")
        }
    }
}
