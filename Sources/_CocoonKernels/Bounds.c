// Score bounds that let the panel products skip items (see include/CocoonKernels.h).
//
// A user u and an item v split along an orthonormal basis Q of q directions: u = Q·uq + u⊥ and
// v = Q·vq + v⊥, so u·v = uq·vq + u⊥·v⊥ ≤ uq·vq + |u⊥|·|v⊥|. The bound costs q multiply-adds
// where the score costs d; items whose bound (plus a margin for rounding) is below what a
// user's k-th best already is cannot be among its best, and their scores are never computed.
// The scores that are computed are the panel kernel's chains, bit for bit.
#include "CocoonKernels.h"
#include "ISA.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define COCOON_X86_64 1
#endif

// ---- Set-up: the basis and the items' coordinates (double precision, once per catalog) ----

void cocoon_symmetric_eigen(double *a, ptrdiff_t n, double *values, double *vectors) {
    // Cyclic Jacobi rotations: a ← Jᵀ a J until the off-diagonal part vanishes; the columns of
    // w (w[x·n + k]) accumulate the rotations, so column k is the eigenvector of a[k][k].
    double *w = vectors;
    for (ptrdiff_t i = 0; i < n * n; i++) w[i] = 0;
    for (ptrdiff_t i = 0; i < n; i++) w[i * n + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (ptrdiff_t p = 0; p < n; p++) {
            diag += a[p * n + p] * a[p * n + p];
            for (ptrdiff_t q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        }
        if (off <= 1e-30 * diag || off == 0) break;
        for (ptrdiff_t p = 0; p + 1 < n; p++) {
            for (ptrdiff_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (ptrdiff_t k = 0; k < n; k++) {  // columns p and q
                    double kp = a[k * n + p], kq = a[k * n + q];
                    a[k * n + p] = c * kp - s * kq;
                    a[k * n + q] = s * kp + c * kq;
                }
                for (ptrdiff_t k = 0; k < n; k++) {  // rows p and q
                    double pk = a[p * n + k], qk = a[q * n + k];
                    a[p * n + k] = c * pk - s * qk;
                    a[q * n + k] = s * pk + c * qk;
                }
                for (ptrdiff_t k = 0; k < n; k++) {
                    double kp = w[k * n + p], kq = w[k * n + q];
                    w[k * n + p] = c * kp - s * kq;
                    w[k * n + q] = s * kp + c * kq;
                }
            }
        }
    }
    for (ptrdiff_t i = 0; i < n; i++) values[i] = a[i * n + i];
    // Largest first (selection sort, ties keep their order), and each eigenvector as a row.
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t best = i;
        for (ptrdiff_t j = i + 1; j < n; j++)
            if (values[j] > values[best]) best = j;
        if (best != i) {
            double t = values[i];
            values[i] = values[best];
            values[best] = t;
            for (ptrdiff_t k = 0; k < n; k++) {
                double x = w[k * n + i];
                w[k * n + i] = w[k * n + best];
                w[k * n + best] = x;
            }
        }
    }
    for (ptrdiff_t i = 0; i < n; i++)
        for (ptrdiff_t j = i + 1; j < n; j++) {
            double x = w[i * n + j];
            w[i * n + j] = w[j * n + i];
            w[j * n + i] = x;
        }
}

// The float at or above x.
static inline float round_up(double x) {
    float f = (float)x;
    return (double)f < x ? nextafterf(f, INFINITY) : f;
}

void cocoon_project_items(const float *v, ptrdiff_t n, ptrdiff_t d, const double *basis, ptrdiff_t q, double *coords,
                          float *residual, float *norm) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const float *row = v + i * d;
        double *c = coords + i * q;
        double length = 0;
        for (ptrdiff_t x = 0; x < d; x++) length += (double)row[x] * row[x];
        for (ptrdiff_t j = 0; j < q; j++) {
            double s = 0;
            for (ptrdiff_t x = 0; x < d; x++) s += basis[j * d + x] * row[x];
            c[j] = s;
        }
        double rest = 0;
        for (ptrdiff_t x = 0; x < d; x++) {
            double e = row[x];
            for (ptrdiff_t j = 0; j < q; j++) e -= c[j] * basis[j * d + x];
            rest += e * e;
        }
        // Above the computed lengths by far more than their double-precision error.
        residual[i] = round_up(sqrt(rest) * (1 + 1e-9) + 1e-300);
        norm[i] = round_up(sqrt(length) * (1 + 1e-9));
    }
}

