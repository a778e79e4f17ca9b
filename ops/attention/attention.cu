// CUDA attention, float32: a FlashAttention-style tiled forward with an online softmax, and the
// FlashAttention-2 backward by recomputation. No L×L matrix is ever stored. Semantics (logit order,
// masking, chunks, LaS decay, bias, empty rows) are in attention.h; attention_cpu.cpp is the spec.
//
// Shapes: q, k, v, out, dq, dk, dv [B, H, L, D] with D in {32, 64, 128} (template instances, picked
// by a switch); lse and delta [B, H, L]; bias [H, L, L] or [B, H, L, L]; dbias [B, H, L, L].
//
// Tiling (all three kernels the same shape of work): a block of 4 warps owns 32 rows (queries in the
// forward and dq kernels, keys in the dk/dv kernel), 8 rows per warp, with that row's accumulators in
// registers, lane l holding columns l, l + 32, ... (D/32 of them). The block streams the other side in
// tiles of 32 rows staged in shared memory; within a tile lane l handles streamed row l, so a score
// row of 32 is one value per lane and row max / sum are warp shuffles. Accumulating P·V (or dS·K ...)
// broadcasts each lane's weight with __shfl_sync. Streamed rows that lanes read whole are stored with
// a row stride of D + 1 floats, so lane l reading row l, column c hits bank (l + c) % 32: no conflicts.
// Only the streamed tiles that intersect attention_key_range / attention_query_range (causal, chunk,
// window, band, fixed pattern) are visited; the exact (i, j) test is applied per element.
//
// Forward: per query row, running max m and sum l; for each key tile: m' = max(m, tile max),
// o = o·exp(m − m') + Σ_j exp(s_ij − m')·M_ij·v_j, l = l·exp(m − m') + Σ_j exp(s_ij − m') (no M: the
// normaliser is undropped); finally out = o / l and lse = m + log l
// (+inf for a row with no included key, so exp(s − lse) = 0 in the backward and the row's out is 0).
// Backward: delta_i = dout_i · out_i (one warp per row); then
//   dk/dv kernel: a block per (b, h, 32 keys) streams query tiles: P_ij = exp(s_ij − lse_i),
//     dS_ij = P_ij (M_ij dout_i · v_j − delta_i), dv_j += P_ij M_ij dout_i, dk_j += dS_ij f_ij q_i (and
//     dbias_ij = dS_ij), M_ij the dropout multiplier (1 without dropout);
//   dq kernel: a block per (b, h, 32 queries) streams key tiles: dq_i += dS_ij f_ij k_j.
//   A separate dq pass (not atomicAdd) keeps the backward deterministic.
// Dropout (options.dropout = p > 0): the multiplier M_ij = Z_ij/(1 − p) is recomputed from Philox
// wherever a weight is formed (the forward and both backward kernels), so nothing about the mask is
// stored; delta = dout·out needs no change, since out already holds the dropped weights. Each Philox
// block serves the 4 weights it holds (attention_dropout.h): in the forward and dq kernels a warp draws
// its tile's blocks once per tile (2 passes, 3 when L % 4 != 0) and each row takes its flags with a
// shuffle (row_keep_scale); in the dk/dv kernel each lane draws the blocks of its 8 consecutive keys.
// Saved for backward: q, k, v, out and lse (and the scalars p, seed, offset).
// FLOPs: forward 4·L·L_eff·D per (b, h) (L_eff = keys in range per query); backward 10·L·L_eff·D (two
// recomputations of QKᵀ, dO·Vᵀ twice, three accumulations). Bytes: q and out once, k and v once per
// query tile: 4·(2·L·D + 2·L·D·L_eff/32) per (b, h) forward; the backward about 3 times that.
//
// Version log: v1 readable float32 kernels (4 warps × 8 rows, streamed 32-row tiles, separate dq pass).
//   v1 + dropout: one Philox4x32-10 per weight (lane j uses one word of its own block: 3 of the 4
//   words go unused). Not yet measured; if it shows, the next step is one block per 4 weights.
//   v1.1 one Philox block per 4 weights (attention_dropout.h), the same mask bit for bit: per tile and
//   warp 8 Philox passes become 2 (3 when L % 4 != 0) in every kernel, and the word is picked with a
//   shift instead of .v[e % 4], whose runtime index kept the block in a 16-byte stack frame (4 local
//   stores and a load per row). ptxas -v, sm_90, CUDA 13: stack frame 16 → 0 bytes and ld/st.local
//   40 → 0 in all 9 kernels; registers (forward / dk,dv / dq) D = 32: 96/95/96 → 128/126/126,
//   D = 64: 126/127/126 → 128/126/126, D = 128: 128/165/128 → 128/168/128. At D = 32 that is 4
//   blocks an SM instead of 5 (by registers); v1 with dropout compiled out already took 112/96/126
//   there, so the count follows ptxas's scheduling more than the draw. Timing needs a GPU: not
//   measured yet.
//   v1.2 the structure travels as one AttentionStructure (attention.h) and gains a token band
//   (i − a <= j <= i + b: the key / query tile ranges shrink to the band, O(L·(a + b)) work) and the
//   Sparse Transformer fixed pattern (causal ranges; with its global first position query 0 keeps
//   every key tile and the dk/dv pass every query tile). Kernel bodies unchanged otherwise. Not timed.
#include <cmath>

