import CocoonCore
import CocoonMetrics
import CocoonRecommenders
import Foundation
import Yams

extension Scenario {
    /// Reads a scenario file.
    ///
    /// - Throws: ``ScenarioError`` with file, line:column and key path.
    public static func load(_ path: String, overrides: [String] = []) throws -> (scenario: Scenario, text: String) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ScenarioError(file: path, line: 0, column: 0, path: "", message: "cannot read the file (does it exist?)")
        }
        var s = try decode(text, file: path, overrides: overrides)
        if !text.contains("\nname:") && !text.hasPrefix("name:") {
            s.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        }
        s.resolvePaths(relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        return (s, text)
    }

    /// Decodes YAML text (overrides are `KEY=VALUE` with dotted key paths, applied first).
    public static func decode(_ text: String, file: String = "<string>", overrides: [String] = []) throws -> Scenario {
        var root = try YAMLReader.parse(text, file: file)
        if !overrides.isEmpty { root = try Overrides.apply(overrides, to: root) }
        do {
            return try decode(root)
        } catch let e as ScenarioError {
            // An error inside an overridden value points at the override, not the file.
            for o in overrides.reversed() {
                guard let eq = o.firstIndex(of: "=") else { continue }
                let key = String(o[..<eq])
                if e.path == key || e.path.hasPrefix(key + ".") || e.path.hasPrefix(key + "[") {
                    throw ScenarioError(file: "--set \(o)", line: 0, column: 0, path: e.path, message: e.message)
                }
            }
            throw e
        }
    }

    /// Relative data paths are relative to the scenario file's folder.
    mutating func resolvePaths(relativeTo dir: String) {
        func fix(_ p: String) -> String { p.hasPrefix("/") ? p : URL(fileURLWithPath: dir).appendingPathComponent(p).standardized.path }
        switch catalog {
        case .csv(let p): catalog = .csv(fix(p))
        case .embeddings(let e, let t): catalog = .embeddings(fix(e), topics: fix(t))
        case .movielens(var m):
            m.path = fix(m.path)
            catalog = .movielens(m)
        case .generated: break
        }
        if recommender.kind == "plugin" && !recommender.command.isEmpty {
            let first = recommender.command[0]
            if first.contains("/") && !first.hasPrefix("/") { recommender.command[0] = fix(first) }
            recommender.command = recommender.command.enumerated().map { j, a in
                j > 0 && (a.hasSuffix(".py") || a.hasSuffix(".sh")) && !a.hasPrefix("/") && FileManager.default.fileExists(atPath: fix(a)) ? fix(a) : a
            }
        }
    }

    static let topKeys = ["version", "name", "description", "clause", "clauseEn", "seed", "replicates", "steps", "slateSize", "world", "behaviour",
                          "recommender", "baselines", "interventions", "metrics", "metricOptions", "checks", "report", "notes", "suiteCheck"]

    static func decode(_ root: YAMLReader) throws -> Scenario {
        var s = Scenario()
        let m = try root.mapping(topKeys)
        if let v = m.get("version") {
            let n = try v.int(0...Int.max)
            guard n == 1 else { throw v.error("version \(n) is not supported; this Cocoon reads version 1") }
        }
        s.name = try m.string("name", s.name)
        s.description = try m.string("description", s.description)
        s.clause = try m.string("clause", s.clause)
        s.clauseEnglish = try m.string("clauseEn", s.clauseEnglish)
        s.seed = UInt64(try m.int("seed", Int(s.seed), 0...Int.max))
        s.replicates = try m.int("replicates", s.replicates, 1...1000)
        s.steps = try m.int("steps", s.steps, 0...1_000_000)
        s.slateSize = try m.int("slateSize", s.slateSize, 1...1000)
        if let w = m.get("world") { try decodeWorld(w, into: &s) }
        if let b = m.get("behaviour") { try decodeBehaviour(b, into: &s) }
        if let r = m.get("recommender") { s.recommender = try decodeRecommender(r) }
        if let b = m.get("baselines") {
            s.baselines = try b.list().map { try $0.choice(Scenario.baselineNames) }
        }
        if let iv = m.get("interventions") {
            s.interventions = try iv.list().map(decodeIntervention)
            var seen: [String: Int] = [:]
            for (j, i) in s.interventions.enumerated() {
                if let first = seen[i.name] {
                    throw (try iv.list())[j].error("intervention name '\(i.name)' is already used by interventions[\(first)]; names must be unique")
                }
                seen[i.name] = j
            }
        }
        if let mt = m.get("metrics") {
            let known = MetricCatalog.all.map(\.id)
            s.metrics = try mt.list().map { try $0.choice(known) }
        }
        if let mo = m.get("metricOptions") {
            let mm = try mo.mapping(["cocoonWindow", "relevantPerUser", "nearestNeighbours"])
            s.cocoonWindow = try mm.int("cocoonWindow", s.cocoonWindow, 1...10_000)
            s.relevantPerUser = try mm.int("relevantPerUser", s.relevantPerUser, 1...10_000)
            s.nearestNeighbours = NeighbourBasis(
                rawValue: try mm.choice("nearestNeighbours", "seed-history", NeighbourBasis.allCases.map(\.rawValue)))!
        }
        if let c = m.get("checks") {
            s.checks = try c.list().map { try decodeCheck($0, scenario: s) }
            var seen = Set<String>()
            for (j, check) in s.checks.enumerated() where !seen.insert(check.id).inserted {
                throw (try c.list())[j].error("check id '\(check.id)' is used twice; ids must be unique")
            }
        }
        if let r = m.get("report") {
            let rm = try r.mapping(["bootstrap", "title"])
            s.report.bootstrap = try rm.int("bootstrap", s.report.bootstrap, 10...100_000)
            s.report.title = try rm.get("title")?.string()
        }
        if let n = m.get("notes") { s.notes = try n.list().map { try $0.string() } }
        if let sc = m.get("suiteCheck") { s.suiteCheck = try sc.choice(["reproducibility"]) }
        try s.crossCheck(root)
        return s
    }

    // MARK: - World

    static func decodeWorld(_ r: YAMLReader, into s: inout Scenario) throws {
        let m = try r.mapping(["catalog", "population"])
        if let c = m.get("catalog") { s.catalog = try decodeCatalog(c) }
        var names: [String]? = nil
        if case .generated(let c) = s.catalog { names = c.resolvedTopicNames }
        if let p = m.get("population") { s.population = try decodePopulation(p, topicNames: names) }
    }

    static let catalogKeys = ["source", "items", "dimension", "topics", "topicNames", "shape", "topicSizeSkew", "spread", "orthogonalTopics",
                              "secondaryTopicProbability", "nearDuplicateFraction", "creators", "quality", "popularitySkew", "harmful",
                              "borderline", "borderlineStyle", "minorUnsafe", "synthetic", "labelledShare", "dirichlet", "file", "embeddings", "topicsTable", "movielens"]

    static func decodeCatalog(_ r: YAMLReader) throws -> CatalogSource {
        let m = try r.mapping(catalogKeys)
        let source = try m.choice("source", "generated", ["generated", "csv", "embeddings", "movielens"])
        switch source {
        case "csv":
            return .csv(try m.require("file", hint: "the catalog CSV, e.g. file: items.csv").string())
        case "embeddings":
            return .embeddings(try m.require("embeddings", hint: "a .npy or CSV matrix").string(),
                               topics: try m.require("topicsTable", hint: "a CSV with item_id and topic").string())
        case "movielens":
            var ml = MovieLensSpec()
            if let x = m.get("movielens") {
                let mm = try x.mapping(["path", "factors", "minRating", "minRatings", "iterations"])
                ml.path = try mm.string("path", ml.path)
                ml.factors = try mm.int("factors", ml.factors, 2...256)
                ml.minRating = try mm.double("minRating", ml.minRating, 0...10)
                ml.minRatings = try mm.int("minRatings", ml.minRatings, 1...100_000)
                ml.iterations = try mm.int("iterations", ml.iterations, 1...100)
            }
            return .movielens(ml)
        default: break
        }
        var c = CatalogSpec()
        c.items = try m.int("items", c.items, 1...10_000_000)
        c.dimension = try m.int("dimension", c.dimension, 8...256)
        c.topics = try m.int("topics", c.topics, 1...10_000)
        if let shape = m.get("shape") { c.shape = CatalogSpec.Shape(rawValue: try shape.choice(CatalogSpec.Shape.allCases.map(\.rawValue)))! }
        if let names = m.get("topicNames") {
            let list = try names.list().map { try $0.string() }
            guard list.count == c.topics else { throw names.error("\(list.count) names for \(c.topics) topics; give one name per topic") }
            guard Set(list).count == list.count else { throw names.error("topic names must be unique") }
            c.topicNames = list
        }
        c.topicSizeSkew = try m.double("topicSizeSkew", c.topicSizeSkew, 0...10)
        c.spread = try m.double("spread", c.spread, 0...10)
        c.orthogonalTopics = try m.bool("orthogonalTopics", c.orthogonalTopics)
        c.secondaryTopicProbability = try m.double("secondaryTopicProbability", c.secondaryTopicProbability, 0...1)
        c.nearDuplicateFraction = try m.double("nearDuplicateFraction", c.nearDuplicateFraction, 0...1)
        c.creators = try m.int("creators", c.creators, 1...10_000_000)
        if let q = m.get("quality") {
            let qm = try q.mapping(["alpha", "beta"])
            c.qualityAlpha = try qm.double("alpha", c.qualityAlpha, 0.01...1000)
            c.qualityBeta = try qm.double("beta", c.qualityBeta, 0.01...1000)
        }
        c.popularitySkew = try m.double("popularitySkew", c.popularitySkew, 0...10)
        let names = c.resolvedTopicNames
        func flag(_ key: String, _ def: CatalogSpec.FlagSpec) throws -> CatalogSpec.FlagSpec {
            guard let f = m.get(key) else { return def }
            let fm = try f.mapping(["fraction", "topics"])
            var out = def
            out.fraction = try fm.double("fraction", def.fraction, 0...1)
            if let t = fm.get("topics") {
                out.topics = try t.list().map { try $0.choice(names) }
            }
            return out
        }
        c.harmful = try flag("harmful", c.harmful)
        c.borderline = try flag("borderline", c.borderline)
        c.minorUnsafe = try flag("minorUnsafe", c.minorUnsafe)
        c.borderlineStyle = try m.double("borderlineStyle", c.borderlineStyle, 0...10)
        c.synthetic = try m.double("synthetic", c.synthetic, 0...1)
        c.labelledShare = try m.double("labelledShare", c.labelledShare, 0...1)
        if let d = m.get("dirichlet") {
            let dm = try d.mapping(["concentration", "scale"])
            c.dirichletConcentration = try dm.double("concentration", c.dirichletConcentration, 0.001...1e6)
            c.dirichletScale = try dm.double("scale", c.dirichletScale, 1e-6...1e6)
        }
        return .generated(c)
    }

    static func decodePopulation(_ r: YAMLReader, topicNames: [String]?) throws -> PopulationSpec {
        let m = try r.mapping(["users", "shape", "interests", "dominantShare", "interestNoise", "segments", "declaredTags", "attributeConsent", "seedHistory", "dirichletScale"])
        var p = PopulationSpec()
        p.users = try m.int("users", p.users, 1...100_000_000)
        if let shape = m.get("shape") { p.shape = PopulationSpec.Shape(rawValue: try shape.choice(PopulationSpec.Shape.allCases.map(\.rawValue)))! }
        if let i = m.get("interests") {
            let l = try i.list()
            guard l.count == 2 else { throw i.error("expected [fewest, most], e.g. [3, 5]") }
            p.minInterests = try l[0].int(1...10_000)
            p.maxInterests = try l[1].int(p.minInterests...10_000)
        }
        if let d = m.get("dominantShare") {
            let l = try d.list()
            guard l.count == 2 else { throw d.error("expected [lowest, highest], e.g. [0.3, 0.5]") }
            p.minDominantShare = try l[0].double(0...1)
            p.maxDominantShare = try l[1].double(p.minDominantShare...1)
        }
        p.interestNoise = try m.double("interestNoise", p.interestNoise, 0...10)
        if let s = m.get("segments") {
            p.segments = try s.list().map { seg in
                let sm = try seg.mapping(["name", "share", "seeking", "topics"])
                let name = try sm.require("name", hint: "e.g. adult, minor, elderly").string()
                var segment = PopulationSpec.Segment(name: name, share: try sm.double("share", 1, 1e-9...1e9), seeking: try sm.double("seeking", 0, 0...1))
                if let t = sm.get("topics") {
                    segment.topics = try t.list().map { x in
                        let name = try x.string()
                        if let names = topicNames, !names.contains(name) {
                            throw x.error("topic '\(name)'\(Suggestions.hint(for: name, in: names)) is not in the catalog (topics: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : ""))")
                        }
                        return name
                    }
                    guard !(segment.topics ?? []).isEmpty else { throw t.error("give at least one topic name") }
                }
                return segment
            }
            guard !p.segments.isEmpty else { throw s.error("give at least one segment") }
            guard Set(p.segments.map(\.name)).count == p.segments.count else { throw s.error("segment names must be unique") }
        }
        p.declaredTagProbability = try m.double("declaredTags", p.declaredTagProbability, 0...1)
        p.attributeConsent = try m.double("attributeConsent", p.attributeConsent, 0...1)
        p.seedHistory = try m.int("seedHistory", p.seedHistory, 0...100_000)
        p.dirichletScale = try m.double("dirichletScale", p.dirichletScale, 1e-6...1e6)
        return p
    }

    // MARK: - Behaviour

    static func decodeBehaviour(_ r: YAMLReader, into s: inout Scenario) throws {
        let keys = ["preset", "choice", "temperature", "noClickUtility", "positionBias", "qualityWeight", "examination", "rankExponent",
                    "knownUtilityMean", "knownUtilitySD", "seekingBonus", "seekingDwell", "satiation", "notInterested", "drift", "session"]
        let m = try r.mapping(keys)
        let preset = try m.choice("preset", "default", Behaviour.presetNames)
        var b = Behaviour.preset(preset)!
        if let c = m.get("choice") { b.choice = Behaviour.ChoiceRule(rawValue: try c.choice(Behaviour.ChoiceRule.allCases.map(\.rawValue)))! }
        b.temperature = try m.double("temperature", b.temperature, 0...1000)
        b.noClickUtility = try m.double("noClickUtility", b.noClickUtility, -1000...1000)
        b.positionBias = try m.double("positionBias", b.positionBias, 0...100)
        b.qualityWeight = try m.double("qualityWeight", b.qualityWeight, -100...100)
        b.examination = try m.double("examination", b.examination, 0...1)
        b.rankExponent = try m.double("rankExponent", b.rankExponent, -10...0)
        b.knownUtilityMean = try m.double("knownUtilityMean", b.knownUtilityMean, 0.000001...0.999999)
        b.knownUtilitySD = try m.double("knownUtilitySD", b.knownUtilitySD, 0...0.5)
        b.seekingBonus = try m.double("seekingBonus", b.seekingBonus, -100...100)
        b.seekingDwell = try m.double("seekingDwell", b.seekingDwell, 0...1000)
        if let x = m.get("satiation") {
            let sm = try x.mapping(["enabled", "increment", "recovery", "weight"])
            b.satiation.enabled = try sm.bool("enabled", b.satiation.enabled)
            b.satiation.increment = try sm.double("increment", b.satiation.increment, 0...100)
            b.satiation.recovery = try sm.double("recovery", b.satiation.recovery, 0...1)
            b.satiation.weight = try sm.double("weight", b.satiation.weight, 0...100)
        }
        if let x = m.get("notInterested") {
            let nm = try x.mapping(["enabled", "base", "affinityThreshold", "affinitySlope", "repetitionThreshold", "repetitionSlope", "repeatBonus", "topicLevelShare", "maxPerStep", "exposureMemory"])
            b.notInterested.enabled = try nm.bool("enabled", b.notInterested.enabled)
            b.notInterested.base = try nm.double("base", b.notInterested.base, 0...1)
            b.notInterested.affinityThreshold = try nm.double("affinityThreshold", b.notInterested.affinityThreshold, -1...1)
            b.notInterested.affinitySlope = try nm.double("affinitySlope", b.notInterested.affinitySlope, 0...100)
            b.notInterested.repetitionThreshold = try nm.double("repetitionThreshold", b.notInterested.repetitionThreshold, 0...1)
            b.notInterested.repetitionSlope = try nm.double("repetitionSlope", b.notInterested.repetitionSlope, 0...100)
            b.notInterested.repeatBonus = try nm.double("repeatBonus", b.notInterested.repeatBonus, 0...1)
            b.notInterested.topicLevelShare = try nm.double("topicLevelShare", b.notInterested.topicLevelShare, 0...1)
            b.notInterested.maxPerStep = try nm.int("maxPerStep", b.notInterested.maxPerStep, 0...1000)
            b.notInterested.exposureMemory = try nm.double("exposureMemory", b.notInterested.exposureMemory, 0...1)
        }
        if let x = m.get("drift") {
            let dm = try x.mapping(["enabled", "towardConsumed", "awayFromRejected", "pullToIntrinsic"])
            b.drift.enabled = try dm.bool("enabled", b.drift.enabled)
            b.drift.towardConsumed = try dm.double("towardConsumed", b.drift.towardConsumed, 0...10)
            b.drift.awayFromRejected = try dm.double("awayFromRejected", b.drift.awayFromRejected, 0...10)
            b.drift.pullToIntrinsic = try dm.double("pullToIntrinsic", b.drift.pullToIntrinsic, 0...1)
        }
        if let x = m.get("session") {
            let sm = try x.mapping(["leaveProbability", "boredomLeave", "returnProbability"])
            b.session.leaveProbability = try sm.double("leaveProbability", b.session.leaveProbability, 0...1)
            b.session.boredomLeave = try sm.double("boredomLeave", b.session.boredomLeave, 0...1)
            b.session.returnProbability = try sm.double("returnProbability", b.session.returnProbability, 0...1)
        }
        s.behaviourPreset = preset
        s.behaviour = b
    }

    // MARK: - Recommender

    static let recommenderKeys = ["kind", "window", "decay", "factors", "regularization", "alpha", "iterations", "retrainEvery", "beta",
                                  "gammaPlus", "gammaMinus", "sigma", "controls", "rerankers", "candidates", "exploration", "warmup", "command", "timeout", "catalog"]

    /// Parameters each kind accepts, beyond the common ones.
    static let recommenderParameters: [String: [String]] = [
        "reference": ["decay"], "profile": ["decay"], "random": [], "oracle": [], "popularity": ["window"],
        "mf": ["factors", "regularization", "alpha", "iterations", "retrainEvery"],
        "piao-similarity": ["beta", "gammaPlus", "gammaMinus", "sigma"], "engagement-greedy": [], "plugin": ["command", "timeout", "catalog"],
    ]

    static func decodeRecommender(_ r: YAMLReader) throws -> RecommenderSpec {
        let m = try r.mapping(recommenderKeys)
        let kinds = BuiltinRegistry.recommenders.map(\.kind)
        let kind = try m.choice("kind", "reference", kinds)
        var s = RecommenderSpec(kind: kind)
        let common = ["kind", "controls", "rerankers", "candidates", "exploration", "warmup"]
        let allowed = common + (recommenderParameters[kind] ?? [])
        for (key, k, v) in m.pairs where !allowed.contains(key) {
            throw r.child(key, v).error("'\(key)' is not a parameter of recommender '\(kind)'; it takes \((recommenderParameters[kind] ?? []).isEmpty ? "no model parameters" : (recommenderParameters[kind] ?? []).joined(separator: ", ")) plus \(common.dropFirst().joined(separator: ", "))", at: k)
        }
        if let w = m.get("window") { s.window = try w.int(1...1_000_000) }
        if let d = m.get("decay") { s.decay = try d.double(0...1) }
        s.factors = try m.int("factors", s.factors, 1...512)
        s.regularization = try m.double("regularization", s.regularization, 0...1e6)
        s.alpha = try m.double("alpha", s.alpha, 0...1e6)
        s.iterations = try m.int("iterations", s.iterations, 1...1000)
        s.retrainEvery = try m.int("retrainEvery", s.retrainEvery, 0...1_000_000)
        s.beta = try m.double("beta", s.beta, 0...1000)
        s.gammaPlus = try m.double("gammaPlus", s.gammaPlus, -10...10)
        s.gammaMinus = try m.double("gammaMinus", s.gammaMinus, -10...10)
        s.sigma = try m.double("sigma", s.sigma, 0...100)
        if let c = m.get("candidates") { s.candidates = try c.int(1...100_000) }
        s.warmup = try m.int("warmup", s.warmup, 0...1_000_000)
        s.timeout = try m.double("timeout", s.timeout, 0.001...86_400)
        s.catalogTransfer = try m.choice("catalog", s.catalogTransfer, ["auto", "inline", "file"])
        if let cmd = m.get("command") {
            s.command = try cmd.list().map { try $0.string() }
            guard !s.command.isEmpty else { throw cmd.error("give the program and its arguments, e.g. [python3, rec.py]") }
        }
        if kind == "plugin" && s.command.isEmpty {
            throw r.error("a plugin recommender needs command: [PROGRAM, ARGS...] (or pass --plugin -- CMD on the command line)")
        }
        if let c = m.get("controls") { s.controls = try decodeControls(c) }
        if let rr = m.get("rerankers") {
            s.rerankers = try rr.list().map { x in
                let xm = try x.mapping(["kind"] + Array(Set(RerankerSpec.parameters.values.flatMap { $0 })).sorted())
                let kind = try xm.require("kind", hint: "one of " + BuiltinRegistry.rerankers.map(\.kind).joined(separator: ", ")).choice(BuiltinRegistry.rerankers.map(\.kind))
                let ok = RerankerSpec.parameters[kind] ?? []
                for (key, k, v) in xm.pairs where key != "kind" && !ok.contains(key) {
                    throw x.child(key, v).error("'\(key)' is not a parameter of re-ranker '\(kind)'; it takes \(ok.isEmpty ? "none" : ok.joined(separator: ", "))", at: k)
                }
                var spec = RerankerSpec(kind: kind)
                if let v = xm.get("lambda") { spec.lambda = try v.double(0...1) }
                if let v = xm.get("theta") { spec.theta = try v.double(0...0.999999) }
                if let v = xm.get("delta") { spec.delta = try v.double(0...1e6) }
                if let v = xm.get("epsilon") { spec.epsilon = try v.double(1e-300...1) }
                if let v = xm.get("window") { spec.window = try v.int(1...1000) }
                if let v = xm.get("alpha") { spec.alpha = try v.double(1e-9...0.999999) }
                if let v = xm.get("maxPerTopic") { spec.maxPerTopic = try v.int(1...1000) }
                if let v = xm.get("maxRun") { spec.maxRun = try v.int(1...1000) }
                if let v = xm.get("threshold") { spec.threshold = try v.double(-1...1) }
                return spec
            }
        }
        if let e = m.get("exploration") {
            let em = try e.mapping(["epsilon", "randomSlots"])
            s.exploration = Exploration(epsilon: try em.double("epsilon", 0, 0...1), randomSlots: try em.int("randomSlots", 0, 0...1000))
        }
        return s
    }

    static func decodeControls(_ r: YAMLReader) throws -> ControlPolicy {
        if let s = r.scalar, ["on", "off", "true", "false", "yes", "no"].contains(s.lowercased()) {
            return try r.bool() ? ControlPolicy() : .off
        }
        let keys = ["enabled", "honourNotInterested", "honourPersonalisationOff", "honourTags", "honourBlocks", "filterHarmful", "protectMinors",
                    "nearDuplicateThreshold", "nearDuplicateHorizon", "topicPenalty", "topicHorizon", "tagBoost", "minorBorderlinePenalty",
                    "impressionMemory", "excludeConsumed", "itemMarksSuppressTopic", "itemMarksNarrowFeed", "coldStart"]
        let m = try r.mapping(keys)
        var p = ControlPolicy()
        p.enabled = try m.bool("enabled", p.enabled)
        p.honourNotInterested = try m.bool("honourNotInterested", p.honourNotInterested)
        p.honourPersonalisationOff = try m.bool("honourPersonalisationOff", p.honourPersonalisationOff)
        p.honourTags = try m.bool("honourTags", p.honourTags)
        p.honourBlocks = try m.bool("honourBlocks", p.honourBlocks)
        p.filterHarmful = try m.bool("filterHarmful", p.filterHarmful)
        p.protectMinors = try m.bool("protectMinors", p.protectMinors)
        p.nearDuplicateThreshold = try m.double("nearDuplicateThreshold", p.nearDuplicateThreshold, -1...1)
        p.nearDuplicateHorizon = try m.int("nearDuplicateHorizon", p.nearDuplicateHorizon, 0...Int.max)
        p.topicPenalty = try m.double("topicPenalty", p.topicPenalty, 0...1e6)
        p.topicHorizon = try m.int("topicHorizon", p.topicHorizon, 0...Int.max)
        p.tagBoost = try m.double("tagBoost", p.tagBoost, 0...1e6)
        p.minorBorderlinePenalty = try m.double("minorBorderlinePenalty", p.minorBorderlinePenalty, 0...1e6)
        p.impressionMemory = try m.int("impressionMemory", p.impressionMemory, 0...100_000)
        p.excludeConsumed = try m.bool("excludeConsumed", p.excludeConsumed)
        p.itemMarksSuppressTopic = try m.bool("itemMarksSuppressTopic", p.itemMarksSuppressTopic)
        p.itemMarksNarrowFeed = try m.bool("itemMarksNarrowFeed", p.itemMarksNarrowFeed)
        p.coldStart = try m.choice("coldStart", p.coldStart, ControlPolicy.coldStartChoices)
        return p
    }

    // MARK: - Interventions

    static let actions = ["not-interested", "declare-tag", "delete-tag", "personalisation-off", "personalisation-on", "shift-interest", "block-creator", "block-topic"]
    static let topicRefs = ["top-interest", "second-interest", "top-shown", "top-consumed"]

    static func topicRef(_ r: YAMLReader) throws -> Intervention.TopicRef {
        let s = try r.string()
        switch s {
        case "top-interest": return .topInterest
        case "second-interest": return .secondInterest
        case "top-shown": return .topShown
        case "top-consumed": return .topConsumed
        default: return .named(s)
        }
    }

    static func decodeIntervention(_ r: YAMLReader) throws -> Intervention {
        let m = try r.mapping(["name", "at", "until", "every", "select", "action", "pick", "scope", "count", "topic", "from", "to", "remaining", "twins"])
        let name = try m.require("name", hint: "a unique name, e.g. mark").string()
        let start = try m.require("at", hint: "the step it applies at, ≥ 1").int(1...Int.max)
        var iv = Intervention(name: name, start: start, action: .personalisation(false))
        if let u = m.get("until") { iv.end = try u.int(start...Int.max) }
        iv.every = try m.int("every", 1, 1...Int.max)
        iv.twins = try m.bool("twins", false)
        if let sel = m.get("select") {
            let sm = try sel.mapping(["fraction", "segment", "topInterest", "seeking"])
            iv.selection.fraction = try sm.double("fraction", 1, 0...1)
            iv.selection.segment = try sm.get("segment")?.string()
            iv.selection.topInterest = try sm.get("topInterest")?.string()
            if let s = sm.get("seeking") { iv.selection.seeking = try s.bool() }
        }
        let actionNode = try m.require("action", hint: actions.joined(separator: ", "))
        let action = try actionNode.choice(actions)
        let used: [String: [String]] = [
            "not-interested": ["pick", "scope", "count", "topic"], "declare-tag": ["topic"], "delete-tag": ["topic"], "block-topic": ["topic"],
            "shift-interest": ["from", "to", "remaining"], "personalisation-off": [], "personalisation-on": [], "block-creator": [],
        ]
        for (key, k, v) in m.pairs where ["pick", "scope", "count", "topic", "from", "to", "remaining"].contains(key) && !(used[action] ?? []).contains(key) {
            throw r.child(key, v).error("'\(key)' does not apply to action '\(action)'; it takes \((used[action] ?? []).isEmpty ? "no options" : used[action]!.joined(separator: ", "))", at: k)
        }
        func topic(_ key: String, default def: Intervention.TopicRef?) throws -> Intervention.TopicRef {
            if let t = m.get(key) { return try topicRef(t) }
            if let def { return def }
            throw r.error("action '\(action)' needs \(key): a topic name or one of \(topicRefs.joined(separator: ", "))")
        }
        switch action {
        case "not-interested":
            let pickName = try m.choice("pick", "first", ["first", "random", "topic"])
            let pick: Intervention.ItemPick = pickName == "first" ? .first : pickName == "random" ? .random : .ofTopic(try topic("topic", default: .topInterest))
            if pickName != "topic", let t = m.get("topic") { throw t.error("'topic' applies with pick: topic") }
            let scope = MarkScope(rawValue: try m.choice("scope", "item", MarkScope.allCases.map(\.rawValue)))!
            iv.action = .notInterested(pick: pick, scope: scope, count: try m.int("count", 1, 1...1000))
        case "declare-tag": iv.action = .declareTag(try topic("topic", default: nil))
        case "delete-tag": iv.action = .deleteTag(try topic("topic", default: .topInterest))
        case "block-topic": iv.action = .blockTopic(try topic("topic", default: nil))
        case "personalisation-off": iv.action = .personalisation(false)
        case "personalisation-on": iv.action = .personalisation(true)
        case "block-creator": iv.action = .blockTopCreator
        default:
            iv.action = .shiftInterest(from: try topic("from", default: .topInterest), to: try topic("to", default: .secondInterest),
                                       remaining: try m.double("remaining", 0.1, 0...1))
        }
        return iv
    }

    // MARK: - Checks

    static func decodeCheck(_ r: YAMLReader, scenario s: Scenario) throws -> CheckSpec {
        let keys = ["id", "name", "clause", "clauseEn", "figure", "statistic", "rule", "group", "persona", "hard", "window", "after", "target",
                    "similarity", "memory", "consumed", "topic", "baseline"]
        let m = try r.mapping(keys)
        let id = try m.require("id", hint: "a unique id, e.g. S01-median-ratio").string()
        let figure = try m.require("figure", hint: Figure.all.map(\.id).joined(separator: ", ")).choice(Figure.all.map(\.id))
        var c = CheckSpec(id: id, name: try m.string("name", id), figure: figure)
        c.clause = try m.get("clause")?.string()
        c.clauseEnglish = try m.get("clauseEn")?.string()
        c.statistic = Statistic(rawValue: try m.choice("statistic", "mean", Statistic.allCases.map(\.rawValue)))!
        let ruleNode = try m.require("rule", hint: "e.g. \">= 0.8\", \"<= 1.5\", \"== 0\", \"within [0.9, 1.1]\"")
        (c.comparator, c.threshold, c.upper) = try parseRule(ruleNode)
        c.group = try m.string("group", c.group)
        if let p = m.get("persona") { c.persona = try p.choice(["seeking", "regular"]) }
        c.hard = try m.bool("hard", false)
        if c.hard && ![.total, .max, .min].contains(c.statistic) && !Figure.pooled.contains(figure) && c.statistic != .ratio {
            throw (m.get("hard") ?? r).error("a hard rule compares a raw count: use statistic total, max or min")
        }
        if let w = m.get("window") {
            let l = try w.list()
            guard l.count == 2 else { throw w.error("expected [from, to] in steps, e.g. [191, 200]") }
            c.from = try l[0].int(1...Int.max)
            c.to = try l[1].int(c.from!...Int.max)
        }
        if let a = m.get("after") {
            let name = try a.string()
            guard s.interventions.contains(where: { $0.name == name }) else {
                throw a.error("no intervention named '\(name)'\(Suggestions.hint(for: name, in: s.interventions.map(\.name))); interventions: \(s.interventions.map(\.name).joined(separator: ", "))")
            }
            c.after = name
        }
        if let t = m.get("target") { c.target = try t.choice(["item", "near-duplicates", "topic", "unrelated"]) }
        c.similarity = try m.double("similarity", c.similarity, -1...1)
        c.memory = try m.int("memory", c.memory, 1...1_000_000)
        c.consumed = try m.int("consumed", c.consumed, 1...1_000_000)
        c.topic = try m.get("topic")?.string()
        if let b = m.get("baseline") { c.baseline = try b.choice(Scenario.baselineNames) }
        if let needed = c.baseline ?? Figure.defaultBaseline[figure], !s.baselines.contains(needed) {
            throw (m.get("baseline") ?? m.get("figure")!).error("figure '\(figure)' compares with the '\(needed)' baseline; add it to baselines: [\((s.baselines + [needed]).joined(separator: ", "))]")
        }
        let groups = ["population", "arm:treated", "arm:twin", "arm:main"] + s.population.segments.map { "segment:\($0.name)" }
        if !groups.contains(c.group) {
            throw (m.get("group") ?? r).error("unknown group '\(c.group)'\(Suggestions.hint(for: c.group, in: groups)); groups: \(groups.joined(separator: ", "))")
        }
        return c
    }

    static func parseRule(_ r: YAMLReader) throws -> (CheckComparator, Double, Double?) {
        let text = try r.string().trimmingCharacters(in: .whitespaces)
        let normalised = text.replacingOccurrences(of: "≥", with: ">=").replacingOccurrences(of: "≤", with: "<=")
        if normalised.hasPrefix("within") {
            let inner = normalised.dropFirst(6).trimmingCharacters(in: CharacterSet(charactersIn: " []"))
            let parts = inner.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let a = parts[0], let b = parts[1], a <= b else {
                throw r.error("'\(text)' is not a rule; write within [LOW, HIGH], e.g. within [0.9, 1.1]")
            }
            return (.within, a, b)
        }
        for op in [">=", "<=", "=="] where normalised.hasPrefix(op) {
            guard let v = Double(normalised.dropFirst(2).trimmingCharacters(in: .whitespaces)), v.isFinite else {
                throw r.error("'\(text)' has no number after \(op); e.g. \"\(op) 0.8\"")
            }
            return (CheckComparator(rawValue: op)!, v, nil)
        }
        throw r.error("'\(text)' is not a rule; write \">= X\", \"<= X\", \"== X\" or \"within [LOW, HIGH]\"")
    }

    // MARK: - Cross-field checks

    func crossCheck(_ root: YAMLReader) throws {
        let m = try root.mapping(Scenario.topKeys)
        if case .generated(let c) = catalog {
            if slateSize > c.items {
                throw (m.get("slateSize") ?? root).error("slate size \(slateSize) exceeds the catalog's \(c.items) items; use at most \(c.items)")
            }
            let names = c.resolvedTopicNames
            for (j, iv) in interventions.enumerated() {
                let node = (try? m.get("interventions")?.list()[j]) ?? root
                for t in Scenario.namedTopics(iv) where TopicTable.index(of: t, in: names) == nil {
                    throw node.error("intervention '\(iv.name)' names topic '\(t)'\(Suggestions.hint(for: t, in: names)), which the catalog does not have (topics: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : ""))")
                }
                if let seg = iv.selection.segment, !population.segments.contains(where: { $0.name == seg }) {
                    throw node.error("intervention '\(iv.name)' selects segment '\(seg)'\(Suggestions.hint(for: seg, in: population.segments.map(\.name))); segments: \(population.segments.map(\.name).joined(separator: ", "))")
                }
                if iv.start > steps {
                    throw node.error("intervention '\(iv.name)' starts at step \(iv.start), after the last step \(steps)")
                }
            }
            if population.minInterests > c.topics {
                throw (m.get("world") ?? root).error("users need at least \(population.minInterests) interests but the catalog has \(c.topics) topics")
            }
        }
    }

    static func namedTopics(_ iv: Intervention) -> [String] {
        var out: [String] = []
        func add(_ r: Intervention.TopicRef) { if case .named(let s) = r { out.append(s) } }
        switch iv.action {
        case .notInterested(let pick, _, _): if case .ofTopic(let r) = pick { add(r) }
        case .declareTag(let r), .deleteTag(let r), .blockTopic(let r): add(r)
        case .shiftInterest(let a, let b, _): add(a); add(b)
        default: break
        }
        if let t = iv.selection.topInterest { out.append(t) }
        return out
    }
}
