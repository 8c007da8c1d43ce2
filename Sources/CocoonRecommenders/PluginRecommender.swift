import CocoonCore

/// The plugin-protocol client (docs/plugin-protocol.md).
public final class PluginRecommender: Recommender {
    public let name: String
    public init(command: [String], timeout: Double) throws {
        name = "plugin: " + command.joined(separator: " ")
        throw RecommenderError.needsGroundTruth("plugin")
    }
    public func start(_ world: RecommenderWorld) throws {}
    public func recommend(_ request: RecommendRequest) throws -> SlateBatch { SlateBatch(items: []) }
    public func observe(_ feedback: FeedbackBatch) throws {}
    public func stop() {}
}
