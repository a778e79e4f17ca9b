// The few element-wise kernels the Tensor class itself needs: fill with a bit pattern (any dtype) and
// in-place add (gradient accumulation). Grid-stride loops, one element per thread per iteration.
#include "engine/cuda.h"
#include "engine/tensor.h"

namespace lra::cuda {

namespace {
template <class U>
__global__ void fill_kernel(U* dst, int64_t n, U value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}
__global__ void add_inplace_kernel(float* dst, const float* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] += src[i];
}
}  // namespace

void fill_bits(void* dst, int64_t n, size_t elem_size, uint64_t bits) {
  if (n == 0) return;
  unsigned blocks = blocks_for(n, 256);
  switch (elem_size) {
    case 2: fill_kernel<<<blocks, 256, 0, stream()>>>(static_cast<uint16_t*>(dst), n, uint16_t(bits)); break;
    case 4: fill_kernel<<<blocks, 256, 0, stream()>>>(static_cast<uint32_t*>(dst), n, uint32_t(bits)); break;
    case 8: fill_kernel<<<blocks, 256, 0, stream()>>>(static_cast<uint64_t*>(dst), n, uint64_t(bits)); break;
    default: fail("fill_bits: unsupported element size");
  }
  LRA_KERNEL_CHECK();
}

void add_inplace_f32(float* dst, const float* src, int64_t n) {
  if (n == 0) return;
  add_inplace_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, src, n);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::cuda
