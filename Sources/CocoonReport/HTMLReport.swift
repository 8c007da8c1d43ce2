import CocoonCore
import CocoonMetrics
import Foundation

/// `scorecard.html`: one self-contained page (inline CSS and SVG, no script, no external
/// resource; a Content-Security-Policy forbids loading any), verdicts first, then the charts.
/// The text depends only on the scorecard, so the same run gives the same bytes.
public enum HTMLReport {
    /// The page's stylesheet.
    static let style = """
        :root{--fg:#1d2329;--muted:#5b6670;--line:#d9dee3;--pass:#1a7f37;--fail:#c62828;--na:#8a6d00;--bg:#fff}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1180px;padding:20px 24px 48px}
        h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:12px 0 4px}
        .muted{color:var(--muted)}.small{font-size:12px}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff;white-space:nowrap}
        .PASS{background:var(--pass)}.FAIL{background:var(--fail)}.NA{background:var(--na)}.ABORTED{background:#6a1b9a}
        .banner{border:2px solid #6a1b9a;background:#f6eefa;padding:10px 14px;border-radius:6px;margin:12px 0}
        table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
        th{font-size:12px;color:var(--muted);font-weight:600}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
        .clause-en{color:var(--muted);font-size:12px}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px 20px}
        figure{margin:0}figcaption{font-weight:600;font-size:13px;margin:4px 0}
        svg.chart{width:100%;height:auto;display:block}
        svg .grid{stroke:#eceff2;stroke-width:1}svg .axis{stroke:#88929b;stroke-width:1}svg .tickmark{stroke:#88929b}
        svg .tick{font-size:10px;fill:var(--muted)}svg .axislabel{font-size:11px;fill:var(--muted)}
        svg .line{fill:none;stroke-width:1.8}svg .dashed{stroke-dasharray:5 4}svg .band{opacity:.16;stroke:none}
        svg .guide{stroke:#444;stroke-dasharray:3 3;stroke-width:1}svg .guidelabel{font-size:10px;fill:#444}
        svg .bar{fill:#4e79a7}svg .area{stroke:#fff;stroke-width:.3}
        .legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin:2px 0 6px}
        .legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-2px}
        code{font-size:12px;background:#f3f5f7;padding:1px 4px;border-radius:3px}
        """

