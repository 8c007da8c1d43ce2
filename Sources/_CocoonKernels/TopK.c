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

// Heaps of at most SORTED_MAX items are kept sorted, worst first (slot i + 1 no worse than
// slot i). A sorted array is a valid heap (every parent is worse than its children), so the
// heap functions and the Swift side read it as they read any heap; but an item enters with a
// compare per slot and no data-dependent branch, where sifting through a heap took a branch
// per level that the CPU could not predict (most of the selection's cost on W2).
#define SORTED_MAX 16

static inline int is_ascending(const float *s, const int32_t *ix, ptrdiff_t n) {
    for (ptrdiff_t i = 1; i < n; i++)
        if (worse(s[i], ix[i], s[i - 1], ix[i - 1])) return 0;
    return 1;
}

// Puts (x, index) into a sorted array of n items (slot n is free): the items worse than x stay
// in front of it.
static inline void sorted_add(float *s, int32_t *ix, ptrdiff_t n, float x, int32_t index) {
    ptrdiff_t i = n;
    while (i > 0 && worse(x, index, s[i - 1], ix[i - 1])) {
        s[i] = s[i - 1];
        ix[i] = ix[i - 1];
        i--;
    }
    s[i] = x;
    ix[i] = index;
}

// Sorts a heap of n ≤ SORTED_MAX items worst first (insertion sort: the items of a heap filled
// by single offers are nearly in order).
static void sort_ascending(float *s, int32_t *ix, ptrdiff_t n) {
    for (ptrdiff_t i = 1; i < n; i++) sorted_add(s, ix, i, s[i], ix[i]);
}

// Replaces slot 0 (the worst) of a full sorted array of k items by (x, index), which beats it:
// the p slots after it that are worse than x move down one and x takes slot p (every kept
// index is below `index`, so a kept item is worse than x exactly when its score is lower).
// Every slot is a select on two comparisons, so no branch depends on the data.
static inline void sorted_replace(float *s, int32_t *ix, ptrdiff_t k, float x, int32_t index) {
    for (ptrdiff_t i = 0; i + 1 < k; i++) {
        float next = s[i + 1], here = s[i];
        int32_t inext = ix[i + 1], ihere = ix[i];
        int down = next < x, before = here < x;  // slot 0: x beats it, so `before` holds
        s[i] = down ? next : (before ? x : here);
        ix[i] = down ? inext : (before ? index : ihere);
    }
    int last = s[k - 1] < x;
    s[k - 1] = last ? x : s[k - 1];
    ix[k - 1] = last ? index : ix[k - 1];
}

// What a score must exceed to enter: while the heap has room, just below the floor; then the
// root's score, or just below the floor if that is higher (kept items have lower indices, so a
// score equal to the root's never enters).
static inline float threshold_over(float root, ptrdiff_t kept, ptrdiff_t k, float below) {
    return kept < k ? below : (root > below ? root : below);
}

static inline float threshold(const float *hs, ptrdiff_t kept, ptrdiff_t k, float below) {
    return threshold_over(kept < k ? below : hs[0], kept, k, below);
}