#include "engine/cuda.h"
#include "engine/base.h"
#include "ops/attention/attention.h"
#include "ops/attention/attention_dropout.h"
#include "ops/cuda_reduce.cuh"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRowsPerWarp = 8;
constexpr int kOwnRows = kWarps * kRowsPerWarp;  // rows a block owns (queries, or keys in dk/dv)
constexpr int kStreamRows = 32;                  // rows per streamed tile: one per lane
constexpr unsigned kFull = 0xffffffffu;
static_assert(kRowsPerWarp == kAttentionDropRows, "attention_drop_share draws for a warp's rows");

// The kernels' copy of AttentionParams: float scale and α by value (α is a host array in the API).
struct Params {
  int64_t B, H, L;
  float scale;
  AttentionStructure structure;  // causal, chunk, window, band, fixed pattern
  const int32_t* key_mask;  // [B, L] or nullptr
  const float* bias;        // nullptr or bias of (b, h) at b·bias_batch_stride + h·L·L
  int64_t bias_batch_stride;
  bool has_alpha;
  float alpha[kAttentionMaxAlphaHeads];
  bool dropout;               // p > 0
  uint32_t drop_threshold;    // attention_dropout_threshold(p)
  float inv_keep;             // 1 / (1 − p), the multiplier of a kept weight
  uint64_t drop_seed, drop_offset;
  uint64_t drop_first;        // the stream index of weight (0, 0, 0, 0) (batch window; attention.h)
};

Params make_params(const AttentionParams& p, const float* bias) {
  LRA_CHECK(!p.alpha || p.H <= kAttentionMaxAlphaHeads, "attention: the CUDA kernels take LaS α for at most ",
            kAttentionMaxAlphaHeads, " heads, got H = ", p.H);
  Params k{};
  k.B = p.B;
  k.H = p.H;
  k.L = p.L;
  k.scale = float(p.scale);
  k.structure = attention_structure(p);
  k.key_mask = p.key_mask;
  k.bias = bias;
  k.bias_batch_stride = p.bias_batch_stride;
  k.has_alpha = p.alpha != nullptr;
  for (int64_t h = 0; k.has_alpha && h < p.H; ++h) k.alpha[h] = p.alpha[h];
  k.dropout = p.dropout > 0.0;
  k.drop_threshold = attention_dropout_threshold(p.dropout);
  k.inv_keep = float(1.0 / (1.0 - p.dropout));
  k.drop_seed = p.dropout_seed;
  k.drop_offset = p.dropout_offset;
  k.drop_first = p.dropout_first;
  return k;
}

