// The float32 CPU fast path of the chunked look-one-back LSH attention (lsh.h: lsh_chunk_attention),
// beside the readable reference (lsh_cpu.cpp), which the glue keeps for float64.
//
//   q, k [R, N, d], v [R, N, dv], y / gy [R, N, dv + 1] (o and lse), gq, gk [R, N, d], gv [R, N, dv];
//   perm [R, N] and key_mask [Bm, Lm] int32 or null. Saved for backward (by the glue): q, k, v, y; the
//   backward recomputes p = exp(s − lse) from the saved lse, nothing of size N×2C is kept.
//
// Tiling. One OpenMP task per (row r, chunk c): the 2C keys of the chunk and of the one before it are
// gathered once per task into a transposed Kᵀ [d, Kp] (Kp = 2C rounded up to 16, zero-padded) and, for
// the backward, Vᵀ, K [Kp, dp] and V [Kp, dvp] (dp, dvp: d, dv rounded up to 16). The chunk's queries are
// taken in blocks of kQb = 64 rows, so the score block S [64, Kp] stays in L2 even at L 4096 (C 410). The
// products (S = Q·Kᵀ, O = P·V, dP = G·Vᵀ, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·G) are one small GEMM routine
// (gemm: 4 rows × 32 columns of accumulators, two 16-float vectors per row, the inner dimension in the
// loop), the transposed operands read through strides. The replaced-score kinds (masked key −1e9, own
// position −1e5) are computed once per task per key slot (position, masked flag) and per query (position),
// so the per-pair test is one compare in the vectorised score loop; padded slots get −inf (weight 0).
// exp is fast_exp (ops/cpu_fast_math.h, ~2 ulp, vectorises); the log of an lse is std::log, once per row.
//
// Forward: p_it = exp(s_it − m_i) / l_i (one exp per score), lse_i = m_i + log l_i, o = P·V.
// Backward: per task, D_i = G_i·o_i, dS = P ∘ (dP − D + γ)·scale (0 on replaced slots), dQ of the chunk's
// rows written directly (the task owns them); dK, dV of the 2C key slots accumulated over the query blocks
// in a fixed order, then the first C slots (the chunk's own keys) written to gk, gv of chunk c and the last
// C (the previous chunk's keys) to a scratch of the same shape at chunk c − 1. Each task owns the rows it
// writes in both; a last pass adds the scratch into gk, gv. So every element is one fixed sum (own part +
// look-back part) and the results do not depend on the thread count. With one chunk, both halves land on
// the same keys (the chunk sees itself twice), as the reference.
//
// A query whose 2C keys are all masked has lse ≈ −1e9 + log 2C, which rounds to −1e9 in float32: each key
// then gets weight 1 (not 1/2C), as in the float32 reference; the reformer's padding never masks a whole
// chunk pair at LRA's sizes.
//
// Vectorisation (checked with -fopt-info-vec-optimized on this file, AVX-512): the GEMM column loops,
// the score / replace / max / exp / sum loop and the dS loop over key slots are vectorised (64-byte vectors).
//
// Version log. tools/bench/bench_lsh_cpu (the reformer at LRA text: R 8, d = dv 16, N 1030, C 103 / N 4100,
// C 410, shared q = k, self mask and key mask; forward + backward, the two paths alternating, medians of 3-5;
// the machine is shared and was at load ≈ 5 on 2 cores during these runs, so ±50% between runs):
//   reference (scalar, one thread, std::exp, lsh_replaced per pair):  L 1024 105-160 ms; L 4096 2.3-2.5 s
//   v1  tasks (r, c), gathered K/V tiles, GEMM-tiled products, vectorised softmax, two exps per forward
//       score: L 1024, 1 thread 14.6 ms (forward 7.2)
//   v2  one exp per forward score (p = exp(s − m)/l): L 1024, 1 thread 9.5-10 ms (forward 3.2), 11-15x the
//       reference; 2 threads 50-57 ms under that load (each barrier waits for a thread the busy core
//       deschedules: 15 ms with OMP_WAIT_POLICY=passive); L 4096, 2 threads 228 ms (forward 80-90) vs
//       2.4 s, 10x. Predicted from the FLOPs (L 1024: 0.1 GFLOP forward, ~0.25 backward) at the attention
//       fast path's ~30 GFLOP/s per core: ~4 + ~8 ms on one thread; measured 3.2 + ~6.5.
//   In a training step (bench_train --model reformer, L 1024, 2 threads, interleaved, medians of 5): the
//   backward of the 2 lsh_chunk_attention calls 632 → 80 ms; at L 4096 (one run each) 18.0 → 1.5 s, the
//   step 30.7 → 2.6 s.
//   v3  FTZ/DAZ in the parallel regions (FlushDenormals). The reformer's step ran this backward 3-4x slower
//       than bench_lsh_cpu did: its logits are large (unit-size shared q = k, times √d) and its upstream
//       gradients small (~1e-4), so p·(dP − D) and the Pᵀ·G, dSᵀ·Q products are mostly subnormal, each a
//       microcode assist; the benchmark's inputs (q in ±1/d, gradients in ±1) never made one. perf put 36%
//       of the 1-thread step in gemm_block<1> (the d = 16 GEMMs of the backward). bench_lsh_cpu now
//       defaults to the step's regime (q unit variance, gradients ±1e-4). In the step (bench_train --model
//       reformer, the --small shape; load 5-7 on the 2 cores from other jobs, so absolute numbers are 2-3x a
//       quiet run's; old and new binaries interleaved, medians of 3): L 1024, 1 thread 142 → 67 ms,
//       2 threads (OMP_WAIT_POLICY=passive) 144 → 75 ms; L 2048, 1 thread 517 → 208 ms, 2 threads 521 →
//       211 ms. The profile's lsh_chunk_attention backward (2 calls, L 1024): 1 thread 46-60 → 11.4 ms,
//       2 threads 23-27 → 6.1 ms (1.9x over 1 thread: the barriers were not the problem).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>  // _mm_getcsr / _mm_setcsr
#endif