// ---- Per block: the users' coordinates ----

static inline __attribute__((always_inline)) void project_users_body(const float *u, ptrdiff_t rows, ptrdiff_t ldu,
                                                                      ptrdiff_t d, const float *basis, ptrdiff_t q,
                                                                      float *uq, ptrdiff_t ldq, float *norm2,
                                                                      float *proj2) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = u + r * ldu;
        float *c = uq + r * ldq;
        for (ptrdiff_t j = 0; j < q; j++) c[j] = 0;
        float length = 0;
        for (ptrdiff_t x = 0; x < d; x++) {
            float ux = row[x];
            const float *b = basis + x * q;
            length += ux * ux;
            for (ptrdiff_t j = 0; j < q; j++) c[j] += ux * b[j];
        }
        float p = 0;
        for (ptrdiff_t j = 0; j < q; j++) p += c[j] * c[j];
        norm2[r] = length;
        proj2[r] = p;
    }
}

#ifdef COCOON_X86_64
__attribute__((target("avx2,fma,avx512f"))) static void project_users_avx512(const float *u, ptrdiff_t rows, ptrdiff_t ldu,
                                                                             ptrdiff_t d, const float *basis, ptrdiff_t q,
                                                                             float *uq, ptrdiff_t ldq, float *norm2,
                                                                             float *proj2) {
    project_users_body(u, rows, ldu, d, basis, q, uq, ldq, norm2, proj2);
}
#endif

void cocoon_project_users(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d, const float *basis, ptrdiff_t q,
                          float *uq, ptrdiff_t ldq, float *norm2, float *proj2, int vectorized) {
#ifdef COCOON_X86_64
    if (vectorized) {
        project_users_avx512(u, rows, ldu, d, basis, q, uq, ldq, norm2, proj2);
        return;
    }
#endif
    (void)vectorized;
    project_users_body(u, rows, ldu, d, basis, q, uq, ldq, norm2, proj2);
}

// ---- Per group of users and tile: bounds, then the chains of the items that may count ----
//
// Three levels, each an upper bound of the next: a panel's bound (its centroid's chain plus
// |uq| times its radius, its largest residual times the user's, and the row's largest offset)
// for 12 users × 32 panels in registers; then, for one user, the bounds of the items of the
// panels that passed (8 panels at a time); then the chains of the panels with an item that
// passed. A score is listed (and written) only where it beats the row's k-th best.

// Writes a score that beats the row's k-th best at its item's place j in the row and lists j.
static inline void keep_hot(float *row, int32_t *hot, ptrdiff_t *count, ptrdiff_t j, float score) {
    row[j] = score;
    hot[(*count)++] = (int32_t)j;
}

// Level 1, one score at a time: bit p − p0 of `bits` for each panel p of [p0, p0 + np) whose
// bound reaches the row's threshold.
static void panel_bounds_portable(const CocoonBoundItems *it, const CocoonBoundUsers *us, ptrdiff_t r, ptrdiff_t p0,
                                  ptrdiff_t np, uint32_t *bits) {
    for (ptrdiff_t w = 0; w < (np + 31) / 32; w++) bits[w] = 0;
    for (ptrdiff_t j = 0; j < np; j++) {
        ptrdiff_t p = p0 + j;
        float b = 0;
        for (ptrdiff_t x = 0; x < it->q; x++) b = fmaf(us->uq[r * us->ldq + x], it->centroids[x * it->centroidStride + p], b);
        b = fmaf(us->unorm[r], it->radius[p], b);
        b = fmaf(us->ures[r], it->panelResidual[p], b);
        b = b + us->lift[r];
        if (b >= us->thr[r]) bits[j / 32] |= (uint32_t)1 << (j % 32);
    }
}

// Level 2, one score at a time: whether a position of panel p has a bound that reaches thr.
static int item_bounds_portable(const CocoonBoundItems *it, const CocoonBoundUsers *us, ptrdiff_t r, ptrdiff_t p,
                                const int32_t *topic, const float *o) {
    for (ptrdiff_t pos = p * 16; pos < p * 16 + 16 && pos < it->items; pos++) {
        const float *v = it->coordinatePanels + p * it->q * 16 + pos % 16;
        float b = 0;
        for (ptrdiff_t x = 0; x < it->q; x++) b = fmaf(us->uq[r * us->ldq + x], v[x * 16], b);
        b = fmaf(us->ures[r], it->residual[pos], b);
        if (o && o[topic[pos]] != 0) b = b + o[topic[pos]];
        if (b >= us->thr[r]) return 1;
    }
    return 0;
}

