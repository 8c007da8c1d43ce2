// Cocoon's hand-written kernels: the few inner loops where Swift on the baseline x86-64 target
// cannot express what the hardware does in one instruction (a compare mask as bits). Internal:
// only CocoonMath imports this module, and no public API exposes it.
//
// Every kernel gives the same bits whichever instruction set a machine runs it with: most only
// compare and move, the topic offsets are one addition per score, and the panel products are
// chains of fused multiply-adds in a fixed order.
#ifndef COCOON_KERNELS_H
#define COCOON_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Replaces the root of the bounded min-heap `scores`/`indices` of `n` items (the root is the
/// worst kept item: lower score, or equal score and larger index) by (score, index) and restores
/// the heap order.
void cocoon_heap_replace_root(float *scores, int32_t *indices, ptrdiff_t n, float score, int32_t index);

/// Writes the indices of the n items of the bounded min-heap `scores`/`indices` to `out`, best
/// first (higher score, then lower index), and leaves the heap's memory in an unspecified
/// order. A heap already sorted worst first (as ``cocoon_topk_offer_run`` keeps heaps of up to
/// 16 items) is read backwards; any other is popped root by root.
void cocoon_heap_drain(float *scores, int32_t *indices, ptrdiff_t n, int32_t *out);

/// Offers items `base + j` with scores `x[j]`, j in [0, n), to a heap of capacity `k` ≥ 1 that
/// holds `kept` items whose indices are all below `base`, and returns how many it holds after.
/// An item is at least `floor` to enter (NaN and -infinity never enter); while the heap has
/// room that is all, then it must also beat the root. Screens 32 scores per branch with SSE2 or
/// AVX2 (chosen at run time; with AVX2, AVX-512's compares where the CPU has AVX-512F and no test
/// forced a level). A heap of k ≤ 16 is kept sorted worst first (an order that is also
/// a heap), which an item enters without a branch per heap level; one that arrives unsorted
/// (filled by single offers) is sorted first.
ptrdiff_t cocoon_topk_offer_run(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                                ptrdiff_t kept, float floor);

/// What ``cocoon_topk_offer_run`` does for a full heap (k ≥ 1 items kept) and the run x[0, n),
/// reading only the runs of 32 items whose bit is set in `screen` (bit b % 64 of `screen[b / 64]`:
/// items 32b … min(32b + 32, n) − 1). The same heap results when every item of x that beats the
/// heap's root lies in a run whose bit is set: items that do not beat the root never enter, and
/// the root only rises as items enter.
void cocoon_topk_offer_screened(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                                const uint64_t *screen);

/// A floor for the k best of `x[0..<n)`: the k-th largest maximum of its first (up to 64)
/// chunks of 64 items — 32 or 16 when that leaves too few chunks (k chunks hold an item at least
/// that good, so no item below it is among the k best), or -infinity when there are fewer than
/// 2k chunks of 16. `scratch` holds 64 floats. NaN never counts. (With AVX-512, where the CPU
/// has it and no test forced a level: with 32 chunks or more, the same number of groups of the
/// same size rounded down to whole 16s, group 16s + l holding items 16·w·s + 16v + l for v < w
/// and w the chunk size — another partition, so another floor, and the same k best.)
float cocoon_topk_floor(const float *x, ptrdiff_t n, ptrdiff_t k, float *scratch);

/// Writes the indices j in [0, n) with `x[j] >= threshold` to `out` (room for n), ascending,
/// and returns how many. NaN is never at least the threshold. 32 values per branch with AVX2,
/// 16 with SSE2.
ptrdiff_t cocoon_scan_at_least(const float *x, ptrdiff_t n, float threshold, int32_t *out);

/// The first j in [start, n) with `x[j] > thr[topic[j]]`, or n: where a score beats its topic's
/// threshold (each topic's own top-k). `topic[j]` is in [0, g); `thr` is readable up to
/// max(g, 32) values, those past g set to +infinity. NaN never beats a threshold. 8 scores per
/// branch with AVX2 when g ≤ 32 (the thresholds sit in four registers), else one at a time.
ptrdiff_t cocoon_first_above_topic(const float *x, const int32_t *topic, ptrdiff_t start, ptrdiff_t n, const float *thr,
                                   int32_t g);

/// `x[j] = x[j] + off[topic[j]]` for j in [0, n) where that offset is not zero (a zero offset
/// leaves the score as it is, even -0): one rounding per score, the same bits whatever the
/// instruction set. `topic[j]` is in [0, g). 16 scores per step with AVX-512 when g ≤ 32 (the
/// offsets sit in two registers), 8 with AVX2 (g ≤ 32: four registers; more: a gather), else
/// one at a time.
void cocoon_add_topic_offsets(float *x, const int32_t *topic, ptrdiff_t n, const float *off, int32_t g);

/// Whether the kernels with an AVX-512 variant use it: the topic offsets (g ≤ 32), the
/// compares of ``cocoon_topk_offer_run`` and ``cocoon_topk_floor`` with AVX2, and
/// ``cocoon_row_dots`` (which has no other). True where the CPU
/// has AVX-512F and no test forced an instruction set (a forced level runs exactly that level);
/// the variants give the other kernels' results.
int cocoon_kernels_avx512(void);

