import Foundation

/// Writes files atomically: the content goes to a temporary file in the same folder, which
/// is then renamed over the target, so a reader never sees a half-written file and a crash
/// never replaces a good file with a broken one.
public enum AtomicFile {
    /// Writes `data` to `path` atomically, creating parent folders.
    ///
    /// - Throws: ``DataFileError`` when the folder or file cannot be written.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw DataFileError(file: dir.path, message: "cannot create the folder: \(error.localizedDescription)")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: tmp.path, contents: data) else {
            throw DataFileError(file: path, message: "cannot write the file (is the folder writable?)")
        }
        if rename(tmp.path, url.path) != 0 {
            let code = errno
            unlink(tmp.path)
            throw DataFileError(file: path, message: "cannot replace the file: \(String(cString: strerror(code)))")
        }
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}
