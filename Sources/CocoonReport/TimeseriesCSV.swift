import CocoonCore
import CocoonMetrics
import CocoonScenario

/// `timeseries.csv`: every metric value of every replicate, one row per
/// (replicate, metric, group, step), in the tidy columns
/// `scenario,replicate,seed,arm,segment,step,metric,value`.
///
/// `arm` is `all` (every user except twins), `treated`, `twin` or `main` (untreated);
/// `segment` is `all` or a segment name. Steps where a metric is undefined (list metrics at
/// step 0, window metrics between windows, steps after an aborted run stopped) have no row,
/// so no value is ever missing. Values are shortest round-trip decimals.
public enum TimeseriesCSV {
    public static let header = "scenario,replicate,seed,arm,segment,step,metric,value"

    /// The (arm, segment) of a metric group name.
    static func columns(of group: String) -> (arm: String, segment: String) {
        if group.hasPrefix("arm:") { return (String(group.dropFirst(4)), "all") }
        if group.hasPrefix("segment:") { return ("all", String(group.dropFirst(8))) }
        return ("all", "all")
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Renders the table for a run.
    public static func render(_ report: RunReport) -> String {
        var out = header + "\n"
        let name = field(report.scenario.name)
        for (r, rep) in report.replicates.enumerated() {
            let rec = rep.recorder
            guard !rec.series.isEmpty else { continue }
            for (m, metric) in rec.metricIDs.enumerated() {
                for (g, group) in rec.groups.enumerated() {
                    let (arm, segment) = columns(of: group.name)
                    let prefix = "\(name),\(r + 1),\(rep.seed),\(field(arm)),\(field(segment)),"
                    for (t, v) in rec.series[m][g].enumerated() {
                        guard let v, v.isFinite else { continue }
                        out += prefix + "\(t),\(metric),\(v)\n"
                    }
                }
            }
        }
        return out
    }
}
