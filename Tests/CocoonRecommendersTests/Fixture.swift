import CocoonCore
import Foundation

/// The conformance fixture of ../shared/fixtures/metrics, loaded once.
struct Fixture: @unchecked Sendable {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures/metrics").standardized.path

    let catalog: Catalog
    let geometry: ItemGeometry
    /// Candidates per user id (1-based ids): (item index, score), in file order.
    let candidates: [Int: [(Int32, Double)]]
    /// History topic distribution per user id.
    let profiles: [Int: [Double]]
    let expected: [String: Any]

    static let shared: Fixture = try! Fixture()

    init() throws {
        catalog = try Catalog.load(itemsCSV: Fixture.folder + "/items.csv")
        geometry = ItemGeometry(catalog)
        var index: [String: Int32] = [:]
        for i in 0..<catalog.count { index[catalog.id(of: i)] = Int32(i) }
        let c = try CSVTable(contentsOf: Fixture.folder + "/candidates.csv")
        var cand: [Int: [(Int32, Double)]] = [:]
        for r in c.rows.indices {
            cand[try c.int(r, 0), default: []].append((index[c.string(r, 1)]!, try c.double(r, 2)))
        }
        candidates = cand
        let h = try CSVTable(contentsOf: Fixture.folder + "/interactions.csv")
        var prof: [Int: [Double]] = [:]
        for r in h.rows.indices {
            let u = try h.int(r, 0)
            var p = prof[u] ?? [Double](repeating: 0, count: catalog.topics.count)
            catalog.topics.accumulate(item: Int(index[h.string(r, 1)]!), into: &p)
            prof[u] = p
        }
        profiles = prof.mapValues { p in
            let s = p.reduce(0, +)
            return p.map { $0 / s }
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixture.folder + "/expected-public.json"))
        expected = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}