// Puts an item that beat the threshold into the heap (a new slot while there is room, else
// the root's) and returns the new threshold.
static inline float enter(float *hs, int32_t *hi, ptrdiff_t k, ptrdiff_t *kept, float s, int32_t index, float below) {
    if (k <= SORTED_MAX) {
        if (*kept < k) {
            sorted_add(hs, hi, *kept, s, index);
            *kept += 1;
        } else {
            sorted_replace(hs, hi, k, s, index);
        }
    } else if (*kept < k) {
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

// Word w of a screen over `runs` runs of 32 (bit b: run 64w + b), the bits past the last run
// cleared.
static inline uint64_t marked_runs(const uint64_t *screen, ptrdiff_t w, ptrdiff_t runs) {
    uint64_t bits = screen[w];
    return runs - w * 64 < 64 ? bits & (((uint64_t)1 << (runs - w * 64)) - 1) : bits;
}

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

// p[l] > t for the 32 scores at p, as four vectors of compare results (NaN never is), and the
// 32 bits they make.
__attribute__((target("avx2")))
static inline void compare32_avx2(const float *p, __m256 t, __m256 c[4]) {
    for (int q = 0; q < 4; q++) c[q] = _mm256_cmp_ps(_mm256_loadu_ps(p + 8 * q), t, _CMP_GT_OQ);
}
__attribute__((target("avx2")))
static inline uint32_t bits32_avx2(const __m256 c[4]) {
    return (uint32_t)_mm256_movemask_ps(c[0]) | (uint32_t)_mm256_movemask_ps(c[1]) << 8
        | (uint32_t)_mm256_movemask_ps(c[2]) << 16 | (uint32_t)_mm256_movemask_ps(c[3]) << 24;
}

// Bit l set where p[l] > t, for the 32 scores at p; one test of all 32 on the usual path, where
// none is.
__attribute__((target("avx2")))
static inline uint32_t above32_avx2(const float *p, __m256 t) {
    __m256 c[4];
    compare32_avx2(p, t, c);
    __m256 any = _mm256_or_ps(_mm256_or_ps(c[0], c[1]), _mm256_or_ps(c[2], c[3]));
    if (__builtin_expect(_mm256_movemask_ps(any) == 0, 1)) return 0;
    return bits32_avx2(c);
}

// The sorted array of a heap of k ≤ 16 items in registers while a run is offered (the memory
// form's stores and reloads were as slow as the heap's branches: a masked store does not forward
// to the next load). Slots 0 ..< 16 are lanes of s0, s1 (scores) and i0, i1 (indices); slots
// past the kept items hold +infinity, which no entering score is below.
typedef struct {
    __m256 s0, s1;
    __m256i i0, i1;
} SortedSet;

// Lanes of slots 0 ..< 8 (in0) and 8 ..< 16 (in1) below n: the kept items.
__attribute__((target("avx2")))
static inline void kept_lanes_avx2(ptrdiff_t n, __m256i *in0, __m256i *in1) {
    const __m256i count = _mm256_set1_epi32((int32_t)n);
    *in0 = _mm256_cmpgt_epi32(count, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    *in1 = _mm256_cmpgt_epi32(count, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
}

__attribute__((target("avx2")))
static inline SortedSet sorted_load_avx2(const float *s, const int32_t *ix, ptrdiff_t n) {
    __m256i in0, in1;
    kept_lanes_avx2(n, &in0, &in1);
    const __m256 inf = _mm256_set1_ps(INFINITY);
    SortedSet v;
    v.s0 = _mm256_blendv_ps(inf, _mm256_maskload_ps(s, in0), _mm256_castsi256_ps(in0));
    v.s1 = _mm256_blendv_ps(inf, _mm256_maskload_ps(s + 8, in1), _mm256_castsi256_ps(in1));
    v.i0 = _mm256_maskload_epi32(ix, in0);
    v.i1 = _mm256_maskload_epi32(ix + 8, in1);
    return v;
}

__attribute__((target("avx2")))
static inline void sorted_store_avx2(SortedSet v, float *s, int32_t *ix, ptrdiff_t n) {
    __m256i in0, in1;
    kept_lanes_avx2(n, &in0, &in1);
    _mm256_maskstore_ps(s, in0, v.s0);
    _mm256_maskstore_ps(s + 8, in1, v.s1);
    _mm256_maskstore_epi32(ix, in0, v.i0);
    _mm256_maskstore_epi32(ix + 8, in1, v.i1);
}

// sorted_add on the registers (n < k kept): slot i keeps its item when that is below x, else
// takes x when slot i − 1 is below x (before slot 0: -infinity), else slot i − 1's item.
__attribute__((target("avx2")))
static inline SortedSet sorted_add_avx2(SortedSet v, float x, int32_t index) {
    const __m256i back = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6), last = _mm256_set1_epi32(7);
    __m256 p0 = _mm256_blend_ps(_mm256_permutevar8x32_ps(v.s0, back), _mm256_set1_ps(-INFINITY), 1);
    __m256 p1 = _mm256_blend_ps(_mm256_permutevar8x32_ps(v.s1, back), _mm256_permutevar8x32_ps(v.s0, last), 1);
    __m256 q0 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.i0, back));
    __m256 q1 = _mm256_castsi256_ps(
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(v.i1, back), _mm256_permutevar8x32_epi32(v.i0, last), 1));
    const __m256 vx = _mm256_set1_ps(x), vi = _mm256_castsi256_ps(_mm256_set1_epi32(index));
    __m256 stay0 = _mm256_cmp_ps(v.s0, vx, _CMP_LT_OQ), stay1 = _mm256_cmp_ps(v.s1, vx, _CMP_LT_OQ);
    __m256 here0 = _mm256_cmp_ps(p0, vx, _CMP_LT_OQ), here1 = _mm256_cmp_ps(p1, vx, _CMP_LT_OQ);
    SortedSet r;
    r.s0 = _mm256_blendv_ps(_mm256_blendv_ps(p0, vx, here0), v.s0, stay0);
    r.s1 = _mm256_blendv_ps(_mm256_blendv_ps(p1, vx, here1), v.s1, stay1);
    r.i0 = _mm256_castps_si256(_mm256_blendv_ps(_mm256_blendv_ps(q0, vi, here0), _mm256_castsi256_ps(v.i0), stay0));
    r.i1 = _mm256_castps_si256(_mm256_blendv_ps(_mm256_blendv_ps(q1, vi, here1), _mm256_castsi256_ps(v.i1), stay1));
    return r;
}

