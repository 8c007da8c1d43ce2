import Foundation

/// Number formatting for reports.
public enum Format {
    /// Six significant digits, no exponent for ordinary magnitudes.
    public static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e6 || abs(v) < 1e-4 { return String(format: "%.4g", v) }
        var s = String(format: "%.6g", v)
        if s.contains(".") && !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// Four significant digits, for tables people read (the JSON keeps full precision).
    public static func short(_ v: Double) -> String {
        if v == 0 { return "0" }
        if !v.isFinite { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "−∞") }
        if abs(v) >= 1e6 || abs(v) < 1e-4 { return String(format: "%.3g", v) }
        var s = String(format: "%.4g", v)
        if s.contains(".") && !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// An integer with thousands separators: 12,345.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
