// Threshold scans and small-set intersections (see include/CocoonKernels.h).
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

// MARK: - Equal pairs of two small sets

static ptrdiff_t equal_pairs_portable(const int32_t *a, ptrdiff_t na, const int32_t *b, ptrdiff_t nb) {
    ptrdiff_t c = 0;
    for (ptrdiff_t i = 0; i < na; i++)
        for (ptrdiff_t j = 0; j < nb; j++) c += a[i] == b[j];
    return c;
}

#ifdef COCOON_X86
static ptrdiff_t equal_pairs_sse2(const int32_t *a, ptrdiff_t na, const int32_t *b, ptrdiff_t nb) {
    ptrdiff_t c = 0, j = 0;
    for (; j + 4 <= nb; j += 4) {
        __m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
        __m128i acc = _mm_setzero_si128();
        // Each equal lane is -1: subtracting counts it.
        for (ptrdiff_t i = 0; i < na; i++) acc = _mm_sub_epi32(acc, _mm_cmpeq_epi32(_mm_set1_epi32(a[i]), vb));
        int32_t lanes[4];
        _mm_storeu_si128((__m128i *)lanes, acc);
        c += (ptrdiff_t)lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
    for (; j < nb; j++)
        for (ptrdiff_t i = 0; i < na; i++) c += a[i] == b[j];
    return c;
}

__attribute__((target("avx2")))
static ptrdiff_t equal_pairs_avx2(const int32_t *a, ptrdiff_t na, const int32_t *b, ptrdiff_t nb) {
    ptrdiff_t c = 0;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (ptrdiff_t j = 0; j < nb; j += 8) {
        // The last chunk loads only its own lanes (the others read as 0 and are masked out).
        __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(nb - j < 8 ? nb - j : 8)), lane);
        __m256i vb = _mm256_maskload_epi32(b + j, valid);
        __m256i acc = _mm256_setzero_si256();
        for (ptrdiff_t i = 0; i < na; i++) acc = _mm256_sub_epi32(acc, _mm256_cmpeq_epi32(_mm256_set1_epi32(a[i]), vb));
        acc = _mm256_and_si256(acc, valid);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        c += _mm_cvtsi128_si32(s);
    }
    return c;
}
#endif

ptrdiff_t cocoon_count_equal_pairs(const int32_t *a, ptrdiff_t na, const int32_t *b, ptrdiff_t nb) {
    switch (cocoon_isa()) {
#ifdef COCOON_X86
    case COCOON_ISA_AVX2: return equal_pairs_avx2(a, na, b, nb);
    case COCOON_ISA_SSE2: return equal_pairs_sse2(a, na, b, nb);
#endif
    default: return equal_pairs_portable(a, na, b, nb);
    }
}

// First score above its topic's threshold (see include/CocoonKernels.h).
static ptrdiff_t first_above_portable(const float *x, const int32_t *topic, ptrdiff_t j, ptrdiff_t n, const float *thr) {
    for (; j < n; j++)
        if (x[j] > thr[topic[j]]) return j;
    return n;
}

#ifdef COCOON_X86
// A table of 32 per-topic values in four registers of eight, and each lane's value of it: the
// permutes pick by the topic's low three bits, two blends by bits 3 and 4 (moved to the sign
// bit, which is what blendv reads).
typedef struct {
    __m256 r0, r1, r2, r3;
} Table32;

__attribute__((target("avx2"))) static inline Table32 table32_load(const float *t) {
    Table32 r = {_mm256_loadu_ps(t), _mm256_loadu_ps(t + 8), _mm256_loadu_ps(t + 16), _mm256_loadu_ps(t + 24)};
    return r;
}

__attribute__((target("avx2"))) static inline __m256 table32_pick(Table32 t, __m256i q) {
    __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(q, 28));
    __m256 bit4 = _mm256_castsi256_ps(_mm256_slli_epi32(q, 27));
    __m256 low = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.r0, q), _mm256_permutevar8x32_ps(t.r1, q), bit3);
    __m256 high = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.r2, q), _mm256_permutevar8x32_ps(t.r3, q), bit3);
    return _mm256_blendv_ps(low, high, bit4);
}

// Each lane's threshold from the table (g ≤ 32).
__attribute__((target("avx2")))
static ptrdiff_t first_above_avx2(const float *x, const int32_t *topic, ptrdiff_t j, ptrdiff_t n, const float *thr) {
    Table32 table = table32_load(thr);
    for (; j + 8 <= n; j += 8) {
        __m256 t = table32_pick(table, _mm256_loadu_si256((const __m256i *)(topic + j)));
        int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + j), t, _CMP_GT_OQ));
        if (bits) return j + __builtin_ctz((unsigned)bits);
    }
    return first_above_portable(x, topic, j, n, thr);
}
#endif

