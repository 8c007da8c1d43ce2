import CocoonCore
import Foundation
import Yams

/// A YAML node with its key path, read strictly: unknown keys are errors with a
/// "did you mean", values out of range name the allowed range, every error carries file,
/// line:column and the key path.
struct YAMLReader {
    let node: Node
    let path: String
    let file: String

    init(node: Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    /// Parses a YAML document.
    static func parse(_ text: String, file: String) throws -> YAMLReader {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                return YAMLReader(node: Node.mapping(Node.Mapping([])), path: "", file: file)
            }
            return YAMLReader(node: root, path: "", file: file)
        } catch let e as YamlError {
            throw ScenarioError.fromYams(e, file: file)
        }
    }

    func error(_ message: String, at n: Node? = nil) -> ScenarioError {
        let m = (n ?? node).mark
        return ScenarioError(file: file, line: m?.line ?? 0, column: m?.column ?? 0, path: path, message: message)
    }

    func child(_ key: String, _ n: Node) -> YAMLReader {
        YAMLReader(node: n, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    var typeName: String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "an empty value" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The node as a mapping with only `allowed` keys.
    func mapping(_ allowed: [String]) throws -> MappingReader {
        guard case .mapping(let m) = node else {
            if case .scalar(let s) = node, s.string.isEmpty, s.style == .plain { return MappingReader(reader: self, pairs: []) }
            throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), got \(typeName)")
        }
        var pairs: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw error("keys must be plain names", at: k) }
            let key = ks.string
            if pairs.contains(where: { $0.0 == key }) {
                throw child(key, v).error("the key '\(key)' appears twice; keep one", at: k)
            }
            if !allowed.contains(key) {
                throw child(key, v).error("unknown key '\(key)'\(Suggestions.hint(for: key, in: allowed)); allowed keys: \(allowed.joined(separator: ", "))", at: k)
            }
            pairs.append((key, k, v))
        }
        return MappingReader(reader: self, pairs: pairs)
    }

    /// The node as a list.
    func list() throws -> [YAMLReader] {
        guard case .sequence(let s) = node else { throw error("expected a list, got \(typeName)") }
        return s.enumerated().map { (j, n) in YAMLReader(node: n, path: "\(path)[\(j)]", file: file) }
    }

    var scalar: String? {
        if case .scalar(let s) = node { return s.string }
        return nil
    }

    func string() throws -> String {
        guard let s = scalar else { throw error("expected text, got \(typeName)") }
        return s
    }

    func int(_ range: ClosedRange<Int>) throws -> Int {
        guard let s = scalar, let v = Int(s.replacingOccurrences(of: "_", with: "")) else { throw error("expected a whole number, got \(typeName)") }
        guard range.contains(v) else { throw error("\(v) is out of range; allowed: \(YAMLReader.describe(range))") }
        return v
    }

    func double(_ range: ClosedRange<Double>) throws -> Double {
        guard let s = scalar, let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else { throw error("expected a number, got \(typeName)") }
        guard range.contains(v) else { throw error("\(Format.number(v)) is out of range; allowed: \(YAMLReader.describe(range))") }
        return v
    }

    func bool() throws -> Bool {
        switch scalar?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got \(typeName)")
        }
    }

    func choice(_ allowed: [String]) throws -> String {
        let s = try string()
        guard allowed.contains(s) else {
            throw error("'\(s)' is not one of \(allowed.joined(separator: ", "))\(Suggestions.hint(for: s, in: allowed))")
        }
        return s
    }

    static func describe(_ r: ClosedRange<Int>) -> String {
        r.upperBound == Int.max ? "≥ \(r.lowerBound)" : "\(r.lowerBound)…\(r.upperBound)"
    }

    static func describe(_ r: ClosedRange<Double>) -> String {
        if r.upperBound == .greatestFiniteMagnitude { return "≥ \(Format.number(r.lowerBound))" }
        if r.lowerBound == -.greatestFiniteMagnitude { return "≤ \(Format.number(r.upperBound))" }
        return "\(Format.number(r.lowerBound))…\(Format.number(r.upperBound))"
    }
}

/// A mapping read strictly (see ``YAMLReader/mapping(_:)``).
struct MappingReader {
    let reader: YAMLReader
    let pairs: [(String, Node, Node)]

    func has(_ key: String) -> Bool { pairs.contains { $0.0 == key } }

    func get(_ key: String) -> YAMLReader? {
        pairs.first { $0.0 == key }.map { reader.child(key, $0.2) }
    }

    func int(_ key: String, _ def: Int, _ range: ClosedRange<Int>) throws -> Int { try get(key)?.int(range) ?? def }
    func double(_ key: String, _ def: Double, _ range: ClosedRange<Double>) throws -> Double { try get(key)?.double(range) ?? def }
    func bool(_ key: String, _ def: Bool) throws -> Bool { try get(key)?.bool() ?? def }
    func string(_ key: String, _ def: String) throws -> String { try get(key)?.string() ?? def }
    func choice(_ key: String, _ def: String, _ allowed: [String]) throws -> String { try get(key)?.choice(allowed) ?? def }

    /// A required key.
    func require(_ key: String, hint: String) throws -> YAMLReader {
        guard let r = get(key) else { throw reader.error("missing required key '\(key)' (\(hint))") }
        return r
    }
}

extension ScenarioError {
    static func fromYams(_ e: YamlError, file: String) -> ScenarioError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ScenarioError(file: file, line: mark.line, column: mark.column, path: "", message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return ScenarioError(file: file, line: context.mark.line, column: context.mark.column, path: "",
                                 message: "the key \(keys) appears twice in this mapping; keep one")
        case .reader(let problem, _, _, _):
            return ScenarioError(file: file, line: 0, column: 0, path: "", message: "cannot read the YAML: \(problem)")
        default:
            return ScenarioError(file: file, line: 0, column: 0, path: "", message: "invalid YAML: \(e)")
        }
    }
}
