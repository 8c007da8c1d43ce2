import CocoonCore
import CocoonMath
import Foundation
import Synchronization

/// The plugin-protocol client (docs/plugin-protocol.md): runs a program as the recommender
/// under test and speaks JSON Lines with it over its stdin and stdout.
///
/// Every answer is validated (message type, step, number of slates, slate size, item ids in
/// range, duplicates, tags); any fault throws a ``PluginError`` naming the step, the user and
/// the fault with the tail of the plugin's stderr, and the child is killed. The engine then
/// ends the run and the scorecard keeps what was measured, marked as aborted.
public final class PluginRecommender: Recommender {
    /// The protocol version this client speaks.
    public static let protocolVersion = 1
    /// Capabilities a plugin may declare.
    public static let knownCapabilities = ["not-interested-topic", "tags", "deterministic", "personalisation-off", "tag-controls", "blocks"]
    /// Catalogs with more than this many embedding values go through a file.
    public static let inlineCatalogLimit = 1_000_000

    private static let folderCounter = Atomic<Int>(0)

    public let name: String
    public let command: [String]
    public let timeout: Double
    /// `auto` (inline below ``inlineCatalogLimit`` values), `inline` or `file`.
    public let catalogTransfer: String
    /// What the plugin declared in its hello.
    public private(set) var pluginName = ""
    public private(set) var capabilities: [String] = []
    /// Traffic so far (bytes to and from the plugin).
    public var bytesSent: Int { finishedSent + (process?.bytesSent ?? 0) }
    public var bytesReceived: Int { finishedReceived + (process?.bytesReceived ?? 0) }
    private var finishedSent = 0
    private var finishedReceived = 0

    private var process: PluginProcess?
    private var itemCount = 0
    private var topicCount = 0
    private var catalogFolder: String?
    private var step = 0

    public init(command: [String], timeout: Double = 30, catalogTransfer: String = "auto") throws {
        guard !command.isEmpty else {
            throw PluginError(fault: .notFound, phase: "spawn", step: 0, user: nil, message: "no command given",
                              hint: "give the program and its arguments: --plugin -- python3 rec.py", stderrTail: [])
        }
        self.command = command
        self.timeout = timeout
        self.catalogTransfer = catalogTransfer
        name = "plugin: " + command.joined(separator: " ")
    }

    deinit { stop() }

    // MARK: - Recommender

    public func start(_ world: RecommenderWorld) throws {
        let p = try PluginProcess(command: command, timeout: timeout)
        process = p
        itemCount = world.catalog.count
        topicCount = world.catalog.topics.count
        do {
            try handshake(p)
            try sendStart(p, world)
        } catch {
            p.kill()
            throw error
        }
    }

    public func recommend(_ request: RecommendRequest) throws -> SlateBatch {
        guard let p = process else { throw PluginError(fault: .io, phase: "recommend", step: request.step, user: nil, message: "the plugin is not running", hint: "", stderrTail: []) }
        step = request.step
        do {
            try p.send(Self.encodeRecommend(request), phase: "recommend", step: request.step)
            let answer = try expect("slates", from: p, phase: "recommend")
            return try validateSlates(answer, request: request, process: p)
        } catch {
            p.kill()
            throw error
        }
    }

    public func observe(_ feedback: FeedbackBatch) throws {
        guard let p = process else { return }
        do {
            try p.send(Self.encodeFeedback(feedback), phase: "feedback", step: feedback.step)
            _ = try expect("ack", from: p, phase: "feedback")
        } catch {
            p.kill()
            throw error
        }
    }

    public func stop() {
        if let p = process {
            finishedSent += p.bytesSent
            finishedReceived += p.bytesReceived
            if p.isRunning {
                try? p.send(Array("{\"type\":\"shutdown\"}\n".utf8), phase: "shutdown", step: step)
                p.finish(within: 2)
            } else {
                p.kill()
            }
        }
        process = nil
        if let dir = catalogFolder { try? FileManager.default.removeItem(atPath: dir) }
        catalogFolder = nil
    }

