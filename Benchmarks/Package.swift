// swift-tools-version: 6.0
//
// Cocoon's benchmark harness, kept out of the main package so that `swift build` and
// `swift test` never build it. Run from the repository root:
//
//     swift run -c release --package-path Benchmarks cocoon-bench
//
// or `scripts/bench.sh`. See docs/performance.md.

import PackageDescription

// A local package's identity is its folder's name, which depends on where the repository was
// cloned; derive it instead of spelling it.
let parentIdentity = Context.packageDirectory.split(separator: "/").dropLast().last.map { $0.lowercased() } ?? "cocoon"

let package = Package(
    name: "CocoonBenchmarks",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "cocoon-bench",
            dependencies: [
                .product(name: "CocoonMath", package: parentIdentity),
                .product(name: "CocoonCore", package: parentIdentity),
                .product(name: "CocoonRecommenders", package: parentIdentity),
                .product(name: "CocoonMetrics", package: parentIdentity),
                .product(name: "CocoonScenario", package: parentIdentity),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
