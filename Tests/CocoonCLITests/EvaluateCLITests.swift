import Foundation
import Testing

@Suite struct EvaluateCLITests {
    @Test func reproducesEveryPublicReferenceValue() throws {
        let dir = CLI.tempDir("evaluate")
        let f = CLI.fixtures
        let r = try CLI.run([
            "evaluate", "--items", f + "/items.csv", "--history", f + "/interactions.csv", "--recs", f + "/recs.csv",
            "--relevant", f + "/relevant.csv", "--flags", f + "/not_interested.csv", "--recs-before", f + "/recs_prev.csv",
            "--out", dir,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let ours =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.json")))
            as! [String: Any]
        let ref =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f + "/expected-public.json")))
            as! [String: Any]
        let om = ours["metrics"] as! [String: [String: Any]]
        let rm = ref["metrics"] as! [String: [String: Any]]
        for (id, expected) in rm {
            let mine = try #require(om[id], "\(id) missing")
            let a = (mine["value"] as! NSNumber).doubleValue
            let b = (expected["reference"] as! NSNumber).doubleValue
            #expect(abs(a - b) <= 1e-9 || abs(a - b) <= 1e-7 * abs(b), "\(id)")
            // The same nesting: per_user and series where the reference has them.
            if let pu = expected["per_user"] as? [String: NSNumber] {
                let mp = mine["per_user"] as! [String: Any]
                for (u, v) in pu {
                    let a = (mp[u] as! NSNumber).doubleValue
                    let b = v.doubleValue
                    #expect(abs(a - b) <= 1e-9 || abs(a - b) <= 1e-7 * abs(b), "\(id) \(u)")
                }
            }
            if let s = expected["series"] as? [NSNumber] { #expect((mine["series"] as! [NSNumber]).count == s.count) }
        }
        let md = try String(contentsOfFile: dir + "/metrics.md", encoding: .utf8)
        #expect(md.contains("| `ild_cosine` | 0.590795 | 50 | 0 |"))
    }

    @Test(arguments: [
        ("recs.csv", "user_id,item_id,rank\n1,33,1\n1,14,1\n", "recs.csv:3:3: user '1' has rank 1 twice"),
        ("recs.csv", "user_id,item_id,rank\n1,33,1\n1,33,2\n", "recs.csv:3:2: user '1' lists item '33' twice (also on line 2)"),
        (
            "recs.csv", "user_id,item_id,rank\n1,33,1\n1,14,3\n",
            "recs.csv:3:3: user '1' has rank 3 but no rank 2 (ranks must be 1…2 without gaps)"
        ),
        ("recs.csv", "user_id,item,rank\n1,33,1\n", "recs.csv:1: missing column 'item_id' (columns: user_id, item, rank)"),
        ("recs.csv", "user_id,item_id,rank\n1,4000,1\n", "recs.csv:2:2: item_id '4000' is not in the catalog"),
        ("items.csv", "item_id,topic,e0,e1\n1,t0,0.5,abc\n", "items.csv:2:4: 'abc' in column 'e1' is not a finite number"),
        ("history.csv", "user_id,item_id,round\n1,33,x\n", "history.csv:2:3: 'x' in column 'round' is not an integer"),
    ])
    func badLogsNameFileLineAndColumn(file: String, content: String, message: String) throws {
        let dir = CLI.tempDir("evaluate-bad-\(abs(message.hashValue))")
        let f = CLI.fixtures
        var paths = ["items.csv": f + "/items.csv", "history.csv": f + "/interactions.csv", "recs.csv": f + "/recs.csv"]
        paths[file] = dir + "/" + file
        try content.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
        let r = try CLI.run([
            "evaluate", "--items", paths["items.csv"]!, "--history", paths["history.csv"]!, "--recs", paths["recs.csv"]!, "--out",
            dir + "/out",
        ])
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(dir)/\(message)\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/metrics.json"))
    }
}
