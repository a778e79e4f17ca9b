// CUDA attention in bfloat16 on tensor cores (mma.sync m16n8k16, bf16 in, float32 accumulate): a
// FlashAttention-2 forward and backward. Semantics are attention.h's (the float32 kernels in
// attention.cu and the CPU reference in attention_cpu.cpp are the specification); what this path
// rounds to bf16 is listed in attention_bf16.h.
//
// Shapes: q, k, v, out, gout, dq, dk, dv [B, H, L, D] bf16, D in {32, 64, 128} (template instances
// picked by a switch); lse, delta [B, H, L] float32; dq_accum [B, H, L, D] float32 scratch.
//
// Files: this one holds the forward kernel, its launcher and instances, and the forward entry point;
// attention_bf16_backward.cu the backward kernels and entry point; attention_bf16_common.cuh what both
// use (tile constants, the kernels' parameter struct, PTX wrappers, the swizzled tile loader, argument
// checks), and its header says how the fragments, ldmatrix and the swizzled shared tiles work.
//
// Forward (a block of 4 warps per (b, h, BM = 64·MT queries), each warp 16·MT query rows):
//   Q tile -> registers (A fragments) once. For each tile of 64 keys in attention_key_range, double
//   buffered with cp.async (tile t + 1 lands while tile t is used):
//     S = Q·Kᵀ (K read as B from its [key][d] tile), x = S·scale·log2(e) (· exp(−α|i−j|) for LaS),
//     −inf where excluded (per element only on tiles that need it: the last partial tile, key padding,
//     causal diagonal, chunk edges); online softmax in base 2 per row: m' = max(m, max_j x),
//     l = l·2^(m−m') + Σ_j 2^(x−m'), O = O·2^(m−m') + P·V (P rounded to bf16, V read with .trans).
//   A row is spread over the 4 lanes of a group (lane = 4g + t holds rows g and g + 8 of each 16-row
//   m-tile), so a row max is two shuffles; l is kept per lane and summed at the end.
//   out = O / l (0 for a row with no included key), lse = (m + log2 l)·ln 2 (+inf for such a row).
// Backward (FlashAttention-2, attention_bf16_backward.cu, whose header has the details): a block per
//   (b, h, 64 keys) keeps that tile's dK, dV in registers while it loops over tiles of queries; dQ is
//   summed over key tiles with float atomics into dq_accum.
// Saved for backward: q, k, v, out and lse.
// FLOPs: forward 4·L·L_eff·D per (b, h) (L_eff = keys in range per query); backward 10·L·L_eff·D
// (Sᵀ, dPᵀ, dV, dK, dQ). Bytes: forward reads q once and k, v once per query tile (BM rows):
// 2·(2·L·D + 2·L·D·L_eff/BM) per (b, h); the backward reads k, v once and q, dout once per key tile of
// 64, and adds 4·L·D·(L_eff/64) bytes of dq atomics.
//
// Version log:
//   v1 FA2 structure: forward BM = 128 (D <= 64) / 64 (D = 128), key tiles of 64; backward 64 keys per
//      block, BR = 64 (D <= 64) / 32 (D = 128) queries per step; cp.async double buffering; dq by
//      atomics. Compiled for sm_80 and sm_90; never run on a GPU when written, not yet measured
//      (target: forward + backward at B = 32, H = 4, L = 1024, D = 64 within 1.25× of PyTorch's
//      scaled_dot_product_attention in bf16).
//   v1 split, no kernel change: the 706-line file became this one (overview and forward),
//      attention_bf16_backward.cu and attention_bf16_common.cuh, so that each stays under 600 lines;
//      each kernel's cubin code, registers and shared memory are identical before and after (ptxas
//      -v and the .text sections compared, sm_80 and sm_90).
#include <climits>
#include <cmath>
#include <cstdint>

#include "engine/base.h"
#include "engine/cuda.h"
#include "ops/attention/attention_bf16.h"
#include "ops/attention/attention_bf16_common.cuh"
#include "ops/attention/mma_layout.h"

