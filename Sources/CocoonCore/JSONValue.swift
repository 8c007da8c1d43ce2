import Foundation

/// A JSON value with **ordered** object keys, and a deterministic serialiser.
///
/// Numbers print in Swift's shortest round-trip form (`0.1`, `2.890016881787671`), integers
/// without a fraction; non-finite numbers become `null`. The same value always serialises to
/// the same bytes, which byte-identical scorecards rely on.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A number, or null when `v` is nil or not finite.
    public static func num(_ v: Double?) -> JSONValue {
        guard let v, v.isFinite else { return .null }
        return .number(v)
    }

    /// Looks up a key of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    /// The value as a Double, if it is a number.
    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// The value as a string, if it is one.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Serialises with two-space indentation (`pretty`) or compactly, and a final newline
    /// when pretty.
    public func serialized(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 0 : -1)
        if pretty { out += "\n" }
        return out
    }

    private func write(into out: inout String, indent: Int) {
        let pretty = indent >= 0
        func pad(_ n: Int) -> String { String(repeating: "  ", count: n) }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d):
            if !d.isFinite {
                out += "null"
            } else if d == d.rounded() && abs(d) < 1e15 {
                out += String(Int(d)) + ".0"
            } else {
                out += "\(d)"
            }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty {
                out += "[]"
                return
            }
            // Arrays of scalars stay on one line.
            let scalar = a.allSatisfy {
                if case .array = $0 { return false }
                if case .object = $0 { return false }
                return true
            }
            if !pretty || scalar {
                out += "["
                for (j, v) in a.enumerated() {
                    if j > 0 { out += pretty ? ", " : "," }
                    v.write(into: &out, indent: pretty ? indent : -1)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (j, v) in a.enumerated() {
                out += pad(indent + 1)
                v.write(into: &out, indent: indent + 1)
                out += j == a.count - 1 ? "\n" : ",\n"
            }
            out += pad(indent) + "]"
        case .object(let pairs):
            if pairs.isEmpty {
                out += "{}"
                return
            }
            out += pretty ? "{\n" : "{"
            for (j, (k, v)) in pairs.enumerated() {
                if pretty { out += pad(indent + 1) }
                JSONValue.writeString(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, indent: pretty ? indent + 1 : -1)
                if j < pairs.count - 1 { out += "," }
                if pretty { out += "\n" }
            }
            out += pretty ? pad(indent) + "}" : "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        out += "\""
    }

    /// Parses JSON text (objects keep their key order).
    ///
    /// - Throws: ``JSONParseError`` with the byte offset of the problem.
    public static func parse(_ text: String) throws -> JSONValue {
        var p = JSONParser(Array(text.utf8))
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.b.count else { throw JSONParseError(offset: p.i, message: "unexpected text after the JSON value") }
        return v
    }
}

/// A JSON syntax error.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

private struct JSONParser {
    let b: [UInt8]
    var i = 0
    var depth = 0
    init(_ b: [UInt8]) { self.b = b }

    mutating func skipSpace() { while i < b.count && (b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09) { i += 1 } }

    func fail(_ m: String) -> JSONParseError { JSONParseError(offset: i, message: m) }

    mutating func value() throws -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of input") }
        depth += 1
        defer { depth -= 1 }
        guard depth < 512 else { throw fail("nesting too deep") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(String, JSONValue)] = []
            skipSpace()
            if i < b.count && b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(pairs)
            }
            while true {
                skipSpace()
                guard i < b.count && b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let k = try string()
                skipSpace()
                guard i < b.count && b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                pairs.append((k, try value()))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of input in an object") }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(pairs)
                }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [JSONValue] = []
            skipSpace()
            if i < b.count && b[i] == UInt8(ascii: "]") {
                i += 1
                return .array(a)
            }
            while true {
                skipSpace()
                a.append(try value())
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of input in an array") }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if b[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return try number()
        }
    }

    mutating func literal(_ s: String) throws {
        let u = Array(s.utf8)
        guard i + u.count <= b.count && Array(b[i..<(i + u.count)]) == u else { throw fail("unexpected character") }
        i += u.count
    }

    mutating func number() throws -> JSONValue {
        let start = i
        if i < b.count && b[i] == UInt8(ascii: "-") { i += 1 }
        var isInt = true
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 {
                i += 1
                continue
            }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-")
            {
                isInt = false
                i += 1
                continue
            }
            break
        }
        guard i > start, let s = String(bytes: b[start..<i], encoding: .utf8) else { throw fail("unexpected character") }
        if isInt, let v = Int(s) { return .int(v) }
        guard let d = Double(s), d.isFinite else { throw fail("invalid number '\(s)'") }
        return .number(d)
    }

    mutating func string() throws -> String {
        i += 1
        var bytes: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < b.count else { break }
                let e = b[i]
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 < b.count, let s = String(bytes: b[(i + 1)...(i + 4)], encoding: .utf8),
                        var code = UInt32(s, radix: 16)
                    else { throw fail("bad \\u escape") }
                    i += 4
                    if code >= 0xD800 && code < 0xDC00, i + 6 < b.count, b[i + 1] == UInt8(ascii: "\\"),
                        b[i + 2] == UInt8(ascii: "u"),
                        let s2 = String(bytes: b[(i + 3)...(i + 6)], encoding: .utf8), let low = UInt32(s2, radix: 16),
                        low >= 0xDC00 && low < 0xE000
                    {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    bytes.append(contentsOf: Array(String(UnicodeScalar(code).map(Character.init) ?? "\u{FFFD}").utf8))
                default: bytes.append(e)
                }
                i += 1
                continue
            }
            if c < 0x20 { throw fail("control character in a string") }
            bytes.append(c)
            i += 1
        }
        throw fail("unterminated string")
    }
}
