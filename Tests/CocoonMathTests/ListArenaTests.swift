import CocoonMath
import Testing

@Suite struct ListArenaTests {
    /// Random batches against plain arrays: arrival order keeps repeats in order, the sorted
    /// lists stay ascending sets.
    @Test func matchesPlainArraysOverManyBatches() {
        let lists = 50
        let initial: [[Int32]] = (0..<lists).map { l in (0..<(l % 7)).map { Int32(($0 * 13 + l) % 40) } }
        var ordered = ListArena(initial)
        var sorted = ListArena(initial, order: .sortedUnique)
        var refOrdered = initial
        var refSorted = initial.map { Array(Set($0)).sorted() }
        var rng = RandomStream(key: 7)
        for _ in 0..<200 {
            var batch: [(list: Int32, value: Int32)] = []
            for l in 0..<lists where rng.next() % 3 == 0 {
                for _ in 0..<Int(rng.next() % 4) {
                    let x = Int32(rng.next() % 60)
                    batch.append((Int32(l), x))
                    refOrdered[l].append(x)
                    refSorted[l].sortedInsert(x)
                }
            }
            ordered.append(batch)
            sorted.append(batch)
        }
        for l in 0..<lists {
            #expect(Array(ordered[l]) == refOrdered[l])
            #expect(ordered.count(l) == refOrdered[l].count)
            #expect(Array(sorted[l]) == refSorted[l])
            var seen: [Int32] = []
            ordered.forEach(in: l) { seen.append($0) }
            #expect(seen == refOrdered[l])
        }
        // Flat storage: at most 4 bytes an element and 8 a list, plus the growth slack.
        let held = refOrdered.reduce(0) { $0 + $1.count }
        #expect(ordered.bytes <= 2 * (4 * held) + 8 * (lists + 1) + 64)
        #expect(sorted.map { Array($0) } == refSorted)  // the lists as a collection
    }

    /// Elements take 2 bytes while they fit 0..<65,535 and move to 4 bytes, values unchanged,
    /// when the first that does not arrives — through a new list or a batch.
    @Test(arguments: [false, true])
    func narrowUntilAWideValueArrives(viaBatch: Bool) {
        var a = ListArena([[3, 65_534, 0], [], [7]])
        var s = ListArena([[3, 65_534, 0], [], [7]], order: .sortedUnique)
        #expect(a.isNarrow && s.isNarrow)
        // 2 bytes an element, measured where the allocator's rounding (a few bytes a block,
        // which made a 5-element bound depend on the heap's state) is small beside the
        // elements: 100,000 reserved elements would take at least 400,000 bytes at 4 each.
        var big = ListArena()
        big.reserveCapacity(lists: 1, elements: 100_000)
        big.appendList((0..<100_000).map { Int32($0 % 65_535) })
        #expect(big.isNarrow && big.bytes < 3 * 100_000, "\(big.bytes) bytes")
        a.append([(0, 12), (2, 1)])
        s.append([(0, 12), (2, 1)])
        #expect(a.isNarrow && Array(a[0]) == [3, 65_534, 0, 12] && Array(s[2]) == [1, 7])
        if viaBatch {
            a.append([(1, 65_535), (2, -1)])
            s.append([(1, 65_535), (2, -1)])
        } else {
            a.appendList([65_535, -1])
            s.appendList([65_535, -1])
        }
        #expect(!a.isNarrow && !s.isNarrow)
        #expect(Array(a[0]) == [3, 65_534, 0, 12] && Array(s[0]) == [0, 3, 12, 65_534])
        if viaBatch {
            #expect(Array(a[1]) == [65_535] && Array(a[2]) == [7, 1, -1] && Array(s[2]) == [-1, 1, 7])
        } else {
            #expect(Array(a[3]) == [65_535, -1] && Array(s[3]) == [-1, 65_535])
        }
        #expect(a[0] == ListArena([[3, 65_534, 0, 12]])[0])
    }

    @Test func seedListsAndEmptyBatches() {
        var a = ListArena([[3, 1, 2, 1], [], [5]])
        var s = ListArena([[3, 1, 2, 1], [], [5]], order: .sortedUnique)
        #expect(Array(a[0]) == [3, 1, 2, 1])
        #expect(Array(s[0]) == [1, 2, 3])
        #expect(a[1].isEmpty)
        a.append([])
        a.append([(1, 9), (1, 4), (2, 5)])
        s.append([(1, 9), (1, 4), (2, 5)])
        #expect(Array(a[1]) == [9, 4])
        #expect(Array(s[1]) == [4, 9])
        #expect(Array(a[2]) == [5, 5])
        #expect(Array(s[2]) == [5])
        #expect(Array(a[0]) == [3, 1, 2, 1])
    }
}