// sorted_replace on the registers (k kept, x beats slot 0): slot i takes slot i + 1's item when
// that is below x (past slot 15: +infinity), else x when its own item is below x, else keeps it.
__attribute__((target("avx2")))
static inline SortedSet sorted_replace_avx2(SortedSet v, float x, int32_t index) {
    const __m256i ahead = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7), first = _mm256_setzero_si256();
    __m256 n0 = _mm256_blend_ps(_mm256_permutevar8x32_ps(v.s0, ahead), _mm256_permutevar8x32_ps(v.s1, first), 0x80);
    __m256 n1 = _mm256_blend_ps(_mm256_permutevar8x32_ps(v.s1, ahead), _mm256_set1_ps(INFINITY), 0x80);
    __m256 m0 = _mm256_castsi256_ps(
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(v.i0, ahead), _mm256_permutevar8x32_epi32(v.i1, first), 0x80));
    __m256 m1 = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(v.i1, ahead));
    const __m256 vx = _mm256_set1_ps(x), vi = _mm256_castsi256_ps(_mm256_set1_epi32(index));
    __m256 down0 = _mm256_cmp_ps(n0, vx, _CMP_LT_OQ), down1 = _mm256_cmp_ps(n1, vx, _CMP_LT_OQ);
    __m256 here0 = _mm256_cmp_ps(v.s0, vx, _CMP_LT_OQ), here1 = _mm256_cmp_ps(v.s1, vx, _CMP_LT_OQ);
    SortedSet r;
    r.s0 = _mm256_blendv_ps(_mm256_blendv_ps(v.s0, vx, here0), n0, down0);
    r.s1 = _mm256_blendv_ps(_mm256_blendv_ps(v.s1, vx, here1), n1, down1);
    r.i0 = _mm256_castps_si256(_mm256_blendv_ps(_mm256_blendv_ps(_mm256_castsi256_ps(v.i0), vi, here0), m0, down0));
    r.i1 = _mm256_castps_si256(_mm256_blendv_ps(_mm256_blendv_ps(_mm256_castsi256_ps(v.i1), vi, here1), m1, down1));
    return r;
}

// enter() on the registers: puts an item that beat the threshold into the set and returns
// the new threshold (slot 0's score once k are kept).
__attribute__((target("avx2")))
static inline float enter_avx2(SortedSet *v, ptrdiff_t k, ptrdiff_t *have, float s, int32_t index, float below) {
    if (*have < k) {
        *v = sorted_add_avx2(*v, s, index);
        *have += 1;
    } else {
        *v = sorted_replace_avx2(*v, s, index);
    }
    return threshold_over(_mm256_cvtss_f32(v->s0), *have, k, below);
}

// Bits l where p[l] > t for the 32 scores at p, with AVX-512's compares (two registers straight
// into masks: half the instructions of above32_avx2's four compares and movemasks).
__attribute__((target("avx2,avx512f"), always_inline))
static inline uint32_t above32_avx512(const float *p, __m512 t) {
    __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(p), t, _CMP_GT_OQ);
    __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(p + 16), t, _CMP_GT_OQ);
    return (uint32_t)m0 | (uint32_t)m1 << 16;
}