/// The number of pairs (i, j) with `a[i] == b[j]`: the size of the intersection of two
/// duplicate-free sets in any order. Every pair is compared (8 elements of b at a time with
/// AVX2, 4 with SSE2), so it is for small sets (a slate, a short history).
ptrdiff_t cocoon_count_equal_pairs(const int32_t *a, ptrdiff_t na, const int32_t *b, ptrdiff_t nb);

/// Writes the n × d row-major matrix `v` as panels of 16 rows: panel p holds, dimension by
/// dimension, the 16 values `v[16p + l][x]` (l = 0 … 15), zero past row n. `out` has room for
/// ceil(n / 16) · 16 · d floats.
void cocoon_pack_panels(const float *v, ptrdiff_t n, ptrdiff_t d, float *out);

/// Whether this machine runs ``cocoon_panel_products`` with AVX-512 (the CPU has AVX-512F and
/// the operating system saves its registers).
int cocoon_panel_products_vectorized(void);

/// `c[r·ldc + j] = Σₓ u[r·ldu + x] · v[first + j][x]` for r < rows and j < width, where v is the
/// matrix that `panels` packs (``cocoon_pack_panels``) and `first` is a multiple of 16. Each
/// score is one chain of fused multiply-adds in dimension order started from zero, the same
/// bits with AVX-512 (`vectorized` ≠ 0: 12 users × 32 items a register block; only where
/// ``cocoon_panel_products_vectorized`` says so) or without (one score at a time, `fmaf`).
///
/// With `topic`, `tables` and `has` (all or none), the topic offsets of each row r with has[r] ≠ 0
/// — the 32 floats at `tables + 32r` — are added to its scores before they are stored, as
/// ``cocoon_add_topic_offsets`` adds them: `c[r·ldc + j] += tables[32r + topic[j]]` where that
/// offset is not zero. `topic` holds the topics of items first … first + width − 1 (`topic[j]` in
/// [0, 32)).
///
/// With `thr` and `screen` (both or none), the products also screen each row for its top k: the
/// items j ∈ [0, width) go in runs of 32 (run b: j = 32b …), and bit b % 64 of
/// `screen[r·words + b / 64]` (`words` ≥ ceil(width / 2048) a row) is set when a stored score of
/// row r's run b is above `thr[r]` (NaN never is). Other bits are left as they are (the caller
/// zeroes them). ``cocoon_topk_offer_screened`` then reads only the runs whose bit is set.
void cocoon_panel_products(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d, const float *panels, ptrdiff_t first,
                           ptrdiff_t width, float *c, ptrdiff_t ldc, int vectorized, const int32_t *topic,
                           const float *tables, const uint8_t *has, const float *thr, uint64_t *screen, ptrdiff_t words);

/// The d × d second moment Σ vᵢ vᵢᵀ / count of rows 0, step, 2·step, … of the n × d matrix v
/// (double precision, row-major, symmetric).
void cocoon_second_moment(const float *v, ptrdiff_t n, ptrdiff_t d, ptrdiff_t step, double *out);

/// The eigenvalues (descending, in `values`) and eigenvectors (row k of the n × n `vectors`: the
/// unit eigenvector of values[k]) of the symmetric n × n row-major matrix `a` (destroyed), by
/// cyclic Jacobi rotations. Deterministic; O(n³) a sweep.
void cocoon_symmetric_eigen(double *a, ptrdiff_t n, double *values, double *vectors);

/// For each of the n rows of the n × d matrix `v`: its coordinates along the q orthonormal rows
/// of `basis` (q × d) in `coords` (n × q, double), the length of what is left (v minus its
/// projection) rounded up to a float in `residual`, and the row's length rounded up in `norm`.
void cocoon_project_items(const float *v, ptrdiff_t n, ptrdiff_t d, const double *basis, ptrdiff_t q, double *coords,
                          float *residual, float *norm);

/// For `rows` user rows (`ldu` floats apart, d each): their coordinates `uq[r·ldq + j] = Σₓ
/// u[r][x] · basis[x·q + j]` (basis: d × q, x-major), their squared length `norm2[r]` and the
/// squared length of the coordinates `proj2[r]`, in single precision (callers allow for its
/// rounding). AVX-512 with `vectorized`, else plain C.
void cocoon_project_users(const float *u, ptrdiff_t rows, ptrdiff_t ldu, ptrdiff_t d, const float *basis, ptrdiff_t q,
                          float *uq, ptrdiff_t ldq, float *norm2, float *proj2, int vectorized);

/// The items as ``cocoon_pruned_products`` reads them: packed (``cocoon_pack_panels``) in a
/// position order that permutes items within each tile (position p holds item `ids[p]`, of the
/// same tile); `items` positions, d dimensions, q coordinates.
typedef struct {
    /// The items (full d) and their coordinates along the basis (q), packed, 64-byte aligned.
    const float *panels;
    const float *coordinatePanels;
    /// Per position: the length of the item's part outside the basis, rounded up.
    const float *residual;
    const int32_t *ids;
    /// Per panel of 16 positions, x-major (`centroids[x·centroidStride + p]`, 32 floats of room
    /// past the last panel): the mean of its coordinates; its radius about that mean and its
    /// largest residual, rounded up (zero past the last panel).
    const float *centroids;
    const float *radius;
    const float *panelResidual;
    ptrdiff_t centroidStride;
    ptrdiff_t items, d, q;
} CocoonBoundItems;

