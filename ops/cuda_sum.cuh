// The parallel CUDA sum over the middle dim of x viewed as [outer, n, inner]:
//
//   y[o, i] = scale * row_scale[o] * sum_j mask[o, j] * x[o, j, i]      (mask, row_scale optional)
//
// Shared by ops/reduce (sum, mean, sum_all, masked_mean) and by the broadcast backward of the binary
// ops (ops/elementwise/binary.cu). Include only from .cu files.
//
// Tiling (256 threads a block, every load coalesced):
//   * inner == 1 (rows): a block per (row, chunk of the row); threads stride over the chunk, then a
//     warp-shuffle + shared-memory block reduction.
//   * inner  > 1 (columns): a 32 x 8 block per (o, chunk of n, tile of 32 inner columns); the 32 lanes of
//     a warp read 32 consecutive floats, the 8 warps take interleaved j, then a shared-memory sum of
//     the 8 partial columns.
// When the grid would be smaller than ~2 waves and n is long, n is split into chunks: the first pass
// writes partial sums [outer, splits, inner] to scratch and a second pass sums them (deterministic,
// no atomics). Bytes moved: 4 per element of x (one read), plus 4 * outer * inner written.
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"

namespace lra::ops::cuda {

struct SumMiddleParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t outer = 1, n = 1, inner = 1;
  float scale = 1.0f;
  const int32_t* mask = nullptr;     // [outer, n]: x[o, j, :] counts only where mask[o, j] != 0
  const float* row_scale = nullptr;  // [outer]: y[o, :] *= row_scale[o]
};

namespace sum_middle_detail {

constexpr int kRowThreads = 256;
constexpr int kColX = 32, kColY = 8;
constexpr int64_t kMinRowChunk = 4096;  // a block sums at least this many elements of a row
constexpr int64_t kMinColChunk = 64;    // ... or this many j of a column tile

// y holds [outer, splits, inner]; block b covers chunk s of n for row o. (Templates, so that the two
// .cu files including this header share one definition.)
template <bool MASKED>
__global__ void rows_kernel(SumMiddleParams p, int64_t splits, int64_t chunk) {
  __shared__ float partials[32];
  int64_t o = blockIdx.x / splits, s = blockIdx.x % splits;
  int64_t begin = s * chunk, end = std::min(p.n, begin + chunk);
  const float* xr = p.x + o * p.n;
  const int32_t* mr = MASKED ? p.mask + o * p.n : nullptr;
  float acc = 0.0f;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x)
    if (!MASKED || mr[j]) acc += xr[j];
  acc = group_reduce<false>(acc, Sum{}, 0.0f, partials);
  if (threadIdx.x == 0) p.y[blockIdx.x] = acc * p.scale * (p.row_scale ? p.row_scale[o] : 1.0f);
}

template <bool MASKED>
__global__ void columns_kernel(SumMiddleParams p, int64_t splits, int64_t chunk, int64_t tiles) {
  __shared__ float part[kColY][kColX + 1];
  int64_t t = blockIdx.x % tiles, rest = blockIdx.x / tiles;
  int64_t s = rest % splits, o = rest / splits;
  int64_t i = t * kColX + threadIdx.x;
  int64_t begin = s * chunk, end = std::min(p.n, begin + chunk);
  float acc = 0.0f;
  if (i < p.inner)
    for (int64_t j = begin + threadIdx.y; j < end; j += kColY)
      if (!MASKED || p.mask[o * p.n + j]) acc += p.x[(o * p.n + j) * p.inner + i];
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && i < p.inner) {
    for (int k = 1; k < kColY; ++k) acc += part[k][threadIdx.x];
    p.y[(o * splits + s) * p.inner + i] = acc * p.scale * (p.row_scale ? p.row_scale[o] : 1.0f);
  }
}

// How many chunks n is cut into: enough blocks for ~2 waves, but no chunk shorter than the minimum.
inline int64_t splits_for(int64_t outer, int64_t n, int64_t inner) {
  int64_t blocks = inner == 1 ? outer : outer * ((inner + kColX - 1) / kColX);
  int64_t want = 2 * int64_t(lra::cuda::properties().multiProcessorCount);
  if (blocks >= want) return 1;
  int64_t min_chunk = inner == 1 ? kMinRowChunk : kMinColChunk;
  int64_t by_size = (n + min_chunk - 1) / min_chunk;
  int64_t by_grid = (want + blocks - 1) / blocks;
  return std::max<int64_t>(1, std::min(by_size, by_grid));
}

inline void launch(const SumMiddleParams& p, int64_t splits) {
  int64_t chunk = (p.n + splits - 1) / splits;
  cudaStream_t st = lra::cuda::stream();
  if (p.inner == 1) {
    const dim3 grid = lra::cuda::grid_dims("sum_middle rows_kernel", p.outer * splits);
    if (p.mask)
      rows_kernel<true><<<grid, kRowThreads, 0, st>>>(p, splits, chunk);
    else
      rows_kernel<false><<<grid, kRowThreads, 0, st>>>(p, splits, chunk);
  } else {
    int64_t tiles = (p.inner + kColX - 1) / kColX;
    const dim3 grid = lra::cuda::grid_dims("sum_middle columns_kernel", p.outer * splits * tiles);
    if (p.mask)
      columns_kernel<true><<<grid, dim3(kColX, kColY), 0, st>>>(p, splits, chunk, tiles);
    else
      columns_kernel<false><<<grid, dim3(kColX, kColY), 0, st>>>(p, splits, chunk, tiles);
  }
  LRA_KERNEL_CHECK();
}

}  // namespace sum_middle_detail

// Floats of scratch sum_middle() needs for this geometry (0: one pass, scratch may be nullptr).
inline int64_t sum_middle_scratch_size(int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return 0;
  int64_t s = sum_middle_detail::splits_for(outer, n, inner);
  return s == 1 ? 0 : outer * s * inner;
}

inline void sum_middle(const SumMiddleParams& p, float* scratch) {
  if (p.outer * p.inner == 0) return;
  int64_t splits = sum_middle_detail::splits_for(p.outer, p.n, p.inner);
  if (splits == 1) {
    sum_middle_detail::launch(p, 1);
    return;
  }
  SumMiddleParams first = p;  // partial sums [outer, splits, inner], masked, not yet scaled
  first.y = scratch;
  first.scale = 1.0f;
  first.row_scale = nullptr;
  sum_middle_detail::launch(first, splits);
  SumMiddleParams second = p;  // sum of the partials, scaled
  second.x = scratch;
  second.n = splits;
  second.mask = nullptr;
  sum_middle_detail::launch(second, 1);
}

}  // namespace lra::ops::cuda
