import CocoonCore
import CocoonMath
import Foundation

/// What a run needs to be reproduced: tool version, scenario file and hash, overrides, seeds,
/// threads and the BLAS build. `cocoon run --manifest manifest.json` re-runs it; the
/// scorecard is byte-identical (threads change nothing).
public struct Manifest: Sendable {
    public let tool: String
    public let scenarioFile: String
    public let scenarioSHA256: String
    public let overrides: [String]
    public let seed: UInt64
    public let seeds: [UInt64]
    public let replicates: Int
    public let steps: Int
    public let threads: Int
    public let recommender: String
    public let blas: String
    public let blasCore: String

    public init(scenario: Scenario, file: String, text: String, overrides: [String], threads: Int, seeds: [UInt64]) {
        tool = "cocoon \(CocoonVersion.string)"
        scenarioFile = file
        scenarioSHA256 = SHA256.hex(text)
        self.overrides = overrides
        seed = scenario.seed
        self.seeds = seeds
        replicates = scenario.replicates
        steps = scenario.steps
        self.threads = threads
        recommender = scenario.recommender.kind == "plugin" ? "plugin: " + scenario.recommender.command.joined(separator: " ") : scenario.recommender.kind
        blas = BLASRuntime.buildDescription
        blasCore = BLASRuntime.coreName
    }

    /// `manifest.json`.
    public var json: JSONValue {
        .object([
            ("schema", .string("cocoon.manifest/1")),
            ("tool", .string(tool)),
            ("scenario", .object([("file", .string(scenarioFile)), ("sha256", .string(scenarioSHA256))])),
            ("overrides", .array(overrides.map { JSONValue.string($0) })),
            ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("seeds", .array(seeds.map { JSONValue.int(Int(truncatingIfNeeded: $0)) })),
            ("replicates", .int(replicates)),
            ("steps", .int(steps)),
            ("threads", .int(threads)),
            ("recommender", .string(recommender)),
            ("blas", .object([("build", .string(blas)), ("core", .string(blasCore)), ("threads_per_block", .int(1))])),
            ("rerun", .string(rerunCommand)),
        ])
    }

    /// The command that reproduces the run.
    public var rerunCommand: String {
        (["cocoon", "run", scenarioFile] + overrides.flatMap { ["--set", $0] }).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Reads a manifest: the scenario file and overrides to run again, and the OpenBLAS kernel
    /// the run used (sgemm's last bits depend on it); throws if the file's hash changed since.
    public static func rerunArguments(_ path: String) throws -> (file: String, overrides: [String], blasCore: String?) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw DataFileError(file: path, message: "cannot read the manifest")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw DataFileError(file: path, message: "\(error)") }
        guard let file = json["scenario"]?["file"]?.string, let hash = json["scenario"]?["sha256"]?.string else {
            throw DataFileError(file: path, message: "not a Cocoon manifest (no scenario.file / scenario.sha256)")
        }
        guard let current = FileManager.default.contents(atPath: file) else {
            throw DataFileError(file: path, message: "the scenario file \(file) it names cannot be read")
        }
        let now = SHA256.hex([UInt8](current))
        guard now == hash else {
            throw DataFileError(file: path, message: "the scenario file \(file) changed since this run (sha256 \(now.prefix(12))…, manifest \(hash.prefix(12))…); results would differ")
        }
        var overrides: [String] = []
        if case .array(let a)? = json["overrides"] { overrides = a.compactMap(\.string) }
        return (file, overrides, json["blas"]?["core"]?.string)
    }
}
