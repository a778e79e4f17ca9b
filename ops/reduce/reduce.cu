// CUDA reductions over x viewed as [outer, n, inner] (see reduce.h): sum / mean, max with its first
// argmax, sum_all, masked mean pooling, and their backward passes.
//
// Tiling:
//   * sum, mean, sum_all, masked_mean: the shared split-n sum of ops/cuda_sum.cuh. inner == 1:
//     a 256-thread block per row (per chunk of a long row), warp shuffles then shared memory; inner > 1:
//     32 x 8 blocks whose warps read 32 consecutive inner columns (coalesced) and split j among 8 warps.
//     A grid under ~2 waves (sum_all, or a few long columns) splits n and sums the partials in a second
//     pass: never a single thread, no atomics, deterministic.
//   * max: inner == 1 a block per row (block max, then the smallest j attaining it = the first argmax);
//     inner > 1 a thread per (o, i) looping over j, coalesced across i. NaN is the largest value
//     (max_beats in reduce.h), so a NaN anywhere gives NaN and the first NaN's index.
//   * masked_mean: a block per batch row counts the mask and writes 1 / count (0 for an empty row), then
//     the masked sum scales each row by it.
//   * backward: one grid-stride pass over gx (max: a zero fill, then a scatter of outer * inner values).
// Saved for backward: the argmax (max), the mask and 1 / count (masked_mean). Bytes moved: 4 bytes per
// element of x read in forward, 4 per element of gx written in backward (+ gy reads from cache).
//
// Version log: v1 block/warp reductions above (ports of reduce_cpu.cpp with parallel row and column sums).
//   v1.1 max propagates NaN like the CPU reference: the row kernel reduced with fmaxf, which drops NaN,
//   so an all-NaN row kept argmax INT_MAX (and its backward wrote far out of bounds) and a row with a
//   NaN first gave the largest number while the CPU and the column kernel gave NaN. Empty extents are
//   handled in the glue; the entry points below also return early on them.
#include <climits>

#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/reduce/reduce.h"
#include "ops/cuda_sum.cuh"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

struct MinInt {
  __device__ int operator()(int a, int b) const { return a < b ? a : b; }
};

__global__ void sum_backward_kernel(const float* gy, float* gx, int64_t outer, int64_t n, int64_t inner, float scale) {
  LRA_GRID_STRIDE(k, outer * n * inner) {
    int64_t i = k % inner, o = k / (n * inner);
    gx[k] = gy[o * inner + i] * scale;
  }
}

// max_beats as a reduction: the NaN-propagating max (the shared Max of cuda_reduce.cuh is fmaxf, which
// drops NaN: right for softmax's shift, wrong for the op max). Which of two equal values it returns
// does not matter: the value written is x at the argmax.
struct MaxNan {
  __device__ float operator()(float a, float b) const { return max_beats(b, a) ? b : a; }
};

// inner == 1: a block per row. Each thread keeps the first of its elements that the row max would pick
// (max_beats, j increasing); the block reduces their values to the row max m (NaN if any is NaN), then
// takes the smallest j among the threads whose best equals m (NaN counting as equal to NaN).
__global__ void max_rows_kernel(const float* x, float* y, int32_t* argmax, int64_t n) {
  __shared__ float fpart[32];
  __shared__ int ipart[32];
  const float* xr = x + blockIdx.x * n;
  float best = -INFINITY;
  int best_j = INT_MAX;  // INT_MAX: this thread has no element (n < blockDim.x)
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    if (best_j == INT_MAX || max_beats(xr[j], best)) {
      best = xr[j];
      best_j = int(j);
    }
  const float m = group_reduce<false>(best, MaxNan{}, -INFINITY, fpart);
  const bool attains = best_j != INT_MAX && (best == m || (isnan(best) && isnan(m)));
  const int first = group_reduce<false>(attains ? best_j : INT_MAX, MinInt{}, INT_MAX, ipart);
  if (threadIdx.x == 0) {  // n > 0, so some thread attains m and first < n
    y[blockIdx.x] = xr[first];
    argmax[blockIdx.x] = first;
  }
}

