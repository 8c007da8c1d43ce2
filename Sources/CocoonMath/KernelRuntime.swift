internal import _CocoonKernels

/// The instruction set of Cocoon's C kernels (`_CocoonKernels`: top-k screening).
///
/// Chosen once per call from what the CPU reports (x86-64: AVX2 when present, else SSE2;
/// elsewhere portable C), so one binary runs on every machine of its architecture. The kernels
/// compare and move values, or add with one rounding per value (the topic offsets), so results
/// never depend on the choice.
public enum KernelRuntime {
    /// A kernel instruction set.
    public enum InstructionSet: Int32, CaseIterable, Sendable, CustomStringConvertible {
        case portable = 1
        case sse2 = 2
        case avx2 = 3

        public var description: String {
            switch self {
            case .portable: "portable"
            case .sse2: "SSE2"
            case .avx2: "AVX2"
            }
        }
    }

    /// The instruction set the kernels use now.
    public static var instructionSet: InstructionSet {
        InstructionSet(rawValue: Int32(cocoon_kernels_isa())) ?? .portable
    }

    /// Whether the kernels with an AVX-512 variant use it (the topic offsets, the top-k compares
    /// and floor on top of AVX2, ``RowDots``): where the CPU has AVX-512F and no level was
    /// forced. The same results, fewer instructions.
    public static var usesAVX512Variants: Bool { cocoon_kernels_avx512() != 0 }

    /// Every instruction set this machine can run (test hook).
    package static var available: [InstructionSet] {
        force(nil)
        let best = instructionSet
        return InstructionSet.allCases.filter { $0.rawValue <= best.rawValue }
    }

    /// Makes the kernels use `isa` (one of ``available``), or the machine's best with nil
    /// (test hook; process-wide, harmless to concurrent work since results do not change).
    package static func force(_ isa: InstructionSet?) {
        cocoon_kernels_force_isa(isa.map { Int32($0.rawValue) } ?? 0)
    }
}
