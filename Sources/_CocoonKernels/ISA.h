// The instruction set the kernels run with (internal to _CocoonKernels).
#ifndef COCOON_ISA_H
#define COCOON_ISA_H

/// The best COCOON_ISA_* level this machine has, or the one a test forced.
int cocoon_isa(void);

/// Whether the CPU has AVX-512F and the operating system saves its registers (XCR0 bits 1, 2
/// and 5-7), probed once; 0 off x86-64.
int cocoon_avx512f_usable(void);

#endif
