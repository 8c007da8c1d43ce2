import CocoonCore
import CocoonMetrics

/// `scorecard.md`: the verdicts with clause, rule, observed value, interval and baselines,
/// then the metrics at the last step — for a pull request, a ticket or a filing.
public enum MarkdownReport {
    /// Renders the Markdown. `rerun` is the command that reproduces the run.
    public static func render(_ card: Scorecard, rerun: String? = nil) -> String {
        var m = "# \(card.scenario.name) — \(card.verdict.rawValue)\(card.aborted == nil ? "" : " (ABORTED)")\n\n"
        if let a = card.aborted {
            m += "> **Aborted at step \(a.step):** \(cell(a.message))  \n> Everything below was measured before the run stopped.\n\n"
        }
        if !card.scenario.description.isEmpty { m += card.scenario.description + "\n\n" }
        if !card.scenario.clause.isEmpty {
            m += "**Clause:** \(card.scenario.clause)"
            if !card.scenario.clauseEnglish.isEmpty { m += "  \n*\(card.scenario.clauseEnglish)*" }
            m += "\n\n"
        }
        let c = card.counts
        m += "\(c.pass) passed, \(c.fail) failed, \(c.notApplicable) not applicable — recommender `\(card.recommender)`"
        if !card.seeds.isEmpty {
            m += "; \(card.seeds.count) replicate\(card.seeds.count == 1 ? "" : "s") (seeds \(card.seeds.map(String.init).joined(separator: ", "))), "
            m += "\(Format.grouped(card.users)) users, \(Format.grouped(card.items)) items, \(card.steps) steps, slate \(card.slateSize)"
        }
        m += ".\n\n## Verdicts\n\n"
        if card.checks.isEmpty {
            m += "This scenario has no checks.\n\n"
        } else {
            m += "| verdict | check | clause | rule | observed | 95% interval | baselines |\n"
            m += "| --- | --- | --- | --- | --- | --- | --- |\n"
            for r in card.checks {
                let icon = r.verdict == .pass ? "✅" : r.verdict == .fail ? "❌" : "➖"
                var check = "**\(cell(r.spec.id))** \(cell(r.spec.name))<br>*\(cell(HTMLReport.scope(r.spec))), \(r.samples) samples*"
                if let n = r.note { check += "<br>\(cell(n))" }
                var clause = cell(r.clause)
                if !r.clauseEnglish.isEmpty { clause += "<br>*\(cell(r.clauseEnglish))*" }
                let obs = r.observed.map { Format.short($0) } ?? "—"
                let ci = r.interval.map { "[\(Format.short($0.lower)), \(Format.short($0.upper))]" } ?? "—"
                let base = r.baselines.isEmpty ? "—" : r.baselines.map { "\($0.name): \($0.value.map { Format.short($0) } ?? "—")" }.joined(separator: "<br>")
                m += "| \(icon) \(r.verdict.rawValue) | \(check) | \(clause) | \(cell(HTMLReport.ruleDescription(r))) | \(obs) | \(ci) | \(cell(base)) |\n"
            }
            m += "\n"
        }
        let groups = card.series.map(\.group).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let metrics = card.series.map(\.metric).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if !metrics.isEmpty {
            m += "## Metrics at the last step\n\nMean over replicates; charts with 95% bands are in `scorecard.html`, every value per step and replicate in `timeseries.csv`.\n\n"
            m += "| metric | " + groups.joined(separator: " | ") + " |\n"
            m += "| --- |" + String(repeating: " ---: |", count: groups.count) + "\n"
            for id in metrics {
                m += "| `\(id)` |"
                for g in groups {
                    let s = card.series.first { $0.metric == id && $0.group == g }
                    m += " \(s?.final.map { Format.short($0) } ?? "—")\(s?.sampled == true ? "\\*" : "") |"
                }
                m += "\n"
            }
            m += "\n"
            if card.series.contains(where: \.sampled) { m += "\\* over a seeded sample of user pairs (groups above 3,000 users).\n\n" }
        }
        if let s = card.suppression, let i = s.steps.firstIndex(of: s.start) {
            let after = Array(i..<min(i + 10, s.steps.count))
            let tr = after.map { s.treated[$0] }.reduce(0, +), tw = after.map { s.twin[$0] }.reduce(0, +)
            m += "## After “\(s.intervention)” (step \(s.start))\n\n"
            m += "Impressions of the marked topics per user over the first \(after.count) slates: treated \(Format.short(tr)), twins \(Format.short(tw))"
            if tw > 0 { m += " (E = 1 − treated/twin = \(Format.short(1 - tr / tw)))" }
            m += ".\n\n"
        }
        if !card.notes.isEmpty {
            m += "## Notes\n\n" + card.notes.map { "- \($0)\n" }.joined() + "\n"
        }
        m += "---\n\nScenario `\(card.scenario.file)` (sha256 `\(card.scenario.sha256.prefix(16))…`)"
        if let rerun { m += "; reproduce with `\(rerun)`" }
        m += ". A “≥” rule passes on the lower end of a user-level bootstrap 95% interval, a “≤” rule on the upper end; hard rules use raw counts. Cocoon \(CocoonVersion.string).\n"
        return m
    }

    /// Text safe inside a table cell.
    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
