import CocoonCore
import CocoonMath
import CocoonMetrics
import CocoonRecommenders
import Foundation

/// `cocoon plugin check`: a conformance test of a plugin on a tiny world — the handshake,
/// the message formats, determinism for a fixed seed (when the plugin claims it) and whether
/// each control is honoured.
public enum PluginCheck {
    /// The conformance scenario: one segment of users per control, so the controls do not mix.
    public static let scenarioText = """
        version: 1
        name: plugin-check
        description: >-
          Conformance of a plugin on a tiny world: each segment of users exercises one control
          (a "not this kind of content" mark with twins, personalisation off, a deleted tag, a
          declared tag, blocks); a harmful topic and minorUnsafe items test the duties.
        clause: "清朗 Task 1 负反馈, 算法自主可控; Provisions Arts. 10, 17, 18"
        clauseEn: "Qinglang Task 1 negative feedback, user control of algorithms; Provisions Arts. 10, 17, 18"
        seed: 11
        replicates: 1
        steps: 24
        slateSize: 10
        world:
          catalog: {items: 600, dimension: 16, topics: 12, nearDuplicateFraction: 0.1, harmful: {topics: [t11]}, minorUnsafe: {fraction: 0.03}}
          population:
            users: 300
            interests: [3, 5]
            dominantShare: [0.3, 0.5]
            declaredTags: 0
            segments:
              - {name: mark, share: 0.2}
              - {name: off, share: 0.15}
              - {name: delete, share: 0.15}
              - {name: declare, share: 0.15}
              - {name: block, share: 0.15}
              - {name: minor, share: 0.2}
        behaviour:
          notInterested: {enabled: false}
        recommender: {kind: reference}
        baselines: [personalisation-off]
        interventions:
          - {name: mark, at: 6, select: {segment: mark}, action: not-interested, pick: first, scope: topic, twins: true}
          - {name: off, at: 8, select: {segment: off}, action: personalisation-off}
          - {name: delete, at: 8, select: {segment: delete}, action: delete-tag, topic: top-interest}
          - {name: declare, at: 12, select: {segment: declare}, action: declare-tag, topic: t3}
          - {name: block-topic, at: 10, select: {segment: block}, action: block-topic, topic: top-shown}
          - {name: block-creator, at: 10, select: {segment: block}, action: block-creator}
        metrics: [list_topic_entropy_bits]
        checks:
          - {id: not-interested-item, name: a marked item never returns, figure: item_reexposure, after: mark, statistic: total, rule: "== 0", hard: true}
          - {id: not-interested-topic, name: "'not this kind of content' removes the topic (E against twins, 10 slates)", figure: suppression, target: topic, after: mark, window: [1, 10], statistic: effect, rule: ">= 0.8"}
          - {id: personalisation-off, name: switched-off users get the non-personalised feed from the next slate, figure: control_delay, after: off, statistic: max, rule: "<= 0", hard: true}
          - {id: tag-deleted, name: a deleted tag's topic is no more frequent than in the non-personalised feed (10 slates), figure: tag_share_vs_baseline, baseline: personalisation-off, after: delete, window: [1, 10], statistic: ratio, rule: "<= 1.1", hard: true}
          - {id: tag-declared, name: a declared tag's topic at least doubles (10 slates), figure: declared_tag_growth, after: declare, window: [1, 10], statistic: ratio, rule: ">= 2", hard: true}
          - {id: blocks, name: blocked topics and creators are never shown, figure: blocked_impressions, statistic: total, rule: "== 0", hard: true}
          - {id: harmful, name: harmful items are never pushed after an engagement, figure: flagged_after_engagement, statistic: total, rule: "== 0", hard: true}
          - {id: harmful-tags, name: harmful topics never become tags, figure: flagged_topics_in_tags, statistic: total, rule: "== 0", hard: true}
          - {id: minors, name: minors never see minorUnsafe or harmful items, figure: unsafe_impressions, group: "segment:minor", statistic: total, rule: "== 0", hard: true}
        report: {bootstrap: 50}
        """

    /// One line of the report.
    public struct Line: Sendable {
        public let verdict: String
        public let name: String
        public let detail: String
    }

    /// The outcome.
    public struct Report: Sendable {
        public var lines: [Line] = []
        /// 0: conformant; 1: a control or determinism failed; 2: a protocol fault.
        public var exitCode: Int32 = 0
        public var scorecard: Scorecard?

        public var text: String {
            let w = max(lines.map(\.name.count).max() ?? 0, 10)
            var out = lines.map { "  \($0.verdict.padding(toLength: 6, withPad: " ", startingAt: 0)) \($0.name.padding(toLength: w, withPad: " ", startingAt: 0))  \($0.detail)" }
            let pass = lines.filter { $0.verdict == "PASS" }.count
            let fail = lines.filter { $0.verdict == "FAIL" }.count
            let na = lines.filter { $0.verdict == "N/A" }.count
            let result = exitCode == 0 ? "conformant" : exitCode == 1 ? "NOT conformant (a control or duty failed)" : "NOT conformant (protocol fault)"
            out.append("result: \(result) — \(pass) passed, \(fail) failed, \(na) not applicable")
            return out.joined(separator: "\n")
        }
    }

