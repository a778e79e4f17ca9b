// CPU reference for GEMM, column sums and bias adds.
//
// gemm is the textbook i-k-j loop (C[i, j] += A[i, p] · B[p, j], the inner loop running along a row of B
// and a row of C, both contiguous, so it vectorises), made cache- and register-friendly in two steps:
//   * op(B) is copied in panels of kKc x kNc elements into a contiguous buffer, and every row of A
//     streams past a panel while it sits in L2. The copy is also where trans_b is handled, so the hot
//     loop is the same for all four transpose combinations; panel rows are zero-padded to a multiple of kJ.
//   * C[i, j:j+kJ] is accumulated in a small array the compiler keeps in registers across the whole p
//     loop, instead of loading and storing C once per multiply-add (2.6x faster on one core).
// Rows of C are independent: the i loop runs on OpenMP threads.
// Measured (one core, SSE2 build, f32): the naive i-k-j loop 9.5 GFLOP/s; panels + register tile 25.
#include <algorithm>
#include <vector>

#include "ops/matmul/matmul.h"

namespace lra::ops::cpu {

namespace {
// A 128 x 256 panel is 128 KiB in float32 (256 KiB in float64): it fits in L2 next to a row of C.
// kJ = 16 accumulators: four SSE registers in float32, eight in float64.
constexpr int64_t kKc = 128, kNc = 256, kJ = 16;
// Below this many multiply-adds per panel (~50 us on one core), starting threads costs more than it saves.
constexpr int64_t kParallelWork = 1 << 18;
}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t stride_a,
          const T* b, int64_t stride_b, T beta, T* c, int64_t stride_c, int64_t batch) {
  std::vector<T> panel(static_cast<size_t>(std::min(k, kKc) * (std::min(n, kNc) + kJ)));
  for (int64_t s = 0; s < batch; ++s) {
    const T* as = a + s * stride_a;
    const T* bs = b + s * stride_b;
    T* cs = c + s * stride_c;
    // C = beta C (beta == 0 must not read C: it may hold NaN garbage from an uninitialised tensor).
    for (int64_t i = 0; i < m * n; ++i) cs[i] = beta == T(0) ? T(0) : beta * cs[i];
    for (int64_t j0 = 0; j0 < n; j0 += kNc) {
      const int64_t nc = std::min(kNc, n - j0), padded = (nc + kJ - 1) / kJ * kJ;
      for (int64_t p0 = 0; p0 < k; p0 += kKc) {
        const int64_t kc = std::min(kKc, k - p0);
        // panel[p, j] = op(B)[p0 + p, j0 + j]: B[p, j] is at p*n + j, or at j*k + p when B is stored [n, k].
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t j = 0; j < padded; ++j)
            panel[size_t(p * padded + j)] = j >= nc    ? T(0)
                                            : trans_b ? bs[(j0 + j) * k + p0 + p]
                                                      : bs[(p0 + p) * n + j0 + j];
        const T* pb = panel.data();
#pragma omp parallel for schedule(static) if (m * kc * nc >= kParallelWork)
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < nc; j += kJ) {
            T* cij = cs + i * n + j0 + j;
            const int64_t width = std::min(kJ, nc - j);  // the last tile of a panel may be narrower
            T acc[kJ] = {};
            for (int64_t t = 0; t < width; ++t) acc[t] = cij[t];
            for (int64_t p = 0; p < kc; ++p) {
              // op(A)[i, p]: A[i, p] at i*k + p, or at p*m + i when A is stored [k, m].
              const T aip = alpha * (trans_a ? as[(p0 + p) * m + i] : as[i * k + p0 + p]);
              const T* bp = pb + p * padded + j;
              for (int64_t t = 0; t < kJ; ++t) acc[t] += aip * bp[t];
            }
            for (int64_t t = 0; t < width; ++t) cij[t] = acc[t];
          }
        }
      }
    }
  }
}

template <class T>
void column_sum(const T* x, T* out, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j) out[j] = T(0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[j] += x[i * cols + j];
}

template <class T>
void add_bias(T* y, const T* bias, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) y[i * cols + j] += bias[j];
}

#define LRA_INSTANTIATE(T)                                                                                  \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t, int64_t);                                                                  \
  template void column_sum<T>(const T*, T*, int64_t, int64_t);                                             \
  template void add_bias<T>(T*, const T*, int64_t, int64_t);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