// The dropout flags a warp of the forward or dq kernel draws for one tile (attention_dropout.h): its 8
// query rows from i_w, keys j0 ... j0 + 31; weight (i, j) is e = drop_first + ((b·H + h)·L + i)·L + j.
// Rows or keys past L get flags too (their weight is 0 anyway). 0 without dropout.
__device__ __forceinline__ uint64_t drop_row0(const Params& p, int64_t bh, int64_t i_w, int64_t j0) {
  return p.drop_first + uint64_t((bh * p.L + i_w) * p.L + j0);
}
__device__ __forceinline__ uint32_t draw_row_flags(const Params& p, uint64_t row0, int lane) {
  return p.dropout ? attention_drop_share(p.drop_seed, p.drop_offset, p.drop_threshold, row0, uint64_t(p.L), lane)
                   : 0u;
}

// The dropout multiplier M_ij of this lane's weight in row r of the warp's tile: 0 if dropped, 1/(1 − p)
// if kept, 1 without dropout. A shuffle: every lane of the warp calls it.
__device__ __forceinline__ float row_keep_scale(const Params& p, uint32_t share, uint64_t row0, int r, int lane) {
  if (!p.dropout) return 1.0f;
  int src, bit;
  attention_drop_locate(int(row0 % 4), int(p.L % 4), r, lane, &src, &bit);
  return (__shfl_sync(kFull, share, src) >> bit) & 1u ? 0.0f : p.inv_keep;
}

// The logit s_ij given qk = q_i · k_j (−inf when (i, j) is excluded or j >= L), and in *f the factor
// f_ij = scale · exp(−α|i−j|) with which s_ij depends on qk. Same order as the CPU reference.
__device__ __forceinline__ float logit(const Params& p, int64_t b, int64_t h, int64_t i, int64_t j, float qk,
                                       float* f) {
  *f = p.scale;
  if (i >= p.L || j >= p.L || !attention_pair_allowed(p.structure, i, j)) return -INFINITY;
  if (p.key_mask && p.key_mask[b * p.L + j] == 0) return -INFINITY;
  int64_t dist = i > j ? i - j : j - i;
  if (p.has_alpha) *f *= expf(-p.alpha[h] * float(dist));
  float s = qk * *f;
  if (p.bias) s += p.bias[b * p.bias_batch_stride + (h * p.L + i) * p.L + j];
  return s;
}

// Copies rows [r0, r0 + n) of the [L, D] matrix src into dst with row stride `stride`; rows past L
// become 0. Every thread of the block takes part.
template <int D>
__device__ void stage_rows(float* dst, int stride, const float* src, int64_t r0, int n, int64_t L) {
  for (int e = threadIdx.x; e < n * D; e += kThreads) {
    int r = e / D, c = e % D;
    dst[r * stride + c] = r0 + r < L ? src[(r0 + r) * D + c] : 0.0f;
  }
}

