// Linear upsampling by an integer factor along the last dim: PyTorch's
// F.interpolate(x, scale_factor=f, mode="linear", align_corners=False), edge clamping included.
// SGConv (models/mixers/sgconv.cpp) stretches each of its short sub-kernels with it.
//
//   x [..., Lin] viewed as [R, Lin];  y [R, Lout], Lout = f·Lin, f >= 1
//   src(d) = max(0, s·(d + ½) − ½),  s = 1/f          (the output sample's centre, in input coordinates)
//   i0 = ⌊src⌋,  i1 = min(i0 + 1, Lin − 1),  λ = src − i0
//   y[r, d] = (1 − λ)·x[r, i0] + λ·x[r, i1]
//
// So the first ⌈f/2⌉ outputs and the last ⌊f/2⌋ + 1 or so copy the edge samples (the clamp at src < 0 and
// i1 = i0 at the right end), and every other output is a weighted pair of neighbours. With f = 1 the op
// is the identity (λ = 0); with Lin = 1 every output is x[r, 0]. Lin = 0 or R = 0 gives an empty y.
// s is 1/f rounded to the scalar type, as PyTorch computes it (1.0/f in double, cast); for f a power of
// two every src and λ is exact.
//
// Backward (g = ∂y):  ∂x[r, j] = Σ_d g[r, d]·((1 − λ_d)·[i0_d = j] + λ_d·[i1_d = j])
//   The outputs that touch input j lie in d ∈ [(j − 1)·f, (j + 2)·f) (i0_d ∈ {j − 1, j}), so the CUDA
//   backward gathers over at most 3f outputs per input element: no atomics, a fixed summation order.
// Saved for backward: nothing but the shape. Cost (float32): forward reads Lin, writes 4·Lout bytes per
// row, 3 FLOPs per output; backward reads the 3f-output window per input (from cache), writes 4·Lin bytes.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_INTERP_HD __host__ __device__ inline
#else
#define LRA_INTERP_HD inline
#endif

namespace lra::ops {

// y = upsample_linear(x, factor): see the formula above. Differentiable in x.
Tensor upsample_linear(const Tensor& x, int64_t factor);

// Output d's two source taps and the weight of the second (shared by the CPU reference and the kernels).
template <class T>
struct InterpTaps {
  int64_t i0, i1;
  T lambda;
};
template <class T>
LRA_INTERP_HD InterpTaps<T> interp_taps(int64_t d, int64_t Lin, T scale) {
  T src = scale * (T(d) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  int64_t i0 = int64_t(src);  // src >= 0: truncation is the floor
  if (i0 > Lin - 1) i0 = Lin - 1;
  int64_t i1 = i0 < Lin - 1 ? i0 + 1 : i0;
  return {i0, i1, src - T(i0)};
}

struct InterpShape {
  int64_t R = 1, Lin = 1, factor = 1;  // x [R, Lin], y [R, Lin·factor]
  LRA_INTERP_HD int64_t Lout() const { return Lin * factor; }
};

// Raw entry points (no Tensor). y must not alias x; backward writes gx fresh (not accumulated).
namespace cpu {
template <class T>
void upsample_linear_forward(const InterpShape& s, const T* x, T* y);
template <class T>
void upsample_linear_backward(const InterpShape& s, const T* gy, T* gx);
}  // namespace cpu

namespace cuda {
void upsample_linear_forward(const InterpShape& s, const float* x, float* y);
void upsample_linear_backward(const InterpShape& s, const float* gy, float* gx);
}  // namespace cuda

}  // namespace lra::ops
