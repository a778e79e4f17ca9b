// The backward of the bfloat16 tensor-core attention (mma.sync m16n8k16, bf16 in, float32
// accumulate), FlashAttention-2 style. attention_bf16.cu holds the overview of both passes, the
// forward, the FLOPs and bytes of both and the version log; attention_bf16_common.cuh the helpers both
// passes use, and its header explains the fragments, ldmatrix and the swizzled shared tiles.
//
// Shapes: q, k, v, out, gout, dq, dk, dv [B, H, L, D] bf16, D in {32, 64, 128} (template instances
// picked by a switch: BR = 64 queries per step for D = 32 and 64, BR = 32 for D = 128); lse, delta
// [B, H, L] float32; dq_accum [B, H, L, D] float32 scratch.
// Reads what the forward saved: q, k, v, out and lse.
//
// Backward (FlashAttention-2): delta_i = dout_i · out_i and dq_accum = 0 (one warp per row); then a
// block per (b, h, 64 keys), each warp 16 keys with its dK, dV accumulators in registers, loops over
// tiles of BR queries in attention_query_range (double buffered), computing in the transposed frame:
//     Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ, Pᵀ = 2^(x − lse·log2 e), dSᵀ = Pᵀ ⊙ (dPᵀ − delta) ⊙ decay,
//     dV += Pᵀ·dO, dK += dSᵀ·Q (both A operands re-packed from the accumulators),
//     dSᵀ -> shared memory (bf16), then dQ_tile = dS·K split over the 4 warps and added to dq_accum
//     with float atomics (float2 atomics on sm_90).
//   dq = dq_accum·scale and dk = dK·scale are scaled once at the end (f = scale·decay; the decay is
//   folded into dS per element).
#include <cuda_bf16.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "engine/base.h"
#include "engine/cuda.h"
#include "ops/attention/attention_bf16.h"
#include "ops/attention/attention_bf16_common.cuh"
#include "ops/attention/mma_layout.h"
#include "ops/cuda_reduce.cuh"

namespace lra::ops::cuda {

using lra::cuda::stream;
using namespace bf16_attention;

namespace {

// ---- helpers of the backward only -----------------------------------------------------------------------

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) { return __uint_as_float(uint32_t(bits) << 16); }

__device__ __forceinline__ void atomic_add_pair(float* dst, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(dst), make_float2(a, b));  // dst is 8-byte aligned: even column
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
#endif
}

// ---- backward -------------------------------------------------------------------------------------------

// delta[row] = dout[row] · out[row] (float32 over the bf16 values), one warp per row; also zeroes the
// row of dq_accum, which the main kernel adds into.
__global__ void attention_bf16_delta_kernel(const uint16_t* __restrict__ out, const uint16_t* __restrict__ gout,
                                            float* __restrict__ delta, float* __restrict__ dq_accum, int64_t rows,
                                            int D) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps
  float acc = 0.0f;
  for (int c = lane; c < D; c += 32) {
    acc += bf16_bits_to_float(out[row * D + c]) * bf16_bits_to_float(gout[row * D + c]);
    dq_accum[row * D + c] = 0.0f;
  }
  acc = warp_reduce(acc, Sum{});
  if (lane == 0) delta[row] = acc;
}

// gq = bf16(dq_accum · scale).
__global__ void attention_bf16_dq_kernel(const float* __restrict__ dq_accum, uint16_t* __restrict__ gq, float scale,
                                         int64_t n) {
  LRA_GRID_STRIDE(e, n) gq[e] = __bfloat16_as_ushort(__float2bfloat16_rn(dq_accum[e] * scale));
}

template <int D, int BR>
struct Backward {
  // K, V [64][D]; Q, dO [2][BR][D]; dSᵀ [64][BR]; lse, delta [2][BR] floats.
  static constexpr size_t kSmem = 2 * size_t(2 * kKeyTile * D + 4 * BR * D + kKeyTile * BR) + 4 * 4 * BR;
};

