import Foundation
import Testing

@Suite struct RerankCLITests {
    func expectedLists(_ key: String) throws -> [String: [Int]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: CLI.fixtures + "/expected-public.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let r = (json["rerankers"] as! [String: Any])[key] as! [String: Any]
        return r["lists"] as! [String: [Int]]
    }

    func readLists(_ path: String) throws -> [String: [Int]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [String: [Int]] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",")
            out[String(f[0]), default: []].append(Int(f[1])!)
            #expect(Int(f[2])! == out[String(f[0])]!.count)
        }
        return out
    }

    @Test(arguments: [("mmr", "mmr"), ("dpp", "dpp_fast_greedy")])
    func reproducesTheReferenceLists(method: String, key: String) throws {
        let dir = CLI.tempDir("rerank-\(method)")
        let r = try CLI.run([
            "rerank", "--method", method, "--items", CLI.fixtures + "/items.csv", "--history", CLI.fixtures + "/interactions.csv",
            "--candidates", CLI.fixtures + "/candidates.csv", "--size", "10", "--out", dir + "/recs.csv",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let ours = try readLists(dir + "/recs.csv")
        let ref = try expectedLists(key)
        #expect(ours.count == 50)
        for (u, list) in ref { #expect(ours[u] == list, "user \(u)") }
    }

    @Test func parametersChangeTheResult() throws {
        let dir = CLI.tempDir("rerank-param")
        let args = [
            "rerank", "--method", "mmr", "--items", CLI.fixtures + "/items.csv", "--candidates", CLI.fixtures + "/candidates.csv",
        ]
        #expect(try CLI.run(args + ["--param", "lambda=1", "--out", dir + "/a.csv"]).status == 0)
        // λ = 1 is pure relevance: the base top 10, i.e. recs.csv.
        let a = try readLists(dir + "/a.csv")
        let recs = try readLists(CLI.fixtures + "/recs.csv")
        #expect(a == recs)
    }

    @Test(arguments: [
        (["--param", "lamda=0.5"], "bad --param 'lamda=0.5': 'mmr' takes lambda (did you mean 'lambda'?)"),
        (["--param", "lambda=1.5"], "bad --param 'lambda=1.5': lambda must be in [0, 1]"),
        (["--param", "lambda"], "bad --param 'lambda': expected NAME=VALUE"),
    ])
    func badParametersAreClearErrors(extra: [String], message: String) throws {
        let r = try CLI.run(
            [
                "rerank", "--method", "mmr", "--items", CLI.fixtures + "/items.csv", "--candidates",
                CLI.fixtures + "/candidates.csv", "--out", "/tmp/never.csv",
            ] + extra)
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(message)\n")
    }

    @Test func badCandidateFilesNameFileLineAndColumn() throws {
        let dir = CLI.tempDir("rerank-bad")
        let bad = dir + "/candidates.csv"
        try "user_id,item_id,score\n1,33,0.9\n1,999,0.8\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CLI.run([
            "rerank", "--method", "dpp", "--items", CLI.fixtures + "/items.csv", "--candidates", bad, "--out", dir + "/out.csv",
        ])
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(bad):3:2: item_id '999' is not in the catalog\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.csv"))
    }
}
