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
        // Flat storage: 4 bytes an element and 8 a list, plus at most the growth slack.
        let held = refOrdered.reduce(0) { $0 + $1.count }
        #expect(ordered.bytes <= 2 * (4 * held) + 8 * (lists + 1) + 64)
        #expect(sorted.map { Array($0) } == refSorted)  // the lists as a collection
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