    // MARK: - Messages

    func handshake(_ p: PluginProcess) throws {
        var w = JSONLineWriter()
        w.raw("{\"type\":\"hello\",\"protocol\":\(Self.protocolVersion),\"cocoon\":")
        w.string(CocoonVersion.string)
        w.raw(",\"capabilities\":")
        w.strings(Self.knownCapabilities)
        w.raw("}\n")
        try p.send(w.bytes, phase: "hello", step: 0)
        let hello = try expect("hello", from: p, phase: "hello")
        guard let v = hello["protocol"]?.double, v == v.rounded() else {
            throw p.error(.outOfProtocol, phase: "hello", step: 0, "the hello answer has no integer \"protocol\" field",
                          hint: "answer {\"type\": \"hello\", \"protocol\": 1, \"name\": \"...\", \"capabilities\": [...]}")
        }
        guard Int(v) == Self.protocolVersion else {
            throw p.error(.versionMismatch, phase: "hello", step: 0,
                          "the plugin speaks protocol version \(Int(v)), this Cocoon speaks version \(Self.protocolVersion)",
                          hint: "update the plugin to protocol \(Self.protocolVersion) (docs/plugin-protocol.md) or use a Cocoon that speaks \(Int(v))")
        }
        pluginName = hello["name"]?.string ?? ""
        if case .array(let caps)? = hello["capabilities"] {
            capabilities = caps.compactMap(\.string)
        }
    }

    func sendStart(_ p: PluginProcess, _ world: RecommenderWorld) throws {
        let c = world.catalog
        var w = JSONLineWriter()
        w.raw("{\"type\":\"start\",\"seed\":\(world.seed.derive("plugin").value & ((1 << 53) - 1)),\"steps\":\(world.steps),\"slate_size\":\(world.slateSize),\"users\":\(world.userCount),")
        let useFile = catalogTransfer == "file" || (catalogTransfer == "auto" && c.count * c.dimension > Self.inlineCatalogLimit)
        if useFile {
            let n = Self.folderCounter.add(1, ordering: .relaxed).newValue
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cocoon-plugin-\(getpid())-\(n)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            catalogFolder = dir
            var cw = JSONLineWriter()
            Self.writeCatalog(c, into: &cw)
            cw.raw("\n")
            let path = dir + "/catalog.json"
            guard FileManager.default.createFile(atPath: path, contents: Data(cw.bytes)) else {
                throw p.error(.io, phase: "start", step: 0, "cannot write the catalog file \(path)", hint: "is the temporary folder writable?")
            }
            w.raw("\"catalog_file\":")
            w.string(path)
        } else {
            w.raw("\"catalog\":")
            Self.writeCatalog(c, into: &w)
        }
        w.raw(",\"segments\":{\"names\":")
        w.strings(world.segmentNames)
        w.raw(",\"of_user\":")
        w.ints(world.segments)
        w.raw("},\"attributes\":")
        let consented = world.attributes.enumerated().compactMap { u, a in a.flatMap { $0.consented ? (u, $0) : nil } }
        w.array(consented) { w, ua in
            w.raw("{\"user\":\(ua.0),\"age_band\":")
            w.string(ua.1.ageBand)
            w.raw(",\"occupation\":")
            w.string(ua.1.occupation)
            w.raw(",\"consumption_level\":")
            w.string(ua.1.consumptionLevel)
            w.raw("}")
        }
        w.raw(",\"seed_history\":")
        w.array(world.seedHistory) { $0.ints($1) }
        w.raw("}\n")
        try p.send(w.bytes, phase: "start", step: 0)
        _ = try expect("ready", from: p, phase: "start")
    }

