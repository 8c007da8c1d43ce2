import CocoonCore
import Yams

/// `--set KEY=VALUE` overrides: dotted key paths (with `[i]` for list elements) into the
/// scenario's YAML tree, values parsed as YAML (`steps=20`, `recommender.kind=mf`,
/// `recommender.rerankers=[{kind: mmr}]`). They are applied before decoding, so an override is
/// validated exactly like the file.
enum Overrides {
    static func apply(_ overrides: [String], to root: YAMLReader) throws -> YAMLReader {
        var node = root.node
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: "", message: "expected KEY=VALUE, e.g. --set steps=20")
            }
            let key = String(o[..<eq]), text = String(o[o.index(after: eq)...])
            let value: Node
            do {
                value = try Yams.compose(yaml: text) ?? Node("")
            } catch {
                throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: key, message: "the value is not valid YAML")
            }
            let parts = try components(key, override: o)
            node = try set(parts[...], value, in: node, override: o, path: "")
        }
        return YAMLReader(node: node, path: "", file: root.file)
    }

    enum Component { case key(String), index(Int) }

    static func components(_ key: String, override o: String) throws -> [Component] {
        var out: [Component] = []
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            var p = Substring(part)
            var name = p
            if let b = p.firstIndex(of: "[") { name = p[..<b] }
            guard !name.isEmpty else { throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: key, message: "empty key in '\(key)'") }
            out.append(.key(String(name)))
            while let b = p.firstIndex(of: "["), let e = p.firstIndex(of: "]"), b < e {
                guard let i = Int(p[p.index(after: b)..<e]), i >= 0 else {
                    throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: key, message: "bad list index in '\(key)'")
                }
                out.append(.index(i))
                p = p[p.index(after: e)...]
            }
        }
        return out
    }

    static func set(_ parts: ArraySlice<Component>, _ value: Node, in node: Node, override o: String, path: String) throws -> Node {
        guard let first = parts.first else { return value }
        let rest = parts.dropFirst()
        switch first {
        case .key(let k):
            var pairs: [(Node, Node)] = []
            if case .mapping(let m) = node { pairs = m.map { ($0.key, $0.value) } } else if case .scalar(let s) = node, s.string.isEmpty {
                pairs = []
            } else {
                throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: path, message: "'\(path)' is not a mapping, so it has no key '\(k)'")
            }
            let sub = path.isEmpty ? k : path + "." + k
            if let j = pairs.firstIndex(where: { $0.0.string == k }) {
                pairs[j].1 = try set(rest, value, in: pairs[j].1, override: o, path: sub)
            } else {
                pairs.append((Node(k), try set(rest, value, in: Node(""), override: o, path: sub)))
            }
            return .mapping(Node.Mapping(pairs))
        case .index(let i):
            guard case .sequence(let s) = node else {
                throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: path, message: "'\(path)' is not a list")
            }
            var items = Array(s)
            guard i < items.count else {
                throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: path, message: "'\(path)' has \(items.count) elements; index \(i) is out of range")
            }
            items[i] = try set(rest, value, in: items[i], override: o, path: "\(path)[\(i)]")
            return .sequence(Node.Sequence(items))
        }
    }
}
