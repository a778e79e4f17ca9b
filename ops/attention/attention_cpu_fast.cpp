// The float32 CPU fast path of attention: the formula of attention.h (steps 1–6 without dropout: scale,
// LaS α, additive bias, key mask, causal, chunk + window, band, fixed pattern), computed as a tiled
// online softmax (FlashAttention-2) beside the readable reference (attention_cpu.cpp) and the row path
// (attention_cpu_rows.cpp), which the glue keeps for dropout and for float64.
//
//   q, k, v, out, gout, gq, gk, gv: [B, H, L, D] float32; lse [B, H, L] (the per-row logsumexp, +inf for
//   a query with no included key); bias (optional) [H, L, L] shared by the batch (p.bias_batch_stride 0) or
//   [B, H, L, L], read tile by tile in the forward and again in the recomputation; gbias (optional) in the
//   bias's own shape, dbias_ij = dS_ij, fully written (zeros for pairs no tile visits). Saved for backward:
//   q, k, v, out and lse (and the caller's bias); nothing L×L exists beyond the bias and its gradient.
//
// Tiling. Queries in tiles of kBr = 64 rows, keys in tiles of kBc = 64. A key tile is transposed into a
// [D, kBc] scratch (zero-padded past the last key) so S = Q_tile·K_tileᵀ runs as a small GEMM whose
// inner loop walks 64 keys (four 16-float vectors) with 4 query rows in registers; P·V, dP·.., dS·K, dSᵀ·Q
// and Pᵀ·dO are axpys along D. Only key tiles in attention_key_range of the query tile (and query tiles in
// attention_query_range of the key tile) are visited; a tile wholly inside the structure and with no masked
// key takes the plain path, others test attention_pair_allowed per element (the fixed pattern
// alone: per-column block / summary facts, one vectorised compare per row).
// exp is a Cody–Waite range reduction and a degree-6 polynomial (fast_exp, ~2 ulp) so it vectorises
// (std::exp does not without -ffast-math); the log of the lse is std::log, once per row.
//
// Forward: one OpenMP task per (b, h, query tile): running max m, sum l and the unnormalised output O of
// its rows; out = O / l and lse = m + log l at the end. A task owns its rows of out and lse.
// Backward (recomputes P = exp(s − lse) tile by tile): Δ_i = dout_i · out_i; one OpenMP task per (b, h)
// walks key tiles in order, for each key tile the query tiles in range, and accumulates dK, dV of the key
// tile in scratch and dQ of every query row in gq: dV_j += P_ij dout_i, dS_ij = P_ij (dP_ij − Δ_i) f_ij,
// dK_j += dS_ij q_i, dq_i += dS_ij k_j. A task owns all of its (b, h), so the sums run in one fixed order and
// the results do not depend on the thread count (the price: at most B·H threads in the backward). With a
// shared bias's gradient one task per head h walks b = 0, 1, … in order and adds each dS into gbias[h]
// (the reference's order of the sum over b; at most H threads then).
// FLOPs counted as the header: 4·B·H·L·L_eff·D forward, 2.5 times that backward (the backward does exactly
// 10·D per visited pair: S, dP, dV, dK, dQ).
//
// Vectorisation (checked with -fopt-info-vec-optimized on this file, AVX-512): the GEMM key loop, the
// logit / mask / max / exp / sum loops over a key tile and the loops along D are vectorised with 64-byte
// vectors (v4/v5: the bias add, the gbias add and the fixed pattern's per-row compare too; the per-tile
// column facts of the pattern, 64 divisions, stay scalar). Two things kept the softmax scalar until fixed: std::floor (GCC vectorises it only with
// -fno-trapping-math; fast_exp rounds with ±1.5·2^23 instead) and float max / sum reductions (they need
// reassociation: `#pragma omp simd reduction`, still one fixed order per build).
//
// Version log (forward / backward GFLOP/s counted as attention.h, B 2, H 4, D 32, L 1024, full;
// tools/bench/bench_attention_cpu, medians of 5-7 alternating with the row path; the machine is shared,
// so ±30% between runs). Row path for comparison: 4.4 fwd+bwd on 2 threads.
//   v1  tiles 64×64, K transposed, 4-row register GEMM for S, P·V as row axpys:      13 / 25 (2 threads)
//   v2  one accumulate-GEMM (4 rows × D in registers) for P·V, dS·K, Pᵀ·dO, dSᵀ·Q
//       on transposed P / dS tiles; causal/chunk/band boundary rows masked by their
//       key interval instead of a per-pair test:                                       12 / 24 (2 threads; no
//       gain: perf showed the softmax loops, not the GEMMs, at the top)
//   v3  the softmax vectorised (omp simd reductions; exp without std::floor):       34 / 69 (1 thread),
//       45 / 72, 61 fwd+bwd (2 threads). Predicted: the exp loop was 16 scalar ops per
//       element, ~1/3 of the forward, so ~2× forward; measured 2.6× (1 thread).
//   At the rotary transformer's shape (B 8, H 4, L 512, D 32, 2 threads): 58 ms forward+backward, PyTorch
//   2.15 eager 166 ms, scaled_dot_product_attention 136 ms (docs/kernels.md).
//   v4  the additive bias (s += bias after the scale; dS into gbias, a shared bias's sum over b by one task
//       per head in b order) and head dim 16 compiled as a constant (the synthesizer and sparse_transformer
//       at LRA text width 64 / 4 heads have D 16, which ran the runtime-D loops). Training step
//       (OMP_NUM_THREADS=2 bench_train --device cpu --model synthesizer --length 1024 --batch 2 --width 64
//       --depth 2 --heads 4 --ffn 128 --steps 3 --warmup 1 --profile -; 3 pairs alternating main's binary
//       and this one; load 5–6 from other jobs, so only the attention rows are comparable): attention
//       backward (2 calls) 1254 → 154 ms, forward + loss 716 → 376 ms (medians); peak host 169.5 → 136.7 MB
//       (no [B, H, L, L] gradient before the sum over b). The step is now the linear backward's.
//   v5  the fixed pattern without chunk/band tested per column (block and summary of each key once per
//       tile, then one vectorised compare per row) instead of attention_pair_allowed per pair (two integer
//       divisions each, scalar). sparse_transformer, same command with --model sparse_transformer, 3 pairs:
//       attention backward main 468 / v4 238 / v5 119–146 ms (medians). Key-tile skipping for the pattern
//       gains nothing at LRA's block 50, summary 10: every 64-key tile holds summary keys (r = 0 or
//       r >= 40 of each block), which every later query sees; skipping needs the summary keys gathered.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/attention/attention.h"
#include "ops/cpu_fast_math.h"  // fast_exp