template <int D, int BR>
__global__ void __launch_bounds__(kThreads)
    attention_bf16_backward_kernel(const Bf16Params p, const uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                   const uint16_t* __restrict__ v, const uint16_t* __restrict__ gout,
                                   const float* __restrict__ lse, const float* __restrict__ delta,
                                   float* __restrict__ dq_accum, uint16_t* __restrict__ gk, uint16_t* __restrict__ gv) {
  constexpr int BN = kKeyTile;
  constexpr int KS = D / 16;       // k-steps of Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ (head dim)
  constexpr int NT = BR / 8;       // 8-wide column tiles of Sᵀ (queries)
  constexpr int DT = D / 8;        // 8-wide column tiles of dK, dV
  constexpr int RW = BR / 16;      // dQ of a query tile: RW blocks of 16 rows ...
  constexpr int CW = kWarps / RW;  // ... times CW column groups, one warp each
  constexpr int QT = DT / CW;      // 8-wide column tiles of dQ per warp
  static_assert(RW * CW == kWarps && QT % 2 == 0 && NT % 2 == 0 && DT % 2 == 0, "backward tiling");
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sK = smem_u32(smem);     // [BN][D]
  const uint32_t sV = sK + 2 * BN * D;    // [BN][D]
  const uint32_t sQ = sV + 2 * BN * D;    // [2][BR][D]
  const uint32_t sdO = sQ + 4 * BR * D;   // [2][BR][D]
  const uint32_t sdS = sdO + 4 * BR * D;  // [BN][BR]: (dS ⊙ decay)ᵀ, the A operand of dQ = dS·K
  uint16_t* sdS_ptr = reinterpret_cast<uint16_t*>(smem + 2 * (2 * BN * D + 4 * BR * D));
  float* s_lse = reinterpret_cast<float*>(smem + 2 * (2 * BN * D + 4 * BR * D + BN * BR));  // [2][BR], base 2
  float* s_delta = s_lse + 2 * BR;                                                          // [2][BR]
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t bh = blockIdx.y, b = bh / p.H, h = bh % p.H;
  const int64_t j0 = int64_t(blockIdx.x) * BN, j1 = min(j0 + BN, p.L);
  const int64_t base = bh * p.L * D;
  const float a2 = p.has_alpha ? p.alpha_log2[h] : 0.0f;
  int64_t ib, ie;
  attention_query_range(p.causal, p.chunk, p.window, p.L, j0, j1, &ib, &ie);
  const int ntiles = int((ie - ib + BR - 1) / BR);
  // The queries each of this lane's two keys (C rows g and g + 8 of the warp's 16) is attended by,
  // [lo, hi) clipped to [0, L]; empty for a key past L or a padding key.
  int lo[2], hi[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int64_t j = j0 + warp * 16 + mma::c_element(lane, 2 * hr).row;
    int64_t qb, qe;
    attention_allowed_queries(p.causal, p.chunk, p.window, j, &qb, &qe);
    const bool key_in = j < p.L && (!p.key_mask || p.key_mask[b * p.L + j] != 0);
    lo[hr] = key_in ? int(max(qb, int64_t(0))) : 0;
    hi[hr] = key_in ? int(min(qe, p.L)) : 0;
  }
  const bool keys_all_in = j0 + BN <= p.L && !p.key_mask;

  auto stage_queries = [&](int t) {  // issue the copies of query tile t, and its lse and delta
    const int64_t t0 = ib + int64_t(t) * BR;
    const int buf = t & 1;
    load_tile_async<BR, D>(sQ + buf * 2 * BR * D, q + base, t0, p.L);
    load_tile_async<BR, D>(sdO + buf * 2 * BR * D, gout + base, t0, p.L);
    for (int c = threadIdx.x; c < BR; c += kThreads) {
      const int64_t i = t0 + c;
      // A query past L gets lse = +inf, so its P = 2^(x − inf) = 0.
      s_lse[buf * BR + c] = i < p.L ? lse[bh * p.L + i] * kLog2e : INFINITY;
      s_delta[buf * BR + c] = i < p.L ? delta[bh * p.L + i] : 0.0f;
    }
  };
  load_tile_async<BN, D>(sK, k + base, j0, p.L);
  load_tile_async<BN, D>(sV, v + base, j0, p.L);
  if (ntiles > 0) stage_queries(0);
  cp_async_commit();

  float dk[DT][4], dv[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.0f;

  for (int t = 0; t < ntiles; ++t) {
    cp_async_wait_all();
    __syncthreads();  // tile t landed; everyone is done with tile t − 1 and with the last dSᵀ
    if (t + 1 < ntiles) stage_queries(t + 1);
    cp_async_commit();
    const int64_t t0 = ib + int64_t(t) * BR;
    const int buf = t & 1;
    const uint32_t qt = sQ + buf * 2 * BR * D, ot = sdO + buf * 2 * BR * D;
    const float* lse2 = s_lse + buf * BR;
    const float* dlt = s_delta + buf * BR;

    // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ for the warp's 16 keys × BR queries.
    float s[NT][4], dp[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] = dp[nt][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      uint32_t ka[4], va[4];
      ldsm_x4(ka, tile_at<D>(sK, mma::ldsm_a_mk(lane, warp * 16, ks * 16)));
      ldsm_x4(va, tile_at<D>(sV, mma::ldsm_a_mk(lane, warp * 16, ks * 16)));
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t qb[4], ob[4];
        ldsm_x4(qb, tile_at<D>(qt, mma::ldsm_b_nk(lane, np * 16, ks * 16)));
        ldsm_x4(ob, tile_at<D>(ot, mma::ldsm_b_nk(lane, np * 16, ks * 16)));
        mma_bf16(s[2 * np], ka, qb[0], qb[1]);
        mma_bf16(s[2 * np + 1], ka, qb[2], qb[3]);
        mma_bf16(dp[2 * np], va, ob[0], ob[1]);
        mma_bf16(dp[2 * np + 1], va, ob[2], ob[3]);
      }
    }

    // In place: s becomes Pᵀ, dp becomes (dS ⊙ decay)ᵀ = Pᵀ ⊙ (dPᵀ − delta) ⊙ decay.
    const bool whole =
        keys_all_in && attention_tile_all_allowed(p.causal, p.chunk, p.window, t0, min(t0 + BR, p.L), j0, j0 + BN);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const mma::Coord rc = mma::c_element(lane, e);
        const int ii = nt * 8 + rc.col;
        float x = s[nt][e] * p.scale_log2, decay = 1.0f;
        if (a2 != 0.0f || !whole) {
          const int i = int(t0) + ii, j = int(j0) + warp * 16 + rc.row;
          if (a2 != 0.0f) {
            decay = exp2f(-a2 * float(abs(i - j)));
            x *= decay;
          }
          if (!whole && !(i >= lo[e >> 1] && i < hi[e >> 1])) x = -INFINITY;
        }
        const float pe = exp2f(x - lse2[ii]);  // 0 for an excluded pair and for a query past L
        s[nt][e] = pe;
        dp[nt][e] = pe * (dp[nt][e] - dlt[ii]) * decay;
      }

    // dV += Pᵀ·dO and dK += dSᵀ·Q: A from the accumulators, dO and Q ([query][d]) read with .trans.
#pragma unroll
    for (int kk = 0; kk < BR / 16; ++kk) {
      uint32_t pa[4], da[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int ct = 2 * kk + mma::a_from_c_tile(r), e0 = mma::a_from_c_element(r, 0), e1 = mma::a_from_c_element(r, 1);
        pa[r] = pack_bf16x2(s[ct][e0], s[ct][e1]);
        da[r] = pack_bf16x2(dp[ct][e0], dp[ct][e1]);
      }
#pragma unroll
      for (int np = 0; np < DT / 2; ++np) {
        uint32_t ob[4], qb[4];
        ldsm_x4_trans(ob, tile_at<D>(ot, mma::ldsm_b_kn_trans(lane, kk * 16, np * 16)));
        ldsm_x4_trans(qb, tile_at<D>(qt, mma::ldsm_b_kn_trans(lane, kk * 16, np * 16)));
        mma_bf16(dv[2 * np], pa, ob[0], ob[1]);
        mma_bf16(dv[2 * np + 1], pa, ob[2], ob[3]);
        mma_bf16(dk[2 * np], da, qb[0], qb[1]);
        mma_bf16(dk[2 * np + 1], da, qb[2], qb[3]);
      }
    }

    // dSᵀ to shared memory ([key][query], bf16 pairs), then dQ_tile = dS·K over all 64 keys.
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const mma::Coord rc = mma::c_element(lane, 2 * hr);  // element 2hr + 1 is the next column
        *reinterpret_cast<uint32_t*>(sdS_ptr + mma::tile_offset(warp * 16 + rc.row, nt * 8 + rc.col, BR)) =
            pack_bf16x2(dp[nt][2 * hr], dp[nt][2 * hr + 1]);
      }
    __syncthreads();
    const int rb = warp % RW, cg = warp / RW;
    float dq[QT][4];
