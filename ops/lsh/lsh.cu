// CUDA LSH hashing and chunked look-one-back attention (formulas in lsh.h), float32.
//
// lsh_buckets: a thread per (r, round, t) scans the 2h values [x, −x] for the first maximum.
// Attention, q, k [R, N, d], v [R, N, dv], y [R, N, dv + 1]; a warp per row, the row's d (dv) values
// spread over the lanes (lane l holds channels l, l + 32, ...: at most 8 per lane, d, dv <= 256).
//   forward    warp per query row i: for each of its 2C keys (own chunk, then the previous one) the
//              score by a warp-shuffle dot product, an online softmax (running max m, sum l, and the
//              lane's slice of Σ p·v rescaled when m grows); writes o = acc/l and lse = m + log l.
//   backward   two passes, no atomics (deterministic):
//              1. warp per query row i: D_i = G_i·o_i (kept in scratch [R·N]); for each key j of its
//                 list p = exp(s − lse_i), dS = p·(G_i·v_j − D_i + γ_i); ∂q_i = scale·Σ dS·k_j.
//              2. warp per key row j of chunk c: the queries whose lists hold j are those of chunk c
//                 and of chunk (c + 1) mod n_chunks (with one chunk, chunk c twice: j sits in both
//                 halves of every list); recompute s, p, dS there and sum ∂k_j = scale·Σ dS·q_i,
//                 ∂v_j = Σ p·G_i.
//   Scores are recomputed, never stored: memory is y and one float per row. Replaced scores (masked
//   key −1e9, own position −1e5) are constants: they enter p but give no ∂q, ∂k.
// Cost: forward 2C·(d + dv) multiply-adds per row plus a 5-step shuffle reduction per key; each
// backward pass about 2C·(2d + 2dv). The naive form (a thread per row) is the CPU loop; this warp form
// is v1, chosen so that a row's d values are read coalesced.
// Empty extents: the glue returns before calling when R·N == 0 (y is empty, gradients zeros).
// Version log: v1 warp per row, online softmax forward; query pass + key pass backward.
#include <cmath>

#include "engine/cuda.h"
#include "ops/lsh/lsh.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr int kPerLane = int(kLshMaxHeadDim / 32);

__device__ __forceinline__ float warp_sum(float x) {
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

// Loads row `row` of a [*, n] matrix (n <= 256) into the lane's slice.
__device__ __forceinline__ void load_row(const float* base, int64_t n, int lane, float (&out)[kPerLane]) {
#pragma unroll
  for (int u = 0; u < kPerLane; ++u) {
    const int64_t e = lane + 32 * u;
    out[u] = e < n ? base[e] : 0.0f;
  }
}

__device__ __forceinline__ float dot_row(const float (&a)[kPerLane], const float* b, int64_t n, int lane) {
  float acc = 0.0f;
#pragma unroll
  for (int u = 0; u < kPerLane; ++u) {
    const int64_t e = lane + 32 * u;
    if (e < n) acc += a[u] * b[e];
  }
  return warp_sum(acc);
}

__device__ __forceinline__ float score(const LshShape& s, int kind, float dot) {
  return kind == 1 ? float(kLshMaskValue) : kind == 2 ? float(kLshSelfValue) : float(s.scale) * dot;
}

__global__ void lsh_buckets_kernel(const float* rot, int32_t* buckets, int64_t R, int64_t L, int64_t n_hashes,
                                   int64_t h) {
  const int64_t total = R * n_hashes * L;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = k % L, a = (k / L) % n_hashes, r = k / (L * n_hashes);
    const float* x = rot + (r * L + t) * n_hashes * h + a * h;
    int64_t best = 0;
    float best_value = x[0];
    for (int64_t i = 1; i < 2 * h; ++i) {
      const float value = i < h ? x[i] : -x[i - h];
      if (value > best_value) best = i, best_value = value;
    }
    buckets[k] = int32_t(a * 2 * h + best);  // k = r·(n_hashes·L) + a·L + t
  }
}

__global__ void lsh_forward_kernel(LshShape s, const float* q, const float* k, const float* v, const int32_t* perm,
                                   const int32_t* mask, float* y) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t w = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32; w < s.R * s.N; w += warps) {
    const int64_t r = w / s.N, i = w % s.N, c = i / s.C;
    float qi[kPerLane], acc[kPerLane];
    load_row(q + w * s.d, s.d, lane, qi);
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) acc[u] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int64_t t = 0; t < 2 * s.C; ++t) {
      const int64_t j = r * s.N + lsh_key_row(s, c, t);
      const float sc = score(s, lsh_replaced(s, perm, mask, r, i, j - r * s.N), dot_row(qi, k + j * s.d, s.d, lane));
      const float m_new = fmaxf(m, sc);
      const float corr = expf(m - m_new), p = expf(sc - m_new);
      l = l * corr + p;
      const float* vj = v + j * s.dv;
#pragma unroll
      for (int u = 0; u < kPerLane; ++u) {
        const int64_t e = lane + 32 * u;
        acc[u] = acc[u] * corr + (e < s.dv ? p * vj[e] : 0.0f);
      }
      m = m_new;
    }
    float* yi = y + w * (s.dv + 1);
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t e = lane + 32 * u;
      if (e < s.dv) yi[e] = acc[u] / l;
    }
    if (lane == 0) yi[s.dv] = m + logf(l);
  }
}

