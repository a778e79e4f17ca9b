// CUDA kernels for the unary ops, GLU and dtype casts. Memory-bound: one grid-stride pass, one element
// per thread per iteration, the op chosen at compile time so the switch folds away.
//   unary forward: reads x, writes y (8 bytes/element); backward reads x, y, gy, writes gx (16 bytes).
// Version log: v1 scalar grid-stride loops (the direct port of elementwise_cpu.cpp).
#include <cuda_bf16.h>

#include "engine/cuda.h"
#include "ops/elementwise/elementwise.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

template <UnaryOp OP>
__global__ void unary_forward_kernel(const float* x, float* y, int64_t n, float alpha) {
  LRA_GRID_STRIDE(i, n) y[i] = unary_forward_scalar(OP, x[i], alpha);
}

template <UnaryOp OP>
__global__ void unary_backward_kernel(const float* x, const float* y, const float* gy, float* gx, int64_t n,
                                      float alpha) {
  LRA_GRID_STRIDE(i, n) gx[i] = unary_backward_scalar(OP, x[i], y[i], gy[i], alpha);
}

__global__ void glu_forward_kernel(const float* x, float* y, int64_t outer, int64_t half) {
  LRA_GRID_STRIDE(k, outer * half) {
    int64_t o = k / half, j = k % half;
    y[k] = x[o * 2 * half + j] * sigmoid_of(x[o * 2 * half + half + j]);
  }
}

__global__ void glu_backward_kernel(const float* x, const float* gy, float* gx, int64_t outer, int64_t half) {
  LRA_GRID_STRIDE(k, outer * half) {
    int64_t o = k / half, j = k % half;
    float a = x[o * 2 * half + j], s = sigmoid_of(x[o * 2 * half + half + j]), g = gy[k];
    gx[o * 2 * half + j] = g * s;
    gx[o * 2 * half + half + j] = g * a * s * (1.0f - s);
  }
}

__global__ void f32_to_bf16_kernel(const float* x, __nv_bfloat16* y, int64_t n) {
  LRA_GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}
__global__ void i32_to_f32_kernel(const int32_t* x, float* y, int64_t n) {
  LRA_GRID_STRIDE(i, n) y[i] = float(x[i]);
}
__global__ void bf16_to_f32_kernel(const __nv_bfloat16* x, float* y, int64_t n) {
  LRA_GRID_STRIDE(i, n) y[i] = __bfloat162float(x[i]);
}

}  // namespace

#define LRA_UNARY_SWITCH(KERNEL, op, n, ...)                                                                      \
  do {                                                                                                           \
    unsigned blocks = blocks_for(n, 256);                                                                       \
    switch (op) {                                                                                                \
      case UnaryOp::Relu: KERNEL<UnaryOp::Relu><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;               \
      case UnaryOp::GeluTanh: KERNEL<UnaryOp::GeluTanh><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;       \
      case UnaryOp::GeluErf: KERNEL<UnaryOp::GeluErf><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;         \
      case UnaryOp::Silu: KERNEL<UnaryOp::Silu><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;               \
      case UnaryOp::Sigmoid: KERNEL<UnaryOp::Sigmoid><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;         \
      case UnaryOp::Tanh: KERNEL<UnaryOp::Tanh><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;               \
      case UnaryOp::Scale: KERNEL<UnaryOp::Scale><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;             \
      case UnaryOp::Rsqrt: KERNEL<UnaryOp::Rsqrt><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;             \
      case UnaryOp::Elu: KERNEL<UnaryOp::Elu><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;                 \
      case UnaryOp::Exp: KERNEL<UnaryOp::Exp><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;                 \
      case UnaryOp::Guard: KERNEL<UnaryOp::Guard><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;             \
      case UnaryOp::Sin: KERNEL<UnaryOp::Sin><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;                 \
      case UnaryOp::Cos: KERNEL<UnaryOp::Cos><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;                 \
      case UnaryOp::Softplus: KERNEL<UnaryOp::Softplus><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;       \
      case UnaryOp::Laplace: KERNEL<UnaryOp::Laplace><<<blocks, 256, 0, stream()>>>(__VA_ARGS__); break;         \
    }                                                                                                            \
    LRA_KERNEL_CHECK();                                                                                          \
  } while (0)

void unary_forward(UnaryOp op, const float* x, float* y, int64_t n, float alpha) {
  if (n == 0) return;
  LRA_UNARY_SWITCH(unary_forward_kernel, op, n, x, y, n, alpha);
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha) {
  if (n == 0) return;
  LRA_UNARY_SWITCH(unary_backward_kernel, op, n, x, y, gy, gx, n, alpha);
}

void glu_forward(const float* x, float* y, int64_t outer, int64_t d, int64_t inner) {
  int64_t n = outer * d * inner;
  if (n == 0) return;
  glu_forward_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, outer, d * inner);
  LRA_KERNEL_CHECK();
}

void glu_backward(const float* x, const float* gy, float* gx, int64_t outer, int64_t d, int64_t inner) {
  int64_t n = outer * d * inner;
  if (n == 0) return;
  glu_backward_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, gy, gx, outer, d * inner);
  LRA_KERNEL_CHECK();
}

void cast_f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, reinterpret_cast<__nv_bfloat16*>(y), n);
  LRA_KERNEL_CHECK();
}

void cast_bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  if (n == 0) return;
  bf16_to_f32_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(reinterpret_cast<const __nv_bfloat16*>(x), y, n);
  LRA_KERNEL_CHECK();
}

void cast_i32_to_f32(const int32_t* x, float* y, int64_t n) {
  if (n == 0) return;
  i32_to_f32_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, n);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
