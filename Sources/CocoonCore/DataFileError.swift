/// A problem in an input data file, located by file, line and column.
public struct DataFileError: Error, Equatable, CustomStringConvertible {
    /// The file path as given.
    public let file: String
    /// 1-based line (0 when the whole file is concerned).
    public let line: Int
    /// 1-based column (0 when the whole line is concerned).
    public let column: Int
    /// What is wrong and how to fix it.
    public let message: String

    public init(file: String, line: Int = 0, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var at = file
        if line > 0 { at += ":\(line)" }
        if column > 0 { at += ":\(column)" }
        return "\(at): \(message)"
    }
}
