// Short chains of products and sums, several at once (see include/CocoonKernels.h).
#include "CocoonKernels.h"
#include "ISA.h"

#if defined(__x86_64__)
#include <immintrin.h>

// r[j] becomes column j of the 16 × 16 matrix whose row p was r[p] (lane p of the result:
// row p's value j).
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

// The rows are read 16 values at a time and turned so that each lane is one row: then every
// step of the chains is one product and one sum of whole registers (explicit, so never fused).
__attribute__((target("avx512f"))) static void row_dots_avx512(const float *x, const float *const *rows, int n, ptrdiff_t d,
                                                               float *out) {
    __m512 acc = _mm512_setzero_ps();
    for (ptrdiff_t x0 = 0; x0 < d; x0 += 16) {
        ptrdiff_t left = d - x0 < 16 ? d - x0 : 16;
        __mmask16 m = left == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 r[16];
        for (int p = 0; p < 16; p++) r[p] = _mm512_maskz_loadu_ps(m, rows[p < n ? p : 0] + x0);
        transpose16(r);
        for (ptrdiff_t j = 0; j < left; j++) acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(x[x0 + j]), r[j]));
    }
    _mm512_mask_storeu_ps(out, (__mmask16)((1u << n) - 1), acc);
}
#endif

int cocoon_row_dots(const float *x, const float *const *rows, int n, ptrdiff_t d, float *out) {
#if defined(__x86_64__)
    if (n >= 1 && n <= 16 && d >= 1 && cocoon_kernels_avx512()) {
        row_dots_avx512(x, rows, n, d, out);
        return 1;
    }
#endif
    (void)x, (void)rows, (void)n, (void)d, (void)out;
    return 0;
}
