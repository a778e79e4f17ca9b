// CUDA stable argsort of int32 keys along the last axis (sort.h).
//
// keys, idx [rows, n] int32. Main path: cub::DeviceSegmentedRadixSort::SortPairs with one segment per
// row (offsets r·n), the keys sorted into scratch (discarded) and the payload 0..n-1 sorted into idx.
// LSD radix sort is stable, so equal keys keep their order, as std::stable_sort on the CPU.
// Scratch layout (each piece 256-byte aligned): sorted keys [rows·n], payload [rows·n], offsets
// [rows + 1], CUB's temporary storage. argsort_scratch_bytes() asks CUB for its size on the host (no
// GPU work), so the glue takes the whole scratch from the caching allocator: no cudaMalloc in a step.
// Naive path: a thread per element counts the keys below it and the equal keys before it in its row;
// that count is its rank, so idx[rank] = its column. O(n) per element: the check on CUB, not for use.
// Empty extents: the glue returns before calling (rows·n == 0).
// Version log: v1 CUB segmented radix sort over all 32 key bits; naive rank kernel beside it.
#include <cub/device/device_segmented_radix_sort.cuh>

#include "engine/cuda.h"
#include "ops/sort/sort.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

int64_t align256(int64_t bytes) { return (bytes + 255) / 256 * 256; }

__global__ void iota_rows_kernel(int32_t* values, int32_t* offsets, int64_t rows, int64_t n) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < rows * n; k += int64_t(gridDim.x) * blockDim.x)
    values[k] = int32_t(k % n);
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r <= rows; r += int64_t(gridDim.x) * blockDim.x)
    offsets[r] = int32_t(r * n);
}

__global__ void argsort_naive_kernel(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < rows * n; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = k / n, i = k % n;
    const int32_t* row = keys + r * n;
    const int32_t key = row[i];
    int64_t rank = 0;
    for (int64_t j = 0; j < n; ++j) rank += (row[j] < key) || (row[j] == key && j < i);
    idx[r * n + rank] = int32_t(i);
  }
}

size_t cub_bytes(int64_t rows, int64_t n) {
  size_t bytes = 0;
  LRA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
      nullptr, bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), int(rows * n), int(rows),
      static_cast<const int32_t*>(nullptr), static_cast<const int32_t*>(nullptr), 0, 32, stream()));
  return bytes;
}

}  // namespace

int64_t argsort_scratch_bytes(int64_t rows, int64_t n) {
  return 2 * align256(rows * n * 4) + align256((rows + 1) * 4) + align256(int64_t(cub_bytes(rows, n)));
}

void argsort(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n, void* scratch) {
  if (rows * n == 0) return;
  char* base = static_cast<char*>(scratch);
  int32_t* sorted_keys = reinterpret_cast<int32_t*>(base);
  int32_t* values = reinterpret_cast<int32_t*>(base + align256(rows * n * 4));
  int32_t* offsets = reinterpret_cast<int32_t*>(base + 2 * align256(rows * n * 4));
  void* temp = base + 2 * align256(rows * n * 4) + align256((rows + 1) * 4);
  size_t temp_bytes = cub_bytes(rows, n);
  iota_rows_kernel<<<blocks_for(rows * n + 1, kThreads), kThreads, 0, stream()>>>(values, offsets, rows, n);
  LRA_KERNEL_CHECK();
  LRA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(temp, temp_bytes, keys, sorted_keys, values, idx,
                                                          int(rows * n), int(rows), offsets, offsets + 1, 0, 32,
                                                          stream()));
}

void argsort_naive(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n) {
  if (rows * n == 0) return;
  argsort_naive_kernel<<<blocks_for(rows * n, kThreads), kThreads, 0, stream()>>>(keys, idx, rows, n);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
