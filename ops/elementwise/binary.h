// Raw entry points of the broadcasting binary ops (add, sub, mul, div); the differentiable API is in
// elementwise.h.
//
//   y = a op b            a, b broadcast NumPy-style to the shape of y (up to 5 dims)
//   forward:   reads a and b (each at most once per output element) and writes y: 12 bytes/element in
//              float32, 1 FLOP/element.
//   backward:  the per-element gradients in the shape of y,
//                add: (g, g)   sub: (g, -g)   mul: (g b, g a)   div: (g / b, -g a / b^2)
//              then sum_to() each down to its operand's shape (the backward of broadcasting).
//              mul and div keep both operands for backward; add and sub keep nothing.
//
// Broadcast geometry: every shape is padded on the left with 1s to 5 dims; an operand's stride along a
// dim it stretches over is 0, so element k of y reads a[sum_d idx_d(k) * a_stride[d]]. When a, b and y
// have one shape (`same`), the kernels take a flat loop with no index math.
//
// The gradient reduction works on the view [outer, n, inner]: y[o, i] = sum_j x[o, j, i]. sum_to() in
// binary.cpp plans a broadcast reduction as at most three such passes (one per run of adjacent stretched
// dims, innermost first).
#pragma once

#include <cstdint>

#include "engine/shape.h"

namespace lra::ops {

enum class BinaryOp { Add, Sub, Mul, Div };

struct BroadcastGeometry {
  static constexpr int kDims = Shape::kMaxDims;
  int64_t out[kDims];       // output dims, padded on the left with 1s
  int64_t a_stride[kDims];  // element stride of a per output dim; 0 where a is stretched
  int64_t b_stride[kDims];
  int64_t n;                // number of output elements
  bool same;                // a, b and y have one shape: flat indexing
};

// The geometry of `a op b` with output shape `out` (= broadcast_shape(a, b)).
BroadcastGeometry broadcast_geometry(const Shape& a, const Shape& b, const Shape& out);

namespace cpu {
// Calls f(k, ia, ib) for every output element k with the offsets it reads in a and b (a flat loop when
// the shapes agree). The reference loops and the fast path's fallback for interleaved broadcasts share it;
// each caller passes its own lambda, so every instantiation is local to its file's compile flags.
template <class F>
void for_each_broadcast(const BroadcastGeometry& g, F&& f) {
  if (g.same) {
    for (int64_t k = 0; k < g.n; ++k) f(k, k, k);
    return;
  }
  constexpr int D = BroadcastGeometry::kDims;
  int64_t idx[D] = {};
  int64_t ia = 0, ib = 0;
  for (int64_t k = 0; k < g.n; ++k) {
    f(k, ia, ib);
    // Odometer step: bump the last dim, carry into the ones before it.
    for (int d = D - 1; d >= 0; --d) {
      ia += g.a_stride[d];
      ib += g.b_stride[d];
      if (++idx[d] < g.out[d]) break;
      ia -= g.a_stride[d] * g.out[d];
      ib -= g.b_stride[d] * g.out[d];
      idx[d] = 0;
    }
  }
}

template <class T>
void binary_forward(BinaryOp op, const T* a, const T* b, T* y, const BroadcastGeometry& g);
// ga, gb: per-element gradients in the output's shape; either may be nullptr (not wanted).
template <class T>
void binary_backward(BinaryOp op, const T* a, const T* b, const T* gy, T* ga, T* gb, const BroadcastGeometry& g);
// y[o, i] = sum_j x[o, j, i] for x viewed as [outer, n, inner].
template <class T>
void sum_middle(const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
// The float32 path training runs (binary_cpu_fast.cpp): the op resolved once per call, vectorised loops
// for same shapes, row, column and scalar broadcasts, OpenMP threads; results independent of the thread
// count.
void binary_forward_fast(BinaryOp op, const float* a, const float* b, float* y, const BroadcastGeometry& g);
void binary_backward_fast(BinaryOp op, const float* a, const float* b, const float* gy, float* ga, float* gb,
                          const BroadcastGeometry& g);
void sum_middle_fast(const float* x, float* y, int64_t outer, int64_t n, int64_t inner);
}  // namespace cpu

namespace cuda {
void binary_forward(BinaryOp op, const float* a, const float* b, float* y, const BroadcastGeometry& g);
void binary_backward(BinaryOp op, const float* a, const float* b, const float* gy, float* ga, float* gb,
                     const BroadcastGeometry& g);
// Floats of scratch sum_middle() needs (0 when it runs in one pass).
int64_t sum_middle_scratch(int64_t outer, int64_t n, int64_t inner);
void sum_middle(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float* scratch);
}  // namespace cuda

}  // namespace lra::ops