// inner > 1: a thread per (o, i); neighbouring threads read neighbouring i.
__global__ void max_columns_kernel(const float* x, float* y, int32_t* argmax, int64_t outer, int64_t n,
                                   int64_t inner) {
  LRA_GRID_STRIDE(k, outer * inner) {
    int64_t o = k / inner, i = k % inner;
    const float* xc = x + o * n * inner + i;
    float best = xc[0];
    int64_t best_j = 0;
    for (int64_t j = 1; j < n; ++j)
      if (max_beats(xc[j * inner], best)) {
        best = xc[j * inner];
        best_j = j;
      }
    y[k] = best;
    argmax[k] = int32_t(best_j);
  }
}

__global__ void max_backward_kernel(const float* gy, const int32_t* argmax, float* gx, int64_t outer, int64_t n,
                                    int64_t inner) {
  LRA_GRID_STRIDE(k, outer * inner) {
    int64_t o = k / inner, i = k % inner;
    gx[(o * n + argmax[k]) * inner + i] = gy[k];
  }
}

// A block per batch row b: inv_count[b] = 1 / #{l : mask[b, l] != 0}, or 0 when the row is empty.
__global__ void mask_inv_count_kernel(const int32_t* mask, float* inv_count, int64_t L) {
  __shared__ int partials[32];
  const int32_t* mr = mask + blockIdx.x * L;
  int count = 0;
  for (int64_t l = threadIdx.x; l < L; l += blockDim.x) count += mr[l] != 0;
  count = group_reduce<false>(count, Sum{}, 0, partials);
  if (threadIdx.x == 0) inv_count[blockIdx.x] = count ? 1.0f / float(count) : 0.0f;
}

__global__ void masked_mean_backward_kernel(const float* gy, const int32_t* mask, const float* inv_count, float* gx,
                                            int64_t B, int64_t L, int64_t D) {
  LRA_GRID_STRIDE(k, B * L * D) {
    int64_t d = k % D, bl = k / D, b = bl / L;
    gx[k] = mask[bl] ? gy[b * D + d] * inv_count[b] : 0.0f;
  }
}

}  // namespace

int64_t sum_scratch(int64_t outer, int64_t n, int64_t inner) { return sum_middle_scratch_size(outer, n, inner); }

void sum_forward(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float scale, float* scratch) {
  SumMiddleParams p;
  p.x = x;
  p.y = y;
  p.outer = outer;
  p.n = n;
  p.inner = inner;
  p.scale = scale;
  sum_middle(p, scratch);
}

void sum_backward(const float* gy, float* gx, int64_t outer, int64_t n, int64_t inner, float scale) {
  int64_t total = outer * n * inner;
  if (total == 0) return;
  sum_backward_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(gy, gx, outer, n, inner, scale);
  LRA_KERNEL_CHECK();
}

void max_forward(const float* x, float* y, int32_t* argmax, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0 || n == 0) return;
  if (inner == 1)
    max_rows_kernel<<<unsigned(outer), kThreads, 0, stream()>>>(x, y, argmax, n);
  else
    max_columns_kernel<<<blocks_for(outer * inner, kThreads), kThreads, 0, stream()>>>(x, y, argmax, outer, n,
                                                                                       inner);
  LRA_KERNEL_CHECK();
}

void max_backward(const float* gy, const int32_t* argmax, float* gx, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return;
  max_backward_kernel<<<blocks_for(outer * inner, kThreads), kThreads, 0, stream()>>>(gy, argmax, gx, outer, n,
                                                                                      inner);
  LRA_KERNEL_CHECK();
}

void masked_mean_forward(const float* x, const int32_t* mask, float* y, float* inv_count, int64_t B, int64_t L,
                         int64_t D, float* scratch) {
  if (B == 0) return;
  mask_inv_count_kernel<<<unsigned(B), kThreads, 0, stream()>>>(mask, inv_count, L);
  LRA_KERNEL_CHECK();
  SumMiddleParams p;
  p.x = x;
  p.y = y;
  p.outer = B;
  p.n = L;
  p.inner = D;
  p.mask = mask;
  p.row_scale = inv_count;
  sum_middle(p, scratch);
}

void masked_mean_backward(const float* gy, const int32_t* mask, const float* inv_count, float* gx, int64_t B,
                          int64_t L, int64_t D) {
  int64_t total = B * L * D;
  if (total == 0) return;
  masked_mean_backward_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(gy, mask, inv_count, gx, B, L,
                                                                                      D);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