// ---- forward ---------------------------------------------------------------------------------------

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(Params p, const float* q, const float* k, const float* v, float* out, float* lse) {
  constexpr int DL = D / 32;  // columns per lane
  extern __shared__ float smem[];
  float* sq = smem;                          // [kOwnRows][D]        rows read by the whole warp (broadcast)
  float* sk = sq + kOwnRows * D;             // [kStreamRows][D + 1] lane l reads row l
  float* sv = sk + kStreamRows * (D + 1);    // [kStreamRows][D]     lane l reads column l (+32...)
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = int64_t(blockIdx.y) * kOwnRows, i1 = min(i0 + kOwnRows, p.L);
  const int64_t base = bh * p.L * D;  // (b, h) offset into q, k, v, out
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

  stage_rows<D>(sq, D, q + base, i0, kOwnRows, p.L);
  float o[kRowsPerWarp][DL], m[kRowsPerWarp], l[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < DL; ++c) o[r][c] = 0.0f;
  }

  int64_t j_begin, j_end;
  attention_key_range(p.structure, p.L, i0, i1, &j_begin, &j_end);
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kStreamRows) {
    __syncthreads();  // the previous tile is consumed
    stage_rows<D>(sk, D + 1, k + base, j0, kStreamRows, p.L);
    stage_rows<D>(sv, D, v + base, j0, kStreamRows, p.L);
    __syncthreads();
    const int64_t j = j0 + lane;
    const uint64_t row0 = drop_row0(p, bh, i0 + warp * kRowsPerWarp, j0);
    const uint32_t drop = draw_row_flags(p, row0, lane);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp * kRowsPerWarp + r;
      const int64_t i = i0 + row;
      if (i >= p.L) continue;  // warp-uniform
      float qk = 0.0f;
#pragma unroll 8
      for (int c = 0; c < D; ++c) qk += sq[row * D + c] * sk[lane * (D + 1) + c];
      float f;
      const float s = logit(p, b, h, i, j, qk, &f);
      const float m_new = fmaxf(m[r], warp_reduce(s, Max{}));
      if (m_new == -INFINITY) continue;  // nothing included in this row so far (warp-uniform)
      const float correction = expf(m[r] - m_new);  // 0 when m[r] is still −inf
      const float pj = expf(s - m_new);             // 0 for excluded keys
      l[r] = l[r] * correction + warp_reduce(pj, Sum{});  // the normaliser: undropped weights
      m[r] = m_new;
      const float pz = pj * row_keep_scale(p, drop, row0, r, lane);  // what reaches P·V: the dropped weight
#pragma unroll
      for (int c = 0; c < DL; ++c) o[r][c] *= correction;
      for (int jj = 0; jj < kStreamRows; ++jj) {
        const float w = __shfl_sync(kFull, pz, jj);
#pragma unroll
        for (int c = 0; c < DL; ++c) o[r][c] += w * sv[jj * D + lane + 32 * c];
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    if (i >= p.L) continue;
    const bool empty = m[r] == -INFINITY;  // no included key: out = 0, lse = +inf
    const float inv = empty ? 0.0f : 1.0f / l[r];
#pragma unroll
    for (int c = 0; c < DL; ++c) out[base + i * D + lane + 32 * c] = o[r][c] * inv;
    if (lane == 0) lse[bh * p.L + i] = empty ? INFINITY : m[r] + logf(l[r]);
  }
}

// ---- backward --------------------------------------------------------------------------------------

// delta[row] = dout[row] · out[row] over D, a warp per row.
__global__ void attention_delta_kernel(const float* out, const float* gout, float* delta, int64_t rows, int64_t D) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps
  float acc = 0.0f;
  for (int64_t c = lane; c < D; c += 32) acc += out[row * D + c] * gout[row * D + c];
  acc = warp_reduce(acc, Sum{});
  if (lane == 0) delta[row] = acc;
}