    /// Renders the page. `rerun` is the command that reproduces the run (from the manifest).
    public static func render(_ card: Scorecard, rerun: String? = nil) -> String {
        let e = SVG.esc
        var h = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
            <title>Cocoon scorecard — \(e(card.scenario.name)) — \(card.aborted == nil ? card.verdict.rawValue : "ABORTED")</title>
            <style>\(style)</style>
            </head>
            <body>

            """
        h += "<header>\n<h1>\(e(card.scenario.name)) \(badge(card.verdict))"
        if card.aborted != nil { h += " <span class=\"badge ABORTED\">ABORTED</span>" }
        h += "</h1>\n"
        if !card.scenario.description.isEmpty { h += "<p>\(e(card.scenario.description))</p>\n" }
        if !card.scenario.clause.isEmpty || !card.scenario.clauseEnglish.isEmpty {
            h += "<p><b>Clause:</b> \(e(card.scenario.clause))"
            if !card.scenario.clauseEnglish.isEmpty { h += "<br><span class=\"clause-en\">\(e(card.scenario.clauseEnglish))</span>" }
            h += "</p>\n"
        }
        let c = card.counts
        h += "<p class=\"muted\">\(c.pass) passed · \(c.fail) failed · \(c.notApplicable) not applicable — recommender <code>\(e(card.recommender))</code>"
        if !card.seeds.isEmpty {
            h += " · \(card.seeds.count) replicate\(card.seeds.count == 1 ? "" : "s") (seed\(card.seeds.count == 1 ? "" : "s") \(card.seeds.map(String.init).joined(separator: ", ")))"
            h += " · \(Format.grouped(card.users)) users · \(Format.grouped(card.items)) items · \(card.steps) steps · slate \(card.slateSize)"
        }
        h += "</p>\n</header>\n"
        if let a = card.aborted {
            h += "<div class=\"banner\"><b>Aborted at step \(a.step).</b> \(e(a.message))<br>Everything below was measured before the run stopped.</div>\n"
        }
        h += verdicts(card)
        h += charts(card)
        h += metricsTable(card)
        h += "<h2 id=\"context\">Context</h2>\n"
        if !card.notes.isEmpty {
            h += "<ul>\n" + card.notes.map { "<li>\(e($0))</li>\n" }.joined() + "</ul>\n"
        }
        h += "<p class=\"small muted\">Scenario file <code>\(e(card.scenario.file))</code> (sha256 <code>\(card.scenario.sha256.prefix(16))…</code>)"
        if let rerun { h += "; reproduce with <code>\(e(rerun))</code>" }
        h += ". Statistical protocol: a “≥” rule passes on the lower end of a user-level bootstrap 95% interval, a “≤” rule on the upper end; hard rules use raw counts. Bands on the time series are 95% intervals across replicates.</p>\n"
        h += "<footer class=\"small muted\">Cocoon \(CocoonVersion.string) · scorecard schema \(Scorecard.schema) · this page loads nothing from anywhere.</footer>\n</body>\n</html>\n"
        return h
    }

    static func badge(_ v: Verdict) -> String {
        "<span class=\"badge \(v == .notApplicable ? "NA" : v.rawValue)\">\(v.rawValue)</span>"
    }

    /// How the decision was taken, e.g. `≥ 0.8 on the lower end of the 95% interval`.
    static func ruleDescription(_ r: CheckResult) -> String {
        let spec = r.spec
        let op: String
        switch spec.comparator {
        case .atLeast: op = "≥ \(Format.number(spec.threshold))"
        case .atMost: op = "≤ \(Format.number(spec.threshold))"
        case .equal: op = "= \(Format.number(spec.threshold))"
        case .within: op = "within [\(Format.number(spec.threshold)), \(Format.number(spec.upper ?? spec.threshold))]"
        }
        if r.interval == nil { return op + (spec.hard ? " (hard rule, raw value)" : " (raw value)") }
        switch spec.comparator {
        case .atLeast: return op + " on the lower end of the 95% interval"
        case .atMost: return op + " on the upper end of the 95% interval"
        case .within: return op + " for the whole 95% interval"
        case .equal: return op
        }
    }

    /// Where a check looked: group, persona, window.
    static func scope(_ spec: CheckSpec) -> String {
        var parts: [String] = []
        if spec.group != "population" { parts.append(spec.group) }
        if let p = spec.persona { parts.append("persona \(p)") }
        if let a = spec.after {
            let from = spec.from ?? 1
            parts.append(spec.to.map { "steps \(from)–\($0) after “\(a)”" } ?? "from step \(from) after “\(a)”")
        } else if spec.from != nil || spec.to != nil {
            parts.append("steps \(spec.from ?? 1)–\(spec.to.map(String.init) ?? "end")")
        }
        parts.append("\(spec.figure), \(spec.statistic.rawValue)")
        return parts.joined(separator: " · ")
    }

    static func verdicts(_ card: Scorecard) -> String {
        let e = SVG.esc
        var h = "<h2 id=\"verdicts\">Verdicts</h2>\n<table class=\"verdicts\">\n<thead><tr><th>verdict</th><th>check</th><th>clause</th><th>rule</th><th>observed</th><th>95% interval</th><th>decided on</th><th>baselines</th></tr></thead>\n<tbody>\n"
        if card.checks.isEmpty { h += "<tr><td colspan=\"8\" class=\"muted\">This scenario has no checks.</td></tr>\n" }
        for r in card.checks {
            h += "<tr id=\"check-\(e(r.spec.id))\"><td>\(badge(r.verdict))</td>"
            h += "<td><b>\(e(r.spec.id))</b><br>\(e(r.spec.name))<br><span class=\"small muted\">\(e(scope(r.spec))) · \(r.samples) samples</span>"
            if let n = r.note { h += "<br><span class=\"small\">\(e(n))</span>" }
            h += "</td><td>\(e(r.clause))"
            if !r.clauseEnglish.isEmpty { h += "<br><span class=\"clause-en\">\(e(r.clauseEnglish))</span>" }
            h += "</td><td>\(e(ruleDescription(r)))</td>"
            h += "<td class=\"num\">\(r.observed.map { Format.short($0) } ?? "—")</td>"
            h += "<td class=\"num\">\(r.interval.map { "[\(Format.short($0.lower)), \(Format.short($0.upper))]" } ?? "—")</td>"
            h += "<td class=\"num\">\(r.decisive.map { Format.short($0) } ?? "—")</td>"
            h += "<td class=\"small\">\(r.baselines.isEmpty ? "—" : r.baselines.map { "\(e($0.name)): \($0.value.map { Format.short($0) } ?? "—")" }.joined(separator: "<br>"))</td></tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    static func charts(_ card: Scorecard) -> String {
        var h = ""
        var main: [String] = []
        // Suppression after a "not interested" mark: treated against twins.
        if let s = card.suppression {
            let lines = [
                SVG.Line(name: "treated (marked)", color: SVG.color(group: "arm:treated", index: 0),
                         points: zip(s.steps, s.treated).map { (Double($0), $1) }),
                SVG.Line(name: "twin (no mark)", color: SVG.color(group: "arm:twin", index: 0),
                         points: zip(s.steps, s.twin).map { (Double($0), $1) }),
            ]
            main.append(
                figure(
                    "Marked topics after “\(s.intervention)”: treated vs twins",
                    SVG.lineChart(id: "suppression", title: "Impressions of the marked topics per user, treated vs twins", lines: lines,
                                  xLabel: "step", yLabel: "impressions per user", vGuides: [SVG.Guide(value: Double(s.start), label: s.intervention)],
                                  yInclude: [0]),
                    legend: lines.map { ($0.name, $0.color, false) }))
        }
        // Topic exposure over time (stacked).
        if card.topicExposure.count > 1, !card.topicNames.isEmpty {
            let steps = Array(1..<card.topicExposure.count)
            let rows = steps.map { card.topicExposure[$0] }
            if rows.contains(where: { $0.contains { $0 > 0 } }) {
                let names = card.topicNames
                let colors = names.indices.map { SVG.palette[$0 % SVG.palette.count] }
                main.append(
                    figure(
                        "Topic exposure over time (share of impressions)",
                        SVG.stackedArea(id: "topic_exposure", title: "Share of each topic among impressions per step", x: steps.map(Double.init),
                                        shares: rows, names: names, colors: colors, xLabel: "step", yLabel: "share of impressions"),
                        legend: zip(names, colors).map { ($0, $1, false) }))
            }
        }
        // Lorenz curve of item exposure.
        if card.lorenz.count >= 2 {
            let gini = card.series.first { $0.metric == "gini_exposure" && $0.group == "population" }?.final
            let lines = [
                SVG.Line(name: "equal exposure", color: "#9aa3ab", points: [(0, 0), (1, 1)], dashed: true, markers: false),
                SVG.Line(name: "exposure over the run", color: "#1f5fa8", points: card.lorenz.map { ($0.0, $0.1) }),
            ]
            var fr = SVG.Frame(x: 0...1, y: 0...1)
            fr.width = 520
            fr.height = 300
            main.append(
                figure(
                    "Lorenz curve of item exposure" + (gini.map { " (Gini at the last step \(Format.short($0)))" } ?? ""),
                    SVG.lineChart(id: "lorenz", title: "Lorenz curve of item exposure", lines: lines, xLabel: "share of items (least exposed first)",
                                  yLabel: "share of impressions", frame: fr),
                    legend: lines.map { ($0.name, $0.color, $0.dashed) }))
        }
        // Distribution of the cocoon ratio across users.
        if !card.cocoonRatios.isEmpty {
            var guides: [SVG.Guide] = []
            let sorted = card.cocoonRatios.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            guides.append(SVG.Guide(value: median, label: "median \(Format.short(median))"))
            for r in card.checks where r.spec.figure == "cocoon_ratio" && r.spec.comparator == .atLeast {
                if !guides.contains(where: { abs($0.value - r.spec.threshold) < 1e-9 }) {
                    guides.append(SVG.Guide(value: r.spec.threshold, label: "\(r.spec.id) ≥ \(Format.number(r.spec.threshold))"))
                }
            }
            main.append(
                figure(
                    "Cocoon ratio across users (last complete window; < 1: narrower than their interests)",
                    SVG.histogram(id: "cocoon_ratio", title: "Distribution of the per-user cocoon ratio", values: card.cocoonRatios, bins: 30,
                                  xLabel: "cocoon ratio R_u = H(recommended topics) / H(intrinsic interest)", guides: guides),
                    legend: nil))
        }
        if !main.isEmpty {
            h += "<h2 id=\"charts\">Charts</h2>\n<div class=\"grid\">\n" + main.joined() + "</div>\n"
        }
        // Metric time series with bands per group.
        let metrics = card.series.map(\.metric).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if !metrics.isEmpty {
            h += "<h2 id=\"series\">Metric time series</h2>\n<p class=\"small muted\">Mean over replicates per step; the shaded band is the 95% interval across replicates (with two or more). One line per group: the population (every user except twins), the treated, twin and untreated arms, and each segment.</p>\n<div class=\"grid\">\n"
            for m in metrics {
                let groups = card.series.filter { $0.metric == m }
                var lines: [SVG.Line] = []
                for (gi, s) in groups.enumerated() {
                    let pts = s.mean.enumerated().compactMap { t, v in v.map { (x: Double(t), y: $0) } }
                    guard !pts.isEmpty else { continue }
                    let band = s.mean.indices.compactMap { t -> (x: Double, lower: Double, upper: Double)? in
                        guard let lo = s.lower[t], let hi = s.upper[t] else { return nil }
                        return (Double(t), lo, hi)
                    }
                    lines.append(SVG.Line(name: s.group, color: SVG.color(group: s.group, index: gi), points: pts, band: band))
                }
                guard !lines.isEmpty else { continue }
                var fr = SVG.Frame(x: 0...1, y: 0...1)
                fr.height = 220
                let xs = lines.flatMap { $0.points.map(\.x) }
                fr.x = 0...max(Double(card.steps), (xs.max() ?? 1), 1)
                fr.y = SVG.range(lines.flatMap { l in l.points.map(\.y) + l.band.flatMap { [$0.lower, $0.upper] } })
                let help = MetricCatalog.all.first { $0.id == m }?.help ?? ""
                h += figure(
                    "\(m)" + (help.isEmpty ? "" : " — \(help)"),
                    SVG.lineChart(id: "series-\(m)", title: "\(m) per step", lines: lines, xLabel: "step", yLabel: m, frame: fr),
                    legend: lines.count > 1 ? lines.map { ($0.name, $0.color, false) } : nil)
            }
            h += "</div>\n"
        }
        return h
    }

    static func figure(_ caption: String, _ svg: String, legend: [(String, String, Bool)]?) -> String {
        var s = "<figure>\n<figcaption>\(SVG.esc(caption))</figcaption>\n"
        if let legend { s += SVG.legend(legend.map { (name: $0.0, color: $0.1, dashed: $0.2) }) }
        return s + svg + "</figure>\n"
    }

    static func metricsTable(_ card: Scorecard) -> String {
        guard !card.series.isEmpty else { return "" }
        let groups = card.series.map(\.group).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let metrics = card.series.map(\.metric).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var h = "<h2 id=\"metrics\">Metrics at the last step</h2>\n<table>\n<thead><tr><th>metric</th>"
        h += groups.map { "<th>\(SVG.esc($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for m in metrics {
            h += "<tr><td><code>\(SVG.esc(m))</code></td>"
            for g in groups {
                let s = card.series.first { $0.metric == m && $0.group == g }
                h += "<td class=\"num\">\(s?.final.map { Format.short($0) } ?? "—")\(s?.sampled == true ? "*" : "")</td>"
            }
            h += "</tr>\n"
        }
        h += "</tbody>\n</table>\n"
        if card.series.contains(where: \.sampled) {
            h += "<p class=\"small muted\">* all-pairs Jaccard over a seeded sample of user pairs (groups above 3,000 users).</p>\n"
        }
        return h
    }
}
