import CocoonMath
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Testing

@Suite struct BlockExecutorTests {
    /// A shared array starts on a cache line, so blocks that own whole lines of it (the
    /// centroid pass' ranges of coordinates) never write a line another block writes; and it
    /// holds its values.
    @Test func sharedArraysStartOnACacheLine() {
        for count in [0, 1, 3, 64, 1000] {
            let doubles = SharedArray<Double>(repeating: 1.5, count: count)
            let bytes = SharedArray<UInt8>(Array(repeating: 7, count: count))
            let lists = SharedArray<[Int]>(repeating: [count], count: count)
            doubles.withUnsafeMutableBufferPointer(0..<count) { p in
                #expect(UInt(bitPattern: p.baseAddress) % 64 == 0)
            }
            bytes.withUnsafeMutableBufferPointer(0..<count) { p in
                #expect(UInt(bitPattern: p.baseAddress) % 64 == 0)
            }
            #expect(doubles.toArray() == Array(repeating: 1.5, count: count))
            #expect(bytes.toArray() == Array(repeating: 7, count: count))
            #expect(lists.toArray() == Array(repeating: [count], count: count))
        }
    }

    @Test func blocksCoverTheRangeInOrder() {
        #expect(BlockExecutor.blocks(count: 0, blockSize: 4).isEmpty)
        #expect(BlockExecutor.blocks(count: 10, blockSize: 4) == [0..<4, 4..<8, 8..<10])
        #expect(BlockExecutor.blocks(count: 8, blockSize: 4) == [0..<4, 4..<8])
    }

    /// Scoring + top-k + a float reduction over user blocks, with 1, 2 and 4 workers:
    /// every output bit must be identical.
    @Test func outputIsBitIdenticalForAnyWorkerCount() {
        var rng = Seed(12).stream("exec")
        let users = Matrix(rows: 1000, cols: 24, values: (0..<24_000).map { _ in Float(Sample.normal(using: &rng)) })
        let items = Matrix(rows: 3000, cols: 24, values: (0..<72_000).map { _ in Float(Sample.normal(using: &rng)) })
        let scorer = BlockScorer(items: items, tileSize: 512)
        let blocks = BlockExecutor.blocks(count: users.rows, blockSize: 64)

        func run(workers: Int) -> (slates: [Int32], sums: [Float]) {
            let exec = BlockExecutor(workers: workers)
            let slates = SharedArray<Int32>(repeating: -1, count: users.rows * 10)
            let spaces = (0..<workers).map { _ in ScoringWorkspace() }
            let sums = exec.map(blockCount: blocks.count) { b, w -> Float in
                let rows = blocks[b]
                var local = [Int32](repeating: 0, count: rows.count * 10)
                scorer.topK(users: users, rows: rows, k: 10, workspace: spaces[w]) { r, sel in
                    _ = sel.drainSorted(into: &local, at: r * 10)
                }
                for (j, v) in local.enumerated() { slates[rows.lowerBound * 10 + j] = v }
                // A per-block float reduction (order fixed inside the block).
                let s = scorer.scores(users: users, rows: rows)
                return s.storage.reduce(0, +)
            }
            return (slates.toArray(), sums)
        }
        let one = run(workers: 1)
        for w in [2, 4] {
            let other = run(workers: w)
            #expect(other.slates == one.slates, "\(w) workers")
            #expect(other.sums.map(\.bitPattern) == one.sums.map(\.bitPattern), "\(w) workers")
        }
        #expect(!one.slates.contains(-1))
    }

