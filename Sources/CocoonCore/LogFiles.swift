import Foundation

/// Readers for the log files of `cocoon evaluate` and `cocoon rerank` (the formats of the
/// metric fixture; docs/file-formats.md). Every error names file, line and column.
///
/// Item ids are the catalog's `item_id` values; user ids are any labels, ordered naturally
/// (`2` before `10`) wherever an order matters.
public enum LogFiles {
    /// The order of user ids: numeric-aware (`u2` < `u10`), then plain string order.
    public static func userOrder(_ a: String, _ b: String) -> Bool {
        let r = a.compare(b, options: .numeric)
        return r == .orderedSame ? a < b : r == .orderedAscending
    }

    /// Maps external item ids to catalog indices.
    public static func itemIndex(_ catalog: Catalog) -> [String: Int32] {
        var m: [String: Int32] = [:]
        for i in 0..<catalog.count { m[catalog.id(of: i)] = Int32(i) }
        return m
    }

    static func item(_ t: CSVTable, _ r: Int, _ c: Int, _ index: [String: Int32]) throws -> Int32 {
        let id = t.string(r, c)
        guard let i = index[id] else { throw t.error(r, c, "item_id '\(id)' is not in the catalog") }
        return i
    }

    /// `user_id,item_id[,round]`: one interaction per row (round 0 = seed history; the column
    /// may be absent, then every row is round 0).
    public static func interactions(_ path: String, catalog: Catalog) throws -> [(user: String, item: Int32, round: Int)] {
        let t = try CSVTable(contentsOf: path)
        let uc = try t.column("user_id")
        let ic = try t.column("item_id")
        let rc = t.optionalColumn("round")
        let index = itemIndex(catalog)
        return try t.rows.indices.map { r in
            let u = t.string(r, uc)
            if u.isEmpty { throw t.error(r, uc, "empty user_id") }
            let round =
                try rc.map { c -> Int in
                    let v = try t.int(r, c)
                    guard v >= 0 else { throw t.error(r, c, "round \(v) is negative") }
                    return v
                } ?? 0
            return (u, try item(t, r, ic, index), round)
        }
    }

    /// `user_id,item_id,rank`: ranked lists. Ranks must be 1…|L| without gaps or repeats and an
    /// item may appear once per list (METRICS.md C5: reject, never repair).
    public static func lists(_ path: String, catalog: Catalog) throws -> [String: [Int32]] {
        let t = try CSVTable(contentsOf: path)
        let uc = try t.column("user_id")
        let ic = try t.column("item_id")
        let kc = try t.column("rank")
        let index = itemIndex(catalog)
        var byUser: [String: [(rank: Int, item: Int32, row: Int)]] = [:]
        for r in t.rows.indices {
            let u = t.string(r, uc)
            if u.isEmpty { throw t.error(r, uc, "empty user_id") }
            let rank = try t.int(r, kc)
            guard rank >= 1 else { throw t.error(r, kc, "rank \(rank) must be ≥ 1") }
            byUser[u, default: []].append((rank, try item(t, r, ic, index), r))
        }
        var out: [String: [Int32]] = [:]
        for (u, entries) in byUser {
            let sorted = entries.sorted { $0.rank < $1.rank }
            for (j, e) in sorted.enumerated() {
                guard e.rank == j + 1 else {
                    let dup = j > 0 && sorted[j - 1].rank == e.rank
                    throw t.error(
                        e.row, kc,
                        dup
                            ? "user '\(u)' has rank \(e.rank) twice"
                            : "user '\(u)' has rank \(e.rank) but no rank \(j + 1) (ranks must be 1…\(sorted.count) without gaps)"
                    )
                }
            }
            var seen: [Int32: Int] = [:]
            for e in sorted {
                if let first = seen[e.item] {
                    throw t.error(
                        e.row, ic,
                        "user '\(u)' lists item '\(catalog.id(of: Int(e.item)))' twice (also on line \(t.lines[first]))")
                }
                seen[e.item] = e.row
            }
            out[u] = sorted.map(\.item)
        }
        return out
    }

    /// `user_id,item_id,score`: scored candidates, returned per user sorted by (score
    /// descending, catalog index ascending). Scores must be finite; an item once per user.
    public static func scoredCandidates(_ path: String, catalog: Catalog) throws -> [String: [(item: Int32, score: Double)]] {
        let t = try CSVTable(contentsOf: path)
        let uc = try t.column("user_id")
        let ic = try t.column("item_id")
        let sc = try t.column("score")
        let index = itemIndex(catalog)
        var byUser: [String: [(item: Int32, score: Double)]] = [:]
        var seen: [String: [Int32: Int]] = [:]
        for r in t.rows.indices {
            let u = t.string(r, uc)
            if u.isEmpty { throw t.error(r, uc, "empty user_id") }
            let i = try item(t, r, ic, index)
            if let first = seen[u]?[i] {
                throw t.error(r, ic, "user '\(u)' has item '\(catalog.id(of: Int(i)))' twice (also on line \(t.lines[first]))")
            }
            seen[u, default: [:]][i] = r
            byUser[u, default: []].append((i, try t.double(r, sc)))
        }
        return byUser.mapValues { $0.sorted { $0.score != $1.score ? $0.score > $1.score : $0.item < $1.item } }
    }

    /// `user_id,item_id`: a set of items per user (e.g. relevant items).
    public static func pairs(_ path: String, catalog: Catalog) throws -> [String: [Int32]] {
        let t = try CSVTable(contentsOf: path)
        let uc = try t.column("user_id")
        let ic = try t.column("item_id")
        let index = itemIndex(catalog)
        var out: [String: [Int32]] = [:]
        for r in t.rows.indices {
            let u = t.string(r, uc)
            if u.isEmpty { throw t.error(r, uc, "empty user_id") }
            let i = try item(t, r, ic, index)
            if !(out[u]?.contains(i) ?? false) { out[u, default: []].append(i) }
        }
        return out
    }
}