// A block per (b, h, 32 keys); streams query tiles. Writes dk, dv (and dbias where given).
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_backward_dkdv_kernel(Params p, const float* q, const float* k, const float* v, const float* gout,
                                   const float* lse, const float* delta, float* gk, float* gv, float* gbias) {
  constexpr int DL = D / 32;
  extern __shared__ float smem[];
  float* sk = smem;                             // [kOwnRows][D]        broadcast reads
  float* sv = sk + kOwnRows * D;                // [kOwnRows][D]
  float* sq = sv + kOwnRows * D;                // [kStreamRows][D + 1] lane l reads row l, and columns
  float* sdo = sq + kStreamRows * (D + 1);      // [kStreamRows][D + 1]
  float* slse = sdo + kStreamRows * (D + 1);    // [kStreamRows]
  float* sdelta = slse + kStreamRows;           // [kStreamRows]
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int64_t j0 = int64_t(blockIdx.y) * kOwnRows, j1 = min(j0 + kOwnRows, p.L);
  const int64_t base = bh * p.L * D;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

  stage_rows<D>(sk, D, k + base, j0, kOwnRows, p.L);
  stage_rows<D>(sv, D, v + base, j0, kOwnRows, p.L);
  float dk[kRowsPerWarp][DL], dv[kRowsPerWarp][DL];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int c = 0; c < DL; ++c) dk[r][c] = dv[r][c] = 0.0f;

  int64_t i_begin, i_end;
  attention_query_range(p.structure, p.L, j0, j1, &i_begin, &i_end);
  for (int64_t t0 = i_begin; t0 < i_end; t0 += kStreamRows) {
    __syncthreads();
    stage_rows<D>(sq, D + 1, q + base, t0, kStreamRows, p.L);
    stage_rows<D>(sdo, D + 1, gout + base, t0, kStreamRows, p.L);
    if (threadIdx.x < kStreamRows) {
      const int64_t i = t0 + threadIdx.x;
      slse[threadIdx.x] = i < p.L ? lse[bh * p.L + i] : INFINITY;  // +inf: P = 0
      sdelta[threadIdx.x] = i < p.L ? delta[bh * p.L + i] : 0.0f;
    }
    __syncthreads();
    const int64_t i = t0 + lane;
    // Dropout flags of this lane's 8 consecutive weights (i, j0 + 8·warp + r): bit r (attention_dropout.h).
    const uint64_t e0 = p.drop_first + uint64_t((bh * p.L + i) * p.L + j0 + warp * kRowsPerWarp);
    const uint32_t drop = p.dropout ? attention_drop_run8(p.drop_seed, p.drop_offset, e0, p.drop_threshold) : 0u;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp * kRowsPerWarp + r;
      const int64_t j = j0 + row;
      if (j >= p.L) continue;  // warp-uniform
      float qk = 0.0f, dp = 0.0f;
#pragma unroll 8
      for (int c = 0; c < D; ++c) {
        qk += sq[lane * (D + 1) + c] * sk[row * D + c];
        dp += sdo[lane * (D + 1) + c] * sv[row * D + c];
      }
      float f;
      const float s = logit(p, b, h, i, j, qk, &f);
      const float pij = s == -INFINITY ? 0.0f : expf(s - slse[lane]);
      const float z = !p.dropout ? 1.0f : (drop >> r) & 1u ? 0.0f : p.inv_keep;
      const float ds = pij * (z * dp - sdelta[lane]);
      if (gbias && i < p.L) gbias[(bh * p.L + i) * p.L + j] = ds;
      const float dsf = ds * f, pz = pij * z;
      for (int ii = 0; ii < kStreamRows; ++ii) {
        const float wp = __shfl_sync(kFull, pz, ii), ws = __shfl_sync(kFull, dsf, ii);
#pragma unroll
        for (int c = 0; c < DL; ++c) {
          dv[r][c] += wp * sdo[ii * (D + 1) + lane + 32 * c];
          dk[r][c] += ws * sq[ii * (D + 1) + lane + 32 * c];
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t j = j0 + warp * kRowsPerWarp + r;
    if (j >= p.L) continue;
#pragma unroll
    for (int c = 0; c < DL; ++c) {
      gk[base + j * D + lane + 32 * c] = dk[r][c];
      gv[base + j * D + lane + 32 * c] = dv[r][c];
    }
  }
}

// A block per (b, h, 32 queries); streams key tiles. Writes dq.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_backward_dq_kernel(Params p, const float* q, const float* k, const float* v, const float* gout,
                                 const float* lse, const float* delta, float* gq) {
  constexpr int DL = D / 32;
  extern __shared__ float smem[];
  float* sq = smem;                         // [kOwnRows][D]        broadcast reads
  float* sdo = sq + kOwnRows * D;           // [kOwnRows][D]
  float* sk = sdo + kOwnRows * D;           // [kStreamRows][D + 1] lane l reads row l, and columns
  float* sv = sk + kStreamRows * (D + 1);   // [kStreamRows][D + 1]
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = int64_t(blockIdx.y) * kOwnRows, i1 = min(i0 + kOwnRows, p.L);
  const int64_t base = bh * p.L * D;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

  stage_rows<D>(sq, D, q + base, i0, kOwnRows, p.L);
  stage_rows<D>(sdo, D, gout + base, i0, kOwnRows, p.L);
  float dq[kRowsPerWarp][DL], row_lse[kRowsPerWarp], row_delta[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    row_lse[r] = i < p.L ? lse[bh * p.L + i] : INFINITY;
    row_delta[r] = i < p.L ? delta[bh * p.L + i] : 0.0f;
#pragma unroll
    for (int c = 0; c < DL; ++c) dq[r][c] = 0.0f;
  }

  int64_t j_begin, j_end;
  attention_key_range(p.structure, p.L, i0, i1, &j_begin, &j_end);
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kStreamRows) {
    __syncthreads();
    stage_rows<D>(sk, D + 1, k + base, j0, kStreamRows, p.L);
    stage_rows<D>(sv, D + 1, v + base, j0, kStreamRows, p.L);
    __syncthreads();
    const int64_t j = j0 + lane;
    const uint64_t row0 = drop_row0(p, bh, i0 + warp * kRowsPerWarp, j0);
    const uint32_t drop = draw_row_flags(p, row0, lane);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int row = warp * kRowsPerWarp + r;
      const int64_t i = i0 + row;
      if (i >= p.L) continue;  // warp-uniform
      float qk = 0.0f, dp = 0.0f;
#pragma unroll 8
      for (int c = 0; c < D; ++c) {
        qk += sq[row * D + c] * sk[lane * (D + 1) + c];
        dp += sdo[row * D + c] * sv[lane * (D + 1) + c];
      }
      float f;
      const float s = logit(p, b, h, i, j, qk, &f);
      const float pij = s == -INFINITY ? 0.0f : expf(s - row_lse[r]);
      const float dsf = pij * (row_keep_scale(p, drop, row0, r, lane) * dp - row_delta[r]) * f;
      for (int jj = 0; jj < kStreamRows; ++jj) {
        const float w = __shfl_sync(kFull, dsf, jj);
#pragma unroll
        for (int c = 0; c < DL; ++c) dq[r][c] += w * sk[jj * (D + 1) + lane + 32 * c];
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    if (i >= p.L) continue;
#pragma unroll
    for (int c = 0; c < DL; ++c) gq[base + i * D + lane + 32 * c] = dq[r][c];
  }
}

