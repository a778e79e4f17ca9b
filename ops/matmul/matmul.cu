// CUDA side of matmul and linear: GEMM through cuBLAS, plus the two small kernels around it.
//
//   gemm:       C_s[m, n] = alpha · op(A_s)[m, k] · op(B_s)[k, n] + beta · C_s, row-major, s < batch, one
//               cublasSgemmStridedBatched call. cuBLAS is column-major; a row-major [m, n] matrix is the
//               same memory as a column-major [n, m] one, so we ask cuBLAS for Cᵀ = op(B)ᵀ · op(A)ᵀ:
//               B goes first, A second, m and n swap, and the transpose flags carry over unchanged.
//               TF32 tensor cores are used when the handle's math mode allows (lra::set_allow_tf32).
//               FLOPs 2·batch·m·n·k; bytes 4·(|A| + |B| + |C|) at best.
//   column_sum: out[j] = sum_i x[i, j], x [rows, cols] (the bias gradient; also the batch sum of a shared
//               b's gradient). Pass 1: a block of 32 columns x 8 row lanes per chunk of kChunkRows rows;
//               lanes stride through the chunk, then reduce in shared memory in a fixed order, writing one
//               partial row per chunk. Pass 2 runs the same kernel over the partials with one chunk.
//               Fixed order everywhere, no atomics: deterministic. Reads 4·rows·cols bytes.
//   add_bias:   y[i, j] += bias[j], grid-stride (reads 8, writes 4 bytes per element).
// Empty extents: m, n or batch of 0 write nothing; k = 0 writes C = 0 (beta = 0) without calling
// cuBLAS; a column sum over 0 rows writes zeros. None of them launches a kernel.
// Nothing is saved here; the glue (matmul.cpp) keeps the operands for backward.
// Version log: v1 cuBLAS strided-batched GEMM; two-pass column sum (32x8 blocks, 256-row chunks).
#include <algorithm>
#include <cstdint>

#include "engine/cuda.h"
#include "engine/device.h"
#include "ops/matmul/matmul.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

// The family's cuBLAS handle, created on first use and bound to the engine stream. Its math mode
// follows lra::allow_tf32() at every call (setting it is a host-side flag, no GPU work).
cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    LRA_CUBLAS_CHECK(cublasCreate(&h));
    LRA_CUBLAS_CHECK(cublasSetStream(h, stream()));
    return h;  // never destroyed: see engine/device.cpp
  }();
  LRA_CUBLAS_CHECK(cublasSetMathMode(handle, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return handle;
}

constexpr int kColTile = 32, kRowLanes = 8;
constexpr int64_t kChunkRows = 256;

// Grid (ceil(cols / 32), chunks). Block (32, 8): threadIdx.x picks the column (coalesced reads along a
// row), threadIdx.y the row lane. out[chunk, j] = sum of x[i, j] over the rows i of that chunk.
__global__ void column_sum_kernel(const float* x, float* out, int64_t rows, int64_t cols, int64_t chunk_rows) {
  __shared__ float part[kRowLanes][kColTile + 1];
  const int64_t j = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t begin = int64_t(blockIdx.y) * chunk_rows;
  const int64_t end = min(rows, begin + chunk_rows);
  float s = 0.0f;
  if (j < cols)
    for (int64_t i = begin + threadIdx.y; i < end; i += kRowLanes) s += x[i * cols + j];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    for (int r = 1; r < kRowLanes; ++r) s += part[r][threadIdx.x];
    out[int64_t(blockIdx.y) * cols + j] = s;
  }
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * cols; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % cols];
}

// Chunks of kChunkRows rows, grown when needed so the chunk count fits in gridDim.y (at most 65535).
int64_t chunk_rows_for(int64_t rows) { return std::max(kChunkRows, (rows + 65534) / 65535); }
int64_t chunks_for(int64_t rows) { return (rows + chunk_rows_for(rows) - 1) / chunk_rows_for(rows); }

// rows >= 1 and cols >= 1: column_sum() handles the empty cases without a launch.
void launch_column_sum(const float* x, float* out, int64_t rows, int64_t cols, int64_t chunk_rows) {
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  const dim3 grid = lra::cuda::grid_dims("column_sum_kernel", (cols + kColTile - 1) / kColTile, chunks);
  column_sum_kernel<<<grid, dim3(kColTile, kRowLanes), 0, stream()>>>(x, out, rows, cols, chunk_rows);
  LRA_KERNEL_CHECK();
}

int as_int(int64_t v, const char* what) {
  LRA_CHECK(v <= INT32_MAX, "gemm: ", what, " = ", v, " exceeds cuBLAS's 32-bit int");
  return int(v);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
          int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0 && beta == 0.0f) {
    // An empty inner dim: C = 0 (a sum over nothing), written here rather than trusting cuBLAS with
    // k = 0. Every C_s is m·n contiguous floats, stride_c apart (stride_c >= m·n, or batch == 1).
    const size_t row = size_t(m * n) * sizeof(float);
    LRA_CUDA_CHECK(cudaMemset2DAsync(c, batch > 1 ? size_t(stride_c) * sizeof(float) : row, 0, row, size_t(batch),
                                     stream()));
    return;
  }
  // Leading dims of the row-major storage: the length of a stored row, at least 1 as cuBLAS requires.
  const int lda = as_int(std::max<int64_t>(1, trans_a ? m : k), "lda");
  const int ldb = as_int(std::max<int64_t>(1, trans_b ? k : n), "ldb");
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  LRA_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(), op_b, op_a, as_int(n, "n"), as_int(m, "m"),
                                             as_int(k, "k"), &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c,
                                             as_int(n, "ldc"), stride_c, as_int(batch, "batch")));
}

int64_t column_sum_scratch(int64_t rows, int64_t cols) {
  const int64_t chunks = chunks_for(rows);
  return chunks > 1 ? chunks * cols : 0;
}

void column_sum(const float* x, float* out, int64_t rows, int64_t cols, float* scratch) {
  if (cols == 0) return;
  if (rows == 0) {  // a sum over no rows: zeros (a launch would have a grid of 0 chunks)
    LRA_CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(cols) * sizeof(float), stream()));
    return;
  }
  const int64_t chunks = chunks_for(rows);
  if (chunks == 1) {
    launch_column_sum(x, out, rows, cols, rows);
    return;
  }
  launch_column_sum(x, scratch, rows, cols, chunk_rows_for(rows));
  launch_column_sum(scratch, out, chunks, cols, chunks);
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  add_bias_kernel<<<blocks_for(rows * cols, 256), 256, 0, stream()>>>(y, bias, rows, cols);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
