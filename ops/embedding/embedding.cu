// CUDA embedding lookup y[i, d] = table[ids[i], d] and its scatter-add backward; see embedding.h.
//
// ids [n] int32, table / dtable [V, D], y / gy [n, D].
// Tiling: one grid-stride pass over the n * D output elements, a thread per element; consecutive
// threads read consecutive d of one table row (coalesced). Out-of-range ids give a zero row forward
// and are skipped backward (checking them would need a host synchronisation).
// Backward: float atomicAdd into the zeroed dtable: repeated ids add in an unspecified order (a few
// ulps of run-to-run difference). Contention is low for LRA vocabularies (V = 257..32000, D >= 64).
// Saved for backward: ids. Bytes moved: forward 4n + 8nD (read ids and rows, write y); backward
// 4n + 4nD reads plus nD atomic adds.
//
// Version log: v1 grid-stride element-per-thread gather and atomicAdd scatter.
#include "engine/cuda.h"
#include "ops/embedding/embedding.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

__global__ void embedding_forward_kernel(const int32_t* ids, const float* table, float* y, int64_t n, int64_t V,
                                         int64_t D) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n * D; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = k / D, d = k % D;
    int64_t id = ids[i];
    y[k] = (id >= 0 && id < V) ? table[id * D + d] : 0.0f;
  }
}

__global__ void embedding_backward_kernel(const int32_t* ids, const float* gy, float* dtable, int64_t n, int64_t V,
                                          int64_t D) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n * D; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = k / D, d = k % D;
    int64_t id = ids[i];
    if (id >= 0 && id < V) atomicAdd(dtable + id * D + d, gy[k]);
  }
}

}  // namespace

void embedding_forward(const int32_t* ids, const float* table, float* y, int64_t n, int64_t V, int64_t D) {
  if (n * D == 0) return;
  embedding_forward_kernel<<<blocks_for(n * D, 256), 256, 0, stream()>>>(ids, table, y, n, V, D);
  LRA_KERNEL_CHECK();
}

void embedding_backward(const int32_t* ids, const float* gy, float* dtable, int64_t n, int64_t V, int64_t D) {
  if (n * D == 0) return;
  embedding_backward_kernel<<<blocks_for(n * D, 256), 256, 0, stream()>>>(ids, gy, dtable, n, V, D);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