namespace lra::ops::cpu {

namespace {

constexpr int64_t kBr = 64;  // query rows per tile
constexpr int64_t kBc = 64;  // keys per tile

// Whether every pair of queries [i0, i1) and keys [j0, j1) is allowed by the structure (not the key mask).
bool tile_all_allowed(const AttentionStructure& s, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  if (s.fixed_block > 0) return false;
  if (s.causal && j1 - 1 > i0) return false;
  if (s.chunk > 0 && ((j1 - 1) / s.chunk - i0 / s.chunk > s.window || (i1 - 1) / s.chunk - j0 / s.chunk > s.window))
    return false;
  if (s.band && (j0 < i1 - 1 - s.band_left || j1 - 1 - i0 > s.band_right)) return false;
  return true;
}

// The per-call constants every tile needs.
struct Setup {
  const AttentionParams& p;
  AttentionStructure st;
  std::vector<float> decay;  // [H, L]: exp(−α_h·d) for distance d (LaS), empty without α
  float scale;
  explicit Setup(const AttentionParams& params) : p(params), st(attention_structure(params)), scale(float(params.scale)) {
    if (!p.alpha) return;
    decay.resize(size_t(p.H * p.L));
    // The reference's f = scale · exp(−α·|i − j|) in float, so both sides multiply the same factors.
    for (int64_t h = 0; h < p.H; ++h)
      for (int64_t d = 0; d < p.L; ++d) decay[size_t(h * p.L + d)] = std::exp(-float(p.alpha[h]) * float(d));
  }
};

// Kt[d][c] = K[j0 + c][d] for c < nc, 0 for nc <= c < kBc.
template <int DC>
void transpose_keys(const float* K, int64_t nc, int64_t Drt, float* Kt) {
  const int64_t D = DC ? DC : Drt;
  for (int64_t d = 0; d < D; ++d) {
    float* row = Kt + d * kBc;
    for (int64_t c = 0; c < nc; ++c) row[c] = K[c * D + d];
    for (int64_t c = nc; c < kBc; ++c) row[c] = 0.0f;
  }
}

// S[r][c] = Σ_d A[r][d] · Bt[d][c] for r < nr, c < kBc: A rows of D floats, Bt [D, kBc]. Four rows at a
// time so 16 vector accumulators stay in registers while one Bt row is loaded.
template <int DC>
void gemm_tile(const float* A, int64_t nr, const float* Bt, int64_t Drt, float* S) {
  const int64_t D = DC ? DC : Drt;
  int64_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    float acc0[kBc] = {}, acc1[kBc] = {}, acc2[kBc] = {}, acc3[kBc] = {};
    const float *a0 = A + r * D, *a1 = a0 + D, *a2 = a1 + D, *a3 = a2 + D;
    for (int64_t d = 0; d < D; ++d) {
      const float* b = Bt + d * kBc;
      const float x0 = a0[d], x1 = a1[d], x2 = a2[d], x3 = a3[d];
#pragma GCC unroll 4
      for (int64_t c = 0; c < kBc; ++c) {
        acc0[c] += x0 * b[c];
        acc1[c] += x1 * b[c];
        acc2[c] += x2 * b[c];
        acc3[c] += x3 * b[c];
      }
    }
    std::memcpy(S + r * kBc, acc0, sizeof acc0);
    std::memcpy(S + (r + 1) * kBc, acc1, sizeof acc1);
    std::memcpy(S + (r + 2) * kBc, acc2, sizeof acc2);
    std::memcpy(S + (r + 3) * kBc, acc3, sizeof acc3);
  }
  for (; r < nr; ++r) {
    float acc[kBc] = {};
    const float* a = A + r * D;
    for (int64_t d = 0; d < D; ++d) {
      const float* b = Bt + d * kBc;
      const float x = a[d];
      for (int64_t c = 0; c < kBc; ++c) acc[c] += x * b[c];
    }
    std::memcpy(S + r * kBc, acc, sizeof acc);
  }
}

// C[r][:] += Σ_t A[r·lda + t] · Bm[t][:] for r < nr, t < nt: A a tile (row stride lda), Bm and C rows of
// D floats (C's row stride D). Four rows of C at a time in registers, so each row of Bm is loaded once per
// four rows: the P·V of the forward, dS·K (dq), and with transposed tiles Pᵀ·dO (dv) and dSᵀ·Q (dk).
template <int DC>
void gemm_acc(const float* A, int64_t lda, int64_t nr, int64_t nt, const float* Bm, int64_t Drt, float* C) {
  const int64_t D = DC ? DC : Drt;
  if constexpr (DC > 0) {
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
      float c0[DC], c1[DC], c2[DC], c3[DC];
      float *o0 = C + r * D, *o1 = o0 + D, *o2 = o1 + D, *o3 = o2 + D;
      std::memcpy(c0, o0, sizeof c0);
      std::memcpy(c1, o1, sizeof c1);
      std::memcpy(c2, o2, sizeof c2);
      std::memcpy(c3, o3, sizeof c3);
      const float *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
      for (int64_t t = 0; t < nt; ++t) {
        const float* b = Bm + t * D;
        const float x0 = a0[t], x1 = a1[t], x2 = a2[t], x3 = a3[t];
        for (int64_t d = 0; d < DC; ++d) {
          c0[d] += x0 * b[d];
          c1[d] += x1 * b[d];
          c2[d] += x2 * b[d];
          c3[d] += x3 * b[d];
        }
      }
      std::memcpy(o0, c0, sizeof c0);
      std::memcpy(o1, c1, sizeof c1);
      std::memcpy(o2, c2, sizeof c2);
      std::memcpy(o3, c3, sizeof c3);
    }
    for (; r < nr; ++r) {
      float c0[DC];
      float* o0 = C + r * D;
      std::memcpy(c0, o0, sizeof c0);
      const float* a0 = A + r * lda;
      for (int64_t t = 0; t < nt; ++t) {
        const float* b = Bm + t * D;
        const float x0 = a0[t];
        for (int64_t d = 0; d < DC; ++d) c0[d] += x0 * b[d];
      }
      std::memcpy(o0, c0, sizeof c0);
    }
  } else {
    for (int64_t r = 0; r < nr; ++r) {
      float* o = C + r * D;
      const float* a = A + r * lda;
      for (int64_t t = 0; t < nt; ++t) {
        const float x = a[t];
        const float* b = Bm + t * D;
        for (int64_t d = 0; d < D; ++d) o[d] += x * b[d];
      }
    }
  }
}

