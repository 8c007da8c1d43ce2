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
}