// Level 3, one score at a time: the chains of the listed panels (as products_portable).
static void chains_portable(const CocoonBoundItems *it, const float *u, const int32_t *list, ptrdiff_t count,
                            ptrdiff_t first, const int32_t *topic, const float *o, float root, float *row, int32_t *hot,
                            ptrdiff_t *listed) {
    for (ptrdiff_t c = 0; c < count; c++) {
        ptrdiff_t base = (ptrdiff_t)list[c] * 16;
        for (ptrdiff_t l = 0; l < 16 && base + l < it->items; l++) {
            const float *v = it->panels + (ptrdiff_t)list[c] * it->d * 16 + l;
            float acc = 0;
            for (ptrdiff_t x = 0; x < it->d; x++) acc = fmaf(u[x], v[x * 16], acc);
            if (o && o[topic[base + l]] != 0) acc = acc + o[topic[base + l]];
            if (acc > root) keep_hot(row, hot, listed, it->ids[base + l] - first, acc);
        }
    }
}

#ifdef COCOON_X86_64
// Level 1: R users × panels p … p + 31 (lanes of m0 and m1 only), bit j of `bits[r·ldb]` set where
// panel p + j's bound reaches row r's threshold.
__attribute__((target("avx512f"), always_inline)) static inline void
panel_bounds_block_avx512(const CocoonBoundItems *it, const CocoonBoundUsers *us, ptrdiff_t r0, const int R, ptrdiff_t p,
                          __mmask16 m0, __mmask16 m1, uint32_t *bits, ptrdiff_t ldb) {
    __m512 a0[12], a1[12];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        a0[r] = _mm512_setzero_ps();
        a1[r] = _mm512_setzero_ps();
    }
    const float *cx = it->centroids + p;
    const float *uq = us->uq + r0 * us->ldq;
    for (ptrdiff_t x = 0; x < it->q; x++) {
        __m512 v0 = _mm512_loadu_ps(cx + x * it->centroidStride), v1 = _mm512_loadu_ps(cx + x * it->centroidStride + 16);
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
            __m512 s = _mm512_set1_ps(uq[r * us->ldq + x]);
            a0[r] = _mm512_fmadd_ps(s, v0, a0[r]);
            a1[r] = _mm512_fmadd_ps(s, v1, a1[r]);
        }
    }
    __m512 rho0 = _mm512_loadu_ps(it->radius + p), rho1 = _mm512_loadu_ps(it->radius + p + 16);
    __m512 e0 = _mm512_loadu_ps(it->panelResidual + p), e1 = _mm512_loadu_ps(it->panelResidual + p + 16);
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        __m512 n = _mm512_set1_ps(us->unorm[r0 + r]), res = _mm512_set1_ps(us->ures[r0 + r]);
        __m512 lift = _mm512_set1_ps(us->lift[r0 + r]), t = _mm512_set1_ps(us->thr[r0 + r]);
        __m512 b0 = _mm512_add_ps(_mm512_fmadd_ps(res, e0, _mm512_fmadd_ps(n, rho0, a0[r])), lift);
        __m512 b1 = _mm512_add_ps(_mm512_fmadd_ps(res, e1, _mm512_fmadd_ps(n, rho1, a1[r])), lift);
        bits[r * ldb] = (uint32_t)_mm512_mask_cmp_ps_mask(m0, b0, t, _CMP_GE_OQ)
            | (uint32_t)_mm512_mask_cmp_ps_mask(m1, b1, t, _CMP_GE_OQ) << 16;
    }
}

// Level 1 for R users over panels [p0, p0 + np).
__attribute__((target("avx512f"), always_inline)) static inline void
panel_bounds_group_avx512(const CocoonBoundItems *it, const CocoonBoundUsers *us, ptrdiff_t r0, const int R, ptrdiff_t p0,
                          ptrdiff_t np, uint32_t *bits, ptrdiff_t ldb) {
    for (ptrdiff_t j = 0; j < np; j += 32) {
        ptrdiff_t left = np - j;
        __mmask16 m0 = (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);
        __mmask16 m1 = (__mmask16)(left >= 32 ? 0xFFFF : left > 16 ? (1u << (left - 16)) - 1 : 0);
        panel_bounds_block_avx512(it, us, r0, R, p0 + j, m0, m1, bits + j / 32, ldb);
    }
}