namespace lra::ops::cuda {

using lra::cuda::stream;
using namespace bf16_attention;

namespace {

// ---- forward --------------------------------------------------------------------------------------------

template <int D, int MT>
struct Forward {
  static constexpr int kRows = 16 * MT * kWarps;  // queries per block
  // Q [kRows][D], K and V [2][64][D] (double buffer), key_ok [2][64] bytes.
  static constexpr size_t kSmem = 2 * size_t(kRows * D + 4 * kKeyTile * D) + 2 * kKeyTile;
};

template <int D, int MT>
__global__ void __launch_bounds__(kThreads)
    attention_bf16_forward_kernel(const Bf16Params p, const uint16_t* __restrict__ q, const uint16_t* __restrict__ k,
                                  const uint16_t* __restrict__ v, uint16_t* __restrict__ out,
                                  float* __restrict__ lse) {
  constexpr int BM = Forward<D, MT>::kRows, BN = kKeyTile;
  constexpr int KS = D / 16;  // 16-wide k-steps of S = Q·Kᵀ (over the head dim)
  constexpr int NT = BN / 8;  // 8-wide column tiles of S (keys)
  constexpr int DT = D / 8;   // 8-wide column tiles of O (head dim)
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smem_u32(smem);    // [BM][D]
  const uint32_t sK = sQ + 2 * BM * D;   // [2][BN][D]
  const uint32_t sV = sK + 4 * BN * D;   // [2][BN][D]
  unsigned char* key_ok = smem + 2 * (BM * D + 4 * BN * D);  // [2][BN]: key < L and not padding
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t bh = blockIdx.y, b = bh / p.H, h = bh % p.H;
  // Causal: the last query tiles see the most keys; start them first.
  const int64_t tile = p.causal ? int64_t(gridDim.x) - 1 - blockIdx.x : int64_t(blockIdx.x);
  const int64_t i0 = tile * BM, i1 = min(i0 + BM, p.L);
  const int64_t base = bh * p.L * D;
  const float a2 = p.has_alpha ? p.alpha_log2[h] : 0.0f;
  int64_t jb, je;
  attention_key_range(p.causal, p.chunk, p.window, p.L, i0, i1, &jb, &je);
  const int ntiles = int((je - jb + BN - 1) / BN);
  auto stage_keys = [&](int t) {  // issue the copies of key tile t and fill its key_ok
    const int64_t j0 = jb + int64_t(t) * BN;
    const int buf = t & 1;
    load_tile_async<BN, D>(sK + buf * 2 * BN * D, k + base, j0, p.L);
    load_tile_async<BN, D>(sV + buf * 2 * BN * D, v + base, j0, p.L);
    for (int c = threadIdx.x; c < BN; c += kThreads) {
      const int64_t j = j0 + c;
      key_ok[buf * BN + c] = j < p.L && (!p.key_mask || p.key_mask[b * p.L + j] != 0);
    }
  };
  load_tile_async<BM, D>(sQ, q + base, i0, p.L);
  if (ntiles > 0) stage_keys(0);
  cp_async_commit();

  uint32_t qf[MT][KS][4];  // this warp's Q rows as A fragments, loaded once
  float o[MT][DT][4], m[MT][2], l[MT][2];  // [.][2]: rows g and g + 8 of the m-tile
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      m[mt][hr] = -INFINITY;
      l[mt][hr] = 0.0f;
    }
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mt][dt][e] = 0.0f;
  }

  for (int t = 0; t < ntiles; ++t) {
    cp_async_wait_all();
    __syncthreads();  // tile t (and Q) landed for every thread, and everyone is done with tile t − 1
    if (t == 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int ks = 0; ks < KS; ++ks)
          ldsm_x4(qf[mt][ks], tile_at<D>(sQ, mma::ldsm_a_mk(lane, (warp * MT + mt) * 16, ks * 16)));
    }
    if (t + 1 < ntiles) stage_keys(t + 1);  // into the buffer tile t − 1 used
    cp_async_commit();
    const int64_t j0 = jb + int64_t(t) * BN;
    const int buf = t & 1;
    const uint32_t kt = sK + buf * 2 * BN * D, vt = sV + buf * 2 * BN * D;
    const unsigned char* ok = key_ok + buf * BN;

    float s[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
    // S = Q·Kᵀ: K's [key][d] tile is Bᵀ row major, two 8-key B operands per ldmatrix.
#pragma unroll
    for (int ks = 0; ks < KS; ++ks)
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t kb[4];
        ldsm_x4(kb, tile_at<D>(kt, mma::ldsm_b_nk(lane, np * 16, ks * 16)));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(s[mt][2 * np], qf[mt][ks], kb[0], kb[1]);
          mma_bf16(s[mt][2 * np + 1], qf[mt][ks], kb[2], kb[3]);
        }
      }

    // Logits in base 2; the per-element tests only where the tile is not wholly inside the range.
    const bool whole = j0 + BN <= p.L && !p.key_mask &&
                       attention_tile_all_allowed(p.causal, p.chunk, p.window, i0, i1, j0, j0 + BN);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {  // C elements 2hr, 2hr + 1: query row g + 8hr of the m-tile
        const int i = int(i0) + (warp * MT + mt) * 16 + mma::c_element(lane, 2 * hr).row;
        int lo = 0, hi = 0;  // the keys row i may attend to, by structure
        if (!whole) {
          int64_t kb, ke;
          attention_allowed_keys(p.causal, p.chunk, p.window, i, &kb, &ke);
          lo = int(max(kb, int64_t(0)));
          hi = int(min(ke, p.L));
        }
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 2 * hr; e < 2 * hr + 2; ++e) {
            float x = s[mt][nt][e] * p.scale_log2;
            if (a2 != 0.0f || !whole) {
              const int jj = nt * 8 + mma::c_element(lane, e).col, j = int(j0) + jj;
              if (a2 != 0.0f) x *= exp2f(-a2 * float(abs(i - j)));
              if (!whole && !(ok[jj] && j >= lo && j < hi)) x = -INFINITY;
            }
            s[mt][nt][e] = x;
          }
      }

    // Online softmax. Elements 0, 1 of a C fragment are row g, elements 2, 3 row g + 8; a row's 64
    // values are spread over the 4 lanes of the group (xor 1, xor 2).
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 2));
        const float m_new = fmaxf(m[mt][hr], mx);
        // Nothing included in this row yet: subtract 0 instead of −inf, so 2^(−inf − 0) = 0, not NaN.
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float correction = exp2f(m[mt][hr] - m_use);  // 0 while m was −inf
        m[mt][hr] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 2 * hr; e < 2 * hr + 2; ++e) {
            const float pe = exp2f(s[mt][nt][e] - m_use);
            s[mt][nt][e] = pe;
            sum += pe;
          }
        l[mt][hr] = l[mt][hr] * correction + sum;  // this lane's share of the row sum
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          o[mt][dt][2 * hr] *= correction;
          o[mt][dt][2 * hr + 1] *= correction;
        }
      }

    // O += P·V: P's accumulators re-packed as A (mma_layout.h), V's [key][d] tile read with .trans.
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const float* c = s[mt][2 * kk + mma::a_from_c_tile(r)];
          pa[mt][r] = pack_bf16x2(c[mma::a_from_c_element(r, 0)], c[mma::a_from_c_element(r, 1)]);
        }
