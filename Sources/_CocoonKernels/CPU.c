// Which OpenBLAS kernel suits this CPU's features (see include/CocoonKernels.h).
#include "CocoonKernels.h"
#include "ISA.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

// The register state the operating system saves (XCR0): AVX needs bits 1-2, AVX-512 bits 5-7.
#define AVX512_STATE 0xe6
static uint64_t saved_state(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

const char *cocoon_blas_core_for_cpu(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t state = saved_state();
    if ((state & 0x6) != 0x6) return 0;
    unsigned b7 = 0, sub1 = 0;
    if (__get_cpuid_max(0, 0) >= 7) {
        unsigned a7, c7, d7;
        __cpuid_count(7, 0, a7, b7, c7, d7);
        if (a7 >= 1) {
            unsigned x, y, z;
            __cpuid_count(7, 1, sub1, x, y, z);
        }
    }
    int avx2 = (b7 >> 5) & 1;
    // F, DQ, CD, BW and VL: what OpenBLAS' SkylakeX and Cooperlake kernels use.
    int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 28) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1)
        && (state & AVX512_STATE) == AVX512_STATE;
    int bf16 = (sub1 >> 5) & 1;
    if (avx512) return bf16 ? "Cooperlake" : "SkylakeX";
    if (avx2 && fma) return "Haswell";
    return "SandyBridge";
}
int cocoon_avx512f_usable(void) {
    // Probed once (the kernels ask per call). The CPU reports XGETBV whenever it reports AVX-512F.
    static int usable = -1;
    int u = __atomic_load_n(&usable, __ATOMIC_RELAXED);
    if (u < 0) {
        u = __builtin_cpu_supports("avx512f") && (saved_state() & AVX512_STATE) == AVX512_STATE;
        __atomic_store_n(&usable, u, __ATOMIC_RELAXED);
    }
    return u;
}
#else
const char *cocoon_blas_core_for_cpu(void) { return 0; }
int cocoon_avx512f_usable(void) { return 0; }
#endif