    static func writeCatalog(_ c: Catalog, into w: inout JSONLineWriter) {
        w.raw("{\"items\":\(c.count),\"dimension\":\(c.dimension),\"topics\":")
        w.strings(c.topics.names)
        w.raw(",\"embeddings\":")
        c.embeddings.storage.withUnsafeBufferPointer { e in
            let d = c.dimension
            w.array(0..<c.count) { $0.floats(e[($1 * d)..<(($1 + 1) * d)]) }
        }
        w.raw(",\"item_topics\":")
        w.array(0..<c.count) { $0.ints(c.topics.topics(of: $1)) }
        w.raw(",\"quality\":")
        w.floats(c.quality[...])
        w.raw(",\"popularity_prior\":")
        w.floats(c.popularityPrior[...])
        w.raw(",\"creators\":")
        w.ints(c.creators)
        w.raw(",\"flags\":")
        w.array(0..<c.count) { w, i in w.strings(ItemFlags.names.filter { c.flags[i].contains($0.1) }.map(\.0)) }
        w.raw("}")
    }

    static func encodeRecommend(_ r: RecommendRequest) -> [UInt8] {
        var w = JSONLineWriter()
        w.raw("{\"type\":\"recommend\",\"step\":\(r.step),\"slate_size\":\(r.slateSize),\"want_tags\":\(r.wantsTags),\"users\":")
        w.ints(r.users)
        w.raw(",\"controls\":")
        // Only users whose controls differ from the defaults.
        let changed = r.users.filter { u in
            let c = r.controls[Int(u)]
            return !c.personalisation || !c.declaredTags.isEmpty || !c.deletedTags.isEmpty || !c.blockedTopics.isEmpty
                || !c.blockedCreators.isEmpty || !c.notInterested.isEmpty
        }
        w.array(changed) { w, u in
            let c = r.controls[Int(u)]
            w.raw("{\"user\":\(u),\"personalisation\":\(c.personalisation),\"declared_tags\":")
            w.ints(c.declaredTags)
            w.raw(",\"deleted_tags\":")
            w.ints(c.deletedTags)
            w.raw(",\"blocked_topics\":")
            w.ints(c.blockedTopics)
            w.raw(",\"blocked_creators\":")
            w.ints(c.blockedCreators)
            w.raw(",\"not_interested\":\(c.notInterested.count)}")
        }
        w.raw(",\"new_marks\":")
        let marks = r.changes.compactMap { ch in ch.kind == .notInterested ? ch.mark.map { (ch.user, $0) } : nil }
        w.array(marks) { w, um in
            let (user, m) = um
            w.raw("{\"user\":\(user),\"item\":\(m.item),\"topic\":\(m.topic),\"scope\":\"\(m.scope.rawValue)\",\"list_step\":\(m.listStep)}")
        }
        w.raw("}\n")
        return w.bytes
    }

    static func encodeFeedback(_ f: FeedbackBatch) -> [UInt8] {
        var w = JSONLineWriter()
        w.raw("{\"type\":\"feedback\",\"step\":\(f.step),\"users\":")
        w.ints(f.users)
        let k = f.slateSize
        let lists: [(String, Outcome)] = [
            ("consumed", .consumed), ("skipped", .skipped), ("not_interested", .notInterested),
            ("not_interested_topic", .notInterestedTopic),
        ]
        // Slate positions of a row with a given outcome (lazy: nothing allocated per user).
        func positions(_ row: Int, _ outcome: Outcome) -> LazyFilterSequence<Range<Int>> {
            (row * k..<(row + 1) * k).lazy.filter { f.outcomes[$0] == outcome }
        }
        for (key, outcome) in lists {
            w.raw(",\"\(key)\":")
            w.array(0..<f.users.count) { w, row in w.ints(positions(row, outcome).map { f.slates[$0] }) }
        }
        w.raw(",\"dwell\":")
        w.array(0..<f.users.count) { w, row in w.floats(positions(row, .consumed).map { f.dwell[$0] }) }
        w.raw(",\"left\":")
        w.ints(f.left)
        w.raw("}\n")
        return w.bytes
    }