// At[c][r] = A[r][c] for r < nr, c < nc (A [kBr, kBc], At [kBc, kBr]).
void transpose_tile(const float* A, int64_t nr, int64_t nc, float* At) {
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t r = 0; r < nr; ++r) At[c * kBr + r] = A[r * kBc + c];
}

// Turns the dot products S of queries [i0, i0 + nr) and keys [j0, j0 + nc) of head h in batch b into
// logits: s = (q·k)·f with f = scale (· decay[|i − j|] for LaS), −inf where the pair is excluded
// (structure, key mask, or c >= nc past the last key).
void logits_tile(const Setup& su, const float* bias, int64_t b, int64_t h, int64_t i0, int64_t nr, int64_t j0,
                 int64_t nc, float* S) {
  const AttentionParams& p = su.p;
  // The bias rows of this (b, h): s_ij += bias[(b,) h, i, j] after the scale, before the exclusions.
  const float* bias_bh = bias ? bias + b * p.bias_batch_stride + h * p.L * p.L : nullptr;
  const int32_t* mask = p.key_mask ? p.key_mask + b * p.L + j0 : nullptr;
  float kill[kBc];  // 0 for an included key, −inf for a masked one or one past the tile's end
  bool any_killed = nc < kBc;
  for (int64_t c = 0; c < kBc; ++c) {
    const bool off = c >= nc || (mask && mask[c] == 0);
    kill[c] = off ? -INFINITY : 0.0f;
    any_killed |= off;
  }
  const bool whole = tile_all_allowed(su.st, i0, i0 + nr, j0, j0 + nc);
  // The fixed pattern without chunk or band: its per-column facts once per tile (block and summary of
  // each key, shifted by the global first position), so the per-row test is a vectorised compare.
  const bool fixed_cols = su.st.fixed_block > 0 && su.st.chunk == 0 && !su.st.band;
  const int64_t g = su.st.fixed_global_first ? 1 : 0;
  int32_t cblk[kBc], csum[kBc];
  if (fixed_cols) {
    const int64_t n = su.st.fixed_block;
    for (int64_t c = 0; c < kBc; ++c) {
      const int64_t jj = j0 + c - g;
      if (jj < 0) {  // key 0 with the global first position: seen by every query
        cblk[c] = -1, csum[c] = 1;
        continue;
      }
      const int64_t r = jj % n;
      cblk[c] = int32_t(jj / n);
      csum[c] = r == 0 || r >= n - su.st.fixed_summary;
    }
  }
  const float* decay = p.alpha ? su.decay.data() + h * p.L : nullptr;
  const float scale = su.scale;
  for (int64_t r = 0; r < nr; ++r) {
    float* s = S + r * kBc;
    const int64_t i = i0 + r;
    if (decay) {
      for (int64_t c = 0; c < nc; ++c) s[c] *= scale * decay[std::abs(i - (j0 + c))];
    } else {
      for (int64_t c = 0; c < kBc; ++c) s[c] *= scale;
    }
    if (bias_bh) {
      const float* br = bias_bh + i * p.L + j0;
      for (int64_t c = 0; c < nc; ++c) s[c] += br[c];
    }
    if (any_killed)
      for (int64_t c = 0; c < kBc; ++c) s[c] += kill[c];
    if (whole) continue;
    if (fixed_cols) {
      // The fixed pattern alone (no chunk or band), per column: key jj = j − g may be seen by query
      // ii = i − g when jj <= ii and (same block or a summary key); with the global first position
      // (g = 1) row 0 sees every key and column 0 (a summary here) is seen by every row.
      if (g && i == 0) {  // (with causal as well, only key 0)
        if (su.st.causal)
          for (int64_t c = 0; c < kBc; ++c) s[c] = j0 + c > 0 ? -INFINITY : s[c];
        continue;
      }
      const int32_t ii = int32_t(i - g), bi = ii / int32_t(su.st.fixed_block);
      const int32_t jj0 = int32_t(j0 - g);
      for (int64_t c = 0; c < kBc; ++c) {
        const bool ok = jj0 + int32_t(c) <= ii && (cblk[c] == bi || csum[c] != 0);
        s[c] = ok ? s[c] : -INFINITY;
      }
    } else if (su.st.fixed_block > 0) {
      for (int64_t c = 0; c < nc; ++c)
        if (!attention_pair_allowed(su.st, i, j0 + c)) s[c] = -INFINITY;
    } else {
      // Without the fixed pattern the keys query i may see are one interval, its attention_key_range.
      int64_t lo = 0, hi = 0;
      attention_key_range(su.st, p.L, i, i + 1, &lo, &hi);
      lo -= j0, hi -= j0;
      for (int64_t c = 0; c < kBc; ++c)
        if (c < lo || c >= hi) s[c] = -INFINITY;
    }
  }
}

