import CocoonCore
import CocoonMath
import Foundation
import Testing

/// Writes `text` to a file `name` in a folder of its own: parameterised cases run in parallel,
/// and a shared path would let one case read another's file.
private func temp(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-load-\(getpid())/\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

private func npy(_ name: String, rows: Int, cols: Int, values: [Float]) throws -> String {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
    while (10 + header.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
    bytes += Array(header.utf8)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-load-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

@Suite struct LoadingTests {
    @Test func fixtureItemsLoad() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../shared/fixtures/metrics/items.csv"
        ).standardized.path
        let c = try Catalog.load(itemsCSV: path)
        #expect(c.count == 200 && c.dimension == 8 && c.topics.names == (0..<8).map { "t\($0)" })
        #expect(c.id(of: 0) == "1" && c.id(of: 199) == "200")
        #expect(c.topics.primary[0] == 4 && c.topics.primary[1] == 6)  // items 1 and 2 are t4, t6
        #expect(abs(c.embeddings[0, 1] - -1.0224) < 1e-6)
    }

    @Test func multiTopicAndOptionalColumns() throws {
        let p = try temp(
            "multi.csv",
            """
            item_id,topics,e0,e1,quality,popularity,creator,flags
            a,drama|comedy,1,0,0.5,3,x,harmful
            b,comedy,0,1,1,1,y,
            c,t10,1,1,0,0,x,synthetic;labelled
            """)
        let c = try Catalog.load(itemsCSV: p)
        #expect(c.topics.names == ["comedy", "drama", "t10"])
        #expect(Array(c.topics.topics(of: 0)) == [1, 0])
        #expect(c.topics.isMultiTopic)
        #expect(c.creators == [0, 1, 0] && c.flags[0].contains(.harmful) && c.flags[2] == [.synthetic, .labelled])
        #expect(abs(c.popularityPrior[0] - 0.75) < 1e-6)
    }

    @Test(arguments: [
        ("item_id,topic,e0\n1,a,0.5\n2,b,x\n", "bad.csv:3:3: 'x' in column 'e0' is not a finite number"),
        ("item_id,e0\n1,0.5\n", "bad.csv:1: missing column 'topic' (or 'topics'; columns: item_id, e0)"),
        ("item_id,topic,e0\n1,a,0.5\n1,b,0.2\n", "bad.csv:3:1: item_id '1' repeats the item on line 2"),
        (
            "item_id,topic,e0,e1\n1,a,0,0\n",
            "bad.csv:2: item '1': item 0 has a zero-norm embedding (cosine similarity is undefined); remove it or give it a non-zero vector"
        ),
        ("item_id,topic,e0\n1,a,0.5,7\n", "bad.csv:2: has 4 fields, the header has 3 (item_id,topic,e0)"),
        (
            "item_id,topic,e0,flags\n1,a,1,evil\n",
            "bad.csv:2:4: unknown flag 'evil' (known: harmful, borderline, minorUnsafe, synthetic, labelled)"
        ),
        ("item_id,topic\n1,a\n", "bad.csv:1: no embedding columns (expected e0, e1, …; columns: item_id, topic)"),
    ])
    func badFilesNameFileLineAndColumn(input: (String, String)) throws {
        let p = try temp("bad.csv", input.0)
        do {
            _ = try Catalog.load(itemsCSV: p)
            Issue.record("expected an error")
        } catch let e as DataFileError {
            #expect(e.description.hasSuffix(input.1), "\(e)")
            #expect(e.description.hasPrefix(p.replacingOccurrences(of: "bad.csv", with: "")))
        }
    }

    @Test func npyEmbeddingsWithATopicsTable() throws {
        let e = try npy("emb.npy", rows: 3, cols: 2, values: [1, 0, 0, 2, 3, 4])
        let t = try temp("topics.csv", "item_id,topic\n10,x\n20,y\n30,x\n")
        let c = try Catalog.load(embeddings: e, topics: t)
        #expect(c.count == 3 && c.dimension == 2)
        #expect(c.embeddings.storage == [1, 0, 0, 2, 3, 4])
        #expect(abs(c.unitEmbeddings[2, 0] - 0.6) < 1e-6)
        #expect(c.externalIDs == ["10", "20", "30"] && c.topics.primary == [0, 1, 0])
        let short = try temp("short.csv", "item_id,topic\n10,x\n")
        #expect(throws: DataFileError.self) { try Catalog.load(embeddings: e, topics: short) }
        let csvEmb = try temp("emb.csv", "a,b\n1,0\n0,2\n3,4\n")
        #expect(try Catalog.load(embeddings: csvEmb, topics: t).embeddings == c.embeddings)
    }
}

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func fixtureHashesMatchTheirReadme() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/fixtures/metrics").standardized.path
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/items.csv"))
        #expect(SHA256.hex([UInt8](data)) == "9f993446a71686acd8a7e34a0ca9e6ae57cfa6286f741227541b0c4a407e391c")
    }
}