#pragma unroll
      for (int dp = 0; dp < DT / 2; ++dp) {
        uint32_t vb[4];
        ldsm_x4_trans(vb, tile_at<D>(vt, mma::ldsm_b_kn_trans(lane, kk * 16, dp * 16)));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(o[mt][2 * dp], pa[mt], vb[0], vb[1]);
          mma_bf16(o[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
  }
  cp_async_wait_all();  // nothing in flight at exit (ntiles == 0 leaves the Q copies outstanding)

#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float lt = l[mt][hr];
      lt += __shfl_xor_sync(kFull, lt, 1);
      lt += __shfl_xor_sync(kFull, lt, 2);
      const mma::Coord rc = mma::c_element(lane, 2 * hr);
      const int64_t i = i0 + (warp * MT + mt) * 16 + rc.row;
      const bool empty = m[mt][hr] == -INFINITY;  // no included key: out = 0, lse = +inf
      const float inv = empty ? 0.0f : 1.0f / lt;
      if (i < p.L) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
          *reinterpret_cast<uint32_t*>(out + base + i * D + dt * 8 + rc.col) =
              pack_bf16x2(o[mt][dt][2 * hr] * inv, o[mt][dt][2 * hr + 1] * inv);
        if (mma::thread_in_group(lane) == 0) lse[bh * p.L + i] = empty ? INFINITY : (m[mt][hr] + log2f(lt)) * kLn2;
      }
    }
}

// ---- host side ------------------------------------------------------------------------------------------

template <int D, int MT>
void forward_impl(const Bf16Params& kp, const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out,
                  float* lse) {
  constexpr int BM = Forward<D, MT>::kRows;
  constexpr size_t smem = Forward<D, MT>::kSmem;
  const int64_t tiles = (kp.L + BM - 1) / BM;
  LRA_CHECK(tiles <= INT_MAX, "attention_bf16: L = ", kp.L, " is too long for one CUDA grid");
  LRA_CUDA_CHECK(cudaFuncSetAttribute(attention_bf16_forward_kernel<D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(smem)));
  attention_bf16_forward_kernel<D, MT>
      <<<dim3(unsigned(tiles), unsigned(kp.B * kp.H)), kThreads, smem, stream()>>>(kp, q, k, v, out, lse);
  LRA_KERNEL_CHECK();
}

}  // namespace

bool attention_bf16_supports_head_dim(int64_t D) { return D == 32 || D == 64 || D == 128; }

void attention_bf16_forward(const AttentionParams& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                            uint16_t* out, float* lse) {
  check_head_dim(p.D);
  if (p.B * p.H * p.L == 0) return;
  const Bf16Params kp = make_params(p);
  check_aligned(q, "q");
  check_aligned(k, "k");
  check_aligned(v, "v");
  switch (p.D) {
    case 32: forward_impl<32, 2>(kp, q, k, v, out, lse); break;
    case 64: forward_impl<64, 2>(kp, q, k, v, out, lse); break;
    case 128: forward_impl<128, 1>(kp, q, k, v, out, lse); break;
  }
}

}  // namespace lra::ops::cuda
