// Attention in bfloat16 on tensor cores: the same op as ops::attention (attention.h holds the
// semantics), with bf16 q, k, v, out and gradients and float32 arithmetic everywhere a value is summed
// (the logits S, the softmax statistics m and l, the O accumulator, dP, dS before it is rounded to
// feed a multiply, and the dQ / dK / dV accumulators). The float32 / float64 op stays the reference.
//
//   q, k, v, out, dq, dk, dv: [B, H, L, D] bfloat16 on CUDA, D in {32, 64, 128};
//   key_mask: int32 [B, L] (0 = padding) or undefined.
// Supported options: causal, chunk + window, LaS alpha (at most kAttentionMaxAlphaHeads heads), scale.
// Rejected with an error naming the option: an additive bias, attention dropout, the token band and the
// fixed pattern (the kernels' per-row key intervals below cannot express the fixed pattern; the band
// could be added there), a CPU tensor.
//
// What is rounded to bf16 beyond the inputs and outputs: P before P·V (forward) and before Pᵀ·dO, and
// dS·f before dSᵀ·Q and dS·K (backward), as FlashAttention-2 does. tests/ops/attention_test_bf16.cpp
// bounds the resulting error by twice that of a straightforward bf16 computation.
//
// Saved for backward: q, k, v, out (bf16) and the per-row logsumexp lse [B, H, L] (float32, +inf for a
// query with no included key). The backward also needs float32 scratch: delta [B, H, L] and a dq
// accumulator [B, H, L, D] (dq is summed over key tiles with float atomics, so it is not bit-for-bit
// deterministic, unlike the float32 path).
// FLOPs and bytes: attention_bf16.cu's header.
#pragma once

#include <cstdint>

#include "ops/attention/attention.h"

namespace lra::ops {

// Differentiable in q, k and v. `bias` exists so that ops::attention can forward its arguments
// unchanged; a defined bias is an error (the bf16 path has no bias).
Tensor attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                      const AttentionOptions& options, const Tensor& bias = Tensor());

// Whether every pair (i, j) with i in [i0, i1) and j in [j0, j1) is allowed by structure (causal /
// chunk / window; not the key mask). Non-empty ranges. The kernels skip the per-element test on such
// tiles; it must never say true when attention_pair_allowed would say false for one pair.
LRA_HD bool attention_tile_all_allowed(bool causal, int64_t chunk, int64_t window, int64_t i0, int64_t i1,
                                       int64_t j0, int64_t j1) {
  if (causal && j1 - 1 > i0) return false;  // the largest key must not pass the smallest query
  if (chunk > 0) {
    const int64_t bi0 = i0 / chunk, bi1 = (i1 - 1) / chunk, bj0 = j0 / chunk, bj1 = (j1 - 1) / chunk;
    if (bj0 < bi1 - window || bj1 > bi0 + window) return false;  // the farthest block pairs
  }
  return true;
}

// By structure, query i attends exactly to the keys j in [*begin, *end) (possibly empty, *begin may
// be negative): a chunk window is a run of whole blocks, [(bi − w)·C, (bi + w + 1)·C) with bi = i / C,
// and causal cuts it at i + 1. Equivalent to attention_pair_allowed for every j >= 0; the kernels
// compute it once per row instead of dividing per element.
LRA_HD void attention_allowed_keys(bool causal, int64_t chunk, int64_t window, int64_t i, int64_t* begin,
                                   int64_t* end) {
  int64_t b = INT64_MIN / 2, e = INT64_MAX / 2;
  if (chunk > 0) {
    b = (i / chunk - window) * chunk;
    e = (i / chunk + window + 1) * chunk;
  }
  if (causal && e > i + 1) e = i + 1;
  *begin = b;
  *end = e;
}

// The mirror image: key j is attended by exactly the queries i in [*begin, *end).
LRA_HD void attention_allowed_queries(bool causal, int64_t chunk, int64_t window, int64_t j, int64_t* begin,
                                      int64_t* end) {
  int64_t b = INT64_MIN / 2, e = INT64_MAX / 2;
  if (chunk > 0) {
    b = (j / chunk - window) * chunk;
    e = (j / chunk + window + 1) * chunk;
  }
  if (causal && b < j) b = j;
  *begin = b;
  *end = e;
}

// Raw entry points: pointers on the device, bf16 as its 16-bit pattern (the __nv_bfloat16 layout).
// q, k, v, out, gout must be 16-byte aligned (they are read in 16-byte chunks). p.dropout must be 0.
namespace cuda {
bool attention_bf16_supports_head_dim(int64_t D);
// out [B, H, L, D] bf16 and lse [B, H, L] float32.
void attention_bf16_forward(const AttentionParams& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                            uint16_t* out, float* lse);
// delta [B, H, L] and dq_accum [B, H, L, D] are float32 scratch (overwritten); gq, gk, gv are written.
void attention_bf16_backward(const AttentionParams& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                             const uint16_t* out, const float* lse, const uint16_t* gout, float* delta,
                             float* dq_accum, uint16_t* gq, uint16_t* gk, uint16_t* gv);
}  // namespace cuda

}  // namespace lra::ops
