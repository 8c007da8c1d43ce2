import CocoonCore
import CocoonMetrics
import CocoonRecommenders
import CocoonScenario
import Foundation
import Testing

@Suite struct ScenarioDecodingTests {
    @Test func theEmptyScenarioIsTheDocumentedDefaults() throws {
        #expect(try Scenario.decode("") == Scenario())
        #expect(try Scenario.decode("version: 1\n") == Scenario())
        // The documented defaults (docs/scenario-schema.md).
        let d = Scenario()
        #expect(d.seed == 42 && d.replicates == 1 && d.steps == 50 && d.slateSize == 10)
        #expect(d.population.users == 1000 && d.recommender.kind == "reference" && d.behaviourPreset == "default")
        if case .generated(let c) = d.catalog { #expect(c.items == 2000 && c.dimension == 32 && c.topics == 20) } else { Issue.record("default catalog is generated") }
        #expect(d.metrics == MetricCatalog.defaultSet && d.report.bootstrap == 1000 && d.cocoonWindow == 10)
    }

    @Test func aFullScenarioDecodes() throws {
        let s = try Scenario.decode("""
            version: 1
            name: demo
            seed: 9
            replicates: 3
            steps: 30
            slateSize: 8
            world:
              catalog: {items: 500, dimension: 16, topics: 6, harmful: {topics: [t5]}}
              population: {users: 200, segments: [{name: adult, share: 0.7}, {name: minor, share: 0.3, seeking: 0.5}]}
            behaviour: {preset: chaney2018, temperature: 4}
            recommender:
              kind: mf
              factors: 8
              retrainEvery: 0
              controls: {topicHorizon: 50}
              rerankers: [{kind: mmr, lambda: 0.5}, {kind: topic-cap, maxRun: 1}]
              exploration: {epsilon: 0.1}
            baselines: [popularity]
            interventions:
              - {name: mark, at: 10, until: 12, select: {fraction: 0.5, segment: minor}, action: not-interested, scope: topic, twins: true}
              - {name: tags, at: 5, action: declare-tag, topic: t2}
            checks:
              - {id: c1, figure: suppression, target: topic, after: mark, window: [1, 5], statistic: effect, rule: ">= 0.8"}
              - {id: c2, figure: unsafe_impressions, group: "segment:minor", statistic: total, rule: "== 0", hard: true}
            """)
        #expect(s.name == "demo" && s.seed == 9 && s.replicates == 3 && s.steps == 30 && s.slateSize == 8)
        #expect(s.behaviour.choice == .rankUtility && s.behaviour.temperature == 4)
        #expect(s.recommender.kind == "mf" && s.recommender.factors == 8 && s.recommender.retrainEvery == 0 && s.recommender.controls.topicHorizon == 50)
        #expect(s.recommender.rerankers?.map(\.kind) == ["mmr", "topic-cap"] && s.recommender.rerankers?[0].lambda == 0.5)
        #expect(s.interventions[0].end == 12 && s.interventions[0].twins && s.interventions[0].selection.segment == "minor")
        #expect(s.interventions[0].action == .notInterested(pick: .first, scope: .topic, count: 1))
        #expect(s.interventions[1].action == .declareTag(.named("t2")))
        #expect(s.checks[0].comparator == .atLeast && s.checks[0].threshold == 0.8 && s.checks[0].from == 1 && s.checks[0].after == "mark")
        #expect(s.checks[1].hard && s.checks[1].group == "segment:minor")
    }

    @Test func overridesAreValidatedLikeTheFile() throws {
        let s = try Scenario.decode("steps: 10\n", overrides: ["steps=20", "world.population.users=50", "recommender.rerankers=[{kind: mmr}]"])
        #expect(s.steps == 20 && s.population.users == 50 && s.recommender.rerankers?.first?.kind == "mmr")
        #expect(throws: ScenarioError.self) { try Scenario.decode("", overrides: ["stepz=3"]) }
        do {
            _ = try Scenario.decode("", overrides: ["world.population.users=-5"])
        } catch let e as ScenarioError {
            #expect(e.description == "--set world.population.users=-5: at world.population.users: -5 is out of range; allowed: 1…100000000")
        }
    }

    /// Pinned error messages of bad scenarios: what, where (file:line:column, key path) and how
    /// to fix it.
    @Test(arguments: [
        ("steps: 10\nslateSzie: 5\n", "bad.yaml:2:1: at slateSzie: unknown key 'slateSzie' (did you mean 'slateSize'?); allowed keys: version, name, description, clause, clauseEn, seed, replicates, steps, slateSize, world, behaviour, recommender, baselines, interventions, metrics, metricOptions, checks, report, notes, suiteCheck"),
        ("version: 2\n", "bad.yaml:1:10: at version: version 2 is not supported; this Cocoon reads version 1"),
        ("steps: -3\n", "bad.yaml:1:8: at steps: -3 is out of range; allowed: 0…1000000"),
        ("steps: many\n", "bad.yaml:1:8: at steps: expected a whole number, got 'many'"),
        ("recommender: {kind: popularty}\n", "bad.yaml:1:21: at recommender.kind: 'popularty' is not one of reference, random, popularity, oracle, profile, mf, piao-similarity, engagement-greedy, plugin (did you mean 'popularity'?)"),
        ("recommender: {kind: random, factors: 4}\n", "bad.yaml:1:29: at recommender.factors: 'factors' is not a parameter of recommender 'random'; it takes no model parameters plus controls, rerankers, candidates, exploration, warmup"),
        ("recommender:\n  rerankers: [{kind: mmr, theta: 0.5}]\n", "bad.yaml:2:27: at recommender.rerankers[0].theta: 'theta' is not a parameter of re-ranker 'mmr'; it takes lambda"),
        ("world:\n  catalog: {items: 5}\nslateSize: 10\n", "bad.yaml:3:12: at slateSize: slate size 10 exceeds the catalog's 5 items; use at most 5"),
        ("interventions:\n  - {name: a, at: 3, action: delete-tag, topic: t99}\n", "bad.yaml:2:5: at interventions[0]: intervention 'a' names topic 't99' (did you mean 't9'?), which the catalog does not have (topics: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, …)"),
        ("interventions:\n  - {name: a, at: 3, action: mute}\n", "bad.yaml:2:30: at interventions[0].action: 'mute' is not one of not-interested, declare-tag, delete-tag, personalisation-off, personalisation-on, shift-interest, block-creator, block-topic"),
        ("interventions:\n  - {name: a, at: 3, action: personalisation-off, scope: item}\n", "bad.yaml:2:51: at interventions[0].scope: 'scope' does not apply to action 'personalisation-off'; it takes no options"),
        ("interventions:\n  - {name: a, at: 99, action: personalisation-off}\n", "bad.yaml:2:5: at interventions[0]: intervention 'a' starts at step 99, after the last step 50"),
        ("checks:\n  - {id: x, figure: cocoon_ratio, rule: \"> 0.8\"}\n", "bad.yaml:2:41: at checks[0].rule: '> 0.8' is not a rule; write \">= X\", \"<= X\", \"== X\" or \"within [LOW, HIGH]\""),
        ("checks:\n  - {id: x, figure: cocoon_ratio, rule: \">= 1\", after: mark}\n", "bad.yaml:2:56: at checks[0].after: no intervention named 'mark'; interventions: "),
        ("checks:\n  - {id: x, figure: ild_vs_baseline, rule: \">= 1\"}\n", "bad.yaml:2:21: at checks[0].figure: figure 'ild_vs_baseline' compares with the 'popularity' baseline; add it to baselines: [popularity]"),
        ("checks:\n  - {id: x, figure: cocoon_ration, rule: \">= 1\"}\n", "bad.yaml:2:21: at checks[0].figure: 'cocoon_ration' is not one of cocoon_ratio, top_topic_amplification, near_duplicate_free_slates, longest_topic_run, ild_vs_baseline, repeats_within, exposure_jaccard_vs_baseline, interest_shift_recovery, item_reexposure, suppression, entropy_vs_twin, cluster_topic_tvd, cramers_v, twin_slate_match, personalisation_off_kept, tag_share_vs_baseline, entropy_vs_baseline, declared_tag_growth, flagged_after_engagement, flagged_topics_in_tags, unsafe_impressions, blocked_impressions, borderline_amplification, control_delay, slates_served (did you mean 'cocoon_ratio'?)"),
        ("checks:\n  - {id: x, figure: cocoon_ratio, rule: \">= 1\", group: \"segment:kids\"}\n", "bad.yaml:2:56: at checks[0].group: unknown group 'segment:kids'; groups: population, arm:treated, arm:twin, arm:main, segment:adult"),
        ("world:\n  population: {interests: [3]}\n", "bad.yaml:2:27: at world.population.interests: expected [fewest, most], e.g. [3, 5]"),
        ("behaviour: {satiation: {recovery: 1.5}}\n", "bad.yaml:1:35: at behaviour.satiation.recovery: 1.5 is out of range; allowed: 0…1"),
        ("steps: [1, 2\n", "bad.yaml:2:1: invalid YAML: did not find expected ',' or ']'"),
        ("world:\n  catalog: {items: 100, items: 200}\n", "bad.yaml:2:13: the key 'items' appears twice in this mapping; keep one"),
        ("recommender: {kind: plugin}\n", "bad.yaml:1:14: at recommender: a plugin recommender needs command: [PROGRAM, ARGS...] (or pass --plugin -- CMD on the command line)"),
    ])
    func badScenariosGivePinnedErrors(input: (String, String)) {
        do {
            _ = try Scenario.decode(input.0, file: "bad.yaml")
            Issue.record("expected an error for \(input.0)")
        } catch {
            #expect("\(error)" == input.1)
        }
    }
}
