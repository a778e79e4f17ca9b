// cpu::gemm_openblas: the float32 GEMM handed to Debian's OpenBLAS (libopenblas-openmp-dev), one
// cblas_sgemm per batch entry. The OpenMP build of OpenBLAS runs its threads on libgomp's pool, the one
// our own OpenMP loops use, so the two never oversubscribe the cores (the pthreads build would keep a
// second pool spinning beside ours). Kept compiled and tested beside our kernel (matmul_cpu_fast.cpp) as
// the yardstick the issue names; LRA_CPU_GEMM=openblas or set_gemm_f32_impl selects it.
#include <cblas.h>

#include <climits>

#include "engine/base.h"
#include "ops/matmul/matmul.h"

namespace lra::ops::cpu {

void gemm_openblas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
                   int64_t batch) {
  if (m == 0 || n == 0) return;
  LRA_CHECK(m < INT_MAX && n < INT_MAX && k < INT_MAX, "gemm_openblas: m, n, k = ", m, ", ", n, ", ", k,
            " exceed the 32-bit BLAS interface");
  for (int64_t s = 0; s < batch; ++s) {
    float* cs = c + s * stride_c;
    if (k == 0) {  // BLAS computes beta·C here too, but beta == 0 must not read C (NaN · 0 is NaN)
      for (int64_t i = 0; i < m * n; ++i) cs[i] = beta == 0.0f ? 0.0f : beta * cs[i];
      continue;
    }
    // Row-major: op(A) [m, k] is A stored [m, k] (lda k) or [k, m] (lda m); likewise B.
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m),
                int(n), int(k), alpha, a + s * stride_a, int(trans_a ? m : k), b + s * stride_b,
                int(trans_b ? k : n), beta, cs, int(n));
  }
}

}  // namespace lra::ops::cpu
