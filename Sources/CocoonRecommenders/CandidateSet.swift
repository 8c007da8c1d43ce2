import CocoonCore
import CocoonMath

/// The candidates of one re-ranking, copied into local arrays once: their unit embeddings
/// (Double), their pairwise cosine similarities and their topics. Re-rankers then run on
/// these arrays only (no per-pair lookups into shared catalog storage).
struct CandidateSet {
    let m: Int
    /// Cosine similarity of candidates a and b at `gram[a * m + b]` (1 on the diagonal).
    let gram: [Double]
    /// Primary topic of each candidate.
    let primary: [Int32]
    /// Whether some candidate has more than one topic (then `topicsOf` gives all of them).
    let multiTopic: Bool
    private let allTopics: [[Int32]]

    /// Topics of candidate c (primary first).
    func topicsOf(_ c: Int) -> [Int32] { multiTopic ? allTopics[c] : [primary[c]] }

    /// - Parameter single: compute the similarities in single precision from the catalog's Float
    ///   unit embeddings (enough for threshold tests such as near-duplicate removal).
    init(_ items: [Int32], geometry g: ItemGeometry, topics t: TopicTable, needsGram: Bool = true, single: Bool = false) {
        let m = items.count
        self.m = m
        let d = g.dimension
        primary = items.map { t.primary[Int($0)] }
        multiTopic = t.isMultiTopic
        allTopics = t.isMultiTopic ? items.map { Array(t.topics(of: Int($0))) } : []
        guard needsGram else {
            gram = []
            return
        }
        if single {
            let rows = g.unitSingle.gatherRows(items)
            let sims = rows.multiplied(by: rows, transposeOther: true)
            var out = sims.storage.map(Double.init)
            for a in 0..<m { out[a * m + a] = 1 }
            gram = out
            return
        }
        var unit = [Double](repeating: 0, count: m * d)
        g.unit.withUnsafeBufferPointer { u in
            for (a, i) in items.enumerated() {
                let base = Int(i) * d
                for j in 0..<d { unit[a * d + j] = u[base + j] }
            }
        }
        var out = DoubleBLAS.gram(unit, rows: m, cols: d)
        for a in 0..<m { out[a * m + a] = 1 }
        gram = out
    }

    @inline(__always)
    func cosine(_ a: Int, _ b: Int) -> Double { gram[a * m + b] }
}