__global__ void sum_over_batch_kernel(const float* x, float* out, int64_t B, int64_t N) {
  for (int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.0f;
    for (int64_t b = 0; b < B; ++b) acc += x[b * N + n];
    out[n] = acc;
  }
}

// Shared memory of each kernel, in bytes (above 48 KB for D = 128, hence the opt-in below).
template <int D>
constexpr size_t forward_smem() {
  return sizeof(float) * (kOwnRows * D + kStreamRows * (D + 1) + kStreamRows * D);
}
template <int D>
constexpr size_t dkdv_smem() {
  return sizeof(float) * (2 * kOwnRows * D + 2 * kStreamRows * (D + 1) + 2 * kStreamRows);
}
template <int D>
constexpr size_t dq_smem() {
  return sizeof(float) * (2 * kOwnRows * D + 2 * kStreamRows * (D + 1));
}

// Grid: x = (b, h), y = tile of 32 owned rows.
dim3 grid_for(const AttentionParams& p) {
  const int64_t tiles = (p.L + kOwnRows - 1) / kOwnRows;
  LRA_CHECK(tiles <= 65535, "attention: L = ", p.L, " exceeds the CUDA grid limit of ", 65535 * kOwnRows);
  LRA_CHECK(p.B * p.H <= 0x7fffffff, "attention: B·H = ", p.B * p.H, " is too large for one CUDA grid");
  return dim3(unsigned(p.B * p.H), unsigned(tiles));
}

