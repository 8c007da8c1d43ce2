import CocoonCore
import CocoonMath
import Foundation

/// `mf`: implicit-feedback matrix factorisation by alternating least squares (Hu, Koren &
/// Volinsky 2008), BLAS-backed. Every consumption is a positive with confidence `1 + α`.
/// Trained on the seed history at start and at the end of a start-up period of `warmup` steps,
/// then every `retrainEvery` steps (0 = never again: Chaney et al.'s "single training" on the
/// start-up data; 1 = "repeated training"). Items (and users) that have no positive yet keep
/// their random initial factors as the starting point of the next training, so a model
/// started on an empty history does not stay at zero.
///
/// Each half-step solves, for every user u, `(YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u`;
/// `YᵀY` is one `sgemm` shared by all users; the per-user correction touches only the
/// items u consumed. The f × f systems are solved by Cholesky.
public final class MatrixFactorizationModel: ScoringModel, @unchecked Sendable {
    public let kind = "mf"
    public let factors: Int
    public let regularization: Double
    public let alpha: Double
    public let iterations: Int
    public let retrainEvery: Int
    /// The start-up period: the model is trained once more when it ends.
    public let warmup: Int
    public private(set) var itemFactors = Matrix(rows: 0, cols: 0)
    var initialItems = Matrix(rows: 0, cols: 0)
    var userMatrix = Matrix(rows: 0, cols: 0)
    var seed = Seed(0)
    var executor = BlockExecutor(workers: 1)
    var stepsSinceTraining = 0
    /// Number of times the model was trained (for tests).
    public private(set) var trainings = 0

    public init(factors: Int = 16, regularization: Double = 0.1, alpha: Double = 10, iterations: Int = 8, retrainEvery: Int = 1,
                warmup: Int = 0) {
        self.warmup = warmup
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.retrainEvery = retrainEvery
    }

    public func start(_ world: RecommenderWorld, log: InteractionLog, truth: GroundTruth?) throws {
        seed = world.seed.derive("mf")
        executor = world.executor
        // Small random initial factors (deterministic).
        var r = seed.stream("init")
        let f = factors
        itemFactors = Matrix(
            rows: world.catalog.count, cols: f,
            values: (0..<(world.catalog.count * f)).map { _ in Float(Sample.normal(sd: 0.1, using: &r)) })
        initialItems = itemFactors
        userMatrix = Matrix(rows: world.userCount, cols: f)
        train(log)
    }

    public func userFactors(_ users: ArraySlice<Int32>, into out: inout Matrix) {
        for (r, u) in users.enumerated() { out.setRow(r, to: userMatrix.row(Int(u))) }
    }

    public func observe(_ feedback: FeedbackBatch, log: InteractionLog) throws {
        stepsSinceTraining += 1
        if (retrainEvery > 0 && stepsSinceTraining >= retrainEvery) || (warmup > 0 && feedback.step == warmup) { train(log) }
    }

    /// Runs `iterations` ALS sweeps on the log's consumption (users with no consumption get
    /// zero factors).
    func train(_ log: InteractionLog) {
        stepsSinceTraining = 0
        trainings += 1
        let als = ImplicitALS(factors: factors, regularization: regularization, alpha: alpha, iterations: iterations)
        // Warm start from the last factors; rows still at zero (no positive so far) restart
        // from their random initial values.
        var start = itemFactors
        let f = factors
        for i in 0..<start.rows where (0..<f).allSatisfy({ start[i, $0] == 0 }) {
            for j in 0..<f { start[i, j] = initialItems[i, j] }
        }
        (userMatrix, itemFactors) = als.fit(positives: log.consumedSets, itemCount: log.itemCount, initialItems: start, executor: executor)
    }
}

/// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) on BLAS: confidence `1 + α` for every
/// positive, L2 regularisation λ. `YᵀY` is one `sgemm` per half-step; each entity's f × f
/// system adds only its own positives and is solved by Cholesky. Entities with no positive get
/// zero factors.
public struct ImplicitALS: Sendable {
    public let factors: Int
    public let regularization: Double
    public let alpha: Double
    public let iterations: Int

    public init(factors: Int, regularization: Double = 0.1, alpha: Double = 10, iterations: Int = 8) {
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
    }

    /// Random initial item factors (N(0, 0.1²)), deterministic in `seed`.
    public func initialItems(count: Int, seed: Seed) -> Matrix {
        var r = seed.stream("als.init")
        return Matrix(rows: count, cols: factors, values: (0..<(count * factors)).map { _ in Float(Sample.normal(sd: 0.1, using: &r)) })
    }

