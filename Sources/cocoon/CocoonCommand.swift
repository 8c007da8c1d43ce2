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
        version: "cocoon \(ToolInfo.version) (OpenBLAS: \(BLASRuntime.buildDescription); scores: \(BlockScorer.productsSummary))",
        subcommands: [RunCommand.self, SuiteCommand.self, SweepCommand.self, CompareCommand.self, PluginCommand.self, ValidateCommand.self, ListCommand.self,
                      EvaluateCommand.self, RerankCommand.self]
    )

    /// Starts again with the OpenBLAS kernel for this CPU if the library fell back to its slow
    /// `Prescott` kernel (``BLASRuntime/restartWithKernelForThisCPU()``), installs the Ctrl-C /
    /// SIGTERM handler and the allocator setting, then parses and runs the command.
    static func main() {
        BLASRuntime.restartWithKernelForThisCPU()
        InterruptHandler.install()
        MemoryRuntime.ensureConfigured()
        main(nil)
    }
}

/// On the first Ctrl-C (SIGINT) or SIGTERM, asks runs to stop after the current step so that
/// what was measured is written, marked as aborted; a second signal ends the process at once.
enum InterruptHandler {
    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in
                Interruption.request()
                signal(s, SIG_DFL)
            }
        }
    }
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