template <int D>
void forward_impl(const Params& kp, const AttentionParams& p, const float* q, const float* k, const float* v,
                  float* out, float* lse) {
  constexpr size_t smem = forward_smem<D>();
  LRA_CUDA_CHECK(cudaFuncSetAttribute(attention_forward_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  attention_forward_kernel<D><<<grid_for(p), kThreads, smem, stream()>>>(kp, q, k, v, out, lse);
  LRA_KERNEL_CHECK();
}

template <int D>
void backward_impl(const Params& kp, const AttentionParams& p, const float* q, const float* k, const float* v,
                   const float* gout, const float* lse, const float* delta, float* gq, float* gk, float* gv,
                   float* gbias) {
  constexpr size_t smem_kv = dkdv_smem<D>(), smem_q = dq_smem<D>();
  LRA_CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dkdv_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(smem_kv)));
  LRA_CUDA_CHECK(cudaFuncSetAttribute(attention_backward_dq_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(smem_q)));
  attention_backward_dkdv_kernel<D><<<grid_for(p), kThreads, smem_kv, stream()>>>(kp, q, k, v, gout, lse, delta, gk, gv,
                                                                                 gbias);
  LRA_KERNEL_CHECK();
  attention_backward_dq_kernel<D><<<grid_for(p), kThreads, smem_q, stream()>>>(kp, q, k, v, gout, lse, delta, gq);
  LRA_KERNEL_CHECK();
}

}  // namespace

bool attention_supports_head_dim(int64_t D) { return D == 32 || D == 64 || D == 128; }

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                       float* out, float* lse) {
  if (p.B * p.H * p.L == 0) return;
  const Params kp = make_params(p, bias);
  switch (p.D) {
    case 32: forward_impl<32>(kp, p, q, k, v, out, lse); break;
    case 64: forward_impl<64>(kp, p, q, k, v, out, lse); break;
    case 128: forward_impl<128>(kp, p, q, k, v, out, lse); break;
    default: fail(str("attention: the CUDA kernels support head dims 32, 64 and 128, got D = ", p.D));
  }
}

void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                        const float* out, const float* lse, const float* gout, float* delta, float* gq, float* gk,
                        float* gv, float* gbias) {
  if (p.B * p.H * p.L == 0) return;
  const Params kp = make_params(p, bias);
  // Every dbias entry outside the visited tiles stays 0.
  if (gbias) LRA_CUDA_CHECK(cudaMemsetAsync(gbias, 0, sizeof(float) * size_t(p.B * p.H * p.L * p.L), stream()));
  const int64_t rows = p.B * p.H * p.L;
  constexpr int kDeltaWarps = 8;
  attention_delta_kernel<<<unsigned((rows + kDeltaWarps - 1) / kDeltaWarps), 32 * kDeltaWarps, 0, stream()>>>(
      out, gout, delta, rows, p.D);
  LRA_KERNEL_CHECK();
  switch (p.D) {
    case 32: backward_impl<32>(kp, p, q, k, v, gout, lse, delta, gq, gk, gv, gbias); break;
    case 64: backward_impl<64>(kp, p, q, k, v, gout, lse, delta, gq, gk, gv, gbias); break;
    case 128: backward_impl<128>(kp, p, q, k, v, gout, lse, delta, gq, gk, gv, gbias); break;
    default: fail(str("attention: the CUDA kernels support head dims 32, 64 and 128, got D = ", p.D));
  }
}

void sum_over_batch(const float* x, float* out, int64_t B, int64_t N) {
  if (N == 0) return;
  sum_over_batch_kernel<<<lra::cuda::blocks_for(N, 256), 256, 0, stream()>>>(x, out, B, N);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
