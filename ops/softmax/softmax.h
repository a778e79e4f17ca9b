// Softmax and log-softmax over the last dim, with an optional key-padding mask.
//
//   softmax(x)[r, j]     = exp(x[r, j] - m_r) / s_r            x viewed as [rows, L]
//   log_softmax(x)[r, j] = x[r, j] - m_r - log(s_r)
//   m_r = max over included j of x[r, j],  s_r = sum over included j of exp(x[r, j] - m_r)
//
// x has any rank >= 1; L = x.dim(-1), rows = numel / L. Subtracting the row max keeps exp() in range.
// Any dim may be 0: y and dx are then empty (L = 0 is rows of nothing, not a division by zero).
//
// Mask (optional): int32 [B, L] with B = x.dim(0) (so x needs rank >= 2); row r of x belongs to batch
// r / (rows / B), and mask[b, j] == 0 excludes position j from every row of batch b: attention scores
// [B, H, Lq, L] with a padding mask [B, L] is the intended use.
//   * softmax: excluded positions get probability exactly 0.
//   * log_softmax: excluded positions get exactly 0, a placeholder and not a log-probability. -inf would
//     turn 0 * y into NaN in any weighted sum downstream, and a large finite negative (-1e30) swamps
//     every float sum it enters (it also defeats finite-difference checks); 0 contributes nothing.
//     Use softmax, or the mask itself, when the probability of an excluded position matters.
//   * A fully masked row is all zeros in both outputs and gets zero gradient: never NaN. (A row whose
//     included x are all -inf also gives zeros rather than NaN.)
//   * The gradient at excluded positions is exactly 0.
//
// Backward (g = upstream gradient, sums over included positions only):
//   softmax:     dx = y * (g - sum_j g_j y_j)
//   log_softmax: dx = g - exp(y) * sum_j g_j        (0 at excluded positions)
// Saved for backward: y (and the mask for log_softmax). Bytes moved per element (float32): forward
// reads x up to three times from cache and writes y once (8 bytes from DRAM for rows that fit in
// L1/L2); backward reads y and g twice and writes dx (12 bytes from DRAM). FLOPs: ~5 per element.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor softmax(const Tensor& x, const Tensor& mask = Tensor());
Tensor log_softmax(const Tensor& x, const Tensor& mask = Tensor());

// Raw entry points: x, y, gy, gx are [rows, L]; mask is [rows / rows_per_mask, L] or nullptr (then
// rows_per_mask is ignored); row r reads mask row r / rows_per_mask. `log` picks log_softmax.
namespace cpu {
template <class T>
void softmax_forward(const T* x, T* y, const int32_t* mask, int64_t rows, int64_t L, int64_t rows_per_mask, bool log);
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, const int32_t* mask, int64_t rows, int64_t L,
                      int64_t rows_per_mask, bool log);
// The float32 path training runs (softmax_cpu_fast.cpp): the same math in float32 with fast_exp, rows over
// OpenMP threads (independent of the thread count).
void softmax_forward_fast(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L,
                          int64_t rows_per_mask, bool log);
void softmax_backward_fast(const float* y, const float* gy, float* gx, const int32_t* mask, int64_t rows, int64_t L,
                           int64_t rows_per_mask, bool log);
}  // namespace cpu

namespace cuda {
void softmax_forward(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L, int64_t rows_per_mask,
                     bool log);
void softmax_backward(const float* y, const float* gy, float* gx, const int32_t* mask, int64_t rows, int64_t L,
                      int64_t rows_per_mask, bool log);
}  // namespace cuda

}  // namespace lra::ops