    /// Reads one answer and checks its type (an `error` answer becomes a fault).
    func expect(_ type: String, from p: PluginProcess, phase: String) throws -> JSONValue {
        let line = try p.receiveLine(phase: phase, step: step)
        let text = String(decoding: line, as: UTF8.self)
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            let snippet = text.count > 160 ? String(text.prefix(160)) + "…" : text
            throw p.error(.malformedJSON, phase: phase, step: step, "the answer is not valid JSON (\(error)): \(snippet)",
                          hint: "write exactly one JSON object per line on stdout; print logs to stderr")
        }
        guard case .object = json, let got = json["type"]?.string else {
            throw p.error(.outOfProtocol, phase: phase, step: step, "expected a JSON object with a \"type\" field, got \(Self.snippet(text))",
                          hint: "every answer is an object such as {\"type\": \"\(type)\", ...}")
        }
        if got == "error" {
            throw p.error(.pluginError, phase: phase, step: step, "the plugin reported: \(json["message"]?.string ?? Self.snippet(text))")
        }
        guard got == type else {
            throw p.error(.outOfProtocol, phase: phase, step: step, "expected a \"\(type)\" answer to the \(phase) message, got \"\(got)\"",
                          hint: "see docs/plugin-protocol.md for the order of messages")
        }
        if phase == "recommend" || phase == "feedback", let s = json["step"]?.double, Int(s) != step {
            throw p.error(.outOfProtocol, phase: phase, step: step, "the answer is for step \(Int(s)), the request was for step \(step)",
                          hint: "answer each request with its own step")
        }
        return json
    }

    static func snippet(_ text: String) -> String { text.count > 160 ? String(text.prefix(160)) + "…" : text }

    /// Validates the slates (and tags) of an answer.
    func validateSlates(_ json: JSONValue, request r: RecommendRequest, process p: PluginProcess) throws -> SlateBatch {
        guard case .array(let slates)? = json["slates"] else {
            throw p.error(.outOfProtocol, phase: "recommend", step: r.step, "the answer has no \"slates\" list",
                          hint: "answer {\"type\": \"slates\", \"step\": \(r.step), \"slates\": [[item, ...], ...]} with one slate per requested user")
        }
        guard slates.count == r.users.count else {
            throw p.error(.wrongSlateCount, phase: "recommend", step: r.step,
                          "answered \(slates.count) slates for \(r.users.count) requested users",
                          hint: "answer one slate per user of the request, in the request's order")
        }
        let k = r.slateSize
        var items = [Int32](repeating: 0, count: r.users.count * k)
        var seen = [Int32](repeating: -1, count: itemCount)
        for (j, slate) in slates.enumerated() {
            let u = Int(r.users[j])
            guard case .array(let ids) = slate else {
                throw p.error(.outOfProtocol, phase: "recommend", step: r.step, user: u, "slate \(j + 1) is not a list of item ids")
            }
            guard ids.count == k else {
                throw p.error(.wrongSlateSize, phase: "recommend", step: r.step, user: u,
                              "the slate has \(ids.count) items, the slate size is \(k)", hint: "answer exactly slate_size distinct items per user")
            }
            for (pos, v) in ids.enumerated() {
                guard let x = v.double, x == x.rounded(), x >= 0, x < Double(itemCount) else {
                    let shown: String
                    switch v {
                    case .string(let s): shown = "\"\(s)\""
                    case .number(let d): shown = "\(d)"
                    case .int(let i): shown = "\(i)"
                    default: shown = Self.snippet(v.serialized(pretty: false).trimmingCharacters(in: .whitespacesAndNewlines))
                    }
                    throw p.error(.unknownItem, phase: "recommend", step: r.step, user: u,
                                  "position \(pos + 1) holds \(shown), not an item id in 0…\(itemCount - 1)",
                                  hint: "item ids are the catalog's row indices (0-based integers)")
                }
                let i = Int32(x)
                if seen[Int(i)] == Int32(j) {
                    let firstPos = (0..<pos).first { items[j * k + $0] == i }.map { $0 + 1 } ?? 0
                    throw p.error(.duplicateItem, phase: "recommend", step: r.step, user: u,
                                  "item \(i) appears at positions \(firstPos) and \(pos + 1) of the slate",
                                  hint: "a slate holds distinct items")
                }
                seen[Int(i)] = Int32(j)
                items[j * k + pos] = i
            }
        }
        var tags: [[Int32]]? = nil
        if r.wantsTags, let t = json["tags"] {
            guard case .array(let lists) = t, lists.count == r.users.count else {
                throw p.error(.outOfProtocol, phase: "recommend", step: r.step, "\"tags\" must be a list with one list of topic indices per requested user",
                              hint: "omit \"tags\" if the plugin keeps no interest tags")
            }
            var out: [[Int32]] = []
            out.reserveCapacity(lists.count)
            for (j, l) in lists.enumerated() {
                guard case .array(let ids) = l else {
                    throw p.error(.outOfProtocol, phase: "recommend", step: r.step, user: Int(r.users[j]), "tags entry \(j + 1) is not a list")
                }
                var row: [Int32] = []
                for v in ids {
                    guard let x = v.double, x == x.rounded(), x >= 0, x < Double(topicCount) else {
                        throw p.error(.outOfProtocol, phase: "recommend", step: r.step, user: Int(r.users[j]),
                                      "a tag is not a topic index in 0…\(topicCount - 1)")
                    }
                    row.append(Int32(x))
                }
                out.append(row)
            }
            tags = out
        }
        return SlateBatch(items: items, tags: tags)
    }
}

