// The instruction set the kernels run with (internal to _CocoonKernels).
#ifndef COCOON_ISA_H
#define COCOON_ISA_H

/// The best COCOON_ISA_* level this machine has, or the one a test forced.
int cocoon_isa(void);

/// Whether a test forced the instruction set (``cocoon_kernels_force_isa``): kernels with an
/// AVX-512 variant then run exactly the forced level.
int cocoon_isa_forced(void);

/// Whether the CPU has AVX-512F and the operating system saves its registers (XCR0 bits 1, 2
/// and 5-7), probed once; 0 off x86-64.
int cocoon_avx512f_usable(void);

#endif