// The body of the sorted full-run offers, for k ≤ 16 with the set in registers for the whole
// run: the set's type and its LOAD, ENTER and STORE; ABOVE32(p, t) gives the bits of the 32
// scores at p above the threshold broadcast as SET1(thr) (a VEC).
#define COCOON_SORTED_OFFER(SET, LOAD, ENTER, STORE, VEC, SET1, ABOVE32)                        \
    SET v = LOAD(hs, hi, *kept);                                                                \
    ptrdiff_t have = *kept;                                                                     \
    float thr = threshold(hs, have, k, below);                                                  \
    VEC t = SET1(thr);                                                                          \
    ptrdiff_t j = 0;                                                                            \
    for (; j + 32 <= n; j += 32) {                                                              \
        uint32_t bits = ABOVE32(x + j, t);                                                      \
        if (__builtin_expect(bits != 0, 0)) {                                                   \
            /* Each score of the bits that still beats the threshold enters. */                \
            while (bits) {                                                                      \
                int l = __builtin_ctz(bits);                                                    \
                bits &= bits - 1;                                                               \
                float s = x[j + l];                                                             \
                if (s > thr) thr = ENTER(&v, k, &have, s, (int32_t)(base + j + l), below);      \
            }                                                                                   \
            t = SET1(thr);                                                                      \
        }                                                                                       \
    }                                                                                           \
    /* The short tail, one score at a time. */                                                  \
    for (; j < n; j++) {                                                                        \
        float s = x[j];                                                                         \
        if (s > thr) thr = ENTER(&v, k, &have, s, (int32_t)(base + j), below);                 \
    }                                                                                           \
    STORE(v, hs, hi, have);                                                                     \
    *kept = have;

// offer_avx2 for k ≤ 16.
__attribute__((target("avx2")))
static void offer_avx2_sorted(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                              ptrdiff_t *kept, float below) {
    COCOON_SORTED_OFFER(SortedSet, sorted_load_avx2, enter_avx2, sorted_store_avx2, __m256, _mm256_set1_ps, above32_avx2)
}


// The sorted set of k ≤ 16 items in one AVX-512 register for the scores and one for the
// indices: slot i is lane i. The same slots and the same moves as SortedSet's, each a permute,
// two compares into masks and two blends on one register instead of two.
typedef struct {
    __m512 s;
    __m512i i;
} SortedSet512;

__attribute__((target("avx2,avx512f"), always_inline))
static inline SortedSet512 sorted_load_avx512(const float *s, const int32_t *ix, ptrdiff_t n) {
    const __mmask16 in = (__mmask16)((1u << n) - 1);
    SortedSet512 v;
    v.s = _mm512_mask_loadu_ps(_mm512_set1_ps(INFINITY), in, s);
    v.i = _mm512_maskz_loadu_epi32(in, ix);
    return v;
}

__attribute__((target("avx2,avx512f"), always_inline))
static inline void sorted_store_avx512(SortedSet512 v, float *s, int32_t *ix, ptrdiff_t n) {
    const __mmask16 in = (__mmask16)((1u << n) - 1);
    _mm512_mask_storeu_ps(s, in, v.s);
    _mm512_mask_storeu_epi32(ix, in, v.i);
}

// sorted_add_avx2 on one register: slot i keeps its item when that is below x, else takes x
// when slot i − 1 is below x (before slot 0: -infinity), else slot i − 1's item.
__attribute__((target("avx2,avx512f"), always_inline))
static inline SortedSet512 sorted_add_avx512(SortedSet512 v, float x, int32_t index) {
    const __m512i back = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    const __m512 vx = _mm512_set1_ps(x);
    __m512 p = _mm512_mask_permutexvar_ps(_mm512_set1_ps(-INFINITY), 0xFFFE, back, v.s);
    __m512i q = _mm512_permutexvar_epi32(back, v.i);
    __mmask16 stay = _mm512_cmp_ps_mask(v.s, vx, _CMP_LT_OQ), here = _mm512_cmp_ps_mask(p, vx, _CMP_LT_OQ);
    SortedSet512 r;
    r.s = _mm512_mask_blend_ps(stay, _mm512_mask_blend_ps(here, p, vx), v.s);
    r.i = _mm512_mask_blend_epi32(stay, _mm512_mask_blend_epi32(here, q, _mm512_set1_epi32(index)), v.i);
    return r;
}

