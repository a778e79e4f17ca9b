// Matrix products: matmul (batched, with transpose flags) and linear (a dense layer).
//
//   matmul(a, b, trans_a, trans_b):  C[..., M, N] = op(a)[..., M, K] · op(b)[K, N]
//     op(a) = a, or a with its last two dims swapped when trans_a: a is [..., M, K] or [..., K, M];
//     op(b) likewise: b is [K, N] or [N, K].
//     b is either 2-D and shared by every batch entry of a, or has exactly a's leading (batch) dims.
//     a has rank 2 to 5; the result has a's leading dims. This is matmul and bmm in one.
//   linear(x, weight, bias):  y[..., out] = x[..., in] · weightᵀ + bias
//     weight [out, in] and bias [out] in PyTorch's layout, so checkpoints load unchanged. All rows of x
//     (its leading dims flattened) go through ONE GEMM.
//
// Backward (g = dC, the upstream gradient; transposes folded into the GEMM flags, never materialised):
//   dop(a) = g · op(b)ᵀ,  dop(b) = op(a)ᵀ · g;   linear: dx = g · W, dW = gᵀ · x, db = column sums of g.
//   When b is shared by the batch, db sums over the batch: for a non-transposed a that is one GEMM over
//   all batch*M rows; for a transposed a, one batched GEMM into scratch, then a column sum over the batch.
// Empty extents (any of batch, M, N, K, rows, in, out may be 0): the result has the shape above, and a
// product over an empty inner dim is zeros: K = 0 gives C = 0; linear on 0 rows gives dW = 0 and
// db = 0 (sums over no rows), with in = 0 it gives y = bias (or 0). Both devices, from the raw entry
// points below (gemm with k = 0 writes C = beta·C, column_sum over 0 rows writes zeros).
// Saved for backward: a and b (x and weight). FLOPs: 2·batch·M·N·K forward, twice that backward.
// Bytes moved (float32): 4·(|a| + |b| + |C|) forward when the operands stream once.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// Raw entry points, row-major. gemm computes, for every s < batch,
//   C_s = alpha · op(A_s) · op(B_s) + beta · C_s,   A_s = a + s·stride_a (likewise B_s, C_s),
// with op(A_s) [m, k] (A_s stored [k, m] when trans_a), op(B_s) [k, n] (B_s stored [n, k] when trans_b)
// and C_s [m, n]. A stride of 0 shares that operand across the batch (not allowed for C). beta == 0
// overwrites C without reading it.
// column_sum: out[j] = sum_i x[i, j] for x [rows, cols], summed in a fixed order (deterministic).
// add_bias: y[i, j] += bias[j] for y [rows, cols].
namespace cpu {
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t stride_a,
          const T* b, int64_t stride_b, T beta, T* c, int64_t stride_c, int64_t batch);
template <class T> void column_sum(const T* x, T* out, int64_t rows, int64_t cols);

// The float32 GEMMs beside the reference, same contract as gemm<float> above:
//   gemm_fast      ours (matmul_cpu_fast.cpp): packed panels, a 14x32 AVX-512 FMA micro-kernel, OpenMP
//                  over the micro-tiles of each cache block; the result does not depend on the thread count.
//   gemm_openblas  Debian's OpenBLAS (OpenMP build, libopenblas-openmp-dev): cblas_sgemm per batch entry.
// gemm_f32 is what the float32 CPU ops run: the implementation gemm_f32_impl() names. The default is
// ours: measured with bench_gemm it runs at 0.97-1.02x OpenBLAS's best kernels at 512^3 and 0.93-1.13x
// on the LRA linear-layer shapes (1 core; at par on the best 2-thread rounds), 2-5x Debian's OpenBLAS
// as it configures itself on this Xeon (Prescott kernels), and its result does not depend on the thread
// count (docs/kernels.md, "CPU GEMM"). Benchmarks and tests switch with set_gemm_f32_impl, or the
// environment variable LRA_CPU_GEMM=fast|openblas|reference, read once at start-up.
void gemm_fast(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
               int64_t batch);
void gemm_openblas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
                   int64_t batch);
enum class GemmImpl { Reference, Fast, OpenBLAS };
GemmImpl gemm_f32_impl();
void set_gemm_f32_impl(GemmImpl impl);
const char* gemm_impl_name(GemmImpl impl);
void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
              int64_t batch);
template <class T> void add_bias(T* y, const T* bias, int64_t rows, int64_t cols);
}  // namespace cpu

namespace cuda {
// cuBLAS (cublasSgemmStridedBatched) on lra::cuda::stream(); TF32 follows lra::set_allow_tf32.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
          int64_t batch);
// Two passes: partial sums of row chunks into scratch, then the sum of the partials. scratch holds
// column_sum_scratch(rows, cols) floats (0: none needed).
int64_t column_sum_scratch(int64_t rows, int64_t cols);
void column_sum(const float* x, float* out, int64_t rows, int64_t cols, float* scratch);
void add_bias(float* y, const float* bias, int64_t rows, int64_t cols);
}  // namespace cuda

}  // namespace lra::ops
