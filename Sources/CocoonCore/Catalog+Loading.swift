import CocoonMath
import Foundation

extension Catalog {
    /// Loads a catalog from one CSV file.
    ///
    /// Columns: `item_id` (unique), `topic` (one name) or `topics` (names separated by `|`,
    /// primary first), embedding columns `e0`, `e1`, … (any count ≥ 1), and optionally
    /// `quality` (0…1), `popularity` (≥ 0), `creator` (any label) and `flags`
    /// (`harmful;borderline;minorUnsafe;synthetic;labelled`, separated by `;`).
    ///
    /// Topics are ordered by their names in natural order (`t2` before `t10`).
    ///
    /// - Throws: ``DataFileError`` with file, line and column, or ``CatalogError``.
    public static func load(itemsCSV path: String) throws -> Catalog {
        let t = try CSVTable(contentsOf: path)
        let idCol = try t.column("item_id")
        let embCols = t.header.enumerated().compactMap { (i, name) -> (Int, Int)? in
            guard name.count > 1, name.first == "e", let n = Int(name.dropFirst()) else { return nil }
            return (n, i)
        }.sorted { $0.0 < $1.0 }.map(\.1)
        guard !embCols.isEmpty else {
            throw DataFileError(
                file: path, line: 1,
                message: "no embedding columns (expected e0, e1, …; columns: \(t.header.joined(separator: ", ")))")
        }
        var values = [Float](repeating: 0, count: t.rows.count * embCols.count)
        for r in t.rows.indices {
            for (j, c) in embCols.enumerated() { values[r * embCols.count + j] = Float(try t.double(r, c)) }
        }
        let embeddings = Matrix(rows: t.rows.count, cols: embCols.count, values: values)
        return try assemble(table: t, idColumn: idCol, embeddings: embeddings, embeddingsFile: path)
    }

    /// Loads a catalog from an embedding matrix (`.npy`, or a CSV of numbers with an optional
    /// header) and a topics table (CSV with `item_id` and `topic`/`topics`, plus the optional
    /// columns of ``load(itemsCSV:)``) whose rows are in the same order as the matrix rows.
    ///
    /// - Throws: ``DataFileError`` or ``CatalogError``.
    public static func load(embeddings embeddingsPath: String, topics topicsPath: String) throws -> Catalog {
        let matrix: Matrix
        if embeddingsPath.hasSuffix(".npy") {
            let a = try NPYArray(contentsOf: embeddingsPath)
            for (i, v) in a.values.enumerated() where !v.isFinite {
                throw DataFileError(file: embeddingsPath, message: "row \(i / a.cols), column \(i % a.cols) is not finite (\(v))")
            }
            matrix = Matrix(rows: a.rows, cols: a.cols, values: a.values)
        } else {
            matrix = try loadNumericCSV(embeddingsPath)
        }
        let t = try CSVTable(contentsOf: topicsPath)
        guard t.rows.count == matrix.rows else {
            throw DataFileError(
                file: topicsPath,
                message:
                    "has \(t.rows.count) items, the embedding file \(embeddingsPath) has \(matrix.rows) rows; they must be in the same order and of the same length"
            )
        }
        return try assemble(table: t, idColumn: try t.column("item_id"), embeddings: matrix, embeddingsFile: embeddingsPath)
    }

