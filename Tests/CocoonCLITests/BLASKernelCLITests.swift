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
}