#include "ops/cpu_fast_math.h"  // fast_exp
#include "ops/lsh/lsh.h"

namespace lra::ops::cpu {

namespace {

constexpr int64_t kQb = 64;  // query rows per block
constexpr int64_t kV = 16;   // floats per vector (AVX-512)

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Flushes subnormal results and operands to zero in this thread while alive, then restores MXCSR. The
// reformer's logits are large (shared q = k of unit size, times √d: scores to ~±60), so most weights are
// e^-40..e^-100 and their products in dS, dK, dV are subnormal: without the flush each costs a microcode
// assist (~100 cycles), which made the backward 3-4x slower in the training step than in the benchmark.
// A subnormal is below 1.2e-38, far under any tolerance here.
struct FlushDenormals {
#if defined(__SSE__)
  unsigned saved = _mm_getcsr();
  FlushDenormals() { _mm_setcsr(saved | 0x8040); }  // FTZ (bit 15) | DAZ (bit 6)
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

// Out[r][n] (+)= Σ_k A(r, k) · B[k][n] for r < nr, n < ncols (a multiple of kV), A(r, k) = A[r·sr + k·sk],
// B rows of ldb floats, Out rows of ldo floats.
template <int NV>
inline void gemm_block(const float* A, int64_t sr, int64_t sk, int64_t nr, int64_t K, const float* B, int64_t ldb,
                       float* Out, int64_t ldo, bool accumulate) {
  constexpr int64_t W = NV * kV;
  if (nr == 4) {
    float a0[W] = {}, a1[W] = {}, a2[W] = {}, a3[W] = {};
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb;
      const float x0 = A[k * sk], x1 = A[sr + k * sk], x2 = A[2 * sr + k * sk], x3 = A[3 * sr + k * sk];
#pragma omp simd
      for (int64_t n = 0; n < W; ++n) {
        a0[n] += x0 * b[n];
        a1[n] += x1 * b[n];
        a2[n] += x2 * b[n];
        a3[n] += x3 * b[n];
      }
    }
    float* acc[4] = {a0, a1, a2, a3};
    for (int64_t r = 0; r < 4; ++r) {
      float* o = Out + r * ldo;
      if (accumulate) {
#pragma omp simd
        for (int64_t n = 0; n < W; ++n) o[n] += acc[r][n];
      } else {
        std::memcpy(o, acc[r], sizeof a0);
      }
    }
    return;
  }
  for (int64_t r = 0; r < nr; ++r) {
    float a[W] = {};
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb;
      const float x = A[r * sr + k * sk];
#pragma omp simd
      for (int64_t n = 0; n < W; ++n) a[n] += x * b[n];
    }
    float* o = Out + r * ldo;
    if (accumulate) {
#pragma omp simd
      for (int64_t n = 0; n < W; ++n) o[n] += a[n];
    } else {
      std::memcpy(o, a, sizeof a);
    }
  }
}

void gemm(const float* A, int64_t sr, int64_t sk, int64_t nr, int64_t K, const float* B, int64_t ldb, int64_t ncols,
          float* Out, int64_t ldo, bool accumulate) {
  for (int64_t r = 0; r < nr; r += 4) {
    const int64_t rows = std::min<int64_t>(4, nr - r);
    const float* Ar = A + r * sr;
    float* Or = Out + r * ldo;
    int64_t n = 0;
    for (; n + 2 * kV <= ncols; n += 2 * kV) gemm_block<2>(Ar, sr, sk, rows, K, B + n, ldb, Or + n, ldo, accumulate);
    if (n < ncols) gemm_block<1>(Ar, sr, sk, rows, K, B + n, ldb, Or + n, ldo, accumulate);
  }
}

// Everything a (r, c) task gathers once: key slots in the order of lsh_key_row.
struct Tile {
  int64_t Kp, dp, dvp, n2;  // n2 = 2C real slots
  std::vector<float> Kt, Vt, Kr, Vr;
  std::vector<int32_t> kpos;    // key position, or -1 without perm
  std::vector<uint8_t> kmask;   // 1: masked key (score −1e9)
  std::vector<float> S, P, dS;  // [kQb, Kp]
  std::vector<float> Qp, Gp, O, dQ;
  std::vector<float> dK, dV;  // [Kp, dp], [Kp, dvp]
  std::vector<float> lse, Dg;

