// Philox fills on the GPU: one thread per element, each recomputing its own block from (seed,
// counter), so the values match the host's element for element (engine/rng.h).
#include "engine/cuda.h"
#include "engine/rng.h"

namespace lra::cuda {

namespace {
__global__ void uniform_kernel(float* dst, int64_t n, uint64_t seed, uint64_t base, float low, float high) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __fadd_rn(low, __fmul_rn(high - low, philox_uniform(seed, base, i)));  // no FMA: match the host
}
__global__ void normal_kernel(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __fadd_rn(mean, __fmul_rn(std, philox_normal(seed, base, i)));
}
}  // namespace

void uniform_f32(float* dst, int64_t n, uint64_t seed, uint64_t base, float low, float high) {
  if (n == 0) return;
  uniform_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, n, seed, base, low, high);
  LRA_KERNEL_CHECK();
}

void normal_f32(float* dst, int64_t n, uint64_t seed, uint64_t base, float mean, float std) {
  if (n == 0) return;
  normal_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, n, seed, base, mean, std);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::cuda
