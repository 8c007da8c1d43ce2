import Foundation

/// Inline SVG charts for the HTML scorecard: pure markup (no script, no external resource),
/// deterministic text (coordinates with one decimal), data marks tagged with the classes
/// `pt` (a point of a line), `area` (a stacked band) and `bar` (a histogram bar) so a test
/// can count what was drawn.
enum SVG {
    /// A chart's frame: size, margins and the data ranges of its axes.
    struct Frame {
        var width = 640.0
        var height = 260.0
        var left = 58.0
        var right = 14.0
        var top = 14.0
        var bottom = 38.0
        var x: ClosedRange<Double>
        var y: ClosedRange<Double>

        func px(_ v: Double) -> Double {
            let span = x.upperBound - x.lowerBound
            return left + (span > 0 ? (v - x.lowerBound) / span : 0.5) * (width - left - right)
        }

        func py(_ v: Double) -> Double {
            let span = y.upperBound - y.lowerBound
            return height - bottom - (span > 0 ? (v - y.lowerBound) / span : 0.5) * (height - top - bottom)
        }
    }

    /// A line of a line chart, with an optional band (lower, upper) drawn behind it.
    struct Line {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
        var band: [(x: Double, lower: Double, upper: Double)] = []
        var dashed = false
        /// Draw point markers (decimated to at most `maxMarkers`).
        var markers = true
    }

    /// A labelled guide line.
    struct Guide {
        var value: Double
        var label: String
    }

    static let maxMarkers = 16

    /// Coordinates as text with one decimal.
    static func f(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }

    /// Escapes text for XML/HTML content and attributes.
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// About `count` round tick values covering `lo…hi`.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(count, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out: [Double] = []
        var v = ceil(lo / step - 1e-9) * step
        while v <= hi + step * 1e-9 {
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return out
    }

    /// A padded range that contains every value (and `include`).
    static func range(_ values: [Double], include: [Double] = [], pad: Double = 0.05) -> ClosedRange<Double> {
        let all = (values + include).filter(\.isFinite)
        guard var lo = all.min(), var hi = all.max() else { return 0...1 }
        if hi - lo < 1e-12 {
            let d = max(abs(hi) * 0.1, 0.05)
            lo -= d
            hi += d
        } else {
            let d = (hi - lo) * pad
            lo -= d
            hi += d
        }
        let t = ticks(lo, hi)
        return min(lo, t.first ?? lo)...max(hi, t.last ?? hi)
    }