// One row of the backward: the logits s become P = exp(s − lse_i) in place, and dP becomes dS·scale =
// P·(dP − Δ_i)·scale in place (the LaS decay is applied by the caller). With gb (the bias gradient row
// of this query at key j0), gb[c] += dS for the nc keys of the tile: dbias_ij = dS_ij.
void probabilities_and_ds(float* __restrict s, float* __restrict dp, float lse_i, float delta_i, float scale,
                          float* __restrict gb, int64_t nc) {
  if (!gb) {
    for (int64_t c = 0; c < kBc; ++c) {
      const float pc = fast_exp(s[c] - lse_i);
      s[c] = pc;
      dp[c] = pc * (dp[c] - delta_i) * scale;
    }
    return;
  }
  for (int64_t c = 0; c < kBc; ++c) {
    const float pc = fast_exp(s[c] - lse_i);
    s[c] = pc;
    dp[c] = pc * (dp[c] - delta_i);
  }
  for (int64_t c = 0; c < nc; ++c) gb[c] += dp[c];
  for (int64_t c = 0; c < kBc; ++c) dp[c] *= scale;
}

template <int DC>
void forward_impl(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                  float* out, float* lse) {
  const int64_t L = p.L, D = DC ? DC : p.D, BH = p.B * p.H;
  const int64_t tiles = (L + kBr - 1) / kBr;
  const Setup su(p);
#pragma omp parallel
  {
    std::vector<float> Kt(size_t(D * kBc)), S(size_t(kBr * kBc)), O(size_t(kBr * D));
    float m[kBr], l[kBr];
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < BH * tiles; ++task) {
      const int64_t bh = task / tiles, b = bh / p.H, h = bh % p.H, i0 = (task % tiles) * kBr;
      const int64_t nr = std::min(kBr, L - i0), off = bh * L * D;
      const float *qb = q + off + i0 * D, *kb = k + off, *vb = v + off;
      std::fill(O.begin(), O.end(), 0.0f);
      std::fill(m, m + kBr, -INFINITY);
      std::fill(l, l + kBr, 0.0f);
      int64_t jb = 0, je = 0;
      attention_key_range(su.st, L, i0, i0 + nr, &jb, &je);
      for (int64_t j0 = jb; j0 < je; j0 += kBc) {
        const int64_t nc = std::min(kBc, je - j0);
        transpose_keys<DC>(kb + j0 * D, nc, D, Kt.data());
        gemm_tile<DC>(qb, nr, Kt.data(), D, S.data());
        logits_tile(su, bias, b, h, i0, nr, j0, nc, S.data());
        // Online softmax: the new running max, the old sum and output rescaled to it, S becomes P.
        for (int64_t r = 0; r < nr; ++r) {
          float* s = S.data() + r * kBc;
          // omp simd: the max and the sum may be taken in vector lanes (a fixed order, so still deterministic).
          float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
          for (int64_t c = 0; c < kBc; ++c) mx = std::max(mx, s[c]);
          const float m_new = std::max(m[r], mx);
          if (m_new == -INFINITY) {  // nothing included yet: P = 0
            std::fill(s, s + kBc, 0.0f);
            continue;
          }
          const float corr = fast_exp(m[r] - m_new);
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t c = 0; c < kBc; ++c) {
            s[c] = fast_exp(s[c] - m_new);
            sum += s[c];
          }
          l[r] = l[r] * corr + sum;
          m[r] = m_new;
          if (corr != 1.0f) {
            float* o = O.data() + r * D;
            for (int64_t d = 0; d < D; ++d) o[d] *= corr;
          }
        }
        gemm_acc<DC>(S.data(), kBc, nr, nc, vb + j0 * D, D, O.data());
      }
      for (int64_t r = 0; r < nr; ++r) {
        float* dst = out + off + (i0 + r) * D;
        const float* o = O.data() + r * D;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        for (int64_t d = 0; d < D; ++d) dst[d] = o[d] * inv;
        lse[bh * L + i0 + r] = l[r] > 0.0f ? m[r] + std::log(l[r]) : INFINITY;
      }
    }
  }
}

