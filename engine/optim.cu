// Optimizer kernels over the flat parameter buffer (see engine/optim.h), float32.
//
//  adamw_step  p, g, m, v: [n] flat buffers split into <= kMaxSegments contiguous segments, each with
//              its own learning rate and weight decay. One fused grid-stride pass: each thread finds
//              its element's segment by a short loop over the segments (passed by value as a kernel
//              argument, so they sit in the constant bank), then applies decoupled decay and the
//              bias-corrected Adam update. Reads p, g, m, v and writes p, m, v: 28 bytes and ~15 FLOPs
//              per element, so it runs at memory bandwidth.
//  sgd_step    the same structure for SGD with momentum: 12 bytes (no momentum) or 20 bytes per element.
//  grad_norm   deterministic two-stage sum of squares: stage 1 has a FIXED number of blocks for a
//              given n (grad_norm_partials), each reducing a grid-stride share (warp shuffles, then
//              shared memory) into one partial; stage 2 is one block summing the partials in a fixed
//              order and writing sqrt to a device scalar. 4 bytes per element.
//  clip_scale  g *= min(1, max_norm / (norm + 1e-6)) with the norm read on the device, so clipping
//              never waits for the host. 8 bytes per element.
// Nothing here is differentiated; there is no backward.
// Per-segment coefficients (lr, decay factor, step size) are computed on the host in float32 with the
// same expressions as the CPU reference in engine/optim.cpp, so the two agree to a few ulps.
//
// Version log: v1 naive fused grid-stride kernels, one element per thread per iteration.
#include <cmath>

#include "engine/cuda.h"
#include "engine/optim.h"

namespace lra::optim::cuda {

using ::lra::cuda::blocks_for;
using ::lra::cuda::stream;

namespace {

constexpr int kThreads = 256;
constexpr int kMaxPartials = 1024;

struct AdamWSegment {
  int64_t end;
  float decay, step_size;
};
struct AdamWArgs {
  int count;
  AdamWSegment seg[kMaxSegments];
  float beta1, beta2, eps, sqrt_bc2;
};

struct SGDSegment {
  int64_t end;
  float lr, weight_decay;
};
struct SGDArgs {
  int count;
  SGDSegment seg[kMaxSegments];
  float momentum;
  bool nesterov;
};

// Segments are contiguous and sorted, so the first whose end exceeds i holds i.
template <class S>
__device__ __forceinline__ const S& segment_of(const S* seg, int count, int64_t i) {
  int k = 0;
  while (k + 1 < count && i >= seg[k].end) ++k;
  return seg[k];
}

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamWArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const AdamWSegment& s = segment_of(a.seg, a.count, i);
    float gi = g[i];
    float mi = a.beta1 * m[i] + (1.0f - a.beta1) * gi;
    float vi = a.beta2 * v[i] + (1.0f - a.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i] * s.decay;
    p[i] = pi - s.step_size * mi / (sqrtf(vi) / a.sqrt_bc2 + a.eps);
  }
}

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, SGDArgs a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const SGDSegment& s = segment_of(a.seg, a.count, i);
    float d = g[i] + s.weight_decay * p[i];
    if (buf) {
      float b = a.momentum * buf[i] + d;
      buf[i] = b;
      d = a.nesterov ? d + a.momentum * b : b;
    }
    p[i] -= s.lr * d;
  }
}

// Sum of `x` over the block; the result is valid in thread 0. blockDim.x is a multiple of 32.
__device__ float block_sum(float x) {
  __shared__ float warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = x;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  x = threadIdx.x < warps ? warp_sums[threadIdx.x] : 0.0f;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
  return x;
}

__global__ void sum_squares_kernel(const float* g, int64_t n, float* partials) {
  float s = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += g[i] * g[i];
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void finish_norm_kernel(const float* partials, int count, float* norm) {
  float s = 0.0f;
  for (int j = threadIdx.x; j < count; j += blockDim.x) s += partials[j];
  s = block_sum(s);
  if (threadIdx.x == 0) norm[0] = sqrtf(s);
}

__global__ void clip_scale_kernel(float* g, int64_t n, const float* norm, float max_norm) {
  const float coef = fminf(1.0f, max_norm / (norm[0] + 1e-6f));
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    g[i] *= coef;
}

int64_t total(const Segments& segs) { return segs.count ? segs.seg[segs.count - 1].end : 0; }

}  // namespace

void adamw_step(float* p, const float* g, float* m, float* v, const Segments& segs, const AdamWParams& a) {
  const int64_t n = total(segs);
  if (n == 0) return;
  AdamWArgs args{};
  args.count = segs.count;
  for (int k = 0; k < segs.count; ++k) {
    // The CPU reference's float expressions (engine/optim.cpp), evaluated once per segment here.
    const float lr = float(a.lr * segs.seg[k].lr_scale);
    args.seg[k].end = segs.seg[k].end;
    args.seg[k].decay = 1.0f - lr * float(segs.seg[k].weight_decay);
    args.seg[k].step_size = lr / float(a.bias_correction1);
  }
  args.beta1 = float(a.beta1);
  args.beta2 = float(a.beta2);
  args.eps = float(a.eps);
  args.sqrt_bc2 = float(std::sqrt(a.bias_correction2));
  adamw_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(p, g, m, v, n, args);
  LRA_KERNEL_CHECK();
}

void sgd_step(float* p, const float* g, float* buf, const Segments& segs, const SGDParams& a) {
  const int64_t n = total(segs);
  if (n == 0) return;
  SGDArgs args{};
  args.count = segs.count;
  for (int k = 0; k < segs.count; ++k) {
    args.seg[k].end = segs.seg[k].end;
    args.seg[k].lr = float(a.lr * segs.seg[k].lr_scale);
    args.seg[k].weight_decay = float(segs.seg[k].weight_decay);
  }
  args.momentum = float(a.momentum);
  args.nesterov = a.nesterov;
  sgd_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(p, g, buf, n, args);
  LRA_KERNEL_CHECK();
}

int grad_norm_partials(int64_t n) { return int(blocks_for(n, kThreads, kMaxPartials)); }

void grad_norm(const float* g, int64_t n, float* partials, float* norm_out) {
  const int count = grad_norm_partials(n);
  sum_squares_kernel<<<count, kThreads, 0, stream()>>>(g, n, partials);
  LRA_KERNEL_CHECK();
  finish_norm_kernel<<<1, kThreads, 0, stream()>>>(partials, count, norm_out);
  LRA_KERNEL_CHECK();
}

void clip_scale(float* g, int64_t n, const float* norm, float max_norm) {
  if (n == 0) return;
  clip_scale_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(g, n, norm, max_norm);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::optim::cuda