// sorted_replace_avx2 on one register (k kept, x beats slot 0): slot i takes slot i + 1's item
// when that is below x (past slot 15: +infinity), else x when its own item is below x, else
// keeps it.
__attribute__((target("avx2,avx512f"), always_inline))
static inline SortedSet512 sorted_replace_avx512(SortedSet512 v, float x, int32_t index) {
    const __m512i ahead = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15);
    const __m512 vx = _mm512_set1_ps(x);
    __m512 nx = _mm512_mask_permutexvar_ps(_mm512_set1_ps(INFINITY), 0x7FFF, ahead, v.s);
    __m512i m = _mm512_permutexvar_epi32(ahead, v.i);
    __mmask16 down = _mm512_cmp_ps_mask(nx, vx, _CMP_LT_OQ), here = _mm512_cmp_ps_mask(v.s, vx, _CMP_LT_OQ);
    SortedSet512 r;
    r.s = _mm512_mask_blend_ps(down, _mm512_mask_blend_ps(here, v.s, vx), nx);
    r.i = _mm512_mask_blend_epi32(down, _mm512_mask_blend_epi32(here, v.i, _mm512_set1_epi32(index)), m);
    return r;
}

// enter_avx2 on one register.
__attribute__((target("avx2,avx512f"), always_inline))
static inline float enter_avx512(SortedSet512 *v, ptrdiff_t k, ptrdiff_t *have, float s, int32_t index, float below) {
    if (*have < k) {
        *v = sorted_add_avx512(*v, s, index);
        *have += 1;
    } else {
        *v = sorted_replace_avx512(*v, s, index);
    }
    return threshold_over(_mm512_cvtss_f32(v->s), *have, k, below);
}

// offer_avx2_sorted with AVX-512's compares and the set in one register of each kind: where the
// CPU has AVX-512F and no test forced an instruction set.
__attribute__((target("avx2,avx512f")))
static void offer_avx512_sorted(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                                ptrdiff_t *kept, float below) {
    COCOON_SORTED_OFFER(SortedSet512, sorted_load_avx512, enter_avx512, sorted_store_avx512, __m512, _mm512_set1_ps,
                        above32_avx512)
}
#undef COCOON_SORTED_OFFER

// Per byte, the positions of its set bits (then zeros): a run's candidates are written 8 lanes
// at a time with no branch per bit. Filled once when the library loads.
static int32_t bit_positions[256][8];
__attribute__((constructor)) static void fill_bit_positions(void) {
    for (int b = 0; b < 256; b++) {
        int c = 0;
        for (int l = 0; l < 8; l++)
            if (b >> l & 1) bit_positions[b][c++] = l;
        while (c < 8) bit_positions[b][c++] = 0;
    }
}

// Bits l where p[l] > t for the 32 scores at p, without a test of the whole.
__attribute__((target("avx2")))
static inline uint32_t mask32_avx2(const float *p, __m256 t) {
    __m256 c[4];
    compare32_avx2(p, t, c);
    return bits32_avx2(c);
}

// The positions at + l of the scores x[at + l] above t, l < 32, written from `out` on (eight
// more slots may be written); returns their number.
__attribute__((target("avx2,popcnt"), always_inline))
static inline ptrdiff_t collect32_avx2(const float *x, ptrdiff_t at, __m256 t, int32_t *out) {
    uint32_t m = mask32_avx2(x + at, t);
    ptrdiff_t c = 0;
    for (int q = 0; q < 4; q++) {
        uint32_t byte = m >> (8 * q) & 0xFF;
        __m256i pos = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)bit_positions[byte]),
                                       _mm256_set1_epi32((int32_t)(at + 8 * q)));
        _mm256_storeu_si256((__m256i *)(out + c), pos);
        c += __builtin_popcount(byte);
    }
    return c;
}

// collect32_avx2 with AVX-512: two compares straight into masks and two compressions, instead
// of four compares, movemasks and a table look-up per byte (sixteen more slots may be written).
__attribute__((target("avx2,avx512f,popcnt"), always_inline))
static inline ptrdiff_t collect32_avx512(const float *x, ptrdiff_t at, __m512 t, int32_t *out) {
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + at), t, _CMP_GT_OQ);
    __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + at + 16), t, _CMP_GT_OQ);
    __m512i p0 = _mm512_add_epi32(lanes, _mm512_set1_epi32((int32_t)at));
    _mm512_storeu_si512((void *)out, _mm512_maskz_compress_epi32(m0, p0));
    ptrdiff_t c = __builtin_popcount(m0);
    __m512i p1 = _mm512_add_epi32(p0, _mm512_set1_epi32(16));
    _mm512_storeu_si512((void *)(out + c), _mm512_maskz_compress_epi32(m1, p1));
    return c + __builtin_popcount(m1);
}