__attribute__((target("avx512f"))) static void panel_bounds_avx512(const CocoonBoundItems *it, const CocoonBoundUsers *us,
                                                                  ptrdiff_t r0, ptrdiff_t rows, ptrdiff_t p0, ptrdiff_t np,
                                                                  uint32_t *bits, ptrdiff_t ldb) {
    switch (rows) {
#define COCOON_PANELS(n) \
    case n: panel_bounds_group_avx512(it, us, r0, n, p0, np, bits, ldb); break;
        COCOON_PANELS(1) COCOON_PANELS(2) COCOON_PANELS(3) COCOON_PANELS(4) COCOON_PANELS(5) COCOON_PANELS(6)
        COCOON_PANELS(7) COCOON_PANELS(8) COCOON_PANELS(9) COCOON_PANELS(10) COCOON_PANELS(11) COCOON_PANELS(12)
#undef COCOON_PANELS
    default: break;
    }
}

// Levels 2 and 3 go panel by panel: the rows that passed the level before, up to 12 at a time
// against the panel (each a chain in a register, the panel's values read once for all of them),
// as the products kernel goes 12 rows at a time against every panel.

// a[r] = the chain (fused multiply-adds in dimension order from zero) of row rows[r] of the
// matrix at `base` (`ld` floats a row) with the n dimensions of the panel at v, for r < R.
__attribute__((target("avx512f"), always_inline)) static inline void
gathered_chains_avx512(const float *base, ptrdiff_t ld, const int32_t *rows, const int R, const float *v, ptrdiff_t n,
                       __m512 *a) {
    const float *row[12];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        a[r] = _mm512_setzero_ps();
        row[r] = base + (ptrdiff_t)rows[r] * ld;
    }
    for (ptrdiff_t x = 0; x < n; x++) {
        __m512 vx = _mm512_load_ps(v + x * 16);
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++)
            a[r] = _mm512_fmadd_ps(_mm512_set1_ps(row[r][x]), vx, a[r]);
    }
}

// The lanes of panel p that are items.
static inline __mmask16 panel_lanes(const CocoonBoundItems *it, ptrdiff_t p) {
    ptrdiff_t lanes = it->items - p * 16 < 16 ? it->items - p * 16 : 16;
    return (__mmask16)(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
}

// Level 2: bit r of the result set where a position of panel p has a bound (as the portable
// loop computes it) that reaches the threshold of row rows[r], r < R.
__attribute__((target("avx512f"), always_inline)) static inline uint32_t
rows_item_bounds_avx512(const CocoonBoundItems *it, const CocoonBoundUsers *us, const int32_t *rows, const int R,
                        ptrdiff_t p, const int32_t *topic, const float *tables, const uint8_t *has) {
    __m512 a[12];
    gathered_chains_avx512(us->uq, us->ldq, rows, R, it->coordinatePanels + p * it->q * 16, it->q, a);
    ptrdiff_t pos = p * 16;
    __mmask16 m = panel_lanes(it, p);
    __m512 e = _mm512_maskz_loadu_ps(m, it->residual + pos);
    __m512i tp = tables ? _mm512_maskz_loadu_epi32(m, topic + pos) : _mm512_setzero_si512();
    uint32_t pass = 0;
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        ptrdiff_t row = rows[r];
        __m512 b = _mm512_fmadd_ps(_mm512_set1_ps(us->ures[row]), e, a[r]);
        if (tables && has[row]) {
            const float *o = tables + row * 32;
            __m512 off = _mm512_permutex2var_ps(_mm512_loadu_ps(o), tp, _mm512_loadu_ps(o + 16));
            b = _mm512_mask_add_ps(b, _mm512_cmp_ps_mask(off, _mm512_setzero_ps(), _CMP_NEQ_UQ), b, off);
        }
        pass |= (uint32_t)(_mm512_mask_cmp_ps_mask(m, b, _mm512_set1_ps(us->thr[row]), _CMP_GE_OQ) != 0) << r;
    }
    return pass;
}