ptrdiff_t cocoon_first_above_topic(const float *x, const int32_t *topic, ptrdiff_t start, ptrdiff_t n, const float *thr,
                                   int32_t g) {
#ifdef COCOON_X86
    if (g <= 32 && cocoon_isa() == COCOON_ISA_AVX2) return first_above_avx2(x, topic, start, n, thr);
#endif
    (void)g;
    return first_above_portable(x, topic, start, n, thr);
}

// Topic offsets added to a row of scores (see include/CocoonKernels.h).
static void add_offsets_portable(float *x, const int32_t *topic, ptrdiff_t j, ptrdiff_t n, const float *off) {
    for (; j < n; j++) {
        float o = off[topic[j]];
        if (o != 0) x[j] = x[j] + o;
    }
}

#ifdef COCOON_X86
// The offsets of 16 topics at a time from two registers (vpermt2ps picks by the topic's five low
// bits); lanes whose offset is zero keep their score (a masked add).
__attribute__((target("avx512f")))
static void add_offsets_avx512(float *x, const int32_t *topic, ptrdiff_t n, const float *off, int32_t g) {
    float table[32] = {0};
    for (int32_t q = 0; q < g; q++) table[q] = off[q];
    const __m512 lo = _mm512_loadu_ps(table), hi = _mm512_loadu_ps(table + 16), zero = _mm512_setzero_ps();
    ptrdiff_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 o = _mm512_permutex2var_ps(lo, _mm512_loadu_si512(topic + j), hi);
        __mmask16 m = _mm512_cmp_ps_mask(o, zero, _CMP_NEQ_UQ);
        __m512 v = _mm512_loadu_ps(x + j);
        _mm512_storeu_ps(x + j, _mm512_mask_add_ps(v, m, v, o));
    }
    if (j < n) {
        __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
        __m512 o = _mm512_permutex2var_ps(lo, _mm512_maskz_loadu_epi32(tail, topic + j), hi);
        __mmask16 m = _mm512_mask_cmp_ps_mask(tail, o, zero, _CMP_NEQ_UQ);
        __m512 v = _mm512_maskz_loadu_ps(tail, x + j);
        _mm512_mask_storeu_ps(x + j, tail, _mm512_mask_add_ps(v, m, v, o));
    }
}

// The offsets from a Table32 (g ≤ 32) or a gather; the add kept only where the offset is not
// zero.
__attribute__((target("avx2")))
static void add_offsets_avx2(float *x, const int32_t *topic, ptrdiff_t n, const float *off, int32_t g) {
    const __m256 zero = _mm256_setzero_ps();
    ptrdiff_t j = 0;
    if (g <= 32) {
        float padded[32] = {0};
        for (int32_t q = 0; q < g; q++) padded[q] = off[q];
        Table32 table = table32_load(padded);
        for (; j + 8 <= n; j += 8) {
            __m256 o = table32_pick(table, _mm256_loadu_si256((const __m256i *)(topic + j)));
            __m256 v = _mm256_loadu_ps(x + j);
            _mm256_storeu_ps(x + j, _mm256_blendv_ps(v, _mm256_add_ps(v, o), _mm256_cmp_ps(o, zero, _CMP_NEQ_UQ)));
        }
    } else {
        for (; j + 8 <= n; j += 8) {
            __m256 o = _mm256_i32gather_ps(off, _mm256_loadu_si256((const __m256i *)(topic + j)), 4);
            __m256 v = _mm256_loadu_ps(x + j);
            _mm256_storeu_ps(x + j, _mm256_blendv_ps(v, _mm256_add_ps(v, o), _mm256_cmp_ps(o, zero, _CMP_NEQ_UQ)));
        }
    }
    add_offsets_portable(x, topic, j, n, off);
}
#endif

void cocoon_add_topic_offsets(float *x, const int32_t *topic, ptrdiff_t n, const float *off, int32_t g) {
#ifdef COCOON_X86
    if (g <= 32 && cocoon_kernels_avx512()) {
        add_offsets_avx512(x, topic, n, off, g);
        return;
    }
    if (cocoon_isa() == COCOON_ISA_AVX2) {
        add_offsets_avx2(x, topic, n, off, g);
        return;
    }
#endif
    (void)g;
    add_offsets_portable(x, topic, 0, n, off);
}
