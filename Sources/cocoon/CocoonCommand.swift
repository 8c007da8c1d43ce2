import CocoonCore
import ArgumentParser
import CocoonMath
import Foundation

/// The `cocoon` command: the root of every subcommand.
@main
struct CocoonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cocoon",
        abstract: "A recommendation-feed diversity simulator and test harness.",
        discussion: """
            Cocoon runs synthetic users through a pluggable recommender, measures homogeneity, \
            information-cocoon drift and the effect of "not interested" feedback, and writes \
            diversity scorecards.
            """,
        version: "cocoon \(ToolInfo.version) (OpenBLAS: \(BLASRuntime.buildDescription))",
        subcommands: [RunCommand.self, SuiteCommand.self, SweepCommand.self, ValidateCommand.self, ListCommand.self, EvaluateCommand.self, RerankCommand.self]
    )
}

enum ToolInfo {
    static let version = CocoonVersion.string
}

/// Prints `error: message` to stderr and exits with `code` (2 = bad input or a failed run).
func fail(_ message: String, code: Int32 = 2) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
}

/// Prints a line to stderr (progress and notes; stdout stays for results).
func note(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
