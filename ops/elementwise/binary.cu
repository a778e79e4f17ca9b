// CUDA kernels for the broadcasting binary ops y = a op b (add, sub, mul, div), their per-element
// backward, and the sum that reduces a broadcast gradient to an operand's shape.
//
// Shapes: a, b broadcast to y (up to 5 dims; see binary.h for the geometry). Tiling: one grid-stride
// pass over y, one element per thread per iteration, the op a template parameter so its switch folds
// away. When a, b and y have one shape the index is the flat k; otherwise k is decoded into 5 output
// coordinates and dotted with each operand's broadcast strides (0 on stretched dims).
// Forward reads a and b and writes y: 12 bytes/element when nothing is broadcast (a stretched operand is
// re-read from cache). Backward reads gy (and a, b for mul/div) and writes one or two gradients in y's
// shape; sum_middle (ops/cuda_sum.cuh) then reduces them: 4 bytes per element read.
// Saved for backward: a and b for mul and div, nothing for add and sub.
//
// Version log: v1 grid-stride loops with a flat fast path (the port of binary_cpu.cpp); the reduction is
//   the shared split-n sum of ops/cuda_sum.cuh.
#include "engine/cuda.h"
#include "ops/elementwise/binary.h"
#include "ops/cuda_sum.cuh"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

// Offsets into a and b of output element k.
__device__ __forceinline__ void broadcast_offsets(const BroadcastGeometry& g, int64_t k, int64_t& ia, int64_t& ib) {
  if (g.same) {
    ia = ib = k;
    return;
  }
  ia = ib = 0;
#pragma unroll
  for (int d = BroadcastGeometry::kDims - 1; d >= 0; --d) {
    int64_t c = k % g.out[d];
    k /= g.out[d];
    ia += c * g.a_stride[d];
    ib += c * g.b_stride[d];
  }
}

template <BinaryOp OP>
__device__ __forceinline__ float apply(float a, float b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  if constexpr (OP == BinaryOp::Sub) return a - b;
  if constexpr (OP == BinaryOp::Mul) return a * b;
  return a / b;
}

template <BinaryOp OP>
__global__ void forward_kernel(const float* a, const float* b, float* y, BroadcastGeometry g) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < g.n; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t ia, ib;
    broadcast_offsets(g, k, ia, ib);
    y[k] = apply<OP>(a[ia], b[ib]);
  }
}

// ga, gb (either may be nullptr) in y's shape: add (g, g), sub (g, -g), mul (g b, g a), div (g/b, -g a/b^2).
template <BinaryOp OP>
__global__ void backward_kernel(const float* a, const float* b, const float* gy, float* ga, float* gb,
                                BroadcastGeometry g) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < g.n; k += int64_t(gridDim.x) * blockDim.x) {
    float gk = gy[k];
    if constexpr (OP == BinaryOp::Add || OP == BinaryOp::Sub) {
      if (ga) ga[k] = gk;
      if (gb) gb[k] = OP == BinaryOp::Add ? gk : -gk;
    } else {
      int64_t ia, ib;
      broadcast_offsets(g, k, ia, ib);
      float av = a[ia], bv = b[ib];
      if constexpr (OP == BinaryOp::Mul) {
        if (ga) ga[k] = gk * bv;
        if (gb) gb[k] = gk * av;
      } else {
        if (ga) ga[k] = gk / bv;
        if (gb) gb[k] = -gk * av / (bv * bv);
      }
    }
  }
}

#define LRA_BINARY_SWITCH(KERNEL, op, n, ...)                                                             \
  do {                                                                                                    \
    unsigned blocks = blocks_for(n, kThreads);                                                            \
    switch (op) {                                                                                         \
      case BinaryOp::Add: KERNEL<BinaryOp::Add><<<blocks, kThreads, 0, stream()>>>(__VA_ARGS__); break;   \
      case BinaryOp::Sub: KERNEL<BinaryOp::Sub><<<blocks, kThreads, 0, stream()>>>(__VA_ARGS__); break;   \
      case BinaryOp::Mul: KERNEL<BinaryOp::Mul><<<blocks, kThreads, 0, stream()>>>(__VA_ARGS__); break;   \
      case BinaryOp::Div: KERNEL<BinaryOp::Div><<<blocks, kThreads, 0, stream()>>>(__VA_ARGS__); break;   \
    }                                                                                                     \
    LRA_KERNEL_CHECK();                                                                                   \
  } while (0)

}  // namespace

void binary_forward(BinaryOp op, const float* a, const float* b, float* y, const BroadcastGeometry& g) {
  if (g.n == 0) return;
  LRA_BINARY_SWITCH(forward_kernel, op, g.n, a, b, y, g);
}

void binary_backward(BinaryOp op, const float* a, const float* b, const float* gy, float* ga, float* gb,
                     const BroadcastGeometry& g) {
  if (g.n == 0 || (!ga && !gb)) return;
  LRA_BINARY_SWITCH(backward_kernel, op, g.n, a, b, gy, ga, gb, g);
}

int64_t sum_middle_scratch(int64_t outer, int64_t n, int64_t inner) {
  return sum_middle_scratch_size(outer, n, inner);
}

void sum_middle(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float* scratch) {
  SumMiddleParams p;
  p.x = x;
  p.y = y;
  p.outer = outer;
  p.n = n;
  p.inner = inner;
  ::lra::ops::cuda::sum_middle(p, scratch);
}

}  // namespace lra::ops::cuda