// Level 2 over the `count` rows listed for panel p: keeps (in order) those that pass; returns how
// many.
__attribute__((target("avx512f"))) static ptrdiff_t rows_bounds_avx512(const CocoonBoundItems *it,
                                                                      const CocoonBoundUsers *us, int32_t *rows,
                                                                      ptrdiff_t count, ptrdiff_t p, const int32_t *topic,
                                                                      const float *tables, const uint8_t *has) {
    ptrdiff_t kept = 0;
    for (ptrdiff_t c = 0; c < count; c += 12) {
        ptrdiff_t n = count - c < 12 ? count - c : 12;
        uint32_t pass = 0;
        switch (n) {
#define COCOON_ROWS(k) \
    case k: pass = rows_item_bounds_avx512(it, us, rows + c, k, p, topic, tables, has); break;
            COCOON_ROWS(1) COCOON_ROWS(2) COCOON_ROWS(3) COCOON_ROWS(4) COCOON_ROWS(5) COCOON_ROWS(6)
            COCOON_ROWS(7) COCOON_ROWS(8) COCOON_ROWS(9) COCOON_ROWS(10) COCOON_ROWS(11) COCOON_ROWS(12)
#undef COCOON_ROWS
        default: break;
        }
        for (ptrdiff_t j = 0; j < n; j++) {
            rows[kept] = rows[c + j];
            kept += pass >> j & 1;
        }
    }
    return kept;
}

// Level 3: the chains of rows rows[r] (r < R, full d) with panel p, as the panel kernel computes
// them (one fused multiply-add chain in dimension order from zero, then the topic offset where it
// is not zero); each score above its row's k-th best written at its item's place in the row's
// line of `c` and listed on the row's list.
__attribute__((target("avx512f"), always_inline)) static inline void
rows_chains_avx512(const CocoonBoundItems *it, const CocoonBoundUsers *us, const int32_t *rows, const int R, ptrdiff_t p,
                   ptrdiff_t first, const int32_t *topic, const float *tables, const uint8_t *has, float *c,
                   ptrdiff_t ldc, int32_t *hot, ptrdiff_t ldh, ptrdiff_t *listed) {
    __m512 a[12];
    gathered_chains_avx512(us->u, us->ldu, rows, R, it->panels + p * it->d * 16, it->d, a);
    ptrdiff_t pos = p * 16;
    __mmask16 m = panel_lanes(it, p);
    __m512i at = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, it->ids + pos), _mm512_set1_epi32((int32_t)first));
    __m512i tp = tables ? _mm512_maskz_loadu_epi32(m, topic + pos) : _mm512_setzero_si512();
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {
        ptrdiff_t row = rows[r];
        if (tables && has[row]) {
            const float *o = tables + row * 32;
            __m512 off = _mm512_permutex2var_ps(_mm512_loadu_ps(o), tp, _mm512_loadu_ps(o + 16));
            a[r] = _mm512_mask_add_ps(a[r], _mm512_cmp_ps_mask(off, _mm512_setzero_ps(), _CMP_NEQ_UQ), a[r], off);
        }
        __mmask16 above = _mm512_mask_cmp_ps_mask(m, a[r], _mm512_set1_ps(us->roots[row]), _CMP_GT_OQ);
        if (above) {
            _mm512_mask_i32scatter_ps(c + row * ldc, above, at, a[r], 4);
            _mm512_mask_compressstoreu_epi32(hot + row * ldh + listed[row], above, at);
            listed[row] += __builtin_popcount((unsigned)above);
        }
    }
}

__attribute__((target("avx512f"))) static void rows_products_avx512(const CocoonBoundItems *it,
                                                                   const CocoonBoundUsers *us, const int32_t *rows,
                                                                   ptrdiff_t count, ptrdiff_t p, ptrdiff_t first,
                                                                   const int32_t *topic, const float *tables,
                                                                   const uint8_t *has, float *c, ptrdiff_t ldc,
                                                                   int32_t *hot, ptrdiff_t ldh, ptrdiff_t *listed) {
    for (ptrdiff_t j = 0; j < count; j += 12) {
        switch (count - j < 12 ? count - j : 12) {
#define COCOON_CHAINS(n) \
    case n: rows_chains_avx512(it, us, rows + j, n, p, first, topic, tables, has, c, ldc, hot, ldh, listed); break;
            COCOON_CHAINS(1) COCOON_CHAINS(2) COCOON_CHAINS(3) COCOON_CHAINS(4) COCOON_CHAINS(5) COCOON_CHAINS(6)
            COCOON_CHAINS(7) COCOON_CHAINS(8) COCOON_CHAINS(9) COCOON_CHAINS(10) COCOON_CHAINS(11) COCOON_CHAINS(12)
#undef COCOON_CHAINS
        default: break;
        }
    }
}
#endif

