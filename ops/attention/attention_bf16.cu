// CUDA attention in bfloat16 on tensor cores (mma.sync m16n8k16, bf16 in, float32 accumulate): a
// FlashAttention-2 forward and backward. Semantics are attention.h's (the float32 kernels in
// attention.cu and the CPU reference in attention_cpu.cpp are the specification); what this path
// rounds to bf16 is listed in attention_bf16.h.
//
// Shapes: q, k, v, out, gout, dq, dk, dv [B, H, L, D] bf16, D in {32, 64, 128} (template instances
// picked by a switch); lse, delta [B, H, L] float32; dq_accum [B, H, L, D] float32 scratch.
//
// Fragments: every multiply is one warp's mma.m16n8k16 (A 16×16, B 16×8, C 16×8 float). Which lane
// holds which element of A, B and C, where each lane points ldmatrix, and the swizzled tile layout are
// the constexpr functions of mma_layout.h, which a CPU test simulates lane by lane. In short: operands
// are loaded from shared memory with ldmatrix.x4 (two 16×8 B operands, or one 16×16 A, per call;
// .trans where the operand is stored transposed), and an accumulator pair C[16×8] + C[16×8] is
// re-packed in registers as the A operand of the next multiply (P into P·V, dS into dSᵀ·Q).
// Shared tiles are rows of D (or BR) bf16 in 16-byte chunks, chunk index XOR-swizzled by the row so
// the 8 rows of one ldmatrix phase hit 8 different bank groups.
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
// Backward (FlashAttention-2): delta_i = dout_i · out_i and dq_accum = 0 (one warp per row); then a
// block per (b, h, 64 keys), each warp 16 keys with its dK, dV accumulators in registers, loops over
// tiles of BR queries in attention_query_range (double buffered), computing in the transposed frame:
//     Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ, Pᵀ = 2^(x − lse·log2 e), dSᵀ = Pᵀ ⊙ (dPᵀ − delta) ⊙ decay,
//     dV += Pᵀ·dO, dK += dSᵀ·Q (both A operands re-packed from the accumulators),
//     dSᵀ -> shared memory (bf16), then dQ_tile = dS·K split over the 4 warps and added to dq_accum
//     with float atomics (float2 atomics on sm_90).
//   dq = dq_accum·scale and dk = dK·scale are scaled once at the end (f = scale·decay; the decay is
//   folded into dS per element).
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
#include <cuda_bf16.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "engine/base.h"
#include "engine/cuda.h"
#include "ops/attention/attention_bf16.h"
#include "ops/attention/mma_layout.h"
#include "ops/cuda_reduce.cuh"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kKeyTile = 64;  // forward: keys per streamed tile; backward: keys per block (16 per warp)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr unsigned kFull = 0xffffffffu;

// The kernels' copy of AttentionParams: float constants, α by value (a host array in the API).
struct Bf16Params {
  int64_t B, H, L;
  float scale;       // dK and dQ are multiplied by it once, at the end
  float scale_log2;  // scale·log2(e): logits are kept in base 2, so each exponential is one exp2
  bool causal;
  int64_t chunk, window;
  const int32_t* key_mask;  // [B, L] or nullptr
  bool has_alpha;
  float alpha_log2[kAttentionMaxAlphaHeads];  // α_h·log2(e), since exp(−α d) = 2^(−α log2(e) d)
};

// ---- PTX wrappers ------------------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_u32(const void* ptr) { return uint32_t(__cvta_generic_to_shared(ptr)); }

// 16 bytes global -> shared without a register round trip; with valid == false nothing is read and
// the 16 bytes are zeros (rows past L).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// d += a·b: A 16×16 (4 registers), B 16×8 (2 registers), D 16×8 float (mma_layout.h).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to bf16 (nearest even) in one register, `lo` in the low half (the lower index).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}
__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) { return __uint_as_float(uint32_t(bits) << 16); }

__device__ __forceinline__ void atomic_add_pair(float* dst, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(dst), make_float2(a, b));  // dst is 8-byte aligned: even column
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
#endif
}

// ---- tiles ---------------------------------------------------------------------------------------------

// Shared address of (row, col) in a swizzled tile of width W at `tile`.
template <int W>
__device__ __forceinline__ uint32_t tile_at(uint32_t tile, mma::Coord rc) {
  return tile + 2u * uint32_t(mma::tile_offset(rc.row, rc.col, W));
}

// Rows [r0, r0 + R) of the row-major [L, W] bf16 matrix src into the R × W swizzled tile at dst; rows
// past L become zeros. Every thread of the block issues its share of 16-byte copies (consecutive
// threads take consecutive chunks of a row: coalesced reads).
template <int R, int W>
__device__ __forceinline__ void load_tile_async(uint32_t dst, const uint16_t* src, int64_t r0, int64_t L) {
  constexpr int kChunks = W / 8;
#pragma unroll
  for (int e = threadIdx.x; e < R * kChunks; e += kThreads) {
    const int r = e / kChunks, c = e % kChunks;
    const bool inside = r0 + r < L;
    const uint16_t* from = inside ? src + (r0 + r) * W + c * 8 : src;
    cp_async_16(tile_at<W>(dst, {r, c * 8}), from, inside);
  }
}

// ---- forward -------------------------------------------------------------------------------------------

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

// ---- backward ------------------------------------------------------------------------------------------

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

// ---- host side ---------------------------------------------------------------------------------------

Bf16Params make_params(const AttentionParams& p) {
  LRA_CHECK(p.dropout == 0.0, "attention_bf16: attention dropout is not supported on the bfloat16 path, got "
            "dropout = ", p.dropout, " (use float32 inputs for dropout)");
  LRA_CHECK(!p.alpha || p.H <= kAttentionMaxAlphaHeads, "attention_bf16: LaS α is supported for at most ",
            kAttentionMaxAlphaHeads, " heads, got H = ", p.H);
  LRA_CHECK(p.B * p.H <= 65535, "attention_bf16: B·H = ", p.B * p.H, " exceeds the CUDA grid limit of 65535");
  // Positions inside a (b, h) are int in the per-element code.
  LRA_CHECK(p.L <= INT_MAX / 2, "attention_bf16: L = ", p.L, " is too long (at most ", INT_MAX / 2, ")");
  Bf16Params k{};
  k.B = p.B;
  k.H = p.H;
  k.L = p.L;
  k.scale = float(p.scale);
  k.scale_log2 = float(p.scale * 1.4426950408889634);
  k.causal = p.causal;
  k.chunk = p.chunk;
  k.window = p.window;
  k.key_mask = p.key_mask;
  k.has_alpha = p.alpha != nullptr;
  for (int64_t h = 0; k.has_alpha && h < p.H; ++h) k.alpha_log2[h] = float(double(p.alpha[h]) * 1.4426950408889634);
  return k;
}

void check_aligned(const void* ptr, const char* what) {
  LRA_CHECK(reinterpret_cast<uintptr_t>(ptr) % 16 == 0, "attention_bf16: ", what,
            " is not 16-byte aligned (the kernels copy 16-byte chunks; a view at an odd offset?)");
}

void check_head_dim(int64_t D) {
  LRA_CHECK(attention_bf16_supports_head_dim(D), "attention_bf16: the bfloat16 kernels support head dims 32, 64 "
            "and 128, got D = ", D);
}

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
