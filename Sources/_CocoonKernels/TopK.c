// Top-k screening kernels (see include/CocoonKernels.h).
#include "CocoonKernels.h"
#include "ISA.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COCOON_X86 1
#endif

// a is worse than b: lower score, or equal score and larger index.
static inline int worse(float sa, int32_t ia, float sb, int32_t ib) {
    return sa < sb || (sa == sb && ia > ib);
}

static inline void replace_root(float *s, int32_t *ix, ptrdiff_t n, float score, int32_t index) {
    ptrdiff_t i = 0;
    for (;;) {
        ptrdiff_t l = 2 * i + 1;
        if (l >= n) break;
        ptrdiff_t c = l, r = l + 1;
        if (r < n && worse(s[r], ix[r], s[l], ix[l])) c = r;
        if (!worse(s[c], ix[c], score, index)) break;
        s[i] = s[c];
        ix[i] = ix[c];
        i = c;
    }
    s[i] = score;
    ix[i] = index;
}

void cocoon_heap_replace_root(float *scores, int32_t *indices, ptrdiff_t n, float score, int32_t index) {
    replace_root(scores, indices, n, score, index);
}

// Places (score, index) at slot `n` (the new last one) of a heap of n items and sifts it up.
static inline void sift_up(float *s, int32_t *ix, ptrdiff_t n, float score, int32_t index) {
    ptrdiff_t i = n;
    while (i > 0) {
        ptrdiff_t p = (i - 1) >> 1;
        if (!worse(score, index, s[p], ix[p])) break;
        s[i] = s[p];
        ix[i] = ix[p];
        i = p;
    }
    s[i] = score;
    ix[i] = index;
}

// What a score must exceed to enter: while the heap has room, just below the floor; then the
// root's score, or just below the floor if that is higher (kept items have lower indices, so a
// score equal to the root's never enters).
static inline float threshold(const float *hs, ptrdiff_t kept, ptrdiff_t k, float below) {
    return kept < k ? below : (hs[0] > below ? hs[0] : below);
}

// Puts an item that beat the threshold into the heap (a new slot while there is room, else
// the root's) and returns the new threshold.
static inline float enter(float *hs, int32_t *hi, ptrdiff_t k, ptrdiff_t *kept, float s, int32_t index, float below) {
    if (*kept < k) {
        sift_up(hs, hi, *kept, s, index);
        *kept += 1;
    } else {
        replace_root(hs, hi, k, s, index);
    }
    return threshold(hs, *kept, k, below);
}

// Offers the lanes set in `bits` (bit l: item j + l) that beat the threshold; returns the new one.
static inline float visit(uint32_t bits, const float *x, ptrdiff_t j, int64_t base, float *hs, int32_t *hi,
                          ptrdiff_t k, ptrdiff_t *kept, float thr, float below) {
    while (bits) {
        int l = __builtin_ctz(bits);
        bits &= bits - 1;
        float s = x[j + l];
        if (s > thr) thr = enter(hs, hi, k, kept, s, (int32_t)(base + j + l), below);
    }
    return thr;
}

static void offer_portable(const float *x, ptrdiff_t j, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                           ptrdiff_t *kept, float below) {
    float thr = threshold(hs, *kept, k, below);
    for (; j < n; j++) {
        float s = x[j];
        if (s > thr) thr = enter(hs, hi, k, kept, s, (int32_t)(base + j), below);
    }
}

// The largest of the values with at least k values ≥ it (the k-th largest), 1 ≤ k ≤ c ≤ 64:
// ranks by counting, which has no data-dependent branch (c is small: chunks of one run).
// `m` has room for 64 values: it is padded with -infinity to a multiple of 8, so the counting
// loop runs whole vectors (31 chunks, the usual count, had left it a 4-wide loop and a scalar
// tail: most of the floor's time). A padded -infinity counts for no finite value, and a value
// of -infinity is never taken (best starts there), so the result is the unpadded one.
// (Inlined into each instruction set's caller, so the counting loop vectorises for it.)
static inline __attribute__((always_inline)) float kth_largest(float *m, int32_t c, int32_t k) {
    int32_t padded = (c + 7) & ~7;
    for (int32_t j = c; j < padded; j++) m[j] = -INFINITY;
    float best = -INFINITY;
    for (int32_t i = 0; i < c; i++) {
        float x = m[i];
        int32_t ge = 0;
        for (int32_t j = 0; j < padded; j += 8)
            for (int32_t l = 0; l < 8; l++) ge += m[j + l] >= x;
        best = (ge >= k && x > best) ? x : best;
    }
    return best;
}

