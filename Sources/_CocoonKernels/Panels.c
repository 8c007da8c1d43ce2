// Dot products of user rows with item panels (see include/CocoonKernels.h).
//
// Each product is one chain of fused multiply-adds in dimension order, started from zero:
// acc = fma(u[0], v[0], 0), acc = fma(u[1], v[1], acc), … — what OpenBLAS 0.3.21's SkylakeX and
// Cooperlake sgemm kernels compute for every score while the dimension fits one of their k
// blocks, so the scores are theirs bit for bit (BlockScorer uses this kernel only then).
#include "CocoonKernels.h"
#include "ISA.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define COCOON_X86_64 1
#endif

void cocoon_pack_panels(const float *v, ptrdiff_t n, ptrdiff_t d, float *out) {
    ptrdiff_t panels = (n + 15) / 16;
    for (ptrdiff_t p = 0; p < panels; p++) {
        float *panel = out + p * d * 16;
        ptrdiff_t lanes = n - p * 16 < 16 ? n - p * 16 : 16;
        if (lanes < 16) memset(panel, 0, (size_t)(d * 16) * sizeof(float));
        for (ptrdiff_t l = 0; l < lanes; l++) {
            const float *row = v + (p * 16 + l) * d;
            for (ptrdiff_t x = 0; x < d; x++) panel[x * 16 + l] = row[x];
        }
    }
}

// The same chains one score at a time: for machines without AVX-512, and the tests' reference.
// Then, where row r has offsets, the score's topic offset unless it is zero.
// With `thr`, a run's bit is set where a stored score beats the row's threshold.
static void products_portable(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d, const float *panels,
                              ptrdiff_t first, ptrdiff_t width, float *c, ptrdiff_t ldc, const int32_t *topic,
                              const float *tables, const uint8_t *has, const float *thr, uint64_t *screen,
                              ptrdiff_t words) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *o = tables && has[r] ? tables + r * 32 : 0;
        for (ptrdiff_t j = 0; j < width; j++) {
            ptrdiff_t i = first + j;
            const float *v = panels + (i / 16) * d * 16 + i % 16;
            float acc = 0;
            for (ptrdiff_t x = 0; x < d; x++) acc = fmaf(u[r * ldu + x], v[x * 16], acc);
            if (o && o[topic[j]] != 0) acc = acc + o[topic[j]];
            c[r * ldc + j] = acc;
            if (thr && acc > thr[r]) screen[r * words + j / 2048] |= (uint64_t)1 << (j / 32 % 64);
        }
    }
}

#ifdef COCOON_X86_64
// R users × P panels of 16 items (P = 1 or 2), R·P accumulators in registers; `mask` keeps the
// lanes of the last panel that are items. Called with constant R and P, so each use is its own
// fully unrolled kernel (24 accumulators and 2 panel rows at R = 12, P = 2: 26 of 32 registers).
//
// With `tables`, the offsets of each row r with has[r] (32 floats at tables + 32r) are added
// before the store: each lane's offset picked from two registers by its item's topic (`topic`:
// the block's items), added only where it is not zero, as ``cocoon_add_topic_offsets`` adds it.
//
// With `thr`, bit `run` of row r's screen words (`screen + r·words`) is set when one of the
// block's stored scores is above thr[r]: a compare per register, beside 2·d multiply-adds.
__attribute__((target("avx512f"), always_inline)) static inline void
block_avx512(const float *u, ptrdiff_t ldu, ptrdiff_t d, const float *p0, float *c, ptrdiff_t ldc, const int R, const int P,
             __mmask16 mask, const int32_t *topic, const float *tables, const uint8_t *has, const float *thr,
             uint64_t *screen, ptrdiff_t words, ptrdiff_t run) {
    __m512 a0[12], a1[12];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        a0[r] = _mm512_setzero_ps();
        a1[r] = _mm512_setzero_ps();
    }
    const float *p1 = p0 + d * 16;
    for (ptrdiff_t x = 0; x < d; x++) {
        __m512 v0 = _mm512_loadu_ps(p0 + x * 16);
        __m512 v1 = P == 2 ? _mm512_loadu_ps(p1 + x * 16) : v0;
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
            __m512 s = _mm512_set1_ps(u[r * ldu + x]);
            a0[r] = _mm512_fmadd_ps(s, v0, a0[r]);
            if (P == 2) a1[r] = _mm512_fmadd_ps(s, v1, a1[r]);
        }
    }
    if (tables) {
        // The topics of the block's lanes (a partial last panel reads only its items).
        const __m512 zero = _mm512_setzero_ps();
        __mmask16 m0 = P == 2 ? (__mmask16)0xFFFF : mask, m1 = P == 2 ? mask : (__mmask16)0;
        __m512i q0 = _mm512_maskz_loadu_epi32(m0, topic);
        __m512i q1 = P == 2 ? _mm512_maskz_loadu_epi32(m1, topic + 16) : q0;
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
            if (!has[r]) continue;
            const float *o = tables + r * 32;
            __m512 lo = _mm512_loadu_ps(o), hi = _mm512_loadu_ps(o + 16);
            __m512 o0 = _mm512_permutex2var_ps(lo, q0, hi);
            a0[r] = _mm512_mask_add_ps(a0[r], _mm512_cmp_ps_mask(o0, zero, _CMP_NEQ_UQ), a0[r], o0);
            if (P == 2) {
                __m512 o1 = _mm512_permutex2var_ps(lo, q1, hi);
                a1[r] = _mm512_mask_add_ps(a1[r], _mm512_cmp_ps_mask(o1, zero, _CMP_NEQ_UQ), a1[r], o1);
            }
        }
    }
    if (thr) {
        uint64_t *w = screen + run / 64;
        const int bit = (int)(run % 64);
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
            // Only stored lanes count (a partial panel's others hold zeros).
            __m512 t = _mm512_set1_ps(thr[r]);
            __mmask16 above = P == 2 ? (__mmask16)(_mm512_cmp_ps_mask(a0[r], t, _CMP_GT_OQ)
                                                   | _mm512_mask_cmp_ps_mask(mask, a1[r], t, _CMP_GT_OQ))
                                     : _mm512_mask_cmp_ps_mask(mask, a0[r], t, _CMP_GT_OQ);
            w[r * words] |= (uint64_t)(above != 0) << bit;
        }
    }
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        if (P == 2) {
            _mm512_storeu_ps(c + r * ldc, a0[r]);
            _mm512_mask_storeu_ps(c + r * ldc + 16, mask, a1[r]);
        } else {
            _mm512_mask_storeu_ps(c + r * ldc, mask, a0[r]);
        }
    }
}

