import CocoonMath
import Testing

/// The memory-saving stores: item ids in 2 bytes, arrays filled in place by parallel blocks.
@Suite struct CompactStorageTests {
    /// Ids round-trip in both widths; −1 (none) survives the 2-byte form; the width follows
    /// the catalog size (65,535 is the first catalog too large for 2 bytes).
    @Test(arguments: [10, 65_534, 65_535, 100_000])
    func itemIDsRoundTrip(itemCount: Int) {
        let ids = SharedItemIDs(repeating: -1, count: 6, itemCount: itemCount)
        #expect(ids.isNarrow == (itemCount < 65_535))
        #expect(ids.toArray() == [-1, -1, -1, -1, -1, -1])
        let values: [Int32] = [0, Int32(itemCount - 1), -1, 7 % Int32(itemCount), Int32(itemCount / 2), 3]
        for (i, v) in values.enumerated() { ids[i] = v }
        #expect(ids.toArray() == values)
        #expect(ids.ids(1..<4) == Array(values[1..<4]))
        #expect(ids[1] == Int32(itemCount - 1))
    }

    /// Blocks write disjoint ranges of the array in place; every write is there afterwards,
    /// whatever the number of workers.
    @Test(arguments: [1, 3])
    func fillInParallelWritesInPlace(workers: Int) {
        let exec = BlockExecutor(workers: workers)
        let blocks = BlockExecutor.blocks(count: 1000, blockSize: 64)
        var a = [Int32](repeating: -1, count: 1000)
        let returned = a.fillInParallel { out -> Int in
            exec.forEach(blockCount: blocks.count) { b, _ in
                for i in blocks[b] { out[i] = Int32(i * 3) }
            }
            return out.count
        }
        #expect(returned == 1000)
        #expect(a == (0..<1000).map { Int32($0 * 3) })
    }
}