// Items per chunk of the floor: the largest of 64, 32, 16 that leaves at least 2k chunks.

#ifdef COCOON_X86
static void offer_sse2(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k, ptrdiff_t *kept,
                       float below) {
    ptrdiff_t j = 0;
    float thr = threshold(hs, *kept, k, below);
    __m128 t = _mm_set1_ps(thr);
    for (; j + 32 <= n; j += 32) {
        const float *p = x + j;
        __m128 c0 = _mm_cmpgt_ps(_mm_loadu_ps(p), t), c1 = _mm_cmpgt_ps(_mm_loadu_ps(p + 4), t);
        __m128 c2 = _mm_cmpgt_ps(_mm_loadu_ps(p + 8), t), c3 = _mm_cmpgt_ps(_mm_loadu_ps(p + 12), t);
        __m128 c4 = _mm_cmpgt_ps(_mm_loadu_ps(p + 16), t), c5 = _mm_cmpgt_ps(_mm_loadu_ps(p + 20), t);
        __m128 c6 = _mm_cmpgt_ps(_mm_loadu_ps(p + 24), t), c7 = _mm_cmpgt_ps(_mm_loadu_ps(p + 28), t);
        __m128 any = _mm_or_ps(_mm_or_ps(_mm_or_ps(c0, c1), _mm_or_ps(c2, c3)), _mm_or_ps(_mm_or_ps(c4, c5), _mm_or_ps(c6, c7)));
        if (__builtin_expect(_mm_movemask_ps(any) != 0, 0)) {
            uint32_t bits = (uint32_t)_mm_movemask_ps(c0) | (uint32_t)_mm_movemask_ps(c1) << 4
                | (uint32_t)_mm_movemask_ps(c2) << 8 | (uint32_t)_mm_movemask_ps(c3) << 12
                | (uint32_t)_mm_movemask_ps(c4) << 16 | (uint32_t)_mm_movemask_ps(c5) << 20
                | (uint32_t)_mm_movemask_ps(c6) << 24 | (uint32_t)_mm_movemask_ps(c7) << 28;
            thr = visit(bits, x, j, base, hs, hi, k, kept, thr, below);
            t = _mm_set1_ps(thr);
        }
    }
    offer_portable(x, j, n, base, hs, hi, k, kept, below);
}

static float floor_sse2(const float *x, int32_t c, int32_t w, int32_t k, float *maxima) {
    for (int32_t q = 0; q < c; q++) {
        const float *p = x + (ptrdiff_t)w * q;
        // max(x, m) returns m when x is NaN: NaN never wins.
        __m128 m = _mm_set1_ps(-INFINITY);
        for (int v = 0; v < w; v += 4) m = _mm_max_ps(_mm_loadu_ps(p + v), m);
        __m128 h = _mm_max_ps(m, _mm_movehl_ps(m, m));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        maxima[q] = _mm_cvtss_f32(h);
    }
    return kth_largest(maxima, c, (int32_t)k);
}

__attribute__((target("avx2")))
static void offer_avx2(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k, ptrdiff_t *kept,
                       float below) {
    ptrdiff_t j = 0;
    float thr = threshold(hs, *kept, k, below);
    __m256 t = _mm256_set1_ps(thr);
    for (; j + 32 <= n; j += 32) {
        const float *p = x + j;
        __m256 c0 = _mm256_cmp_ps(_mm256_loadu_ps(p), t, _CMP_GT_OQ);
        __m256 c1 = _mm256_cmp_ps(_mm256_loadu_ps(p + 8), t, _CMP_GT_OQ);
        __m256 c2 = _mm256_cmp_ps(_mm256_loadu_ps(p + 16), t, _CMP_GT_OQ);
        __m256 c3 = _mm256_cmp_ps(_mm256_loadu_ps(p + 24), t, _CMP_GT_OQ);
        __m256 any = _mm256_or_ps(_mm256_or_ps(c0, c1), _mm256_or_ps(c2, c3));
        if (__builtin_expect(_mm256_movemask_ps(any) != 0, 0)) {
            uint32_t bits = (uint32_t)_mm256_movemask_ps(c0) | (uint32_t)_mm256_movemask_ps(c1) << 8
                | (uint32_t)_mm256_movemask_ps(c2) << 16 | (uint32_t)_mm256_movemask_ps(c3) << 24;
            thr = visit(bits, x, j, base, hs, hi, k, kept, thr, below);
            t = _mm256_set1_ps(thr);
        }
    }
    offer_portable(x, j, n, base, hs, hi, k, kept, below);
}