    /// Runs the conformance test for a plugin command.
    public static func run(command: [String], timeout: Double, threads: Int = 1) -> Report {
        var report = Report()
        let scenario: Scenario
        do {
            scenario = try Scenario.decode(scenarioText, file: "plugin-check")
        } catch {
            report.lines.append(Line(verdict: "FAIL", name: "setup", detail: "\(error)"))
            report.exitCode = 2
            return report
        }
        var spec = RecommenderSpec(kind: "plugin")
        spec.command = command
        spec.timeout = timeout
        final class Captured: @unchecked Sendable { var plugins: [PluginRecommender] = [] }
        func once(_ captured: Captured) throws -> RunReport {
            var o = RunOptions()
            o.threads = threads
            o.recommender = spec
            o.factory = { s in
                let p = try PluginRecommender(command: s.command, timeout: s.timeout, catalogTransfer: s.catalogTransfer)
                captured.plugins.append(p)
                return p
            }
            return try ScenarioRunner.run(scenario, file: "plugin-check", text: scenarioText, options: o)
        }
        let first = Captured()
        let run: RunReport
        do {
            run = try once(first)
        } catch {
            report.lines.append(Line(verdict: "FAIL", name: "start", detail: "\(error)"))
            report.exitCode = 2
            return report
        }
        report.scorecard = run.scorecard
        let plugin = first.plugins.first
        // Handshake.
        if let p = plugin, !p.pluginName.isEmpty || !p.capabilities.isEmpty || run.scorecard.aborted?.step != 0 {
            let caps = p.capabilities.isEmpty ? "none" : p.capabilities.joined(separator: ", ")
            let unknown = p.capabilities.filter { !PluginRecommender.knownCapabilities.contains($0) }
            report.lines.append(Line(verdict: "PASS", name: "handshake",
                                     detail: "protocol \(PluginRecommender.protocolVersion), name \"\(p.pluginName)\", capabilities: \(caps)"
                                        + (unknown.isEmpty ? "" : " (unknown to this Cocoon, ignored: \(unknown.joined(separator: ", ")))")))
        }
        // Message formats: the run completed without a fault.
        if let a = run.scorecard.aborted {
            if a.step == 0 && plugin?.pluginName.isEmpty != false && plugin?.capabilities.isEmpty != false {
                report.lines.append(Line(verdict: "FAIL", name: "handshake", detail: a.message))
            } else {
                report.lines.append(Line(verdict: "FAIL", name: "messages", detail: a.message))
            }
            report.exitCode = 2
            return report
        }
        let steps = scenario.steps
        let sent = plugin?.bytesSent ?? 0, received = plugin?.bytesReceived ?? 0
        report.lines.append(Line(verdict: "PASS", name: "messages",
                                 detail: "\(steps) steps × \(run.scorecard.users) users: every answer well-formed; \(bytes(sent)) sent, \(bytes(received)) received"))
        // Determinism, when claimed.
        if plugin?.capabilities.contains("deterministic") == true {
            let second = Captured()
            do {
                let again = try once(second)
                let a = run.replicates[0].snapshots, b = again.replicates[0].snapshots
                if let t = zip(a, b).first(where: { $0.0.slates != $0.1.slates })?.0.step {
                    report.lines.append(Line(verdict: "FAIL", name: "determinism", detail: "claimed, but two runs with seed \(scenario.seed) gave different slates from step \(t)"))
                    report.exitCode = max(report.exitCode, 1)
                } else if a.count != b.count || again.scorecard.aborted != nil {
                    report.lines.append(Line(verdict: "FAIL", name: "determinism", detail: "the second run did not complete: \(again.scorecard.aborted?.message ?? "")"))
                    report.exitCode = max(report.exitCode, 1)
                } else {
                    report.lines.append(Line(verdict: "PASS", name: "determinism", detail: "claimed; two runs with seed \(scenario.seed) gave identical slates at all \(steps) steps"))
                }
            } catch {
                report.lines.append(Line(verdict: "FAIL", name: "determinism", detail: "the second run failed: \(error)"))
                report.exitCode = max(report.exitCode, 1)
            }
        } else {
            report.lines.append(Line(verdict: "N/A", name: "determinism", detail: "not claimed (capability \"deterministic\"); scorecards may differ between runs"))
        }
        // Controls and duties.
        for c in run.scorecard.checks {
            let obs = c.observed.map { Format.short($0) } ?? "—"
            switch c.verdict {
            case .pass:
                report.lines.append(Line(verdict: "PASS", name: c.spec.id, detail: "\(c.spec.name) — \(obs) (rule \(c.spec.ruleText))"))
            case .fail:
                report.lines.append(Line(verdict: "FAIL", name: c.spec.id, detail: "\(c.spec.name) — \(obs) (rule \(c.spec.ruleText))"))
                report.exitCode = max(report.exitCode, 1)
            case .notApplicable:
                let why = c.spec.figure == "flagged_topics_in_tags" && plugin?.capabilities.contains("tags") != true
                    ? "the plugin exposes no user tags (capability \"tags\" not claimed)" : (c.note ?? "")
                report.lines.append(Line(verdict: "N/A", name: c.spec.id, detail: "\(c.spec.name) — \(why)"))
            }
        }
        return report
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : n >= 1024 ? String(format: "%.0f kB", Double(n) / 1024) : "\(n) B"
    }
}