/// Builds one JSON line quickly (numbers and escaped strings straight into bytes).
struct JSONLineWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(4096) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func int<T: BinaryInteger>(_ v: T) { bytes.append(contentsOf: String(v).utf8) }

    /// `[e0,e1,…]`, each element written by `element`.
    mutating func array<S: Sequence>(_ s: S, _ element: (inout JSONLineWriter, S.Element) -> Void) {
        bytes.append(91)
        var first = true
        for v in s {
            if !first { bytes.append(44) }
            first = false
            element(&self, v)
        }
        bytes.append(93)
    }

    mutating func ints<S: Sequence>(_ a: S) where S.Element: BinaryInteger {
        array(a) { $0.int($1) }
    }

    /// A float in shortest round-trip form (non-finite values as 0).
    mutating func float(_ v: Float) {
        guard v.isFinite else {
            bytes.append(48)
            return
        }
        if v == v.rounded() && abs(v) < 1e7 {
            bytes.append(contentsOf: String(Int(v)).utf8)
        } else {
            bytes.append(contentsOf: "\(v)".utf8)
        }
    }

    mutating func floats<S: Sequence>(_ a: S) where S.Element == Float {
        array(a) { $0.float($1) }
    }

    mutating func string(_ s: String) {
        bytes.append(34)
        for u in s.unicodeScalars {
            switch u {
            case "\"": bytes.append(contentsOf: [92, 34])
            case "\\": bytes.append(contentsOf: [92, 92])
            case "\n": bytes.append(contentsOf: [92, 110])
            case "\r": bytes.append(contentsOf: [92, 114])
            case "\t": bytes.append(contentsOf: [92, 116])
            default:
                if u.value < 0x20 {
                    bytes.append(contentsOf: String(format: "\\u%04x", u.value).utf8)
                } else {
                    bytes.append(contentsOf: String(u).utf8)
                }
            }
        }
        bytes.append(34)
    }

    mutating func strings(_ a: [String]) {
        array(a) { $0.string($1) }
    }
}
