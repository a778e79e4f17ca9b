// 1-D average pooling along one dim (the sequence), stride 1, odd window P, zero padding, divisor P:
//
//   x viewed as [outer, L, inner] around dim,  h = (P - 1) / 2
//   y[o, l, c] = (1/P) * sum_{r=-h..h} x[o, l + r, c]      (x = 0 outside 0 <= l + r < L)
//
// The output has x's shape. dim defaults to -2, the L of [B, H, L, d] (per-head values) or of
// [B, L, D]; any dim works. P may exceed L (the window then covers zero padding; the divisor stays P).
// Any dim may be 0, L included: y and gx are then empty.
//
// Backward: the filter is symmetric and the padding is zero, so it is self-adjoint: gx = avgpool(gy).
//
// LaS attention (Zimerman & Wolf) smooths every row of the attention matrix S [Lq, L] along the key
// index with this filter, AP(S)[i, j] = (1/P) sum_r S[i, j + r], before multiplying by V [L, d]. Then
//   (AP(S) V)[i] = sum_j (1/P) sum_r S[i, j + r] V[j] = sum_m S[i, m] * (1/P) sum_r V[m - r]
// (m = j + r; terms with m outside [0, L) vanish by S's zero padding, terms with m - r outside [0, L)
// are V's zero padding). The inner sum is the window mirrored (r -> -r); the window is symmetric, so
//   AP(S) V = S avgpool(V, P, dim of L)     exactly,
// and LaS never needs the L x L matrix. (A one-sided window, e.g. a causal one, would need V pooled
// with the mirrored window; this op provides only the centred one.) tests/ops/avgpool_test_las.cpp
// checks the identity against the explicit computation.
//
// Saved for backward: nothing. Cost: reads and writes 4 bytes per element (float32), ~2 adds per
// element (a running window sum), independent of P.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor avgpool_seq(const Tensor& x, int P, int dim = -2);

// Raw entry points: x, y are [outer, L, inner]; P odd >= 1. y must not alias x.
namespace cpu {
template <class T>
void avgpool_seq(const T* x, T* y, int64_t outer, int64_t L, int64_t inner, int P);
}  // namespace cpu

namespace cuda {
void avgpool_seq(const float* x, float* y, int64_t outer, int64_t L, int64_t inner, int P);
}  // namespace cuda

}  // namespace lra::ops
