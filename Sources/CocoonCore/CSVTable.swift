import Foundation

/// A comma-separated file read whole: a header and rows of fields, with line numbers kept
/// for error messages. Quoted fields (`"a, b"`, `""` for a quote) are supported.
public struct CSVTable: Sendable {
    /// The file path (for messages).
    public let file: String
    /// Column names from the header line.
    public let header: [String]
    /// Data rows (the header excluded).
    public let rows: [[String]]
    /// The 1-based line number of every row.
    public let lines: [Int]

    /// Reads and parses a file.
    ///
    /// - Throws: ``DataFileError`` when the file cannot be read, is empty, or a row has the
    ///   wrong number of fields.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataFileError(file: path, message: "cannot read the file (does it exist and is it readable?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataFileError(file: path, message: "the file is not UTF-8 text")
        }
        try self.init(text: text, file: path)
    }

    /// Parses CSV text.
    public init(text: String, file: String) throws {
        self.file = file
        var records: [[String]] = []
        var lineNumbers: [Int] = []
        var field = ""
        var record: [String] = []
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var fieldStarted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending {
                pending = nil
                return p
            }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" {
                            field.unicodeScalars.append("\"")
                        } else {
                            inQuotes = false
                            pending = n
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where !fieldStarted || field.isEmpty:
                inQuotes = true
                fieldStarted = true
            case ",":
                record.append(field)
                field = ""
                fieldStarted = false
            case "\r":
                continue
            case "\n":
                record.append(field)
                if !(record.count == 1 && record[0].isEmpty) {
                    records.append(record)
                    lineNumbers.append(recordLine)
                }
                record = []
                field = ""
                fieldStarted = false
                line += 1
                recordLine = line
            default:
                field.unicodeScalars.append(c)
                fieldStarted = true
            }
        }
        if inQuotes { throw DataFileError(file: file, line: recordLine, message: "a quoted field is not closed") }
        if fieldStarted || !record.isEmpty {
            record.append(field)
            records.append(record)
            lineNumbers.append(recordLine)
        }
        guard let head = records.first else {
            throw DataFileError(file: file, message: "the file is empty (expected a header line)")
        }
        header = head.map { $0.trimmingCharacters(in: .whitespaces) }
        rows = Array(records.dropFirst())
        lines = Array(lineNumbers.dropFirst())
        for (r, row) in rows.enumerated() where row.count != header.count {
            throw DataFileError(
                file: file, line: lines[r],
                message: "has \(row.count) fields, the header has \(header.count) (\(header.joined(separator: ",")))")
        }
    }

    /// The index of a required column.
    ///
    /// - Throws: ``DataFileError`` naming the missing column and the columns present.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw DataFileError(
                file: file, line: 1, message: "missing column '\(name)' (columns: \(header.joined(separator: ", ")))")
        }
        return i
    }

    /// The index of an optional column.
    public func optionalColumn(_ name: String) -> Int? { header.firstIndex(of: name) }

    /// Field `col` of row `r` as an integer.
    public func int(_ r: Int, _ col: Int) throws -> Int {
        let s = rows[r][col].trimmingCharacters(in: .whitespaces)
        guard let v = Int(s) else { throw error(r, col, "'\(s)' in column '\(header[col])' is not an integer") }
        return v
    }

    /// Field `col` of row `r` as a finite number.
    public func double(_ r: Int, _ col: Int) throws -> Double {
        let s = rows[r][col].trimmingCharacters(in: .whitespaces)
        guard let v = Double(s), v.isFinite else {
            throw error(r, col, "'\(s)' in column '\(header[col])' is not a finite number")
        }
        return v
    }

    /// Field `col` of row `r`, trimmed.
    public func string(_ r: Int, _ col: Int) -> String { rows[r][col].trimmingCharacters(in: .whitespaces) }

    /// An error located at row `r`, column `col` (0-based indices into the table).
    public func error(_ r: Int, _ col: Int, _ message: String) -> DataFileError {
        DataFileError(file: file, line: lines[r], column: col + 1, message: message)
    }
}
