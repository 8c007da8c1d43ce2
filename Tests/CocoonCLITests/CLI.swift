import Foundation

/// Runs the `cocoon` executable built next to the test bundle.
enum CLI {
    static let binary: String = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] {
            let p = dir.appendingPathComponent("cocoon").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return here.appendingPathComponent("cocoon").path
    }()

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        .path
    static let fixtures = URL(fileURLWithPath: repo).appendingPathComponent("../shared/fixtures/metrics").standardized.path

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `cocoon args…` in `directory` (default: the repository) and waits.
    static func run(_ args: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try exec(binary, args, in: directory, environment: environment)
    }

    /// Runs any program (an absolute path) with `args` in `directory` and waits.
    static func exec(_ program: String, _ args: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory ?? repo)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh temporary folder.
    static func tempDir(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-cli-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: dir)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}
