// swift-tools-version: 6.0
//
// Cocoon — a recommendation-feed diversity simulator and test harness.
// Dependencies point one way: Math ← Core ← {Recommenders, Metrics} ← Scenario ← Report ← cocoon.

import PackageDescription

let package = Package(
    name: "Cocoon",
    products: [
        .executable(name: "cocoon", targets: ["cocoon"]),
        .library(name: "CocoonMath", targets: ["CocoonMath"]),
        .library(name: "CocoonCore", targets: ["CocoonCore"]),
        .library(name: "CocoonRecommenders", targets: ["CocoonRecommenders"]),
        .library(name: "CocoonMetrics", targets: ["CocoonMetrics"]),
        .library(name: "CocoonScenario", targets: ["CocoonScenario"]),
        .library(name: "CocoonReport", targets: ["CocoonReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: - System libraries

        /// OpenBLAS' CBLAS interface (Debian: libopenblas-dev). Imported only by CocoonMath.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // MARK: - Implementation

        /// Hand-written C kernels (top-k screening with SSE2/AVX2 chosen at run time). Imported
        /// only by CocoonMath.
        .target(name: "_CocoonKernels"),

        // MARK: - Public API

        /// Matrices, BLAS wrappers, top-k, random streams, samplers, the block executor.
        .target(name: "CocoonMath", dependencies: ["CBLAS", "_CocoonKernels"]),

        /// Catalog, population, behaviour, controls, interventions, the Recommender protocol, the engine.
        .target(name: "CocoonCore", dependencies: ["CocoonMath"]),

        /// Built-in recommenders, the shared control layer, re-rankers, the plugin client.
        .target(name: "CocoonRecommenders", dependencies: ["CocoonCore", "CocoonMath"]),

        /// METRICS.md metrics (offline and as step observers), statistics, the scorecard model.
        .target(name: "CocoonMetrics", dependencies: ["CocoonCore", "CocoonMath"]),

        /// Scenario schema v1 (YAML), validation, the registry, the runner, suites and sweeps.
        .target(
            name: "CocoonScenario",
            dependencies: ["CocoonCore", "CocoonMath", "CocoonRecommenders", "CocoonMetrics", .product(name: "Yams", package: "Yams")]
        ),

        /// Renderers: JSON, Markdown, HTML with SVG charts, tidy CSV, JUnit; atomic writes.
        .target(name: "CocoonReport", dependencies: ["CocoonCore", "CocoonMetrics", "CocoonScenario"]),

        // MARK: - Command-line tool

        .executableTarget(
            name: "cocoon",
            dependencies: [
                "CocoonMath", "CocoonCore", "CocoonRecommenders", "CocoonMetrics", "CocoonScenario", "CocoonReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests

        .testTarget(name: "CocoonMathTests", dependencies: ["CocoonMath"]),
        .testTarget(name: "CocoonCoreTests", dependencies: ["CocoonCore"]),
        .testTarget(name: "CocoonRecommendersTests", dependencies: ["CocoonRecommenders", "CocoonCore"]),
        .testTarget(name: "CocoonMetricsTests", dependencies: ["CocoonMetrics", "CocoonCore"]),
        .testTarget(
            name: "CocoonScenarioTests", dependencies: ["CocoonScenario", "CocoonMetrics", "CocoonRecommenders", "CocoonCore"],
            exclude: ["Snapshots"]
        ),
        .testTarget(
            name: "CocoonReportTests", dependencies: ["CocoonReport", "CocoonScenario", "CocoonRecommenders", "CocoonMetrics", "CocoonCore"],
            exclude: ["Snapshots"]
        ),
        /// Runs the built `cocoon` executable end to end.
        .testTarget(name: "CocoonCLITests", dependencies: ["cocoon", "CocoonMath"]),
    ],
    swiftLanguageModes: [.v6]
)