  explicit Tile(const LshShape& s, bool backward) {
    n2 = 2 * s.C;
    Kp = round_up(n2, kV);
    dp = round_up(std::max<int64_t>(s.d, 1), kV);
    dvp = round_up(std::max<int64_t>(s.dv, 1), kV);
    Kt.assign(size_t(s.d * Kp), 0.0f);
    Vr.assign(size_t(Kp * dvp), 0.0f);
    kpos.assign(size_t(Kp), -1);
    kmask.assign(size_t(Kp), 0);
    S.assign(size_t(kQb * Kp), 0.0f);
    O.assign(size_t(kQb * dvp), 0.0f);
    lse.assign(size_t(kQb), 0.0f);
    if (backward) {
      Vt.assign(size_t(s.dv * Kp), 0.0f);
      Kr.assign(size_t(Kp * dp), 0.0f);
      P.assign(size_t(kQb * Kp), 0.0f);
      dS.assign(size_t(kQb * Kp), 0.0f);
      Qp.assign(size_t(kQb * dp), 0.0f);
      Gp.assign(size_t(kQb * dvp), 0.0f);
      dQ.assign(size_t(kQb * dp), 0.0f);
      dK.assign(size_t(Kp * dp), 0.0f);
      dV.assign(size_t(Kp * dvp), 0.0f);
      Dg.assign(size_t(kQb), 0.0f);
    }
  }

  // Gathers the key slots of chunk c of row r (padded slots stay zero / unmasked; their scores are −inf).
  void gather(const LshShape& s, const float* k, const float* v, const int32_t* perm, const int32_t* mask, int64_t r,
              int64_t c, bool backward) {
    const int64_t b = perm && mask ? r / (s.R / s.Bm) : 0;
    for (int64_t t = 0; t < n2; ++t) {
      const int64_t j = lsh_key_row(s, c, t);
      const float* kj = k + (r * s.N + j) * s.d;
      const float* vj = v + (r * s.N + j) * s.dv;
      for (int64_t e = 0; e < s.d; ++e) Kt[size_t(e * Kp + t)] = kj[e];
      std::copy_n(vj, s.dv, &Vr[size_t(t * dvp)]);
      if (backward) {
        std::copy_n(kj, s.d, &Kr[size_t(t * dp)]);
        for (int64_t e = 0; e < s.dv; ++e) Vt[size_t(e * Kp + t)] = vj[e];
      }
      if (perm) {
        const int64_t pj = lsh_position(s, perm, r, j);
        kpos[size_t(t)] = int32_t(pj);
        kmask[size_t(t)] = mask && (pj >= s.Lm || mask[b * s.Lm + pj] == 0) ? 1 : 0;
      }
    }
  }

