// The instruction set the kernels run with (internal to _CocoonKernels).
#ifndef COCOON_ISA_H
#define COCOON_ISA_H

/// The best COCOON_ISA_* level this machine has, or the one a test forced.
int cocoon_isa(void);

#endif