// cocoon_topk_offer_screened for a full sorted heap of k ≤ 16. Which marked runs hold a score
// above the root is as unpredictable as the runs are many (the control layer's pushed-down
// items are marked too), so a branch per run missed often: instead each marked run's scores
// above the current threshold go, branch-free, into a list of candidates (64 runs' worth at a
// time), which then enter in item order, each checked against the threshold of the moment (it
// only rises, so a candidate that no longer beats it is skipped).
//
// The body of the screened offers of a full sorted set (k ≤ 16): the set's type and its LOAD,
// ENTER and STORE; COLLECT(x, at, t, out) with t = SET1(thr), a VEC, for the marked runs' scores
// above the threshold, and PAD the slots it may write past its count.
#define COCOON_SCREENED_OFFER(SET, LOAD, ENTER, STORE, VEC, SET1, COLLECT, PAD)              \
    SET v = LOAD(hs, hi, k);                                                                  \
    ptrdiff_t have = k;                                                                       \
    float thr = hs[0];                                                                        \
    int32_t cand[64 * 32 + PAD];                                                              \
    ptrdiff_t runs = (n + 31) / 32;                                                           \
    for (ptrdiff_t w = 0; w * 64 < runs; w++) {                                               \
        uint64_t bits = marked_runs(screen, w, runs);                                         \
        const VEC t = SET1(thr);                                                              \
        ptrdiff_t c = 0;                                                                      \
        while (bits) {                                                                        \
            ptrdiff_t at = (w * 64 + __builtin_ctzll(bits)) * 32;                             \
            bits &= bits - 1;                                                                 \
            if (at + 32 <= n) {                                                               \
                c += COLLECT(x, at, t, cand + c);                                             \
            } else {                                                                          \
                /* The short last run. */                                                     \
                for (ptrdiff_t j = at; j < n; j++) {                                          \
                    cand[c] = (int32_t)j;                                                     \
                    c += x[j] > thr;                                                          \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (ptrdiff_t i = 0; i < c; i++) {                                                   \
            float s = x[cand[i]];                                                             \
            if (s > thr) thr = ENTER(&v, k, &have, s, (int32_t)(base + cand[i]), -INFINITY);  \
        }                                                                                     \
    }                                                                                         \
    STORE(v, hs, hi, have);

__attribute__((target("avx2,popcnt")))
static void offer_avx2_sorted_screened(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                                       const uint64_t *screen) {
    COCOON_SCREENED_OFFER(SortedSet, sorted_load_avx2, enter_avx2, sorted_store_avx2, __m256, _mm256_set1_ps,
                          collect32_avx2, 8)
}

// offer_avx2_sorted_screened with AVX-512: the set in one register of each kind, and
// collect32_avx512. The same candidates in the same order, so the same set.
__attribute__((target("avx2,avx512f,popcnt")))
static void offer_avx512_sorted_screened(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                                         const uint64_t *screen) {
    COCOON_SCREENED_OFFER(SortedSet512, sorted_load_avx512, enter_avx512, sorted_store_avx512, __m512, _mm512_set1_ps,
                          collect32_avx512, 16)
}
#undef COCOON_SCREENED_OFFER

__attribute__((target("avx2")))
static void offer_avx2(const float *x, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k, ptrdiff_t *kept,
                       float below) {
    ptrdiff_t j = 0;
    float thr = threshold(hs, *kept, k, below);
    __m256 t = _mm256_set1_ps(thr);
    for (; j + 32 <= n; j += 32) {
        uint32_t bits = above32_avx2(x + j, t);
        if (__builtin_expect(bits != 0, 0)) {
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

#ifdef COCOON_X86
// kth_largest_avx2 for c a multiple of 16, 16 candidates a register: each one's count of values
// at least as large goes up in two masked chains (no horizontal sum, no branch per value).
__attribute__((target("avx2,avx512f")))
static inline float kth_largest_avx512(const float *m, int32_t c, int32_t k) {
    const __m512i one = _mm512_set1_epi32(1), need = _mm512_set1_epi32(k - 1);
    __m512 best = _mm512_set1_ps(-INFINITY);
    for (int32_t i = 0; i < c; i += 16) {
        __m512 x = _mm512_loadu_ps(m + i);
        __m512i ge0 = _mm512_setzero_si512(), ge1 = ge0;
        for (int32_t j = 0; j < c; j += 2) {
            ge0 = _mm512_mask_add_epi32(ge0, _mm512_cmp_ps_mask(_mm512_set1_ps(m[j]), x, _CMP_GE_OQ), ge0, one);
            ge1 = _mm512_mask_add_epi32(ge1, _mm512_cmp_ps_mask(_mm512_set1_ps(m[j + 1]), x, _CMP_GE_OQ), ge1, one);
        }
        best = _mm512_mask_max_ps(best, _mm512_cmpgt_epi32_mask(_mm512_add_epi32(ge0, ge1), need), x, best);
    }
    return _mm512_reduce_max_ps(best);
}

// floor_avx2's chunk maxima with AVX-512 (w is 16, 32 or 64: one to four registers a chunk);
// max(x, m) returns m when x is NaN, as there, and so is the ranking.
//
// With 32 chunks or more, the groups whose maxima are ranked are lanes instead: 16 · (c / 16)
// groups of w items, group 16s + l holding items 16 · w · s + 16v + l (v < w) — any partition
// gives a floor (k groups hold an item at least that good), and these maxima are whole
// registers, with no sum across lanes per chunk (that was most of the floor's time), ranked by
// kth_largest_avx512.
__attribute__((target("avx2,avx512f")))
static float floor_avx512(const float *x, int32_t c, int32_t w, int32_t k, float *maxima) {
    if (c >= 32) {
        int32_t segments = c / 16;
        for (int32_t s = 0; s < segments; s++) {
            const float *p = x + (ptrdiff_t)16 * w * s;
            __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
            for (int32_t v = 0; v < w; v += 2) {
                m0 = _mm512_max_ps(_mm512_loadu_ps(p + 16 * v), m0);
                m1 = _mm512_max_ps(_mm512_loadu_ps(p + 16 * v + 16), m1);
            }
            _mm512_storeu_ps(maxima + 16 * s, _mm512_max_ps(m0, m1));
        }
        return kth_largest_avx512(maxima, 16 * segments, (int32_t)k);
    }
    for (int32_t q = 0; q < c; q++) {
        const float *p = x + (ptrdiff_t)w * q;
        __m512 m = _mm512_set1_ps(-INFINITY);
        for (int v = 0; v < w; v += 16) m = _mm512_max_ps(_mm512_loadu_ps(p + v), m);
        maxima[q] = _mm512_reduce_max_ps(m);
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
    case COCOON_ISA_AVX2: return cocoon_kernels_avx512() ? floor_avx512(x, c, w, k, scratch) : floor_avx2(x, c, w, k, scratch);
    case COCOON_ISA_SSE2: return floor_sse2(x, c, w, k, scratch);
#endif
    default: return floor_portable(x, c, w, k, scratch);
    }
}

ptrdiff_t cocoon_topk_offer_run(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                                ptrdiff_t kept, float floor) {
    // Strictly above `below` is at least `floor`.
    float below = floor > -INFINITY ? nextafterf(floor, -INFINITY) : -INFINITY;
    // A small heap filled by single offers (sift-ups) need not be sorted: sorted, it is still
    // the same heap's items, in an order that is also a heap.
    if (k <= SORTED_MAX && !is_ascending(scores, indices, kept)) sort_ascending(scores, indices, kept);
    switch (cocoon_isa()) {
#ifdef COCOON_X86
    case COCOON_ISA_AVX2:
        if (k <= SORTED_MAX && cocoon_kernels_avx512()) offer_avx512_sorted(x, n, base, scores, indices, k, &kept, below);
        else if (k <= SORTED_MAX) offer_avx2_sorted(x, n, base, scores, indices, k, &kept, below);
        else offer_avx2(x, n, base, scores, indices, k, &kept, below);
        break;
    case COCOON_ISA_SSE2: offer_sse2(x, n, base, scores, indices, k, &kept, below); break;
#endif
    default: offer_portable(x, 0, n, base, scores, indices, k, &kept, below); break;
    }
    return kept;
}

void cocoon_topk_offer_screened(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                                const uint64_t *screen) {
    ptrdiff_t kept = k;
    if (k <= SORTED_MAX && !is_ascending(scores, indices, k)) sort_ascending(scores, indices, k);
    int isa = cocoon_isa();
#ifdef COCOON_X86
    if (isa == COCOON_ISA_AVX2 && k <= SORTED_MAX) {
        if (cocoon_kernels_avx512()) offer_avx512_sorted_screened(x, n, base, scores, indices, k, screen);
        else offer_avx2_sorted_screened(x, n, base, scores, indices, k, screen);
        return;
    }
#endif
    // Each marked run on its own (k > 16, or without AVX2).
    ptrdiff_t runs = (n + 31) / 32;
    for (ptrdiff_t w = 0; w * 64 < runs; w++) {
        uint64_t bits = marked_runs(screen, w, runs);
        while (bits) {
            ptrdiff_t at = (w * 64 + __builtin_ctzll(bits)) * 32, len = n - at < 32 ? n - at : 32;
            bits &= bits - 1;
            switch (isa) {
#ifdef COCOON_X86
            case COCOON_ISA_AVX2: offer_avx2(x + at, len, base + at, scores, indices, k, &kept, -INFINITY); break;
            case COCOON_ISA_SSE2: offer_sse2(x + at, len, base + at, scores, indices, k, &kept, -INFINITY); break;
#endif
            default: offer_portable(x + at, 0, len, base + at, scores, indices, k, &kept, -INFINITY); break;
            }
        }
    }
}

// Sorts the n (score, index) pairs by index (insertion sort: a handful of pairs).
static void sort_by_index(float *s, int32_t *ix, ptrdiff_t n) {
    for (ptrdiff_t i = 1; i < n; i++) {
        float x = s[i];
        int32_t j = ix[i];
        ptrdiff_t p = i;
        while (p > 0 && ix[p - 1] > j) {
            s[p] = s[p - 1];
            ix[p] = ix[p - 1];
            p--;
        }
        s[p] = x;
        ix[p] = j;
    }
}

// Enters the listed pairs, sorted by index, that still beat the threshold.
static void enter_sorted_pairs(float *s, int32_t *ix, ptrdiff_t n, int64_t base, float *hs, int32_t *hi, ptrdiff_t k,
                               ptrdiff_t *kept) {
    sort_by_index(s, ix, n);
    float thr = threshold(hs, *kept, k, -INFINITY);
    for (ptrdiff_t i = 0; i < n; i++)
        if (s[i] > thr) thr = enter(hs, hi, k, kept, s[i], (int32_t)(base + ix[i]), -INFINITY);
}

void cocoon_topk_offer_listed(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                              const int32_t *list, ptrdiff_t count) {
    ptrdiff_t kept = k;
    if (k <= SORTED_MAX && !is_ascending(scores, indices, k)) sort_ascending(scores, indices, k);
    // Only a listed score above the threshold as it stands can enter: those few, in index order.
    float thr = threshold(scores, kept, k, -INFINITY);
    enum { BATCH = 64 };
    float s[BATCH];
    int32_t ix[BATCH];
    ptrdiff_t have = 0;
    for (ptrdiff_t c = 0; c < count; c++) {
        float v = x[list[c]];
        if (v <= thr || v != v) continue;
        if (have == BATCH) {
            // More than the buffer holds (nothing has entered yet): every listed score in index
            // order, through a bitmap of the run.
            ptrdiff_t words = (n + 63) / 64;
            uint64_t bits[words];
            for (ptrdiff_t w = 0; w < words; w++) bits[w] = 0;
            for (ptrdiff_t i = 0; i < count; i++) bits[list[i] / 64] |= (uint64_t)1 << (list[i] % 64);
            for (ptrdiff_t w = 0; w < words; w++) {
                for (uint64_t b = bits[w]; b; b &= b - 1) {
                    ptrdiff_t j = w * 64 + __builtin_ctzll(b);
                    if (x[j] > thr) thr = enter(scores, indices, k, &kept, x[j], (int32_t)(base + j), -INFINITY);
                }
            }
            return;
        }
        s[have] = v;
        ix[have++] = list[c];
    }
    enter_sorted_pairs(s, ix, have, base, scores, indices, k, &kept);
}

void cocoon_heap_drain(float *scores, int32_t *indices, ptrdiff_t n, int32_t *out) {
    if (is_ascending(scores, indices, n)) {
        // Sorted worst first (what the offer kernel keeps small heaps as): read it backwards.
        for (ptrdiff_t j = 0; j < n; j++) out[j] = indices[n - 1 - j];
        return;
    }
    // Pop the root (the worst) to the back, n times.
    for (ptrdiff_t left = n; left > 0; left--) {
        out[left - 1] = indices[0];
        if (left > 1) replace_root(scores, indices, left - 1, scores[left - 1], indices[left - 1]);
    }
}
