import CocoonMath
import Testing

@Suite struct RowDotsTests {
    /// The chain the choice step computes for one row: from +0, a product then a sum per
    /// dimension, in order (Swift does not fuse them).
    static func chain(_ x: [Float], _ row: UnsafePointer<Float>) -> Float {
        var s: Float = 0
        for i in x.indices { s = s + x[i] * row[i] }
        return s
    }

    /// Every count of rows the kernel takes and dimensions around its 16-value steps, with
    /// values that round differently fused (a product and a sum give other bits than one fused
    /// multiply-add on most of them), repeated rows, ±0, infinities and NaN: the kernel's
    /// results are the chains' bit for bit, and it runs exactly where the AVX-512 variants do.
    @Test func equalsTheChainsBitForBit() {
        for d in [1, 5, 15, 16, 17, 32, 63, 64, 100] {
            for n in 1...16 {
                var rng = Seed(31).stream("row-dots", d, n)
                let items = 24
                var matrix: [Float] = (0..<(items * d)).map { _ in Float(Sample.normal(using: &rng)) / 3 }
                var x: [Float] = (0..<d).map { _ in Float(Sample.normal(using: &rng)) }
                if d > 3 && n % 5 == 0 {
                    matrix[1] = .infinity
                    matrix[d + 2] = -.nan
                    x[3] = -0.0
                    matrix[2 * d] = -0.0
                }
                let chosen = (0..<n).map { _ in Sample.index(below: items, using: &rng) }
                matrix.withUnsafeBufferPointer { m in
                    let rows = chosen.map { m.baseAddress! + $0 * d }
                    let want = rows.map { Self.chain(x, $0) }
                    var got = [Float](repeating: 12345, count: 17)
                    let ran = rows.withUnsafeBufferPointer { r in
                        x.withUnsafeBufferPointer { xp in
                            got.withUnsafeMutableBufferPointer { g in
                                RowDots.compute(
                                    xp.baseAddress!, rows: r.baseAddress!, count: n, dimension: d, into: g.baseAddress!)
                            }
                        }
                    }
                    #expect(ran == KernelRuntime.usesAVX512Variants, "d \(d), n \(n)")
                    if ran {
                        #expect(got[..<n].map(\.bitPattern) == want.map(\.bitPattern), "d \(d), n \(n)")
                        #expect(got[n...].allSatisfy { $0 == 12345 }, "only n results are written (d \(d), n \(n))")
                    } else {
                        #expect(got.allSatisfy { $0 == 12345 }, "nothing is written when the kernel does not run")
                    }
                }
            }
        }
        // Outside 1 … 16 rows: never.
        var one: Float = 1
        var out: Float = 0
        withUnsafePointer(to: &one) { p in
            var rows = [UnsafePointer<Float>](repeating: p, count: 17)
            rows.withUnsafeMutableBufferPointer { r in
                #expect(!RowDots.compute(p, rows: UnsafePointer(r.baseAddress!), count: 17, dimension: 1, into: &out))
                #expect(!RowDots.compute(p, rows: UnsafePointer(r.baseAddress!), count: 0, dimension: 1, into: &out))
            }
        }
    }

    /// A forced instruction set runs exactly that level: no AVX-512 kernel then.
    @Test func notWhenALevelIsForced() {
        defer { KernelRuntime.force(nil) }
        var x: [Float] = [1, 2, 3]
        var out: [Float] = [0]
        for isa in KernelRuntime.available {
            KernelRuntime.force(isa)
            let ran = x.withUnsafeMutableBufferPointer { xp in
                [UnsafePointer(xp.baseAddress!)].withUnsafeBufferPointer { r in
                    RowDots.compute(xp.baseAddress!, rows: r.baseAddress!, count: 1, dimension: 3, into: &out)
                }
            }
            #expect(!ran, "\(isa) forced")
        }
    }
}