ptrdiff_t cocoon_pruned_products(const CocoonBoundItems *it, const CocoonBoundUsers *us, ptrdiff_t rows, ptrdiff_t first,
                                 ptrdiff_t width, float *c, ptrdiff_t ldc, const int32_t *topic, const float *tables,
                                 const uint8_t *has, int32_t *hot, ptrdiff_t ldh, ptrdiff_t *listed, int32_t *scratch,
                                 int vectorized) {
    if (!topic || !has) tables = 0;
    // Chunks of at most 128 panels (2,048 positions): level 1 for every row (4 words of panel bits
    // a row), then panel by panel the rows that passed (a counting sort of the bits).
    enum { PANELS = 128, WORDS = PANELS / 32 };
    uint32_t *bits = (uint32_t *)scratch;
    int32_t *members = scratch + rows * WORDS;
    int32_t starts[PANELS + 1];
    ptrdiff_t total = 0;
    for (ptrdiff_t r = 0; r < rows; r++) listed[r] = 0;
    ptrdiff_t p1 = (first + width + 15) / 16;
    for (ptrdiff_t p0 = first / 16; p0 < p1; p0 += PANELS) {
        ptrdiff_t np = p1 - p0 < PANELS ? p1 - p0 : PANELS;
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += 12) {
            ptrdiff_t n = rows - r0 < 12 ? rows - r0 : 12;
#ifdef COCOON_X86_64
            if (vectorized)
                panel_bounds_avx512(it, us, r0, n, p0, np, bits + r0 * WORDS, WORDS);
            else
#endif
                for (ptrdiff_t r = r0; r < r0 + n; r++) panel_bounds_portable(it, us, r, p0, np, bits + r * WORDS);
        }
        for (ptrdiff_t j = 0; j <= np; j++) starts[j] = 0;
        for (ptrdiff_t r = 0; r < rows; r++)
            for (ptrdiff_t w = 0; w < (np + 31) / 32; w++)
                for (uint32_t b = bits[r * WORDS + w]; b; b &= b - 1) starts[w * 32 + __builtin_ctz(b) + 1]++;
        for (ptrdiff_t j = 0; j < np; j++) starts[j + 1] += starts[j];
        for (ptrdiff_t r = 0; r < rows; r++)
            for (ptrdiff_t w = 0; w < (np + 31) / 32; w++)
                for (uint32_t b = bits[r * WORDS + w]; b; b &= b - 1) members[starts[w * 32 + __builtin_ctz(b)]++] = (int32_t)r;
        // starts[j] is now panel j's end, and its start is panel j − 1's end.
        for (ptrdiff_t j = 0; j < np; j++) {
            ptrdiff_t from = j == 0 ? 0 : starts[j - 1], count = starts[j] - from;
            if (count == 0) continue;
            int32_t *list = members + from;
            ptrdiff_t p = p0 + j;
#ifdef COCOON_X86_64
            if (vectorized) {
                count = rows_bounds_avx512(it, us, list, count, p, topic, tables, has);
                rows_products_avx512(it, us, list, count, p, first, topic, tables, has, c, ldc, hot, ldh, listed);
                total += count;
                continue;
            }
#endif
            for (ptrdiff_t i = 0; i < count; i++) {
                ptrdiff_t row = list[i];
                const float *o = tables && has[row] ? tables + row * 32 : 0;
                int32_t one = (int32_t)p;
                if (!item_bounds_portable(it, us, row, p, topic, o)) continue;
                chains_portable(it, us->u + row * us->ldu, &one, 1, first, topic, o, us->roots[row], c + row * ldc,
                                hot + row * ldh, listed + row);
                total++;
            }
        }
    }
    (void)vectorized;
    return total;
}

void cocoon_second_moment(const float *v, ptrdiff_t n, ptrdiff_t d, ptrdiff_t step, double *out) {
    for (ptrdiff_t i = 0; i < d * d; i++) out[i] = 0;
    ptrdiff_t count = 0;
    for (ptrdiff_t i = 0; i < n; i += step, count++) {
        const float *row = v + i * d;
        for (ptrdiff_t x = 0; x < d; x++) {
            double vx = row[x];
            for (ptrdiff_t y = x; y < d; y++) out[x * d + y] += vx * row[y];
        }
    }
    for (ptrdiff_t x = 0; x < d; x++)
        for (ptrdiff_t y = x; y < d; y++) {
            out[x * d + y] /= (double)(count > 0 ? count : 1);
            out[y * d + x] = out[x * d + y];
        }
}