  // Scores of query rows [i0, i0 + nq) of row r (global row index i0 within the row) into S, with the
  // replacements; then P = exp(S − lse) (lse given, or computed into `lse` when compute_lse).
  void scores(const LshShape& s, const float* q, const int32_t* perm, int64_t r, int64_t i0, int64_t nq,
              bool compute_lse, const float* lse_in, int64_t lse_stride, float* Pout) {
    gemm(q + (r * s.N + i0) * s.d, s.d, 1, nq, s.d, Kt.data(), Kp, Kp, S.data(), Kp, false);
    const float scale = float(s.scale), ninf = -std::numeric_limits<float>::infinity();
    const float mask_value = float(kLshMaskValue), self_value = float(kLshSelfValue);
    const bool self = perm && s.self_mask;
    const int32_t* kp = kpos.data();
    const uint8_t* km = kmask.data();
    const int64_t n2_ = n2;
    for (int64_t a = 0; a < nq; ++a) {
      float* row = &S[size_t(a * Kp)];
      const int32_t qp = self ? int32_t(lsh_position(s, perm, r, i0 + a)) : -2;
      float mx = ninf;
#pragma omp simd reduction(max : mx)
      for (int64_t t = 0; t < Kp; ++t) {
        float x = row[t] * scale;
        x = kp[t] == qp ? self_value : x;  // the masked key wins over the own position (lsh_replaced)
        x = km[t] ? mask_value : x;
        x = t < n2_ ? x : ninf;
        row[t] = x;
        mx = std::max(mx, x);
      }
      float* p = Pout + a * Kp;
      if (compute_lse) {  // p = exp(s − m) / l: one exp per score (the backward's exp(s − lse) differs by ~1 ulp)
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t t = 0; t < Kp; ++t) {
          p[t] = fast_exp(row[t] - mx);
          sum += p[t];
        }
        lse[size_t(a)] = mx + std::log(sum);
        const float inv = 1.0f / sum;
#pragma omp simd
        for (int64_t t = 0; t < Kp; ++t) p[t] *= inv;
      } else {
        const float l = lse_in[a * lse_stride];
#pragma omp simd
        for (int64_t t = 0; t < Kp; ++t) p[t] = fast_exp(row[t] - l);
      }
    }
  }
};

}  // namespace

void lsh_attention_forward_fast(const LshShape& s, const float* q, const float* k, const float* v,
                                const int32_t* perm, const int32_t* mask, float* y) {
  if (s.R * s.N == 0) return;
  const int64_t nc = s.n_chunks(), W = s.dv + 1;
#pragma omp parallel
  {
    FlushDenormals ftz;
    Tile tile(s, false);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < s.R * nc; ++task) {
      const int64_t r = task / nc, c = task % nc;
      tile.gather(s, k, v, perm, mask, r, c, false);
      for (int64_t i0 = c * s.C; i0 < (c + 1) * s.C; i0 += kQb) {
        const int64_t nq = std::min(kQb, (c + 1) * s.C - i0);
        // P overwrites S in place (the scores of a row are read before its weights are written).
        tile.scores(s, q, perm, r, i0, nq, true, nullptr, 0, tile.S.data());
        gemm(tile.S.data(), tile.Kp, 1, nq, tile.Kp, tile.Vr.data(), tile.dvp, tile.dvp, tile.O.data(), tile.dvp,
             false);
        for (int64_t a = 0; a < nq; ++a) {
          float* yi = y + (r * s.N + i0 + a) * W;
          std::copy_n(&tile.O[size_t(a * tile.dvp)], s.dv, yi);
          yi[s.dv] = tile.lse[size_t(a)];
        }
      }
    }
  }
}