/// A block of users as ``cocoon_pruned_products`` reads them, per row r: the user (`u + r·ldu`, d
/// floats), its coordinates (`uq + r·ldq`, q floats), the length of those rounded up (`unorm`),
/// the bound on its part outside the basis (`ures`), its largest positive topic offset (`lift`,
/// 0 without), what a bound must reach (`thr`) and its heap's k-th best (`roots`).
typedef struct {
    const float *u;
    ptrdiff_t ldu;
    const float *uq;
    ptrdiff_t ldq;
    const float *unorm, *ures, *lift, *thr, *roots;
} CocoonBoundUsers;

/// The scores of a tile's items (positions `first … first + width − 1`, `first` a multiple of 16)
/// that may beat each row's threshold. For each row r, on three levels each bounding the next:
/// each panel of 16 positions whose bound (its centroid's chain with the row's coordinates, plus
/// unorm·radius, ures·panelResidual and lift) reaches thr[r]; of those, the panels with a position
/// whose bound (the chain of the coordinates, plus ures·residual, plus the topic offset as
/// ``cocoon_panel_products`` adds it; `topic` per position) reaches thr[r]; of those, the scores,
/// computed as ``cocoon_panel_products`` computes them (the same bits). Each score above roots[r]
/// (no other can enter the row's heap) is written to `c[r·ldc + id − first]` and `id − first` is
/// listed at `hot + r·ldh` (room for `width`; `listed[r]` of them, in no particular order). Other
/// scores of the row are left as they are. Returns the number of (row, panel) pairs whose scores
/// were computed. `scratch` has room for 132 · rows int32 values.
///
/// The caller's thresholds must allow for the bounds' rounding: then an item skipped scores below
/// thr[r] plus that allowance.
ptrdiff_t cocoon_pruned_products(const CocoonBoundItems *items, const CocoonBoundUsers *users, ptrdiff_t rows, ptrdiff_t first,
                                 ptrdiff_t width, float *c, ptrdiff_t ldc, const int32_t *topic, const float *tables,
                                 const uint8_t *has, int32_t *hot, ptrdiff_t ldh, ptrdiff_t *listed, int32_t *scratch,
                                 int vectorized);

/// Offers `x[j]` (item `base + j`) for each of the `count` distinct j < n listed in `list` (any
/// order), in increasing j, to a full heap of k (``cocoon_topk_offer_run``'s layout, every kept
/// index below `base`): the same selection as offering the whole run when the scores not listed
/// cannot beat the heap.
void cocoon_topk_offer_listed(const float *x, ptrdiff_t n, int64_t base, float *scores, int32_t *indices, ptrdiff_t k,
                              const int32_t *list, ptrdiff_t count);

/// `out[p] = Σₓ x[i] · rows[p][i]` for p < n (1 ≤ n ≤ 16), i < d: each one chain in dimension
/// order started from +0, a product then a sum (never a fused multiply-add) — the affinities of
/// the engine's choice step, bit for bit. With AVX-512 only (where ``cocoon_kernels_avx512``
/// says so): returns 0, having written nothing, otherwise.
int cocoon_row_dots(const float *x, const float *const *rows, int n, ptrdiff_t d, float *out);

/// Instruction sets of the kernels.
enum { COCOON_ISA_PORTABLE = 1, COCOON_ISA_SSE2 = 2, COCOON_ISA_AVX2 = 3 };

/// The instruction set the kernels use: the best this machine has (x86-64: AVX2 when the CPU
/// has it, else SSE2; elsewhere portable C), unless a test forced one.
int cocoon_kernels_isa(void);

/// Test hook: makes every kernel use `isa` (a COCOON_ISA_* value the machine supports), or the
/// machine's best again with 0. Results do not depend on it.
void cocoon_kernels_force_isa(int isa);

/// The OpenBLAS x86-64 kernel for this CPU's features, as OPENBLAS_CORETYPE names it:
/// "Cooperlake" (AVX-512 with BF16), "SkylakeX" (AVX-512 F, DQ, CD, BW, VL), "Haswell" (AVX2 and
/// FMA) or "SandyBridge" (AVX), each only when the operating system saves the registers it
/// needs; NULL for older x86 CPUs and other architectures. A choice by features alone, for CPU
/// models an OpenBLAS release does not know (0.3.21 falls back to its SSE3 Prescott kernel).
const char *cocoon_blas_core_for_cpu(void);

/// Asks the CPU to bring the `bytes` bytes at `p` into cache (a hint: never faults, changes no
/// result).
static inline void cocoon_prefetch(const void *p, ptrdiff_t bytes) {
    const char *c = (const char *)p;
    for (ptrdiff_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 3);
}

#endif