    /// Tick label text.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 10000 || abs(v) < 0.001 { return String(format: "%.2g", v) }
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// Axes, grid and labels.
    static func axes(_ fr: Frame, xLabel: String, yLabel: String, xTicks: [Double]? = nil, yTicks: [Double]? = nil) -> String {
        var s = ""
        let x0 = fr.left, x1 = fr.width - fr.right, y0 = fr.height - fr.bottom, y1 = fr.top
        for t in yTicks ?? ticks(fr.y.lowerBound, fr.y.upperBound) where fr.y.contains(t) {
            let y = f(fr.py(t))
            s += "<line class=\"grid\" x1=\"\(f(x0))\" y1=\"\(y)\" x2=\"\(f(x1))\" y2=\"\(y)\"/>"
            s += "<text class=\"tick\" x=\"\(f(x0 - 6))\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(label(t))</text>\n"
        }
        for t in xTicks ?? ticks(fr.x.lowerBound, fr.x.upperBound, count: 8) where fr.x.contains(t) {
            let x = f(fr.px(t))
            s += "<line class=\"tickmark\" x1=\"\(x)\" y1=\"\(f(y0))\" x2=\"\(x)\" y2=\"\(f(y0 + 4))\"/>"
            s += "<text class=\"tick\" x=\"\(x)\" y=\"\(f(y0 + 16))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        s += "<line class=\"axis\" x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x1))\" y2=\"\(f(y0))\"/>"
        s += "<line class=\"axis\" x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\"/>\n"
        s += "<text class=\"axislabel\" x=\"\(f((x0 + x1) / 2))\" y=\"\(f(fr.height - 4))\" text-anchor=\"middle\">\(esc(xLabel))</text>"
        s += "<text class=\"axislabel\" transform=\"translate(12 \(f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        return s
    }

    /// The opening tag of a chart.
    static func open(_ fr: Frame, id: String, title: String) -> String {
        "<svg class=\"chart\" data-chart=\"\(esc(id))\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(fr.width)) \(f(fr.height))\" role=\"img\" aria-label=\"\(esc(title))\"><title>\(esc(title))</title>\n"
    }

    /// A legend (HTML) for named colours.
    static func legend(_ items: [(name: String, color: String, dashed: Bool)]) -> String {
        var s = "<div class=\"legend\">"
        for it in items {
            s += "<span><i style=\"background:\(it.color)\(it.dashed ? ";opacity:.55" : "")\"></i>\(esc(it.name))</span>"
        }
        return s + "</div>\n"
    }

    /// A line chart with bands, vertical guides (e.g. an intervention) and horizontal guides
    /// (e.g. a threshold).
    static func lineChart(id: String, title: String, lines: [Line], xLabel: String, yLabel: String, vGuides: [Guide] = [],
                          hGuides: [Guide] = [], frame: Frame? = nil, yInclude: [Double] = []) -> String
    {
        let xs = lines.flatMap { $0.points.map(\.x) }
        let ys = lines.flatMap { l in l.points.map(\.y) + l.band.flatMap { [$0.lower, $0.upper] } }
        var fr = frame ?? Frame(x: 0...1, y: 0...1)
        if frame == nil {
            fr.x = (xs.min() ?? 0)...max(xs.max() ?? 1, (xs.min() ?? 0) + 1)
            fr.y = range(ys, include: yInclude + hGuides.map(\.value))
        }
        var s = open(fr, id: id, title: title)
        s += axes(fr, xLabel: xLabel, yLabel: yLabel)
        for l in lines where l.band.count >= 2 {
            let upper = l.band.map { "\(f(fr.px($0.x))),\(f(fr.py($0.upper)))" }
            let lower = l.band.reversed().map { "\(f(fr.px($0.x))),\(f(fr.py($0.lower)))" }
            s += "<polygon class=\"band\" fill=\"\(l.color)\" points=\"\((upper + lower).joined(separator: " "))\"><title>\(esc(l.name)): 95% band across replicates</title></polygon>\n"
        }
        for g in hGuides {
            let y = f(fr.py(g.value))
            s += "<line class=\"guide\" x1=\"\(f(fr.left))\" y1=\"\(y)\" x2=\"\(f(fr.width - fr.right))\" y2=\"\(y)\"/>"
            s += "<text class=\"guidelabel\" x=\"\(f(fr.width - fr.right - 4))\" y=\"\(f(fr.py(g.value) - 4))\" text-anchor=\"end\">\(esc(g.label))</text>\n"
        }
        for g in vGuides where fr.x.contains(g.value) {
            let x = f(fr.px(g.value))
            s += "<line class=\"guide\" x1=\"\(x)\" y1=\"\(f(fr.top))\" x2=\"\(x)\" y2=\"\(f(fr.height - fr.bottom))\"/>"
            s += "<text class=\"guidelabel\" x=\"\(f(fr.px(g.value) + 4))\" y=\"\(f(fr.top + 10))\">\(esc(g.label))</text>\n"
        }
        for l in lines where !l.points.isEmpty {
            let d = l.points.enumerated().map { i, p in "\(i == 0 ? "M" : "L")\(f(fr.px(p.x))),\(f(fr.py(p.y)))" }.joined()
            s += "<path class=\"line\(l.dashed ? " dashed" : "")\" stroke=\"\(l.color)\" d=\"\(d)\"/>\n"
            guard l.markers else { continue }
            let every = max(1, (l.points.count + maxMarkers - 1) / maxMarkers)
            for (i, p) in l.points.enumerated() where i % every == 0 || i == l.points.count - 1 {
                s += "<circle class=\"pt\" cx=\"\(f(fr.px(p.x)))\" cy=\"\(f(fr.py(p.y)))\" r=\"2.2\" fill=\"\(l.color)\"><title>\(esc(l.name)) \(label(p.x)): \(label(p.y))</title></circle>"
            }
            s += "\n"
        }
        return s + "</svg>\n"
    }

    /// A stacked area chart: `shares[i]` are the parts at `x[i]` (summing to about 1).
    static func stackedArea(id: String, title: String, x: [Double], shares: [[Double]], names: [String], colors: [String],
                            xLabel: String, yLabel: String) -> String
    {
        var fr = Frame(x: (x.first ?? 0)...max(x.last ?? 1, (x.first ?? 0) + 1), y: 0...1)
        fr.height = 300
        var s = open(fr, id: id, title: title)
        s += axes(fr, xLabel: xLabel, yLabel: yLabel, yTicks: [0, 0.25, 0.5, 0.75, 1])
        let parts = names.count
        var base = [Double](repeating: 0, count: x.count)
        for q in 0..<parts {
            let top = (0..<x.count).map { base[$0] + (q < shares[$0].count ? shares[$0][q] : 0) }
            if zip(top, base).allSatisfy({ $0 - $1 <= 0 }) {
                base = top
                continue
            }
            let upper = (0..<x.count).map { "\(f(fr.px(x[$0]))),\(f(fr.py(min(top[$0], 1))))" }
            let lower = (0..<x.count).reversed().map { "\(f(fr.px(x[$0]))),\(f(fr.py(min(base[$0], 1))))" }
            let mean = zip(top, base).map { $0 - $1 }.reduce(0, +) / Double(max(x.count, 1))
            s += "<polygon class=\"area\" fill=\"\(colors[q % colors.count])\" points=\"\((upper + lower).joined(separator: " "))\"><title>\(esc(names[q])): mean share \(label(mean))</title></polygon>\n"
            base = top
        }
        return s + "</svg>\n"
    }

    /// A histogram of `values` with `bins` equal bins and vertical guides.
    static func histogram(id: String, title: String, values: [Double], bins: Int, xLabel: String, guides: [Guide]) -> String {
        let finite = values.filter(\.isFinite)
        let lo = min(finite.min() ?? 0, guides.map(\.value).min() ?? 0, 0)
        var hi = max(finite.max() ?? 1, guides.map(\.value).max() ?? 1)
        if hi <= lo { hi = lo + 1 }
        let width = (hi - lo) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for v in finite { counts[min(bins - 1, max(0, Int((v - lo) / width)))] += 1 }
        let fr = Frame(x: lo...hi, y: 0...Double(max(counts.max() ?? 1, 1)) * 1.08)
        var s = open(fr, id: id, title: title)
        s += axes(fr, xLabel: xLabel, yLabel: "users")
        for (b, c) in counts.enumerated() where c > 0 {
            let x0 = fr.px(lo + Double(b) * width), x1 = fr.px(lo + Double(b + 1) * width)
            let y = fr.py(Double(c))
            s += "<rect class=\"bar\" x=\"\(f(x0 + 0.5))\" y=\"\(f(y))\" width=\"\(f(max(x1 - x0 - 1, 0.5)))\" height=\"\(f(fr.py(0) - y))\"><title>\(label(lo + Double(b) * width))–\(label(lo + Double(b + 1) * width)): \(c) users</title></rect>"
        }
        s += "\n"
        for g in guides {
            let x = f(fr.px(g.value))
            s += "<line class=\"guide\" x1=\"\(x)\" y1=\"\(f(fr.top))\" x2=\"\(x)\" y2=\"\(f(fr.height - fr.bottom))\"/>"
            s += "<text class=\"guidelabel\" x=\"\(f(fr.px(g.value) + 4))\" y=\"\(f(fr.top + 10))\">\(esc(g.label))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Distinct colours for up to 20 parts (Tableau 20), then repeated.
    static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// The colour of a metric group.
    static func color(group: String, index: Int) -> String {
        switch group {
        case "population": return "#1f5fa8"
        case "arm:treated": return "#d62728"
        case "arm:twin": return "#2ca02c"
        case "arm:main": return "#7f7f7f"
        default: return palette[(index + 4) % palette.count]
        }
    }
}