__global__ void lsh_backward_query_kernel(LshShape s, const float* q, const float* k, const float* v,
                                          const int32_t* perm, const int32_t* mask, const float* y, const float* gy,
                                          float* gq, float* Dbuf) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock, W = s.dv + 1;
  for (int64_t w = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32; w < s.R * s.N; w += warps) {
    const int64_t r = w / s.N, i = w % s.N, c = i / s.C;
    float qi[kPerLane], gi[kPerLane], dq[kPerLane];
    load_row(q + w * s.d, s.d, lane, qi);
    load_row(gy + w * W, s.dv, lane, gi);
    const float lse = y[w * W + s.dv], glse = gy[w * W + s.dv];
    const float D = dot_row(gi, y + w * W, s.dv, lane);
    if (lane == 0) Dbuf[w] = D;
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) dq[u] = 0.0f;
    for (int64_t t = 0; t < 2 * s.C; ++t) {
      const int64_t j = r * s.N + lsh_key_row(s, c, t);
      const int kind = lsh_replaced(s, perm, mask, r, i, j - r * s.N);
      if (kind != 0) continue;  // constant score: no gradient to q
      const float* kj = k + j * s.d;
      const float p = expf(score(s, kind, dot_row(qi, kj, s.d, lane)) - lse);
      const float ds = p * (dot_row(gi, v + j * s.dv, s.dv, lane) - D + glse) * float(s.scale);
#pragma unroll
      for (int u = 0; u < kPerLane; ++u) {
        const int64_t e = lane + 32 * u;
        if (e < s.d) dq[u] += ds * kj[e];
      }
    }
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t e = lane + 32 * u;
      if (e < s.d) gq[w * s.d + e] = dq[u];
    }
  }
}

__global__ void lsh_backward_key_kernel(LshShape s, const float* q, const float* k, const float* v,
                                        const int32_t* perm, const int32_t* mask, const float* y, const float* gy,
                                        const float* Dbuf, float* gk, float* gv) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock, W = s.dv + 1, nc = s.n_chunks();
  for (int64_t w = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32; w < s.R * s.N; w += warps) {
    const int64_t r = w / s.N, j = w % s.N, c = j / s.C;
    float kj[kPerLane], vj[kPerLane], dk[kPerLane], dv[kPerLane];
    load_row(k + w * s.d, s.d, lane, kj);
    load_row(v + w * s.dv, s.dv, lane, vj);
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) dk[u] = dv[u] = 0.0f;
    for (int pass = 0; pass < 2; ++pass) {  // queries of chunk c (own), then of chunk c + 1 (look-back)
      const int64_t qc = pass == 0 ? c : (c + 1) % nc;
      for (int64_t a = 0; a < s.C; ++a) {
        const int64_t i = qc * s.C + a, row = r * s.N + i;
        const int kind = lsh_replaced(s, perm, mask, r, i, j);
        const float* qi = q + row * s.d;
        const float* gi = gy + row * W;
        const float p = expf(score(s, kind, dot_row(kj, qi, s.d, lane)) - y[row * W + s.dv]);
        const float dp = dot_row(vj, gi, s.dv, lane);
        const float ds = kind != 0 ? 0.0f : p * (dp - Dbuf[row] + gi[s.dv]) * float(s.scale);
#pragma unroll
        for (int u = 0; u < kPerLane; ++u) {
          const int64_t e = lane + 32 * u;
          if (e < s.dv) dv[u] += p * gi[e];
          if (e < s.d) dk[u] += ds * qi[e];
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kPerLane; ++u) {
      const int64_t e = lane + 32 * u;
      if (e < s.d) gk[w * s.d + e] = dk[u];
      if (e < s.dv) gv[w * s.dv + e] = dv[u];
    }
  }
}

unsigned warp_blocks(int64_t rows) { return blocks_for(rows * 32, kThreads); }

}  // namespace

void lsh_buckets(const float* rot, int32_t* buckets, int64_t R, int64_t L, int64_t n_hashes, int64_t h) {
  const int64_t total = R * n_hashes * L;
  if (total == 0) return;
  lsh_buckets_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(rot, buckets, R, L, n_hashes, h);
  LRA_KERNEL_CHECK();
}

void lsh_attention_forward(const LshShape& s, const float* q, const float* k, const float* v, const int32_t* perm,
                           const int32_t* mask, float* y) {
  if (s.R * s.N == 0) return;
  lsh_forward_kernel<<<warp_blocks(s.R * s.N), kThreads, 0, stream()>>>(s, q, k, v, perm, mask, y);
  LRA_KERNEL_CHECK();
}

void lsh_attention_backward(const LshShape& s, const float* q, const float* k, const float* v, const int32_t* perm,
                            const int32_t* mask, const float* y, const float* gy, float* gq, float* gk, float* gv,
                            float* scratch) {
  if (s.R * s.N == 0) return;
  lsh_backward_query_kernel<<<warp_blocks(s.R * s.N), kThreads, 0, stream()>>>(s, q, k, v, perm, mask, y, gy, gq,
                                                                               scratch);
  LRA_KERNEL_CHECK();
  lsh_backward_key_kernel<<<warp_blocks(s.R * s.N), kThreads, 0, stream()>>>(s, q, k, v, perm, mask, y, gy, scratch,
                                                                             gk, gv);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
