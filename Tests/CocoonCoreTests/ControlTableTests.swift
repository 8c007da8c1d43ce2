import CocoonCore
import Testing

@Suite struct ControlTableTests {
    /// Users who never change a control read the defaults and hold no entry; a change gives
    /// the user an entry of its own, and only that user's controls move.
    @Test func onlyChangedUsersHoldControls() {
        var table = ControlTable(count: 5)
        #expect(table.count == 5)
        #expect(table.allSatisfy { $0 == UserControls() })
        #expect(table.customisedCount == 0)
        // Setting the defaults is not a change.
        table[2] = UserControls()
        #expect(table.customisedCount == 0)

        table[3].declare(tag: 4)
        table[3].declare(tag: 1)
        table[1].personalisation = false
        table[3].notInterested.append(NotInterestedMark(item: 7, listStep: 2, scope: .item, topic: 0))
        #expect(table.customisedCount == 2)
        #expect(table[3].declaredTags == [1, 4])
        #expect(table[3].hasMarked(item: 7))
        #expect(table[1].personalisation == false)
        for u in [0, 2, 4] { #expect(table[u] == UserControls()) }

        var other = ControlTable(count: 5)
        other[1].personalisation = false
        #expect(other != table)
        other[3].declare(tag: 1)
        other[3].declare(tag: 4)
        other[3].notInterested.append(NotInterestedMark(item: 7, listStep: 2, scope: .item, topic: 0))
        #expect(other == table)
    }
}
