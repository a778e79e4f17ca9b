// CUDA softmax / log_softmax over the last dim of x viewed as [rows, L], with an optional int32
// key-padding mask [rows / rows_per_mask, L] (0 = excluded). See softmax.h for the semantics.
//
// Tiling: the threads that share a row stride over it, so any L works (L up to 16384 and beyond).
//   * L <= 1024: a warp per row, 8 rows per 256-thread block; reductions are warp shuffles only.
//   * L >  1024: a block of 512 threads per row; reductions are warp shuffles, then one float per warp
//     in shared memory, reduced again by every warp so all threads get the result without another
//     barrier.
// Forward is three passes over the row (max, sum of exp, write): the second and third re-read x, which
// stays in L1/L2 for any row up to 16384 floats (64 KB), so DRAM traffic is ~8 bytes/element (read x,
// write y). Backward is two passes (the row dot product, then the write): reads y and g, writes dx
// (~12 bytes/element). Saved for backward: y (and the mask, for log_softmax). ~5 FLOPs/element.
// Sums accumulate in float in a fixed order, so results are deterministic run to run.
//
// Version log: v1 warp-per-row (L <= 1024) and block-per-row three-pass kernels, one template for both.
#include <cmath>

#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/softmax/softmax.h"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kWarpRowsLimit = 1024;  // rows up to this length get a warp each
constexpr int kRowsPerWarpBlock = 8;  // warps (rows) per block in warp-per-row mode
constexpr int kBlockThreads = 512;    // threads per row in block-per-row mode

template <bool WARP, bool LOG>
__global__ void softmax_forward_kernel(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L,
                                       int64_t rows_per_mask) {
  __shared__ float partials[32];
  int tid, nthreads;
  int64_t row = group_row<WARP>(tid, nthreads);
  if (row >= rows) return;  // whole warps only (warp mode); never taken in block mode
  const float* xr = x + row * L;
  float* yr = y + row * L;
  const int32_t* mr = mask ? mask + (row / rows_per_mask) * L : nullptr;

  float m = -INFINITY;
  for (int64_t j = tid; j < L; j += nthreads)
    if (!mr || mr[j]) m = fmaxf(m, xr[j]);
  m = group_reduce<WARP>(m, Max{}, -INFINITY, partials);
  if (m == -INFINITY) {  // fully masked (or all -inf): zeros, not NaN
    for (int64_t j = tid; j < L; j += nthreads) yr[j] = 0.0f;
    return;
  }
  float s = 0.0f;
  for (int64_t j = tid; j < L; j += nthreads)
    if (!mr || mr[j]) s += expf(xr[j] - m);
  s = group_reduce<WARP>(s, Sum{}, 0.0f, partials);
  float log_s = logf(s), inv_s = 1.0f / s;
  for (int64_t j = tid; j < L; j += nthreads) {
    bool in = !mr || mr[j];
    yr[j] = !in ? 0.0f : LOG ? xr[j] - m - log_s : expf(xr[j] - m) * inv_s;
  }
}

template <bool WARP, bool LOG>
__global__ void softmax_backward_kernel(const float* y, const float* gy, float* gx, const int32_t* mask,
                                        int64_t rows, int64_t L, int64_t rows_per_mask) {
  __shared__ float partials[32];
  int tid, nthreads;
  int64_t row = group_row<WARP>(tid, nthreads);
  if (row >= rows) return;
  const float* yr = y + row * L;
  const float* gr = gy + row * L;
  float* dr = gx + row * L;
  const int32_t* mr = mask ? mask + (row / rows_per_mask) * L : nullptr;

  // log_softmax: sum of g over included positions; softmax: sum of g * y (y is 0 where excluded).
  float acc = 0.0f;
  for (int64_t j = tid; j < L; j += nthreads) {
    if (LOG) {
      if (!mr || mr[j]) acc += gr[j];
    } else {
      acc += gr[j] * yr[j];
    }
  }
  acc = group_reduce<WARP>(acc, Sum{}, 0.0f, partials);
  for (int64_t j = tid; j < L; j += nthreads) {
    if (LOG)
      dr[j] = (!mr || mr[j]) ? gr[j] - expf(yr[j]) * acc : 0.0f;
    else
      dr[j] = yr[j] * (gr[j] - acc);
  }
}

// Picks warp- or block-per-row from L and launches Launch<warp, log> over `rows` rows.
template <template <bool, bool> class Launch, class... Args>
void launch(int64_t rows, int64_t L, bool log, Args... args) {
  if (rows == 0 || L == 0) return;
  bool warp = L <= kWarpRowsLimit;
  const dim3 blocks =
      lra::cuda::grid_dims("softmax", warp ? (rows + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock : rows);
  unsigned threads = warp ? 32 * kRowsPerWarpBlock : kBlockThreads;
  if (warp && log) Launch<true, true>::run(blocks, threads, args...);
  if (warp && !log) Launch<true, false>::run(blocks, threads, args...);
  if (!warp && log) Launch<false, true>::run(blocks, threads, args...);
  if (!warp && !log) Launch<false, false>::run(blocks, threads, args...);
  LRA_KERNEL_CHECK();
}

template <bool WARP, bool LOG>
struct Forward {
  template <class... Args>
  static void run(dim3 blocks, unsigned threads, Args... args) {
    softmax_forward_kernel<WARP, LOG><<<blocks, threads, 0, stream()>>>(args...);
  }
};
template <bool WARP, bool LOG>
struct Backward {
  template <class... Args>
  static void run(dim3 blocks, unsigned threads, Args... args) {
    softmax_backward_kernel<WARP, LOG><<<blocks, threads, 0, stream()>>>(args...);
  }
};

}  // namespace

void softmax_forward(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L, int64_t rows_per_mask,
                     bool log) {
  launch<Forward>(rows, L, log, x, y, mask, rows, L, rows_per_mask);
}

void softmax_backward(const float* y, const float* gy, float* gx, const int32_t* mask, int64_t rows, int64_t L,
                      int64_t rows_per_mask, bool log) {
  launch<Backward>(rows, L, log, y, gy, gx, mask, rows, L, rows_per_mask);
}

}  // namespace lra::ops::cuda
