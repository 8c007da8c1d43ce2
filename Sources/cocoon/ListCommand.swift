import ArgumentParser
import CocoonCore
import CocoonScenario

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the built-in kinds a scenario can name, with a line of help each.",
        discussion: "Categories: \(Registry.categories.joined(separator: ", ")). Without a category, all of them."
    )

    @Argument(help: "A category (default: all).")
    var category: String?

    func validate() throws {
        if let c = category, !Registry.categories.contains(c) {
            throw ValidationError("unknown category '\(c)'\(Suggestions.hint(for: c, in: Registry.categories)); categories: \(Registry.categories.joined(separator: ", "))")
        }
    }

    func run() throws {
        print(Registry.text(category))
    }
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check scenario files without running them.",
        discussion: "Prints `ok` and a summary per valid file, or the first error with file, line:column and key path. Exit status 0 when every file is valid, 2 otherwise."
    )

    @Argument(help: "Scenario files.")
    var files: [String]

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key, KEY=VALUE (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one scenario file") }
    }

    func run() throws {
        var bad = 0
        for f in files {
            do {
                let (s, _) = try Scenario.load(f, overrides: overrides)
                if s.suiteCheck != nil {
                    print("ok: \(f) — suite check '\(s.suiteCheck!)'")
                } else {
                    print("ok: \(f) — \(s.name): \(s.population.users) users, \(s.steps) steps, \(s.replicates) replicate(s), recommender \(s.recommender.kind), \(s.interventions.count) intervention(s), \(s.checks.count) check(s)")
                }
            } catch {
                bad += 1
                print("error: \(error)")
            }
        }
        if bad > 0 { throw ExitCode(2) }
    }
}