#pragma unroll
    for (int nt = 0; nt < QT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) dq[nt][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t sa[4];
      ldsm_x4_trans(sa, tile_at<BR>(sdS, mma::ldsm_a_km_trans(lane, rb * 16, kk * 16)));
#pragma unroll
      for (int np = 0; np < QT / 2; ++np) {
        uint32_t kb[4];
        ldsm_x4_trans(kb, tile_at<D>(sK, mma::ldsm_b_kn_trans(lane, kk * 16, cg * QT * 8 + np * 16)));
        mma_bf16(dq[2 * np], sa, kb[0], kb[1]);
        mma_bf16(dq[2 * np + 1], sa, kb[2], kb[3]);
      }
    }
#pragma unroll
    for (int nt = 0; nt < QT; ++nt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const mma::Coord rc = mma::c_element(lane, 2 * hr);
        const int64_t i = t0 + rb * 16 + rc.row;
        if (i < p.L) atomic_add_pair(dq_accum + (bh * p.L + i) * D + cg * QT * 8 + nt * 8 + rc.col, dq[nt][2 * hr],
                                     dq[nt][2 * hr + 1]);
      }
  }
  cp_async_wait_all();  // nothing in flight at exit

#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const mma::Coord rc = mma::c_element(lane, 2 * hr);
    const int64_t j = j0 + warp * 16 + rc.row;
    if (j >= p.L) continue;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      const int64_t at = base + j * D + dt * 8 + rc.col;
      *reinterpret_cast<uint32_t*>(gk + at) = pack_bf16x2(dk[dt][2 * hr] * p.scale, dk[dt][2 * hr + 1] * p.scale);
      *reinterpret_cast<uint32_t*>(gv + at) = pack_bf16x2(dv[dt][2 * hr], dv[dt][2 * hr + 1]);
    }
  }
}

