// Threshold scans (see include/CocoonKernels.h).
#include "CocoonKernels.h"
#include "ISA.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COCOON_X86 1
#endif

static ptrdiff_t at_least_portable(const float *x, ptrdiff_t j, ptrdiff_t n, float threshold, int32_t *out,
                                   ptrdiff_t c) {
    for (; j < n; j++)
        if (x[j] >= threshold) out[c++] = (int32_t)j;
    return c;
}

// Writes the lanes set in `bits` (bit l: index j + l), ascending.
static inline ptrdiff_t emit(uint32_t bits, ptrdiff_t j, int32_t *out, ptrdiff_t c) {
    while (bits) {
        out[c++] = (int32_t)(j + __builtin_ctz(bits));
        bits &= bits - 1;
    }
    return c;
}

#ifdef COCOON_X86
static ptrdiff_t at_least_sse2(const float *x, ptrdiff_t n, float threshold, int32_t *out) {
    ptrdiff_t j = 0, c = 0;
    __m128 t = _mm_set1_ps(threshold);
    for (; j + 16 <= n; j += 16) {
        // Ordered compares: NaN is never at least the threshold.
        uint32_t bits = (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + j), t))
            | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + j + 4), t)) << 4
            | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + j + 8), t)) << 8
            | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + j + 12), t)) << 12;
        if (bits) c = emit(bits, j, out, c);
    }
    return at_least_portable(x, j, n, threshold, out, c);
}

__attribute__((target("avx2")))
static ptrdiff_t at_least_avx2(const float *x, ptrdiff_t n, float threshold, int32_t *out) {
    ptrdiff_t j = 0, c = 0;
    __m256 t = _mm256_set1_ps(threshold);
    for (; j + 32 <= n; j += 32) {
        __m256 c0 = _mm256_cmp_ps(_mm256_loadu_ps(x + j), t, _CMP_GE_OQ);
        __m256 c1 = _mm256_cmp_ps(_mm256_loadu_ps(x + j + 8), t, _CMP_GE_OQ);
        __m256 c2 = _mm256_cmp_ps(_mm256_loadu_ps(x + j + 16), t, _CMP_GE_OQ);
        __m256 c3 = _mm256_cmp_ps(_mm256_loadu_ps(x + j + 24), t, _CMP_GE_OQ);
        __m256 any = _mm256_or_ps(_mm256_or_ps(c0, c1), _mm256_or_ps(c2, c3));
        if (_mm256_movemask_ps(any) != 0) {
            uint32_t bits = (uint32_t)_mm256_movemask_ps(c0) | (uint32_t)_mm256_movemask_ps(c1) << 8
                | (uint32_t)_mm256_movemask_ps(c2) << 16 | (uint32_t)_mm256_movemask_ps(c3) << 24;
            c = emit(bits, j, out, c);
        }
    }
    return at_least_portable(x, j, n, threshold, out, c);
}
#endif

ptrdiff_t cocoon_scan_at_least(const float *x, ptrdiff_t n, float threshold, int32_t *out) {
    switch (cocoon_isa()) {
#ifdef COCOON_X86
    case COCOON_ISA_AVX2: return at_least_avx2(x, n, threshold, out);
    case COCOON_ISA_SSE2: return at_least_sse2(x, n, threshold, out);
#endif
    default: return at_least_portable(x, 0, n, threshold, out, 0);
    }
}
