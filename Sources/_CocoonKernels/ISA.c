// Run-time choice of the kernels' instruction set (see include/CocoonKernels.h).
#include "CocoonKernels.h"
#include "ISA.h"

// 0: the best the machine has; otherwise a COCOON_ISA_* level forced by a test.
static int forced_isa = 0;

void cocoon_kernels_force_isa(int isa) { __atomic_store_n(&forced_isa, isa, __ATOMIC_RELAXED); }

int cocoon_isa(void) {
    int f = __atomic_load_n(&forced_isa, __ATOMIC_RELAXED);
    if (f != 0) return f;
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") ? COCOON_ISA_AVX2 : COCOON_ISA_SSE2;
#else
    return COCOON_ISA_PORTABLE;
#endif
}

int cocoon_kernels_isa(void) { return cocoon_isa(); }

// A forced level (a test's) runs exactly that level: no AVX-512 variant then.
int cocoon_kernels_avx512(void) { return cocoon_avx512f_usable() && __atomic_load_n(&forced_isa, __ATOMIC_RELAXED) == 0; }
