import CocoonMath
import Testing

@Suite struct RowPanelsTests {
    /// Every panel dot product is the scalar in-order loop's Float, bit for bit: the panels
    /// replace that loop in the metric recorder's relevant items without changing a result.
    @Test(arguments: [(0, 5), (1, 1), (7, 3), (8, 64), (9, 64), (31, 17), (32, 64), (37, 64), (70, 2)])
    func dotsMatchTheScalarLoopBitForBit(shape: (Int, Int)) {
        let (picked, d) = shape
        var rng = Seed(11).stream("panels", picked, d)
        let m = Matrix(rows: 80, cols: d, values: (0..<(80 * d)).map { _ in Float(Sample.normal(using: &rng)) })
        // Rows in a scrambled order, with a repeat, as a topic's item list may be any subset.
        let rows = (0..<picked).map { Int32(($0 * 37 + 5) % 80) }
        let v = (0..<d).map { _ in Float(Sample.normal(using: &rng)) * 3 }
        let panels = RowPanels<Float>(m, rows: rows)
        #expect(panels.count == picked)
        #expect(panels.groupCount == (picked + 7) / 8)
        var out = [Float](repeating: .nan, count: max(8, panels.groupCount * 8))
        v.withUnsafeBufferPointer { vp in out.withUnsafeMutableBufferPointer { panels.dots(with: vp.baseAddress!, into: $0.baseAddress!) } }
        for (j, r) in rows.enumerated() {
            var s: Float = 0
            for x in 0..<d { s = s + v[x] * m[Int(r), x] }
            #expect(out[j].bitPattern == s.bitPattern, "row \(j) (matrix row \(r)): \(out[j]) vs \(s)")
        }
        // The padding rows are zero rows: their dots are 0.
        for j in picked..<(panels.groupCount * 8) { #expect(out[j] == 0) }
        // A different summation order would differ somewhere: the check above can fail.
        if picked >= 8 && d == 64 {
            let reversed = rows.map { r -> Float in
                var s: Float = 0
                for x in (0..<d).reversed() { s = s + v[x] * m[Int(r), x] }
                return s
            }
            #expect(zip(reversed, out).contains { $0.bitPattern != $1.bitPattern })
        }
    }
}
