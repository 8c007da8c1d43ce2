import CocoonCore
import CocoonMath
import Foundation

/// `piao-similarity`: the recommender of Piao et al. (Nature Machine Intelligence 2023) as
/// Cocoon formalises it. It keeps each user's *observed interest* x̂ (a vector in the item
/// embedding space; topic space for one-hot catalogs), initialised from the seed history, and
/// samples the slate without replacement with probability ∝ exp(β·cos(x̂, e_i)) (Gumbel top-k).
/// After each step, every shown item is one round of the paper's dynamics, in slate order:
/// accepted (consumed) → `x̂ += γ₊·ê_i`, rejected → `x̂ += γ₋·ê_i` (γ₋ < 0 pushes away); then
/// Gaussian noise σ per coordinate; coordinates are clipped at 0 when the catalog is
/// non-negative; x̂ is normalised (a vector clipped to zero restarts uniform).
public final class PiaoSimilarityModel: ScoringModel, @unchecked Sendable {
    public let kind = "piao-similarity"
    public let beta: Double
    public let gammaPlus: Double
    public let gammaMinus: Double
    public let sigma: Double
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    /// The observed interest of every user (users × d).
    public private(set) var observed = Matrix(rows: 0, cols: 0)
    var seed = Seed(0)
    var streamIDs: [Int32] = []
    var clip = false
    var catalog: Catalog?

    public init(beta: Double = 7, gammaPlus: Double = 0.5, gammaMinus: Double = -0.1, sigma: Double = 0.01) {
        self.beta = beta
        self.gammaPlus = gammaPlus
        self.gammaMinus = gammaMinus
        self.sigma = sigma
    }

    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        let c = world.catalog
        catalog = c
        itemFactors = c.unitEmbeddings
        seed = world.seed.derive("piao")
        streamIDs = world.streamIDs
        clip = !c.embeddings.storage.contains { $0 < 0 }
        let d = c.dimension
        observed = Matrix(rows: world.userCount, cols: d)
        for u in 0..<world.userCount {
            var v = [Float](repeating: 0, count: d)
            log.forEachConsumed(by: u) { i in for j in 0..<d { v[j] += c.unitEmbeddings[Int(i), j] } }
            if v.allSatisfy({ $0 == 0 }) { v = [Float](repeating: 1, count: d) }
            observed.setRow(u, to: BLAS.normalized(v))
        }
    }

    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {
        // score = β·cos(x̂, e) + Gumbel: the top k of it is a softmax(β·cos) sample.
        let b = Float(beta)
        for (r, u) in users.enumerated() { out.setRow(r, to: observed.row(Int(u)).map { $0 * b }) }
    }

    public var noiseScale: Float { 1 }

    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {
        guard let c = catalog else { return }
        let d = c.dimension
        let k = feedback.slateSize
        var x = [Float](repeating: 0, count: d)  // one user's observed interest, reused
        for (row, u32) in feedback.users.enumerated() {
            let u = Int(u32)
            for (j, v) in observed.row(u).enumerated() { x[j] = v }
            var r = seed.stream("noise", Int(streamIDs[u]), feedback.step)
            for p in 0..<k {
                let i = Int(feedback.slates[row * k + p])
                let g = Float(feedback.outcomes[row * k + p] == .consumed ? gammaPlus : gammaMinus)
                for j in 0..<d {
                    x[j] += g * c.unitEmbeddings[i, j] + Float(sigma * Sample.normal(using: &r))
                    if clip { x[j] = max(x[j], 0) }
                }
                if x.allSatisfy({ $0 == 0 }) { for j in 0..<d { x[j] = 1 } }
                BLAS.normalize(&x)
            }
            observed.setRow(u, to: x)
        }
    }

    public func topicWeights(of u: Int, log: InteractionLog, topics: TopicTable) -> [Double] {
        guard let c = catalog else { return [] }
        // The observed interest's cosine with each topic's centroid, clipped at 0.
        let cent = c.topicCentroids()
        let d = c.dimension
        let x = observed.row(u)
        return (0..<topics.count).map { t in max(0, (0..<d).reduce(0.0) { $0 + Double(x[x.startIndex + $1]) * cent[t * d + $1] })
        }
    }
}