// ---- host side ------------------------------------------------------------------------------------------

template <int D, int BR>
void backward_impl(const Bf16Params& kp, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* gout, const float* lse, const float* delta, float* dq_accum, uint16_t* gk,
                   uint16_t* gv) {
  constexpr size_t smem = Backward<D, BR>::kSmem;
  const int64_t tiles = (kp.L + kKeyTile - 1) / kKeyTile;
  LRA_CHECK(tiles <= INT_MAX, "attention_bf16: L = ", kp.L, " is too long for one CUDA grid");
  LRA_CUDA_CHECK(cudaFuncSetAttribute(attention_bf16_backward_kernel<D, BR>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  attention_bf16_backward_kernel<D, BR><<<dim3(unsigned(tiles), unsigned(kp.B * kp.H)), kThreads, smem, stream()>>>(
      kp, q, k, v, gout, lse, delta, dq_accum, gk, gv);
  LRA_KERNEL_CHECK();
}

}  // namespace

void attention_bf16_backward(const AttentionParams& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                             const uint16_t* out, const float* lse, const uint16_t* gout, float* delta,
                             float* dq_accum, uint16_t* gq, uint16_t* gk, uint16_t* gv) {
  check_head_dim(p.D);
  if (p.B * p.H * p.L == 0) return;
  const Bf16Params kp = make_params(p);
  check_aligned(q, "q");
  check_aligned(k, "k");
  check_aligned(v, "v");
  check_aligned(gout, "the output gradient");
  const int64_t rows = p.B * p.H * p.L;
  constexpr int kDeltaWarps = 8;
  attention_bf16_delta_kernel<<<unsigned((rows + kDeltaWarps - 1) / kDeltaWarps), 32 * kDeltaWarps, 0, stream()>>>(
      out, gout, delta, dq_accum, rows, int(p.D));
  LRA_KERNEL_CHECK();
  switch (p.D) {
    case 32: backward_impl<32, 64>(kp, q, k, v, gout, lse, delta, dq_accum, gk, gv); break;
    case 64: backward_impl<64, 64>(kp, q, k, v, gout, lse, delta, dq_accum, gk, gv); break;
    case 128: backward_impl<128, 32>(kp, q, k, v, gout, lse, delta, dq_accum, gk, gv); break;
  }
  const int64_t n = rows * p.D;
  attention_bf16_dq_kernel<<<lra::cuda::blocks_for(n, 256), 256, 0, stream()>>>(dq_accum, gq, kp.scale, n);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
