import CocoonCore
import CocoonMetrics
import CocoonScenario

/// The suite's `index.html` (every scenario with its verdict, each check with the clause it
/// tests and a link to its scorecard) and `junit.xml` (every scenario's checks).
public enum SuiteIndex {
    /// Renders the index page. `title` names the suite (its folder).
    public static func render(_ entries: [SuiteEntry], title: String) -> String {
        let e = SVG.esc
        let cards = entries.compactMap(\.card)
        let checks = cards.flatMap(\.checks)
        let pass = checks.filter { $0.verdict == .pass }.count
        let fail = checks.filter { $0.verdict == .fail }.count
        let na = checks.filter { $0.verdict == .notApplicable }.count
        let errors = entries.filter { $0.error != nil }.count
        let overall: String = errors > 0 ? "ERROR" : fail > 0 ? "FAIL" : "PASS"
        let recommenders = cards.map(\.recommender).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var h = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
            <title>Cocoon suite — \(e(title)) — \(overall)</title>
            <style>\(HTMLReport.style)</style>
            </head>
            <body>
            <h1>Suite \(e(title)) <span class="badge \(overall == "ERROR" ? "ABORTED" : overall)">\(overall)</span></h1>
            <p class="muted">\(entries.count) scenarios · \(pass) checks passed · \(fail) failed · \(na) not applicable · \(errors) errors — recommender \(recommenders.map { "<code>\(e($0))</code>" }.joined(separator: ", "))</p>
            <table>
            <thead><tr><th>scenario</th><th>verdict</th><th>check</th><th>clause</th><th>observed</th><th>rule</th></tr></thead>
            <tbody>

            """
        for entry in entries {
            let link = "\(e(entry.name))/scorecard.html"
            guard let card = entry.card else {
                h += "<tr><td><b>\(e(entry.name))</b></td><td><span class=\"badge ABORTED\">ERROR</span></td><td colspan=\"4\">\(e(entry.error ?? "did not run"))</td></tr>\n"
                continue
            }
            let rows = max(card.checks.count, 1)
            var first = "<td rowspan=\"\(rows)\"><a href=\"\(link)\"><b>\(e(entry.name))</b></a><br><span class=\"small muted\">\(e(card.scenario.description.prefix(160) + (card.scenario.description.count > 160 ? "…" : "")))</span>"
            if let a = card.aborted { first += "<br><span class=\"badge ABORTED\">ABORTED</span> <span class=\"small\">step \(a.step): \(e(a.message))</span>" }
            first += "<br><span class=\"small\"><a href=\"\(e(entry.name))/scorecard.md\">md</a> · <a href=\"\(e(entry.name))/scorecard.json\">json</a></span></td>"
            if card.checks.isEmpty {
                h += "<tr>\(first)<td>\(HTMLReport.badge(card.verdict))</td><td colspan=\"4\" class=\"muted\">no checks</td></tr>\n"
            }
            for (i, r) in card.checks.enumerated() {
                h += "<tr>" + (i == 0 ? first : "")
                h += "<td>\(HTMLReport.badge(r.verdict))</td><td><a href=\"\(link)#check-\(e(r.spec.id))\">\(e(r.spec.id))</a><br><span class=\"small\">\(e(r.spec.name))</span></td>"
                h += "<td class=\"small\">\(e(r.clause))" + (r.clauseEnglish.isEmpty ? "" : "<br><span class=\"clause-en\">\(e(r.clauseEnglish))</span>") + "</td>"
                h += "<td class=\"num\">\(r.observed.map { Format.short($0) } ?? "—")" + (r.interval.map { "<br><span class=\"small muted\">[\(Format.short($0.lower)), \(Format.short($0.upper))]</span>" } ?? "") + "</td>"
                h += "<td class=\"small\">\(e(r.spec.ruleText))</td></tr>\n"
            }
        }
        h += "</tbody>\n</table>\n<footer class=\"small muted\">Cocoon \(CocoonVersion.string) · each scenario's folder holds scorecard.html, scorecard.md, scorecard.json, timeseries.csv, junit.xml and manifest.json.</footer>\n</body>\n</html>\n"
        return h
    }

    /// Writes `index.html` and `junit.xml` for a suite.
    public static func write(_ entries: [SuiteEntry], title: String, to folder: String) throws {
        try ReportWriter.writeAll(
            [
                ("index.html", render(entries, title: title)),
                ("junit.xml", JUnitReport.render(suite: entries.map { ($0.name, $0.card, $0.card == nil ? $0.error : nil) })),
            ], to: folder)
    }
}
