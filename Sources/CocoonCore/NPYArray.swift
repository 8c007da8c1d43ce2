import Foundation

/// A two-dimensional array read from a NumPy `.npy` file (format versions 1–3, C order,
/// little-endian `float32` or `float64`).
public struct NPYArray: Sendable {
    /// Rows.
    public let rows: Int
    /// Columns (1 for a 1-D array).
    public let cols: Int
    /// The values in row-major order, as `Float`.
    public let values: [Float]

    /// Reads a file.
    ///
    /// - Throws: ``DataFileError`` saying what is unsupported and how to convert it.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataFileError(file: path, message: "cannot read the file (does it exist and is it readable?)")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw DataFileError(
                file: path, message: "not a NumPy .npy file (missing the \\x93NUMPY magic); save it with numpy.save")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw DataFileError(file: path, message: "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        } else {
            throw DataFileError(file: path, message: "unsupported .npy format version \(major)")
        }
        guard bytes.count >= headerStart + headerLength,
            let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8)
        else { throw DataFileError(file: path, message: "truncated .npy header") }
        func value(of key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            let rest = header[r.upperBound...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("(") { return rest.firstIndex(of: ")").map { String(rest[...$0]) } }
            return rest.split(separator: ",", maxSplits: 1).first.map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        guard let descr = value(of: "descr")?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) else {
            throw DataFileError(file: path, message: "the .npy header has no 'descr'")
        }
        guard descr == "<f4" || descr == "<f8" else {
            throw DataFileError(file: path, message: "dtype '\(descr)' is not supported; convert with array.astype('<f4')")
        }
        if value(of: "fortran_order") == "True" {
            throw DataFileError(
                file: path, message: "Fortran-ordered arrays are not supported; save numpy.ascontiguousarray(array)")
        }
        guard let shapeText = value(of: "shape") else {
            throw DataFileError(file: path, message: "the .npy header has no 'shape'")
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()")).split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dims.count == 1 || dims.count == 2 else {
            throw DataFileError(file: path, message: "expected a 1-D or 2-D array, got shape \(shapeText)")
        }
        rows = dims[0]
        cols = dims.count == 2 ? dims[1] : 1
        let width = descr == "<f4" ? 4 : 8
        let start = headerStart + headerLength
        let need = rows * cols * width
        guard bytes.count - start >= need else {
            throw DataFileError(
                file: path, message: "the file holds \(bytes.count - start) data bytes, shape \(shapeText) needs \(need)")
        }
        var out = [Float](repeating: 0, count: rows * cols)
        for i in 0..<(rows * cols) {
            let o = start + i * width
            if width == 4 {
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(bytes[o + b]) << (8 * b) }
                out[i] = Float(bitPattern: bits)
            } else {
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[o + b]) << (8 * b) }
                out[i] = Float(Double(bitPattern: bits))
            }
        }
        values = out
    }
}