// kth_largest with eight values ranked at a time: each of the c values is broadcast and
// compared with all eight, so the counts build up in vector lanes with no horizontal sum or
// branch per value (the scalar form's per-value mask, popcount and branch were most of the
// floor's time). Same result: the maxima hold no NaN (max(x, m) never yields one), padding
// lanes are -infinity and a -infinity is never taken.
__attribute__((target("avx2")))
static inline float kth_largest_avx2(float *m, int32_t c, int32_t k) {
    int32_t padded = (c + 7) & ~7;
    for (int32_t j = c; j < padded; j++) m[j] = -INFINITY;
    const __m256 none = _mm256_set1_ps(-INFINITY);
    const __m256i need = _mm256_set1_epi32(k - 1);
    __m256 best = none;
    for (int32_t i = 0; i < padded; i += 8) {
        __m256 x = _mm256_loadu_ps(m + i);
        __m256i ge = _mm256_setzero_si256();
        for (int32_t j = 0; j < c; j++) {
            __m256 y = _mm256_broadcast_ss(m + j);
            // A true compare is all ones, -1 as an integer: subtracting it counts one.
            ge = _mm256_sub_epi32(ge, _mm256_castps_si256(_mm256_cmp_ps(y, x, _CMP_GE_OQ)));
        }
        __m256 ranked = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ge, need));
        best = _mm256_max_ps(_mm256_blendv_ps(none, x, ranked), best);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(best), _mm256_extractf128_ps(best, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

__attribute__((target("avx2")))
static float floor_avx2(const float *x, int32_t c, int32_t w, int32_t k, float *maxima) {
    for (int32_t q = 0; q < c; q++) {
        const float *p = x + (ptrdiff_t)w * q;
        // Two running maxima (w is a multiple of 16), so the loads do not wait on one chain;
        // max(x, m) returns m when x is NaN, and neither maximum is ever NaN.
        __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
        for (int v = 0; v < w; v += 16) {
            m0 = _mm256_max_ps(_mm256_loadu_ps(p + v), m0);
            m1 = _mm256_max_ps(_mm256_loadu_ps(p + v + 8), m1);
        }
        __m256 m = _mm256_max_ps(m0, m1);
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        maxima[q] = _mm_cvtss_f32(h);
    }
    return kth_largest_avx2(maxima, c, (int32_t)k);
}
#endif

static float floor_portable(const float *x, int32_t c, int32_t w, int32_t k, float *maxima) {
    for (int32_t q = 0; q < c; q++) {
        float m = -INFINITY;
        for (int v = 0; v < w; v++) m = x[(ptrdiff_t)w * q + v] > m ? x[(ptrdiff_t)w * q + v] : m;
        maxima[q] = m;
    }
    return kth_largest(maxima, c, (int32_t)k);
}

float cocoon_topk_floor(const float *x, ptrdiff_t n, ptrdiff_t k, float *scratch) {
    // Enough chunks to matter, and few enough that ranking them by counting stays cheap.
    int32_t w = 64;
    while (w > 16 && n / w < 2 * k) w /= 2;
    if (k < 1 || n / w < 2 * k) return -INFINITY;
    int32_t c = (int32_t)(n / w > 64 ? 64 : n / w);
    switch (cocoon_isa()) {
#ifdef COCOON_X86
    case COCOON_ISA_AVX2: return floor_avx2(x, c, w, k, scratch);
    case COCOON_ISA_SSE2: return floor_sse2(x, c, w, k, scratch);
#endif
    default: return floor_portable(x, c, w, k, scratch);
    }
}

ptrdiff_t cocoon_topk_offer_run(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                                ptrdiff_t kept, float floor) {
    // Strictly above `below` is at least `floor`.
    float below = floor > -INFINITY ? nextafterf(floor, -INFINITY) : -INFINITY;
    switch (cocoon_isa()) {
#ifdef COCOON_X86
    case COCOON_ISA_AVX2: offer_avx2(x, n, base, scores, indices, k, &kept, below); break;
    case COCOON_ISA_SSE2: offer_sse2(x, n, base, scores, indices, k, &kept, below); break;
#endif
    default: offer_portable(x, 0, n, base, scores, indices, k, &kept, below); break;
    }
    return kept;
}

