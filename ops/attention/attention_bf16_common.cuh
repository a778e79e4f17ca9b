// The helpers both halves of the bfloat16 tensor-core attention use: attention_bf16.cu (the overview
// of both passes, the forward and the version log) and attention_bf16_backward.cu (the backward). It
// holds the block shape and tile constants, the kernels' parameter struct, the PTX wrappers (cp.async,
// ldmatrix, mma.sync m16n8k16), the swizzled tile loader and the host-side argument checks of both
// entry points. No kernel and no template instance lives here. Include only from those two files.
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
// Every definition here is inline (functions, function templates, inline constexpr constants), so
// the two translation units share one definition of each; the namespace keeps these short names
// (kThreads, make_params, ...) apart from other ops' helpers.
#pragma once

#include <cuda_bf16.h>

#include <climits>
#include <cstdint>

#include "engine/base.h"
#include "ops/attention/attention_bf16.h"
#include "ops/attention/mma_layout.h"

namespace lra::ops::cuda::bf16_attention {

inline constexpr int kWarps = 4;
inline constexpr int kThreads = 32 * kWarps;
inline constexpr int kKeyTile = 64;  // forward: keys per streamed tile; backward: keys per block (16 per warp)
inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;
inline constexpr unsigned kFull = 0xffffffffu;

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

// ---- PTX wrappers ---------------------------------------------------------------------------------------

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

// ---- tiles ----------------------------------------------------------------------------------------------

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

// ---- host side: the kernels' parameters and the argument checks of both entry points --------------------

inline Bf16Params make_params(const AttentionParams& p) {
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

inline void check_aligned(const void* ptr, const char* what) {
  LRA_CHECK(reinterpret_cast<uintptr_t>(ptr) % 16 == 0, "attention_bf16: ", what,
            " is not 16-byte aligned (the kernels copy 16-byte chunks; a view at an odd offset?)");
}

inline void check_head_dim(int64_t D) {
  LRA_CHECK(attention_bf16_supports_head_dim(D), "attention_bf16: the bfloat16 kernels support head dims 32, 64 "
            "and 128, got D = ", D);
}

}  // namespace lra::ops::cuda::bf16_attention
