import CocoonMath

/// Runs `body` once with every kernel instruction set this machine has forced, then gives the
/// kernels back their own choice (results must not depend on it).
func onEveryInstructionSet(_ body: (KernelRuntime.InstructionSet) -> Void) {
    defer { KernelRuntime.force(nil) }
    for isa in KernelRuntime.available {
        KernelRuntime.force(isa)
        body(isa)
    }
}
