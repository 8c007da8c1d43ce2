import ArgumentParser
import CocoonCore
import CocoonReport
import CocoonScenario
import Foundation

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Work with plugin recommenders (docs/plugin-protocol.md).",
        subcommands: [PluginCheckCommand.self]
    )
}

struct PluginCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Test a plugin's conformance on a tiny world: handshake, messages, determinism, controls.",
        discussion: """
            Runs the plugin on a 300-user world for 24 steps in which each segment of users \
            exercises one control ("not interested", personalisation off, deleted and declared \
            tags, blocks) and a harmful topic and minorUnsafe items test the duties; runs it \
            twice when it claims to be deterministic. Prints one line per test. With --out, \
            writes the run's scorecard there. Exit status: 0 when conformant, 1 when a control, \
            duty or the determinism claim fails, 2 on a protocol fault.
            """
    )

    @Option(help: ArgumentHelp("Seconds to wait for each answer of the plugin.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: "Write the conformance run's scorecard to this folder.")
    var out: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("-- COMMAND ARGS…: the plugin to test.", valueName: "command"))
    var command: [String] = []

    var plugin: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        if plugin.isEmpty { throw ValidationError("give the plugin's command: cocoon plugin check -- python3 my_recommender.py") }
        guard timeout > 0 && timeout <= 86_400 else { throw ValidationError("--timeout must be in (0, 86400] seconds, got \(timeout)") }
    }

    func run() throws {
        print("cocoon plugin check: \(plugin.joined(separator: " "))")
        let report = PluginCheck.run(command: plugin, timeout: timeout)
        print(report.text)
        if let out, let card = report.scorecard {
            do {
                try ReportWriter.write(card, to: out)
                print("scorecard: \(out)/scorecard.html")
            } catch {
                note("error: \(error)")
            }
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
