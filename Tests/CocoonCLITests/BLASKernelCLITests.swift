import CocoonMath
import Foundation
import Testing

/// `cocoon` runs with the OpenBLAS kernel for the CPU when the library fell back to Prescott,
/// keeps any kernel the user names, and says so when a manifest was made with another kernel.
@Suite struct BLASKernelCLITests {
    /// What `cocoon --version` prints: OpenBLAS' build description, which names the kernel.
    func versionLine(_ environment: [String: String] = [:]) throws -> String {
        let r = try CLI.run(["--version"], environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func runsWithTheKernelForThisCPUUnlessOneIsNamed() throws {
        // This test process keeps the library's choice (only the tool starts itself again).
        let library = BLASRuntime.coreName
        let requested = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        let expected =
            BLASRuntime.replacementCore(libraryCore: library, requested: requested, cpuCore: BLASRuntime.coreForCPU) ?? library
        #expect(try versionLine().contains(" \(expected) "), "expected the \(expected) kernel (library: \(library), CPU: \(BLASRuntime.coreForCPU ?? "none"))")
        #expect(try versionLine(["OPENBLAS_CORETYPE": "Prescott"]).contains(" Prescott "))
    }

    @Test func rerunningAManifestOfAnotherKernelSaysHowToReproduceIt() throws {
        let folder = try SmallQuickstart.folder.get()
        var manifest = try readJSON(folder + "/manifest.json")
        var blas = manifest["blas"] as! [String: Any]
        // The manifest names the kernel the run used.
        #expect(try versionLine().contains(" \(blas["core"] as! String) "))
        blas["core"] = "Nehalem"
        manifest["blas"] = blas
        let dir = CLI.tempDir("manifest-kernel")
        try writeJSON(manifest, dir + "/manifest.json")
        let r = try CLI.run(["run", "--manifest", dir + "/manifest.json", "--out", dir + "/out", "--quiet"])
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("was made with OpenBLAS' Nehalem kernel"), "\(r.stderr)")
        #expect(r.stderr.contains("OPENBLAS_CORETYPE=Nehalem"))
        #expect(FileManager.default.fileExists(atPath: dir + "/out/scorecard.json"))
    }

    /// On a CPU with AVX-512, `cocoon` scores with its own kernel under OpenBLAS' SkylakeX or
    /// Cooperlake kernel, and a run is the same bytes as with the library's sgemm
    /// (`COCOON_SCORE_PRODUCTS=sgemm`); elsewhere it says it uses sgemm.
    @Test func ownScoreProductsGiveTheSgemmRun() throws {
        guard let core = BLASRuntime.coreForCPU, BlockScorer.fusedChainKernels.contains(core) else {
            #expect(try versionLine(["OPENBLAS_CORETYPE": "Prescott"]).contains("scores: OpenBLAS sgemm"))
            return
        }
        let own = ["OPENBLAS_CORETYPE": core]
        let sgemm = ["OPENBLAS_CORETYPE": core, "COCOON_SCORE_PRODUCTS": "sgemm"]
        #expect(try versionLine(own).contains("scores: own AVX-512 kernel"))
        #expect(try versionLine(sgemm).contains("scores: OpenBLAS sgemm"))
        #expect(try versionLine(["OPENBLAS_CORETYPE": "Prescott"]).contains("scores: OpenBLAS sgemm"))
        var cards: [Data] = []
        for (name, environment) in [("own", own), ("sgemm", sgemm)] {
            let dir = CLI.tempDir("score-products-\(name)")
            let r = try CLI.run(
                ["run", "Scenarios/quickstart.yaml", "--out", dir, "--quiet", "--set", "world.population.users=600", "--set", "steps=12",
                 "--set", "world.catalog.items=3000", "--set", "interventions[0].at=6", "--set", "checks[0].window=[7,12]"],
                environment: environment)
            #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
            cards.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/scorecard.json")))
        }
        #expect(cards[0] == cards[1])
    }

    /// Skipping the products of items that cannot make a slate (``ItemBounds``, on for a catalog
    /// of 64 dimensions and 20 topics: `ModelTests.generatedCatalogsGetBounds`) gives the same
    /// bytes as computing every product (`COCOON_SCORE_PRUNING=off`), through "not interested"
    /// marks, exclusions and twins, with one worker and with two: for the profile recommender,
    /// which skips, and the reference one, whose interest channels read every score (so it does
    /// not).
    @Test(arguments: ["profile", "reference"])
    func skippingItemsGivesTheRunOfEveryProduct(kind: String) throws {
        guard let core = BLASRuntime.coreForCPU, BlockScorer.fusedChainKernels.contains(core) else { return }
        var cards: [Data] = []
        for (name, environment) in [
            ("skip", ["OPENBLAS_CORETYPE": core]), ("every", ["OPENBLAS_CORETYPE": core, "COCOON_SCORE_PRUNING": "off"]),
        ] {
            for workers in ["1", "2"] {
                let dir = CLI.tempDir("score-pruning-\(kind)-\(name)-\(workers)")
                let r = try CLI.run(
                    ["run", "Scenarios/quickstart.yaml", "--out", dir, "--quiet", "--threads", workers,
                     "--set", "world.population.users=500", "--set", "steps=12", "--set", "world.catalog.items=5000",
                     "--set", "world.catalog.dimension=64", "--set", "interventions[0].at=6", "--set", "checks[0].window=[7,12]",
                     "--set", "recommender.kind=\(kind)"],
                    environment: environment)
                #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
                cards.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/scorecard.json")))
            }
        }
        #expect(cards.allSatisfy { $0 == cards[0] })
    }
}
