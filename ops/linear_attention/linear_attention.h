// Causal linear attention: the running-state product of causal Linear Transformers and Performers.
//
//   y[.., t, r] = sum_{j <= t} (q_t · k_j) v[.., j, r]      q, k [..., L, P], v [..., L, R] -> y [..., L, R]
//
// written as a recurrence over the state S_t = sum_{j <= t} k_j v_jᵀ [P, R]:  y_t = S_tᵀ q_t. Nothing
// L×L exists; each sequence carries one P×R state. P is the feature size (the head dim d for elu + 1
// features, nb_features for the Performer), R the value width. The normaliser q_t · sum_{j <= t} k_j of
// normalised linear attention is the same op with a column of ones appended to v (the callers do that).
// The non-causal form needs no op of its own: it is two matmuls (q (kᵀ v)).
//
// One raw primitive does forward and backward, prefix_contract(u, w, x, reverse):
//   M_t = sum_{j <= t} u_j w_jᵀ   (reverse: sum_{j >= t})   [P, R],     out_t = M_tᵀ x_t   [R]
// with u, x [N, L, P] and w, out [N, L, R] (N = the leading dims flattened: batch × heads).
//   forward:  y  = prefix_contract(k, v, q)
//   backward, g = dL/dy:
//     dq_t = S_t g_t                              = prefix_contract(v, k, g)            (state sum v kᵀ)
//     dk_t = (sum_{i >= t} q_i g_iᵀ) v_t          = prefix_contract(g, q, v, reverse)   (state sum g qᵀ)
//     dv_t = (sum_{i >= t} q_i g_iᵀ)ᵀ k_t         = prefix_contract(q, g, k, reverse)   (state sum q gᵀ)
//   So the backward is three more runs of the forward's loop; no per-step state is stored.
//
// Saved for backward: q, k, v. Cost per sequence: forward 4·L·P·R FLOPs (2 for the state update, 2 for
// the contraction), backward 12·L·P·R; memory O(L·(P + R)) for the tensors plus one P×R state (the CUDA
// kernel keeps it in a scratch buffer [N, P, R]). Empty extents: N, L or R of 0 give an empty y; P = 0
// gives y = 0 (a sum over no features) and an empty dq, dk.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor causal_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v);

// Raw entry points (see the header comment). out must not alias the inputs.
namespace cpu {
template <class T>
void prefix_contract(const T* u, const T* w, const T* x, T* out, int64_t N, int64_t L, int64_t P, int64_t R,
                     bool reverse);
}  // namespace cpu

namespace cuda {
// state: scratch of N * P * R floats (overwritten).
void prefix_contract(const float* u, const float* w, const float* x, float* out, float* state, int64_t N, int64_t L,
                     int64_t P, int64_t R, bool reverse);
}  // namespace cuda

}  // namespace lra::ops