// One group of R users against the tile's panels: pairs while two are left, then the last one.
__attribute__((target("avx512f"), always_inline)) static inline void
group_avx512(const float *u, ptrdiff_t ldu, ptrdiff_t d, const float *panels, ptrdiff_t first, ptrdiff_t width, float *c,
             ptrdiff_t ldc, const int R, const int32_t *topic, const float *tables, const uint8_t *has, const float *thr,
             uint64_t *screen, ptrdiff_t words) {
    const float *p = panels + (first / 16) * d * 16;
    ptrdiff_t j = 0;
    for (; j + 32 <= width; j += 32, p += 2 * d * 16)
        block_avx512(u, ldu, d, p, c + j, ldc, R, 2, 0xFFFF, topic + j, tables, has, thr, screen, words, j / 32);
    ptrdiff_t left = width - j;
    if (left > 16) {
        block_avx512(u, ldu, d, p, c + j, ldc, R, 2, (__mmask16)((1u << (left - 16)) - 1), topic + j, tables, has, thr, screen,
                     words, j / 32);
    } else if (left > 0) {
        block_avx512(u, ldu, d, p, c + j, ldc, R, 1, (__mmask16)(left == 16 ? 0xFFFF : (1u << left) - 1), topic + j, tables,
                     has, thr, screen, words, j / 32);
    }
}

__attribute__((target("avx512f"))) static void products_avx512(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d,
                                                                const float *panels, ptrdiff_t first, ptrdiff_t width,
                                                                float *c, ptrdiff_t ldc, const int32_t *topic,
                                                                const float *tables, const uint8_t *has, const float *thr,
                                                                uint64_t *screen, ptrdiff_t words) {
    ptrdiff_t r = 0;
#define COCOON_GROUP(n) \
    group_avx512(u + r * ldu, ldu, d, panels, first, width, c + r * ldc, ldc, n, topic, tables ? tables + r * 32 : 0, \
                 tables ? has + r : 0, thr ? thr + r : 0, thr ? screen + r * words : 0, words)
    for (; r + 12 <= rows; r += 12) COCOON_GROUP(12);
    switch (rows - r) {
#define COCOON_REST(n) \
    case n: COCOON_GROUP(n); break;
        COCOON_REST(1) COCOON_REST(2) COCOON_REST(3) COCOON_REST(4) COCOON_REST(5) COCOON_REST(6)
        COCOON_REST(7) COCOON_REST(8) COCOON_REST(9) COCOON_REST(10) COCOON_REST(11)
#undef COCOON_REST
#undef COCOON_GROUP
    default: break;
    }
}
#endif

int cocoon_panel_products_vectorized(void) {
#ifdef COCOON_X86_64
    return cocoon_avx512f_usable();
#else
    return 0;
#endif
}

void cocoon_panel_products(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d, const float *panels, ptrdiff_t first,
                           ptrdiff_t width, float *c, ptrdiff_t ldc, int vectorized, const int32_t *topic,
                           const float *tables, const uint8_t *has, const float *thr, uint64_t *screen,
                           ptrdiff_t words) {
    if (!topic || !has) tables = 0;
    if (!screen) thr = 0;
#ifdef COCOON_X86_64
    if (vectorized) {
        products_avx512(u, rows, ldu, d, panels, first, width, c, ldc, topic, tables, has, thr, screen, words);
        return;
    }
#endif
    (void)vectorized;
    products_portable(u, rows, ldu, d, panels, first, width, c, ldc, topic, tables, has, thr, screen, words);
}