template <int DC>
void backward_impl(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                   const float* out, const float* lse, const float* gout, float* gq, float* gk, float* gv,
                   float* gbias) {
  const int64_t L = p.L, D = DC ? DC : p.D, BH = p.B * p.H;
  const Setup su(p);
  // A shared [H, L, L] bias gradient sums dS over b: then one task per head walks b = 0, 1, … in order
  // (the sum's order is fixed, as in the reference); otherwise one task per (b, h).
  const bool shared_gbias = gbias && p.bias_batch_stride == 0;
  const int64_t tasks = shared_gbias ? p.H : BH;
#pragma omp parallel
  {
    std::vector<float> Kt(size_t(D * kBc)), Vt(size_t(D * kBc)), P(size_t(kBr * kBc)), dP(size_t(kBr * kBc));
    std::vector<float> T(size_t(kBc * kBr));
    std::vector<float> dK(size_t(kBc * D)), dV(size_t(kBc * D)), delta(static_cast<size_t>(L));
    // The gradients of one (b, h); gb is its bias-gradient block [L, L] (accumulated into), or nullptr.
    auto one_head = [&](int64_t b, int64_t h, float* gb) {
      const int64_t bh = b * p.H + h, off = bh * L * D;
      const float *qb = q + off, *kb = k + off, *vb = v + off, *gob = gout + off, *ob = out + off;
      const float* lb = lse + bh * L;
      float *gqb = gq + off, *gkb = gk + off, *gvb = gv + off;
      std::fill(gqb, gqb + L * D, 0.0f);
      for (int64_t i = 0; i < L; ++i) {
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < D; ++d) s += gob[i * D + d] * ob[i * D + d];
        delta[size_t(i)] = s;
      }
      const float* decay = p.alpha ? su.decay.data() + h * L : nullptr;
      for (int64_t j0 = 0; j0 < L; j0 += kBc) {
        const int64_t nc = std::min(kBc, L - j0);
        std::fill(dK.begin(), dK.end(), 0.0f);
        std::fill(dV.begin(), dV.end(), 0.0f);
        int64_t ib = 0, ie = 0;
        attention_query_range(su.st, L, j0, j0 + nc, &ib, &ie);
        if (ie > ib) {
          transpose_keys<DC>(kb + j0 * D, nc, D, Kt.data());
          transpose_keys<DC>(vb + j0 * D, nc, D, Vt.data());
        }
        for (int64_t i0 = ib; i0 < ie; i0 += kBr) {
          const int64_t nr = std::min(kBr, ie - i0);
          gemm_tile<DC>(qb + i0 * D, nr, Kt.data(), D, P.data());
          logits_tile(su, bias, b, h, i0, nr, j0, nc, P.data());
          gemm_tile<DC>(gob + i0 * D, nr, Vt.data(), D, dP.data());
          // P = exp(s − lse); dP becomes dS·f, the gradient of q_i·k_j (and dS goes to the bias gradient).
          for (int64_t r = 0; r < nr; ++r) {
            const int64_t i = i0 + r;
            float *pr = P.data() + r * kBc, *dr = dP.data() + r * kBc;
            const float lse_i = lb[i], delta_i = delta[size_t(i)], scale = su.scale;
            probabilities_and_ds(pr, dr, lse_i, delta_i, scale, gb ? gb + i * L + j0 : nullptr, nc);
            if (decay)
              for (int64_t c = 0; c < nc; ++c) dr[c] *= decay[std::abs(i - (j0 + c))];
          }
          // dV_j += Σ_i P_ij dout_i and dK_j += Σ_i dS_ij q_i (key rows owned by this tile), dq_i += Σ_j dS_ij k_j.
          transpose_tile(P.data(), nr, nc, T.data());
          gemm_acc<DC>(T.data(), kBr, nc, nr, gob + i0 * D, D, dV.data());
          transpose_tile(dP.data(), nr, nc, T.data());
          gemm_acc<DC>(T.data(), kBr, nc, nr, qb + i0 * D, D, dK.data());
          gemm_acc<DC>(dP.data(), kBc, nr, nc, kb + j0 * D, D, gqb + i0 * D);
        }
        std::copy(dK.begin(), dK.begin() + nc * D, gkb + j0 * D);
        std::copy(dV.begin(), dV.begin() + nc * D, gvb + j0 * D);
      }
    };
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t LL = L * L;
      if (shared_gbias) {
        float* gb = gbias + task * LL;  // zeros where no b visits a pair
        std::fill(gb, gb + LL, 0.0f);
        for (int64_t b = 0; b < p.B; ++b) one_head(b, task, gb);
      } else {
        float* gb = gbias ? gbias + task * LL : nullptr;  // [B, H, L, L]: this (b, h)'s block
        if (gb) std::fill(gb, gb + LL, 0.0f);
        one_head(task / p.H, task % p.H, gb);
      }
    }
  }
}

}  // namespace