void lsh_attention_backward_fast(const LshShape& s, const float* q, const float* k, const float* v,
                                 const int32_t* perm, const int32_t* mask, const float* y, const float* gy, float* gq,
                                 float* gk, float* gv) {
  if (s.R * s.N == 0) return;
  const int64_t nc = s.n_chunks(), W = s.dv + 1, C = s.C;
  // The look-back halves: slot C + u of chunk c is key row u of chunk c − 1 (mod nc).
  std::vector<float> sk(size_t(s.R * s.N * s.d)), sv(size_t(s.R * s.N * s.dv));
  const float scale = float(s.scale);
#pragma omp parallel
  {
    FlushDenormals ftz;
    Tile tile(s, true);
    const int64_t Kp = tile.Kp, dp = tile.dp, dvp = tile.dvp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < s.R * nc; ++task) {
      const int64_t r = task / nc, c = task % nc;
      tile.gather(s, k, v, perm, mask, r, c, true);
      bool first = true;
      for (int64_t i0 = c * C; i0 < (c + 1) * C; i0 += kQb) {
        const int64_t nq = std::min(kQb, (c + 1) * C - i0);
        const float* yb = y + (r * s.N + i0) * W;
        const float* gb = gy + (r * s.N + i0) * W;
        tile.scores(s, q, perm, r, i0, nq, false, yb + s.dv, W, tile.P.data());
        // Padded copies of the block's q and G (rows beyond nq are not read: the GEMMs run nq rows / terms).
        for (int64_t a = 0; a < nq; ++a) {
          std::copy_n(q + (r * s.N + i0 + a) * s.d, s.d, &tile.Qp[size_t(a * dp)]);
          std::copy_n(gb + a * W, s.dv, &tile.Gp[size_t(a * dvp)]);
          float D = 0.0f;
          for (int64_t e = 0; e < s.dv; ++e) D += gb[a * W + e] * yb[a * W + e];
          tile.Dg[size_t(a)] = D - gb[a * W + s.dv];  // D_i − γ_i
        }
        // dP = G·Vᵀ into S.
        gemm(tile.Gp.data(), dvp, 1, nq, s.dv, tile.Vt.data(), Kp, Kp, tile.S.data(), Kp, false);
        const int32_t* kp = tile.kpos.data();
        const uint8_t* km = tile.kmask.data();
        const bool self = perm && s.self_mask;
        for (int64_t a = 0; a < nq; ++a) {
          const float* p = &tile.P[size_t(a * Kp)];
          const float* dp_row = &tile.S[size_t(a * Kp)];
          float* ds = &tile.dS[size_t(a * Kp)];
          const float Dg = tile.Dg[size_t(a)];
          const int32_t qp = self ? int32_t(lsh_position(s, perm, r, i0 + a)) : -2;
#pragma omp simd
          for (int64_t t = 0; t < Kp; ++t) {
            const float x = p[t] * (dp_row[t] - Dg) * scale;
            ds[t] = km[t] || kp[t] == qp ? 0.0f : x;  // a replaced score is a constant (padded slots: p = 0)
          }
        }
        // dQ = dS·K (rows of the block, owned by this task).
        gemm(tile.dS.data(), Kp, 1, nq, Kp, tile.Kr.data(), dp, dp, tile.dQ.data(), dp, false);
        for (int64_t a = 0; a < nq; ++a) std::copy_n(&tile.dQ[size_t(a * dp)], s.d, gq + (r * s.N + i0 + a) * s.d);
        // dK += dSᵀ·Q, dV += Pᵀ·G over the key slots (in block order: a fixed sum).
        gemm(tile.dS.data(), 1, Kp, tile.n2, nq, tile.Qp.data(), dp, dp, tile.dK.data(), dp, !first);
        gemm(tile.P.data(), 1, Kp, tile.n2, nq, tile.Gp.data(), dvp, dvp, tile.dV.data(), dvp, !first);
        first = false;
      }
      const int64_t prev = (c + nc - 1) % nc;
      for (int64_t u = 0; u < C; ++u) {
        std::copy_n(&tile.dK[size_t(u * dp)], s.d, gk + (r * s.N + c * C + u) * s.d);
        std::copy_n(&tile.dV[size_t(u * dvp)], s.dv, gv + (r * s.N + c * C + u) * s.dv);
        std::copy_n(&tile.dK[size_t((C + u) * dp)], s.d, &sk[size_t((r * s.N + prev * C + u) * s.d)]);
        std::copy_n(&tile.dV[size_t((C + u) * dvp)], s.dv, &sv[size_t((r * s.N + prev * C + u) * s.dv)]);
      }
    }
    const int64_t nk = s.R * s.N * s.d, nv = s.R * s.N * s.dv;
#pragma omp for simd schedule(static)
    for (int64_t x = 0; x < nk; ++x) gk[x] += sk[size_t(x)];
#pragma omp for simd schedule(static)
    for (int64_t x = 0; x < nv; ++x) gv[x] += sv[size_t(x)];
  }
}

}  // namespace lra::ops::cpu
