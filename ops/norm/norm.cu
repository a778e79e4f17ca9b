// CUDA layer_norm / rms_norm over the last dim of x viewed as [rows, D]; see norm.h for the math.
//
// Tiling:
//   * forward: a warp per row (8 rows per 256-thread block); the 32 lanes stride over D, so any D
//     works. Two passes for the statistics (mean, then the variance of x - mean, both warp-shuffle
//     sums) and one to write y; the re-reads of x hit L1/L2. Writes mean and rstd per row.
//   * backward dx: a warp per row; one pass for the row sums of g and g * xhat (g = gy * w), one to
//     write dx.
//   * backward dw/db: a deterministic column reduction, no atomics. Pass 1: the rows are cut into
//     C = norm_chunks(rows) chunks; block (column tile, chunk) has a thread per column that sums
//     gy * xhat and gy over the chunk's rows in order (consecutive threads read consecutive columns:
//     coalesced) and writes partials into scratch [2, C, D]. Pass 2: a thread per column sums the C
//     partials in order. Same inputs, same bits, every run.
// Saved for backward: x, w, mean and rstd ([rows] each).
// Bytes moved (float32): forward reads x, writes y (8 bytes/element from DRAM); backward reads x and
// gy for dx and again for dw/db, writes dx (~20 bytes/element). ~8 FLOPs/element forward, ~12 backward.
//
// Version log: v1 warp-per-row forward and dx, two-pass chunked column reduction for dw/db.
#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/norm/norm.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kRowsPerBlock = 8;  // warps (rows) per 256-thread block
constexpr int kColThreads = 256;  // columns per block in the dw/db reduction

__global__ void norm_forward_kernel(const float* x, const float* w, const float* b, float* y, float* mean,
                                    float* rstd, int64_t rows, int64_t D, float eps, bool rms) {
  int lane, nthreads;
  int64_t row = group_row<true>(lane, nthreads);
  if (row >= rows) return;  // whole warps only
  const float* xr = x + row * D;
  float* yr = y + row * D;
  float m = 0.0f;
  if (!rms) {
    for (int64_t j = lane; j < D; j += 32) m += xr[j];
    m = warp_reduce(m, Sum{}) / float(D);
  }
  float v = 0.0f;
  for (int64_t j = lane; j < D; j += 32) {
    float d = xr[j] - m;
    v += d * d;
  }
  v = warp_reduce(v, Sum{}) / float(D);
  float s = rsqrtf(v + eps);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
  for (int64_t j = lane; j < D; j += 32) {
    float h = (xr[j] - m) * s;
    yr[j] = h * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
  }
}

__global__ void norm_backward_dx_kernel(const float* x, const float* w, const float* mean, const float* rstd,
                                        const float* gy, float* dx, int64_t rows, int64_t D, bool rms) {
  int lane, nthreads;
  int64_t row = group_row<true>(lane, nthreads);
  if (row >= rows) return;
  const float* xr = x + row * D;
  const float* gr = gy + row * D;
  float* dr = dx + row * D;
  float m = rms ? 0.0f : mean[row], s = rstd[row];
  float sum_g = 0.0f, sum_gh = 0.0f;
  for (int64_t j = lane; j < D; j += 32) {
    float g = gr[j] * (w ? w[j] : 1.0f);
    sum_g += g;
    sum_gh += g * (xr[j] - m) * s;
  }
  float mean_g = rms ? 0.0f : warp_reduce(sum_g, Sum{}) / float(D);
  float mean_gh = warp_reduce(sum_gh, Sum{}) / float(D);
  for (int64_t j = lane; j < D; j += 32) {
    float g = gr[j] * (w ? w[j] : 1.0f), h = (xr[j] - m) * s;
    dr[j] = s * (g - mean_g - h * mean_gh);
  }
}

// Pass 1: partial[0, c, j] = sum over chunk c's rows of gy * xhat, partial[1, c, j] = sum of gy.
__global__ void norm_param_partial_kernel(const float* x, const float* mean, const float* rstd, const float* gy,
                                          float* partial, int64_t rows, int64_t D, int64_t chunks, bool rms) {
  int64_t j = blockIdx.x * int64_t(kColThreads) + threadIdx.x;
  int64_t c = blockIdx.y;
  if (j >= D) return;
  int64_t per_chunk = (rows + chunks - 1) / chunks;
  int64_t r0 = c * per_chunk, r1 = r0 + per_chunk < rows ? r0 + per_chunk : rows;
  float sw = 0.0f, sb = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    float g = gy[r * D + j];
    sw += g * (x[r * D + j] - (rms ? 0.0f : mean[r])) * rstd[r];
    sb += g;
  }
  partial[c * D + j] = sw;
  partial[(chunks + c) * D + j] = sb;
}

// Pass 2: dw[j] = sum over chunks of partial[0, c, j], db[j] likewise, in chunk order.
__global__ void norm_param_final_kernel(const float* partial, float* dw, float* db, int64_t D, int64_t chunks) {
  int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= D) return;
  float sw = 0.0f, sb = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) {
    sw += partial[c * D + j];
    sb += partial[(chunks + c) * D + j];
  }
  if (dw) dw[j] = sw;
  if (db) db[j] = sb;
}

}  // namespace

void norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                  int64_t D, float eps, bool rms) {
  if (rows == 0 || D == 0) return;
  const dim3 blocks = lra::cuda::grid_dims("norm_forward_kernel", (rows + kRowsPerBlock - 1) / kRowsPerBlock);
  norm_forward_kernel<<<blocks, 32 * kRowsPerBlock, 0, stream()>>>(x, w, b, y, mean, rstd, rows, D, eps, rms);
  LRA_KERNEL_CHECK();
}

void norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* dx,
                   float* dw, float* db, float* scratch, int64_t rows, int64_t D, bool rms) {
  if (D == 0) return;
  if (rows > 0) {
    const dim3 blocks = lra::cuda::grid_dims("norm_backward_dx_kernel", (rows + kRowsPerBlock - 1) / kRowsPerBlock);
    norm_backward_dx_kernel<<<blocks, 32 * kRowsPerBlock, 0, stream()>>>(x, w, mean, rstd, gy, dx, rows, D, rms);
    LRA_KERNEL_CHECK();
  }
  if (!dw && !db) return;
  if (rows == 0) {
    if (dw) LRA_CUDA_CHECK(cudaMemsetAsync(dw, 0, size_t(D) * sizeof(float), stream()));
    if (db) LRA_CUDA_CHECK(cudaMemsetAsync(db, 0, size_t(D) * sizeof(float), stream()));
    return;
  }
  int64_t chunks = norm_chunks(rows);
  const dim3 grid = lra::cuda::grid_dims("norm_param_partial_kernel", (D + kColThreads - 1) / kColThreads, chunks);
  norm_param_partial_kernel<<<grid, kColThreads, 0, stream()>>>(x, mean, rstd, gy, scratch, rows, D, chunks, rms);
  LRA_KERNEL_CHECK();
  norm_param_final_kernel<<<blocks_for(D, 256), 256, 0, stream()>>>(scratch, dw, db, D, chunks);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
