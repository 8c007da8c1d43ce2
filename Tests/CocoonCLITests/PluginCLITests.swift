import Foundation
import Testing

/// Each plugin fault, with a purpose-built misbehaving plugin (Tests/plugins/misbehave.py):
/// a clear message naming the step, the user and the fault, the plugin's stderr tail, exit
/// status 2, and the scorecard of the steps measured so far kept, marked as aborted.
@Suite struct PluginFaultTests {
    struct Case: Sendable, CustomStringConvertible {
        let mode: String
        let step: Int
        let expected: [String]
        var description: String { mode }
    }

    static let cases: [Case] = [
        Case(mode: "exit", step: 3, expected: ["plugin fault (exited)", "it exited with status 3", "| misbehave: giving up now"]),
        Case(mode: "crash", step: 3, expected: ["plugin fault (exited)", "| RuntimeError: model weights not found"]),
        Case(mode: "hang", step: 3, expected: ["plugin fault (timeout)", "no answer to the recommend message within 2 s"]),
        Case(mode: "malformed", step: 3, expected: ["plugin fault (malformed JSON)", "{this is not json", "one JSON object per line"]),
        Case(mode: "count", step: 3, expected: ["plugin fault (wrong number of slates)", "answered", "slates for", "requested users"]),
        Case(mode: "size", step: 3, expected: ["plugin fault (wrong slate size), user 1:", "the slate has 9 items, the slate size is 10"]),
        Case(mode: "unknown", step: 3, expected: ["plugin fault (unknown item id), user 2:", "position 5 holds 2000, not an item id in 0…1999"]),
        Case(mode: "string-id", step: 3, expected: ["plugin fault (unknown item id), user 0:", "position 1 holds \""]),
        Case(mode: "duplicate", step: 3, expected: ["plugin fault (duplicate item id), user 1:", "appears at positions 1 and 4"]),
        Case(mode: "version", step: 0, expected: ["plugin fault (protocol version mismatch) during hello", "speaks protocol version 2, this Cocoon speaks version 1"]),
        Case(mode: "error", step: 3, expected: ["plugin fault (error reported by the plugin)", "the feature store is down"]),
        Case(mode: "wrong-type", step: 3, expected: ["plugin fault (out of protocol)", "expected a \"slates\" answer to the recommend message, got \"ack\""]),
        Case(mode: "feedback-hang", step: 3, expected: ["plugin fault (timeout)", "the recommender failed at step 3 (observe)", "no answer to the feedback message within 2 s"]),
    ]

    @Test(arguments: cases)
    func faultGivesAClearErrorAndKeepsWhatWasMeasured(_ c: Case) throws {
        let dir = CLI.tempDir("plugin-\(c.mode)")
        let r = try CLI.run([
            "run", "Scenarios/quickstart.yaml", "--quiet", "--out", dir, "--set", "world.population.users=100", "--set", "steps=8",
            "--set", "replicates=1", "--set", "interventions[0].at=4", "--plugin-timeout", "2",
            "--plugin", "--", "python3", "Tests/plugins/misbehave.py", c.mode,
        ])
        #expect(r.status == 2, "\(r.stderr)")
        for e in c.expected { #expect(r.stderr.contains(e), "missing '\(e)' in:\n\(r.stderr)") }
        #expect(r.stderr.contains("the recommender failed at step \(c.step)"), "\(r.stderr)")
        if c.mode != "version" { #expect(r.stderr.contains("| misbehave: mode \(c.mode) at step 3"), "stderr tail missing:\n\(r.stderr)") }
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
        // The scorecard of the steps measured so far is kept, marked as aborted.
        let card = try readJSON(dir + "/scorecard.json")
        #expect(card["status"] as? String == "aborted")
        let error = card["error"] as! [String: Any]
        #expect((error["step"] as! NSNumber).intValue == c.step)
        if c.step > 1 {
            let metrics = card["metrics"] as! [String: Any]
            let ild = (metrics["ild_cosine"] as! [String: Any])["population"] as! [String: Any]
            let mean = ild["mean"] as! [Any]
            #expect(mean[1] is NSNumber, "step 1 was measured")
            #expect(mean[c.step] is NSNull, "step \(c.step) was not")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/scorecard.html"))
        // No plugin process is left behind.
        let ps = try runProgram(["pgrep", "-f", "misbehave.py \(c.mode)$"])
        #expect(ps.stdout.isEmpty, "a plugin process survived: \(ps.stdout)")
    }

    @Test func aMissingProgramIsNamed() throws {
        let r = try CLI.run(["run", "Scenarios/quickstart.yaml", "--quiet", "--out", CLI.tempDir("plugin-missing"), "--plugin", "--", "no-such-recommender"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot find the program 'no-such-recommender' on the PATH"))
    }
}

@Suite struct PluginExampleTests {
    @Test func theCompliantExampleIsConformant() throws {
        let r = try CLI.run(["plugin", "check", "--", "python3", "Examples/plugins/python/compliant_recommender.py"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("result: conformant — 12 passed, 0 failed, 0 not applicable"), "\(r.stdout)")
    }

    @Test func theNonCompliantExampleFailsEveryControlButSpeaksTheProtocol() throws {
        let r = try CLI.run(["plugin", "check", "--", "python3", "Examples/plugins/python/noncompliant_recommender.py"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func verdict(_ name: String) -> String? {
            lines.first { $0.dropFirst(9).hasPrefix(name + " ") }.map { String($0.dropFirst(2).prefix(4)) }
        }
        for name in ["handshake", "messages", "determinism"] { #expect(verdict(name) == "PASS", "\(name)") }
        for name in ["not-interested-item", "not-interested-topic", "personalisation-off", "tag-deleted", "tag-declared", "blocks", "harmful",
                     "harmful-tags", "minors"] {
            #expect(verdict(name) == "FAIL", "\(name) should fail:\n\(r.stdout)")
        }
    }

    @Test func aProtocolFaultExitsTwo() throws {
        let r = try CLI.run(["plugin", "check", "--timeout", "2", "--", "python3", "Tests/plugins/misbehave.py", "duplicate", "5"])
        #expect(r.status == 2)
        #expect(r.stdout.contains("PASS   handshake"))
        #expect(r.stdout.contains("FAIL   messages"))
        #expect(r.stdout.contains("plugin fault (duplicate item id), user 1"))
    }
}
