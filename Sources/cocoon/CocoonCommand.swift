import ArgumentParser
import CocoonMath

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
        subcommands: []
    )
}

enum ToolInfo {
    static let version = "0.1.0"
}
