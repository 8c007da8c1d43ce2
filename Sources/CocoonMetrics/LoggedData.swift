import CocoonCore

/// Logged data for offline evaluation (`cocoon evaluate`): a catalog, the interaction history,
/// the lists to evaluate and optional relevance, flags and earlier lists.
public struct LoggedData: Sendable {
    public let catalog: Catalog
    /// Every user id in the files, in natural order.
    public let users: [String]
    /// Interactions per user (item, round), in file order.
    public let history: [[(item: Int32, round: Int)]]
    /// The evaluated list per user (empty when the user has none).
    public let lists: [[Int32]]
    /// Relevant items per user (nil when no relevance file was given).
    public let relevant: [[Int32]]?
    /// "Not interested" flags: (user index, item, round).
    public let flags: [(user: Int, item: Int32, round: Int)]
    /// The lists shown where the flags were given (nil when not given).
    public let listsBefore: [[Int32]]?

    /// Loads and validates the files.
    ///
    /// - Throws: ``DataFileError`` naming file, line and column.
    public init(
        items: String, history: String, recs: String, relevant: String? = nil, flags: String? = nil, recsBefore: String? = nil
    ) throws {
        let catalog = try Catalog.load(itemsCSV: items)
        try self.init(catalog: catalog, history: history, recs: recs, relevant: relevant, flags: flags, recsBefore: recsBefore)
    }

    /// Loads the log files against an already loaded catalog.
    public init(
        catalog: Catalog, history: String, recs: String, relevant: String? = nil, flags: String? = nil, recsBefore: String? = nil
    ) throws {
        self.catalog = catalog
        let h = try LogFiles.interactions(history, catalog: catalog)
        let l = try LogFiles.lists(recs, catalog: catalog)
        let rel = try relevant.map { try LogFiles.pairs($0, catalog: catalog) }
        let fl = try flags.map { try LogFiles.interactions($0, catalog: catalog) }
        let before = try recsBefore.map { try LogFiles.lists($0, catalog: catalog) }
        var ids = Set(h.map(\.user)).union(l.keys)
        if let rel { ids.formUnion(rel.keys) }
        if let before { ids.formUnion(before.keys) }
        if let fl { ids.formUnion(fl.map(\.user)) }
        let users = ids.sorted(by: LogFiles.userOrder)
        var index: [String: Int] = [:]
        for (j, u) in users.enumerated() { index[u] = j }
        var hist = [[(item: Int32, round: Int)]](repeating: [], count: users.count)
        for e in h { hist[index[e.user]!].append((e.item, e.round)) }
        self.users = users
        self.history = hist
        self.lists = users.map { l[$0] ?? [] }
        self.relevant = rel.map { r in users.map { r[$0] ?? [] } }
        self.flags = (fl ?? []).map { (index[$0.user]!, $0.item, $0.round) }
        self.listsBefore = before.map { b in users.map { b[$0] ?? [] } }
    }
}
