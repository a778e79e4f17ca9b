// Reductions over one dim, over everything, and the masked mean pooling of classifier heads.
//
//   sum(x, dim), mean(x, dim), max(x, dim)   reduce dim; keepdim leaves it as a dim of size 1
//   sum_all(x), mean_all(x)                  shape [] (a scalar)
//   masked_mean(x, mask)                     x [B, L, D], mask [B, L] int32 (nonzero = keep) -> [B, D]:
//       y[b, d] = sum_l mask[b, l] x[b, l, d] / count_b,  count_b = #{l : mask[b, l] != 0};
//       a row with count_b = 0 gives zeros (not NaN) and passes no gradient.
//
// NaN: max treats NaN as larger than every number, so it propagates as in PyTorch's torch.max(x, dim):
// a slice holding a NaN gives NaN, its argmax is the first NaN, and the gradient goes there. Sums
// propagate NaN by arithmetic.
//
// Empty extents (handled in the glue, identically on both devices, no kernel launched): an empty result
// (outer or inner is 0) is an empty tensor; a sum over an empty dim is 0; masked_mean with L = 0 is all
// zeros. mean over an empty dim and mean_all of an empty tensor are errors when the result has elements
// (a mean of nothing; PyTorch would give NaN), and max over an empty dim is always an error, as in
// PyTorch (there is no argmax).
//
// Layout: a reduction over dim views x as [outer, n, inner] (outer = product of the dims before dim,
// n = x.dim(dim), inner = product of the dims after it), so y is [outer, inner]: y[o, i] = f_j x[o, j, i].
// sum_all is the case outer = inner = 1; masked_mean is outer = B, n = L, inner = D with mask weights.
//
// Backward:
//   sum:  gx[o, j, i] = gy[o, i];    mean: gy[o, i] / n;    masked_mean: mask[b, l] * gy[b, d] / count_b
//   max:  gy[o, i] goes to the first j where x[o, j, i] attains the max (the first NaN if any), 0 elsewhere.
// Saved for backward: nothing for sum and mean; the argmax (int32 [outer, inner]) for max; the mask and
// 1 / count_b (or 0) for masked_mean. Bytes moved: forward reads x once (4 bytes/element) and writes
// outer * inner; backward writes gx once (max: a zero fill, then a scatter of outer * inner values).
// Sums accumulate in the input's type (float32 on the GPU) in a fixed order: results are deterministic.
#pragma once

#include <cstdint>

#include "engine/rng.h"  // LRA_HD
#include "engine/tensor.h"

namespace lra::ops {

// The order of max and its argmax, shared by the CPU reference and the kernels: a beats b when a > b,
// or when a is NaN and b is not. Scanning j upwards and taking x[j] only when it beats the best so far
// keeps the first NaN, or, without NaN, the first element attaining the max.
template <class T>
LRA_HD bool max_beats(T a, T b) {
  return a > b || (a != a && b == b);
}

Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);
Tensor max(const Tensor& x, int dim, bool keepdim = false);  // gradient to the first argmax
Tensor sum_all(const Tensor& x);
Tensor mean_all(const Tensor& x);
Tensor masked_mean(const Tensor& x, const Tensor& mask);

// Raw entry points; x is [outer, n, inner], y and gy are [outer, inner].
namespace cpu {
// y = scale * sum_j x[o, j, i]
template <class T>
void sum_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, T scale);
// gx[o, j, i] = scale * gy[o, i]
template <class T>
void sum_backward(const T* gy, T* gx, int64_t outer, int64_t n, int64_t inner, T scale);
template <class T>
void max_forward(const T* x, T* y, int32_t* argmax, int64_t outer, int64_t n, int64_t inner);
// gx must be zero on entry; writes gy[o, i] at gx[o, argmax[o, i], i].
template <class T>
void max_backward(const T* gy, const int32_t* argmax, T* gx, int64_t outer, int64_t n, int64_t inner);
// x [B, L, D], mask [B, L]; writes y [B, D] and inv_count [B] (1 / count_b, or 0 for an empty row).
template <class T>
void masked_mean_forward(const T* x, const int32_t* mask, T* y, T* inv_count, int64_t B, int64_t L, int64_t D);
template <class T>
void masked_mean_backward(const T* gy, const int32_t* mask, const T* inv_count, T* gx, int64_t B, int64_t L,
                          int64_t D);
// The float32 path training runs (reduce_cpu_fast.cpp): sums in fixed j chunks over OpenMP threads, the
// broadcasts over threads; results independent of the thread count.
void sum_forward_fast(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float scale);
void sum_backward_fast(const float* gy, float* gx, int64_t outer, int64_t n, int64_t inner, float scale);
void masked_mean_forward_fast(const float* x, const int32_t* mask, float* y, float* inv_count, int64_t B, int64_t L,
                              int64_t D);
void masked_mean_backward_fast(const float* gy, const int32_t* mask, const float* inv_count, float* gx, int64_t B,
                               int64_t L, int64_t D);
}  // namespace cpu

namespace cuda {
// Floats of scratch sum_forward() and masked_mean_forward() need (0: none, pass nullptr).
int64_t sum_scratch(int64_t outer, int64_t n, int64_t inner);
void sum_forward(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float scale, float* scratch);
void sum_backward(const float* gy, float* gx, int64_t outer, int64_t n, int64_t inner, float scale);
void max_forward(const float* x, float* y, int32_t* argmax, int64_t outer, int64_t n, int64_t inner);
void max_backward(const float* gy, const int32_t* argmax, float* gx, int64_t outer, int64_t n, int64_t inner);
// scratch: sum_scratch(B, L, D) floats.
void masked_mean_forward(const float* x, const int32_t* mask, float* y, float* inv_count, int64_t B, int64_t L,
                         int64_t D, float* scratch);
void masked_mean_backward(const float* gy, const int32_t* mask, const float* inv_count, float* gx, int64_t B,
                          int64_t L, int64_t D);
}  // namespace cuda

}  // namespace lra::ops
