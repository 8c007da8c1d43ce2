import CocoonMath

/// Runs `body` once with every kernel instruction set this machine has forced, then once with
/// the kernels' own choice — the machine's best, with the AVX-512 variants some kernels have
/// where the CPU has AVX-512F (a forced level runs exactly that level) — and leaves them that
/// choice (results must not depend on it).
func onEveryInstructionSet(_ body: (KernelRuntime.InstructionSet) -> Void) {
    defer { KernelRuntime.force(nil) }
    for isa in KernelRuntime.available {
        KernelRuntime.force(isa)
        body(isa)
    }
    KernelRuntime.force(nil)
    body(KernelRuntime.instructionSet)
}
