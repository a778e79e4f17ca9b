// CUDA gather along an axis and its scatter-add backward (gather.h).
//
// x [outer, N, inner], index [outer, M] int32, y / g [outer, M, inner].
// Forward: grid-stride over the outer·M·inner outputs, a thread per element; consecutive threads read
// consecutive c of one gathered row (coalesced). An index outside [0, N) gives a zero row.
// Backward: a thread per (o, c) column zeroes gx[o, :, c] and then adds g[o, m, c] into
// gx[o, index[o, m], c] for m = 0, 1, ... in order: no atomics, so the sums are deterministic and add
// in the CPU reference's order. Parallelism is outer·inner threads (B·H·d = 8K for an LRA text head
// layout), each walking M rows: enough for the LSH permutations; a sort-based segmented sum would be
// the next version if it shows up in a profile.
// Empty extents: the glue returns before calling when y (forward) or gx (backward) is empty; the
// backward with M = 0 still runs, to write the zeros.
// Version log: v1 element-per-thread gather, column-per-thread ordered scatter-add.
#include "engine/cuda.h"
#include "ops/gather/gather.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

__global__ void gather_forward_kernel(GatherShape s, const float* x, const int32_t* index, float* y) {
  const int64_t total = s.outer * s.M * s.inner;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = k % s.inner, om = k / s.inner, o = om / s.M;
    const int64_t n = index[om];
    y[k] = (n >= 0 && n < s.N) ? x[(o * s.N + n) * s.inner + c] : 0.0f;
  }
}

__global__ void gather_backward_kernel(GatherShape s, const int32_t* index, const float* g, float* gx) {
  const int64_t total = s.outer * s.inner;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = k / s.inner, c = k % s.inner;
    float* col = gx + o * s.N * s.inner + c;
    for (int64_t n = 0; n < s.N; ++n) col[n * s.inner] = 0.0f;
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t n = index[o * s.M + m];
      if (n >= 0 && n < s.N) col[n * s.inner] += g[(o * s.M + m) * s.inner + c];
    }
  }
}

}  // namespace

void gather_forward(const GatherShape& s, const float* x, const int32_t* index, float* y) {
  const int64_t total = s.outer * s.M * s.inner;
  if (total == 0) return;
  gather_forward_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(s, x, index, y);
  LRA_KERNEL_CHECK();
}

void gather_backward(const GatherShape& s, const int32_t* index, const float* g, float* gx) {
  const int64_t total = s.outer * s.inner;
  if (total == 0 || s.N == 0) return;
  gather_backward_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(s, index, g, gx);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
