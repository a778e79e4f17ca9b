// CUDA inverted dropout over x viewed as [outer, T, inner] (T = the tied dim's size, 1 when untied);
// see dropout.h. The keep/drop decision of mask value m = first + o * inner + i is philox_uniform(seed,
// base, m) < p, the same pure function the CPU reference evaluates, so both backends drop the same elements.
//
// Tiling: one grid-stride pass, a thread per element; each thread evaluates Philox for its own mask
// value (10 rounds of 32-bit multiplies, cheap next to the memory traffic, and no mask buffer to
// store or read back). Kept values are x / (1 - p), IEEE-rounded division, bit-identical to the CPU.
// Saved for backward: nothing; backward is this kernel applied to gy with the same (seed, base).
// Bytes moved: reads x, writes y (8 bytes/element).
//
// Version log: v1 grid-stride element-per-thread, Philox per element.
#include "engine/cuda.h"
#include "ops/dropout/dropout.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

__global__ void dropout_kernel(const float* x, float* y, int64_t outer, int64_t tied, int64_t inner, double p,
                               float keep, uint64_t seed, uint64_t base, int64_t first) {
  int64_t n = outer * tied * inner;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = k % inner, o = k / (tied * inner);
    bool dropped = double(philox_uniform(seed, base, first + o * inner + i)) < p;
    y[k] = dropped ? 0.0f : __fdiv_rn(x[k], keep);
  }
}

}  // namespace

void dropout_apply(const float* x, float* y, int64_t outer, int64_t tied, int64_t inner, double p, uint64_t seed,
                   uint64_t base, int64_t first) {
  int64_t n = outer * tied * inner;
  if (n == 0) return;
  dropout_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, outer, tied, inner, p, float(1.0 - p), seed, base,
                                                    first);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