    /// Fits user and item factors to per-user positive item lists (sorted, unique).
    public func fit<Lists: RandomAccessCollection & Sendable>(
        positives: Lists, itemCount: Int, initialItems: Matrix, executor: BlockExecutor
    ) -> (users: Matrix, items: Matrix) where Lists.Index == Int, Lists.Element: Collection<Int32> {
        var byItem = [[Int32]](repeating: [], count: itemCount)
        for (u, list) in positives.enumerated() { for i in list { byItem[Int(i)].append(Int32(u)) } }
        var items = initialItems
        var users = Matrix(rows: positives.count, cols: factors)
        for _ in 0..<iterations {
            users = solve(fixed: items, lists: positives, executor: executor)
            items = solve(fixed: users, lists: byItem, executor: executor)
        }
        return (users, items)
    }

    /// One ALS half-step: new factors for every list's entity against the `fixed` factors.
    ///
    /// Each entity's system is `(YᵀY + λI + α Σ_{i ∈ list} y_i y_iᵀ) x = (1 + α) Σ y_i`. Only the
    /// lower triangle of the matrix is formed (the Cholesky factorisation reads nothing else),
    /// through pointers into per-block scratch, so the update of a row is a loop the compiler
    /// vectorises. Every element still gets the same operations in the same order as the
    /// full-matrix loop (`m += (α·y_x)·y_z` item by item, no fused multiply-add), so the factors
    /// have the same bits (a test compares with that loop).
    func solve<Lists: RandomAccessCollection & Sendable>(fixed y: Matrix, lists: Lists, executor: BlockExecutor) -> Matrix
    where Lists.Index == Int, Lists.Element: Collection<Int32> {
        let f = factors, n = lists.count
        var gram = Matrix(rows: f, cols: f)
        Matrix.gemm(y, transposeA: true, y, into: &gram)     // YᵀY
        let blocks = BlockExecutor.blocks(count: n, blockSize: 512)
        let lambda = regularization, a = alpha, onePlusA = 1 + alpha
        let out = SharedArray<Float>(repeating: 0, count: n * f)
        let yStore = y.storage, gStore = gram.storage
        executor.forEach(blockCount: blocks.count) { b, _ in
            // One buffer per block: the system m (f × f, lower triangle used), its right-hand
            // side, an item's row in Double, the solution, and the solver's L and forward pass.
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * f * f + 4 * f) { scratch in
                let m = scratch.baseAddress!, rhs = m + f * f, row = rhs + f, x = row + f, work = x + f
                yStore.withUnsafeBufferPointer { yBuffer in
                    gStore.withUnsafeBufferPointer { gBuffer in
                        let yRows = yBuffer.baseAddress!, g = gBuffer.baseAddress!
                        for r in blocks[b] {
                            let pos = lists[r]
                            if pos.isEmpty { continue }
                            for i in 0..<f {
                                for z in 0...i { m[i * f + z] = Double(g[i * f + z]) }
                                m[i * f + i] += lambda
                                rhs[i] = 0
                            }
                            for item in pos {
                                let src = yRows + Int(item) * f
                                for z in 0..<f { row[z] = Double(src[z]) }
                                for i in 0..<f {
                                    let yi = row[i]
                                    rhs[i] += onePlusA * yi
                                    let t = a * yi
                                    let mi = m + i * f
                                    for z in 0...i { mi[z] = mi[z] + t * row[z] }
                                }
                            }
                            ImplicitALS.choleskySolve(m, rhs, f, into: x, work: work)
                            for c in 0..<f { out[r * f + c] = Float(x[c]) }
                        }
                    }
                }
            }
        }
        return Matrix(rows: n, cols: f, values: out.toArray())
    }

    /// Solves the symmetric positive-definite system `M x = b` (f × f) by Cholesky into `x`.
    /// `m` is read in its lower triangle only (`m[i·f + j]`, j ≤ i); `work` holds f² + f values
    /// (the factor L's lower triangle, then the forward solution).
    static func choleskySolve(
        _ m: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ f: Int, into x: UnsafeMutablePointer<Double>,
        work: UnsafeMutablePointer<Double>
    ) {
        let l = work, y = work + f * f
        for i in 0..<f {
            for j in 0...i {
                var s = m[i * f + j]
                for k in 0..<j { s -= l[i * f + k] * l[j * f + k] }
                if i == j { l[i * f + i] = max(s, 1e-12).squareRoot() } else { l[i * f + j] = s / l[j * f + j] }
            }
        }
        for i in 0..<f {
            var s = b[i]
            for k in 0..<i { s -= l[i * f + k] * y[k] }
            y[i] = s / l[i * f + i]
        }
        for i in stride(from: f - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<f { s -= l[k * f + i] * x[k] }
            x[i] = s / l[i * f + i]
        }
    }
}
