import CocoonCore

/// Builds out-of-process recommenders (`kind: plugin`).
public enum PluginFactory {
    /// A recommender for `spec`: the plugin client for `plugin`, a built-in otherwise.
    public static func make(_ spec: RecommenderSpec) throws -> Recommender {
        guard spec.kind == "plugin" else { return try BuiltinRegistry.make(spec) }
        return try PluginRecommender(command: spec.command, timeout: spec.timeout, catalogTransfer: spec.catalogTransfer)
    }
}