    static func loadNumericCSV(_ path: String) throws -> Matrix {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw DataFileError(file: path, message: "cannot read the file (does it exist and is it readable?)")
        }
        var values: [Float] = []
        var cols = -1
        var rows = 0
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if rows == 0 && cols < 0 && fields.contains(where: { Double($0) == nil }) { continue }  // header
            if cols < 0 { cols = fields.count }
            guard fields.count == cols else {
                throw DataFileError(file: path, line: n + 1, message: "has \(fields.count) values, earlier rows have \(cols)")
            }
            for (c, f) in fields.enumerated() {
                guard let v = Float(f), v.isFinite else {
                    throw DataFileError(file: path, line: n + 1, column: c + 1, message: "'\(f)' is not a finite number")
                }
                values.append(v)
            }
            rows += 1
        }
        guard rows > 0 else { throw DataFileError(file: path, message: "no rows of numbers") }
        return Matrix(rows: rows, cols: cols, values: values)
    }

    private static func assemble(table t: CSVTable, idColumn: Int, embeddings: Matrix, embeddingsFile: String) throws -> Catalog {
        let path = t.file
        let topicCol = t.optionalColumn("topics") ?? t.optionalColumn("topic")
        guard let topicCol else {
            throw DataFileError(
                file: path, line: 1, message: "missing column 'topic' (or 'topics'; columns: \(t.header.joined(separator: ", ")))"
            )
        }
        var ids: [String] = []
        var seen: [String: Int] = [:]
        var itemTopicNames: [[String]] = []
        for r in t.rows.indices {
            let id = t.string(r, idColumn)
            if id.isEmpty { throw t.error(r, idColumn, "empty item_id") }
            if let first = seen[id] { throw t.error(r, idColumn, "item_id '\(id)' repeats the item on line \(t.lines[first])") }
            seen[id] = r
            ids.append(id)
            let names = t.string(r, topicCol).split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            if names.isEmpty { throw t.error(r, topicCol, "item '\(id)' has no topic") }
            var unique: [String] = []
            for n in names where !unique.contains(n) { unique.append(n) }
            itemTopicNames.append(unique)
        }
        var nameSet = Set<String>()
        for ns in itemTopicNames { for n in ns { nameSet.insert(n) } }
        let topicNames = nameSet.sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        var index: [String: Int32] = [:]
        for (i, n) in topicNames.enumerated() { index[n] = Int32(i) }
        let itemTopics = itemTopicNames.map { $0.map { index[$0]! } }
        let table =
            itemTopics.allSatisfy { $0.count == 1 }
            ? TopicTable(names: topicNames, primary: itemTopics.map { $0[0] })
            : TopicTable(names: topicNames, itemTopics: itemTopics)

        var quality: [Float]? = nil
        if let c = t.optionalColumn("quality") {
            quality = try t.rows.indices.map { r in
                let q = try t.double(r, c)
                guard q >= 0 && q <= 1 else { throw t.error(r, c, "quality \(q) is outside 0…1") }
                return Float(q)
            }
        }
        var popularity: [Float]? = nil
        if let c = t.optionalColumn("popularity") {
            popularity = try t.rows.indices.map { r in
                let p = try t.double(r, c)
                guard p >= 0 else { throw t.error(r, c, "popularity \(p) is negative") }
                return Float(p)
            }
        }
        var creators: [Int32]? = nil
        if let c = t.optionalColumn("creator") {
            var labels: [String: Int32] = [:]
            creators = t.rows.indices.map { r in
                let s = t.string(r, c)
                if let v = labels[s] { return v }
                let v = Int32(labels.count)
                labels[s] = v
                return v
            }
        }
        var flags: [ItemFlags]? = nil
        if let c = t.optionalColumn("flags") {
            flags = try t.rows.indices.map { r in
                var f = ItemFlags()
                for part in t.string(r, c).split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
                where !part.isEmpty {
                    guard let flag = ItemFlags.names.first(where: { $0.0 == part })?.1 else {
                        throw t.error(r, c, "unknown flag '\(part)' (known: \(ItemFlags.names.map(\.0).joined(separator: ", ")))")
                    }
                    f.insert(flag)
                }
                return f
            }
        }
        do {
            return try Catalog(
                embeddings: embeddings, topics: table, quality: quality, popularityPrior: popularity, creators: creators,
                flags: flags, externalIDs: ids)
        } catch let e as CatalogError {
            // Point at the offending line where the error is about one item.
            switch e {
            case .zeroNorm(let i), .nonFinite(let i):
                throw DataFileError(
                    file: embeddingsFile == path ? path : embeddingsFile, line: embeddingsFile == path ? t.lines[i] : i + 1,
                    message: "item '\(ids[i])': \(e)")
            default: throw e
            }
        }
    }
}