bool attention_fast_supports(const AttentionParams& p) { return p.dropout == 0.0; }

void attention_forward_fast(const AttentionParams& p, const float* q, const float* k, const float* v,
                            const float* bias, float* out, float* lse) {
  switch (p.D) {
    case 16: forward_impl<16>(p, q, k, v, bias, out, lse); break;
    case 32: forward_impl<32>(p, q, k, v, bias, out, lse); break;
    case 64: forward_impl<64>(p, q, k, v, bias, out, lse); break;
    default: forward_impl<0>(p, q, k, v, bias, out, lse); break;
  }
}

void attention_backward_fast(const AttentionParams& p, const float* q, const float* k, const float* v,
                             const float* bias, const float* out, const float* lse, const float* gout, float* gq,
                             float* gk, float* gv, float* gbias) {
  switch (p.D) {
    case 16: backward_impl<16>(p, q, k, v, bias, out, lse, gout, gq, gk, gv, gbias); break;
    case 32: backward_impl<32>(p, q, k, v, bias, out, lse, gout, gq, gk, gv, gbias); break;
    case 64: backward_impl<64>(p, q, k, v, bias, out, lse, gout, gq, gk, gv, gbias); break;
    default: backward_impl<0>(p, q, k, v, bias, out, lse, gout, gq, gk, gv, gbias); break;
  }
}

}  // namespace lra::ops::cpu