    @Test func tryMapReportsTheLowestFailingBlock() {
        struct Failure: Error, Equatable { let block: Int }
        let exec = BlockExecutor(workers: 4)
        #expect(throws: Failure(block: 3)) {
            _ = try exec.tryMap(blockCount: 40) { b, _ -> Int in
                if b % 10 == 3 { throw Failure(block: b) }
                return b
            }
        }
        let ok = try? exec.tryMap(blockCount: 40) { b, _ in b * 2 }
        #expect(ok == (0..<40).map { $0 * 2 })
    }

    /// With two workers the side task runs at the same time as the main one: each waits for
    /// the other's signal (one after the other, the first would wait in vain: the timeout
    /// fails the test instead of hanging it). With one worker the side task runs first.
    @Test func overlappingRunsTheSideTaskAlongsideWithTwoWorkers() {
        let sideStarted = DispatchSemaphore(value: 0), mainStarted = DispatchSemaphore(value: 0)
        var sawMain = false
        let result = BlockExecutor(workers: 2).overlapping({
            sideStarted.signal()
            sawMain = mainStarted.wait(timeout: .now() + 30) == .success
        }) { () -> Int in
            mainStarted.signal()
            #expect(sideStarted.wait(timeout: .now() + 30) == .success)
            return 7
        }
        #expect(result == 7)
        #expect(sawMain, "the side task's write is visible when overlapping returns")

        var order: [String] = []
        let one = BlockExecutor(workers: 1).overlapping({ order.append("side") }) { () -> Int in
            order.append("main")
            return 8
        }
        #expect(one == 8 && order == ["side", "main"])
    }

    /// Both tasks always run to the end; the side task's error comes first, then the main one's.
    @Test(arguments: [1, 2])
    func overlappingReportsTheSideTasksErrorFirst(workers: Int) {
        struct Failure: Error, Equatable { let name: String }
        let exec = BlockExecutor(workers: workers)
        var ran: [String] = []
        #expect(throws: Failure(name: "side")) {
            try exec.overlapping({ throw Failure(name: "side") }) { () throws -> Void in
                ran.append("main")
                throw Failure(name: "main")
            }
        }
        #expect(ran == ["main"])
        #expect(throws: Failure(name: "main")) {
            try exec.overlapping({ ran.append("side") }) { () throws -> Void in throw Failure(name: "main") }
        }
        #expect(ran == ["main", "side"])
    }

    @Test func blasIsPinnedToOneThread() {
        _ = BlockExecutor(workers: 2)
        #expect(BLASRuntime.threads == 1)
        #expect(BLASRuntime.buildDescription.contains("OpenBLAS"))
    }
}

/// Heap pages freed at the top of the heap stay for the next allocations (the trim threshold):
/// 6 MiB of blocks under the mmap threshold, touched, freed and allocated again, take almost no
/// page faults the second time. With glibc's default trim threshold (128 KiB) the free hands
/// the pages back and touching them again faults once per 4 KiB page, about 1,500 times.
/// (Faults are counted for this thread only.)
@Test func freedHeapPagesAreKeptForTheNextAllocations() {
    #if os(Linux)
    #expect(MemoryRuntime.ensureConfigured())
    func minorFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (a GNU extension Swift does not import)
        return usage.ru_minflt
    }
    let size = 256 << 10, count = 24
    func touchBlocks() -> [UnsafeMutableRawPointer] {
        (0..<count).map { _ in
            let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 1, count: size)
            return p
        }
    }
    // The first round may take fresh pages; the blocks are freed newest first, back into the top.
    for p in touchBlocks().reversed() { p.deallocate() }
    let before = minorFaults()
    let again = touchBlocks()
    let faults = minorFaults() - before
    for p in again.reversed() { p.deallocate() }
    #expect(faults < 64, "\(faults) page faults re-touching \((count * size) >> 20) MiB of freed heap")
    #endif
}

/// The allocator setting takes on glibc (Linux): mallopt accepted the fixed mmap threshold,
/// and a 48 MiB block is then mapped — glibc's mapped bytes grow by it while it lives, even
/// after a larger block was freed (which would otherwise have raised the threshold past it).
/// (A block the heap can serve from a free chunk is never mapped, whatever the threshold: with
/// the trim threshold at 32 MiB the heap keeps free chunks of a few MiB, which other tests
/// running beside this one leave, so a 2 MiB block sometimes came from the heap.)
@Test func allocatorThresholdIsFixedOnGlibc() {
    #if os(Linux)
    #expect(MemoryRuntime.ensureConfigured())
    let big = UnsafeMutableRawPointer.allocate(byteCount: 64 << 20, alignment: 64)
    big.deallocate()
    let before = MemoryRuntime.mappedBytes
    let block = UnsafeMutableRawPointer.allocate(byteCount: 48 << 20, alignment: 64)
    let during = MemoryRuntime.mappedBytes
    block.deallocate()
    #expect(during >= before + (48 << 20), "mapped bytes \(before) → \(during)")
    #endif
}

/// `ParallelBuffer.add` adds a row of a source to a row of the buffer, element by element with
/// one addition each (the sums of the subscript loop it replaces, bit for bit), and leaves the
/// elements around the row alone.
@Test func parallelBufferAddIsTheElementLoop() {
    var rng = Seed(41).stream("buffer-add")
    let d = 37
    let source = (0..<(5 * d)).map { _ in Sample.normal(using: &rng) }
    let start = (0..<(4 * d)).map { _ in Sample.normal(using: &rng) * 1e3 }
    var sums = start
    sums.fillInParallel { buffer in
        source.withUnsafeBufferPointer { s in
            buffer.add(s, from: 3 * d, count: d, at: 2 * d)
            buffer.add(s, from: 0, count: d, at: 2 * d)
        }
    }
    for j in 0..<(4 * d) {
        let want = j / d == 2 ? (start[j] + source[3 * d + j - 2 * d]) + source[j - 2 * d] : start[j]
        #expect(sums[j].bitPattern == want.bitPattern, "element \(j)")
    }
}
