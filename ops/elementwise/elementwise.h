// Element-wise ops.
//
//   unary:  relu, gelu (tanh or erf form), silu, sigmoid, tanh, scale,      y = f(x), any shape
//           rsqrt (1/sqrt(x + shift)), elu and exp (+ shift), guard, sin, cos, softplus, laplace
//           (MEGA's attention function; see unary_math.h)
//   glu:    glu(x, dim)   splits dim into halves a | b, y = a * sigmoid(b)    [.., 2D, ..] -> [.., D, ..]
//   cast:   float32 <-> bfloat16 <-> float64 (float64 on the CPU only); int32 -> float (masks)
//   binary: add, sub, mul, div with NumPy broadcasting (ops/elementwise/binary.*)
//
// Empty tensors (any dim 0) give empty results. A binary op broadcasting a size-1 dim against a 0
// (a [1, 3] + b [0, 3]) gives [0, 3], and the stretched operand's gradient is zeros (a sum over no rows).
//
// Saved for backward: unary ops keep x and y (one read each in backward); glu keeps x; binary mul/div
// keep both operands. Bytes moved: unary forward reads n and writes n elements, backward reads 3n and
// writes n. FLOPs are negligible next to the memory traffic.
#pragma once

#include "engine/tensor.h"
#include "ops/elementwise/unary_math.h"

namespace lra::ops {

Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, bool tanh_approximation = false);
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor rsqrt(const Tensor& x, double shift = 0.0);  // 1/sqrt(x + shift); NaN where x + shift < 0
Tensor tanh(const Tensor& x);
Tensor scale(const Tensor& x, double alpha);
Tensor elu(const Tensor& x, double shift = 0.0);  // elu(x) + shift (elu(x) = exp(x) - 1 for x <= 0)
Tensor exp_plus(const Tensor& x, double shift = 0.0);  // exp(x) + shift (not `exp`: it would hide std::exp in ops)
Tensor guard(const Tensor& x, double eps);        // x + 2 eps where |x| <= eps, else x; gradient 1
Tensor sine(const Tensor& x);    // not `sin`, `cos`: they would hide std::sin, std::cos in ops
Tensor cosine(const Tensor& x);
Tensor softplus(const Tensor& x);  // log(1 + exp(x)), overflow-free
Tensor laplace(const Tensor& x);   // ½(1 + erf((x − √½)·√(2π))): MEGA's laplace attention function
Tensor unary(UnaryOp op, const Tensor& x, double alpha = 1.0);

Tensor glu(const Tensor& x, int dim = -1);

// Converts x to dtype (a differentiable no-op when x already has it). int32 -> float32/float64 is
// allowed too (masks), without a gradient.
Tensor cast(const Tensor& x, DType dtype);

// Broadcasting binary ops: shapes align from the right; a dim of size 1 (or a missing leading dim)
// stretches to the other operand's size.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// The broadcast result shape of a and b, or an error naming both shapes.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);
// Sums g (of a broadcast result shape) down to `shape`: the backward of broadcasting.
Tensor sum_to(const Tensor& g, const Shape& shape);

namespace cpu {
template <class T> void unary_forward(UnaryOp op, const T* x, T* y, int64_t n, T alpha);
template <class T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, int64_t n, T alpha);
// x viewed as [outer, 2, D, inner]: y[o, d, i] = x[o, 0, d, i] * sigmoid(x[o, 1, d, i]).
template <class T> void glu_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner);
template <class T> void glu_backward(const T* x, const T* gy, T* gx, int64_t outer, int64_t d, int64_t inner);
// The float32 path training runs (elementwise_cpu_fast.cpp): the same scalar math with the op resolved
// once per call and the elements over OpenMP threads.
void unary_forward_fast(UnaryOp op, const float* x, float* y, int64_t n, float alpha);
void unary_backward_fast(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha);
void glu_forward_fast(const float* x, float* y, int64_t outer, int64_t d, int64_t inner);
void glu_backward_fast(const float* x, const float* gy, float* gx, int64_t outer, int64_t d, int64_t inner);
// y = fast_erf(x) (ops/cpu_fast_math.h) element-wise, compiled with the fast paths' flags: the tests' handle on it.
void erf_fast(const float* x, float* y, int64_t n);
}  // namespace cpu

namespace cuda {
void unary_forward(UnaryOp op, const float* x, float* y, int64_t n, float alpha);
void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha);
void glu_forward(const float* x, float* y, int64_t outer, int64_t d, int64_t inner);
void glu_backward(const float* x, const float* gy, float* gx, int64_t outer, int64_t d, int64_t inner);
void cast_f32_to_bf16(const float* x, uint16_t* y, int64_t n);
void cast_bf16_to_f32(const uint16_t* x, float* y, int64_t n);
void cast_i32_to_f32(const int32_t* x, float* y, int64_t n);
}  // namespace cuda

}  // namespace lra::ops
