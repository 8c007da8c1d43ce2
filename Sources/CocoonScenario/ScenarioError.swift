/// A problem in a scenario file: what, where (file, line:column, key path) and how to fix it.
public struct ScenarioError: Error, Equatable, CustomStringConvertible {
    /// The file (or `<string>`).
    public let file: String
    /// 1-based line and column (0 when unknown).
    public let line: Int
    public let column: Int
    /// The key path, e.g. `recommender.slateSize` or `checks[2].rule`.
    public let path: String
    /// What is wrong and how to fix it.
    public let message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        var at = file
        if line > 0 { at += ":\(line):\(column)" }
        return path.isEmpty ? "\(at): \(message)" : "\(at): at \(path): \(message)"
    }
}
