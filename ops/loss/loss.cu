// CUDA cross-entropy (fused log-sum-exp + pick + mean) and argmax accuracy over logits [N, C].
//
// Forward, two kernels, no float atomics, so the loss is bit-identical run to run:
//   1. per row (a warp per row for C <= 1024, 8 rows per block; a 512-thread block per row above):
//      max, then sum of exp(x - max) over the row, then lse = max + log(sum) and
//      row_loss = lse - x[label] (both 0 for rows that are not counted). Three reads of the row, the
//      last two from cache: ~4 bytes/element from DRAM, ~3 FLOPs/element.
//   2. one 1024-thread block reduces row_loss [N] and the count of counted rows in double, in a fixed
//      order, and writes loss = sum / count (0 when count is 0) and count.
// Backward: one element per thread, grid-stride: (exp(x - lse) - onehot) * g / count, 0 for rows not
//   counted; reads logits, writes dlogits (8 bytes/element). Saved for backward: logits, labels, lse.
// count_correct: a warp per row finds the argmax (first index on ties) and lane 0 adds 1 to an int32
//   counter with atomicAdd (integer atomics are exact and order-free).
// Labels outside [0, C) that are not ignore_index are treated as ignored: checking would need a sync.
//
// Version log: v1 warp/block-per-row lse kernel + single-block deterministic mean; elementwise backward.
#include <cmath>

#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/loss/loss.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kWarpRowsLimit = 1024;  // rows up to this length get a warp each
constexpr int kRowsPerWarpBlock = 8;  // warps (rows) per block in warp-per-row mode
constexpr int kBlockThreads = 512;    // threads per row in block-per-row mode
constexpr int kMeanThreads = 1024;    // the single block of the final mean

__device__ bool counted(int32_t label, int64_t C, int ignore_index) {
  return label != ignore_index && label >= 0 && label < C;
}

template <bool WARP>
__global__ void row_lse_kernel(const float* logits, const int32_t* labels, float* lse, float* row_loss, int64_t N,
                               int64_t C, int ignore_index) {
  __shared__ float partials[32];
  int tid = WARP ? threadIdx.x % 32 : threadIdx.x;
  int nthreads = WARP ? 32 : blockDim.x;
  int64_t row = WARP ? int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32 : int64_t(blockIdx.x);
  if (row >= N) return;  // whole warps only (warp mode); never taken in block mode
  int32_t label = labels[row];
  if (!counted(label, C, ignore_index)) {  // uniform over the row's threads
    if (tid == 0) lse[row] = row_loss[row] = 0.0f;
    return;
  }
  const float* x = logits + row * C;
  float m = -INFINITY;
  for (int64_t c = tid; c < C; c += nthreads) m = fmaxf(m, x[c]);
  m = group_reduce<WARP>(m, Max{}, -INFINITY, partials);
  float s = 0.0f;
  for (int64_t c = tid; c < C; c += nthreads) s += expf(x[c] - m);
  s = group_reduce<WARP>(s, Sum{}, 0.0f, partials);
  if (tid == 0) {
    float l = m + logf(s);
    lse[row] = l;
    row_loss[row] = l - x[label];
  }
}

__global__ void mean_kernel(const float* row_loss, const int32_t* labels, float* loss, float* count, int64_t N,
                            int64_t C, int ignore_index) {
  __shared__ double partial_sums[32];
  __shared__ long long partial_counts[32];
  double s = 0.0;
  long long n = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    s += row_loss[i];  // 0 for rows not counted
    n += counted(labels[i], C, ignore_index);
  }
  s = group_reduce<false>(s, Sum{}, 0.0, partial_sums);
  n = group_reduce<false>(n, Sum{}, 0LL, partial_counts);
  if (threadIdx.x == 0) {
    loss[0] = n ? float(s / double(n)) : 0.0f;
    count[0] = float(n);
  }
}

__global__ void cross_entropy_backward_kernel(const float* logits, const int32_t* labels, const float* lse,
                                              const float* gy, const float* count, float* dlogits, int64_t N,
                                              int64_t C, int ignore_index) {
  float scale = count[0] > 0.0f ? gy[0] / count[0] : 0.0f;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < N * C; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = k / C, c = k % C;
    int32_t label = labels[i];
    dlogits[k] = counted(label, C, ignore_index) ? (expf(logits[k] - lse[i]) - (c == label ? 1.0f : 0.0f)) * scale
                                                 : 0.0f;
  }
}

__global__ void count_correct_kernel(const float* logits, const int32_t* labels, int32_t* correct, int64_t N,
                                     int64_t C, int ignore_index) {
  int lane = threadIdx.x % 32;
  int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= N) return;
  int32_t label = labels[row];
  if (!counted(label, C, ignore_index)) return;
  const float* x = logits + row * C;
  float best = -INFINITY;
  int64_t best_c = C;  // no candidate yet
  for (int64_t c = lane; c < C; c += 32)
    if (best_c == C || x[c] > best) best = x[c], best_c = c;  // lane's first maximum
  for (int offset = 16; offset > 0; offset >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, best, offset);
    int64_t vc = __shfl_xor_sync(0xffffffffu, best_c, offset);
    if (vc != C && (best_c == C || v > best || (v == best && vc < best_c))) best = v, best_c = vc;
  }
  if (lane == 0 && best_c == label) atomicAdd(correct, 1);
}

}  // namespace

void cross_entropy_forward(const float* logits, const int32_t* labels, float* lse, float* row_loss, float* loss,
                           float* count, int64_t N, int64_t C, int ignore_index) {
  if (N > 0 && C > 0) {
    if (C <= kWarpRowsLimit) {
      const dim3 blocks = lra::cuda::grid_dims("row_lse_kernel", (N + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock);
      row_lse_kernel<true><<<blocks, 32 * kRowsPerWarpBlock, 0, stream()>>>(logits, labels, lse, row_loss, N, C,
                                                                             ignore_index);
    } else {
      row_lse_kernel<false><<<lra::cuda::grid_dims("row_lse_kernel", N), kBlockThreads, 0, stream()>>>(
          logits, labels, lse, row_loss, N, C, ignore_index);
    }
    LRA_KERNEL_CHECK();
  }
  mean_kernel<<<1, kMeanThreads, 0, stream()>>>(row_loss, labels, loss, count, N, C, ignore_index);
  LRA_KERNEL_CHECK();
}

void cross_entropy_backward(const float* logits, const int32_t* labels, const float* lse, const float* gy,
                            const float* count, float* dlogits, int64_t N, int64_t C, int ignore_index) {
  if (N * C == 0) return;
  cross_entropy_backward_kernel<<<blocks_for(N * C, 256), 256, 0, stream()>>>(logits, labels, lse, gy, count,
                                                                              dlogits, N, C, ignore_index);
  LRA_KERNEL_CHECK();
}

void count_correct(const float* logits, const int32_t* labels, int32_t* correct, int64_t N, int64_t C,
                   int ignore_index) {
  if (N == 0 || C == 0) return;
  const dim3 blocks = lra::cuda::grid_dims("count_correct_kernel", (N + kRowsPerWarpBlock - 1) / kRowsPerWarpBlock);
  count_correct_kernel<<<blocks, 32 * kRowsPerWarpBlock, 0, stream()>>>(logits, labels, correct, N, C, ignore_index);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
