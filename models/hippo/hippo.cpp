#include "models/hippo/hippo.h"

#include <complex>
// LAPACKE's complex types as std::complex (its documented C++ hook; the default is C99 `_Complex`).
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/base.h"

namespace lra::models::hippo {

LegS legs(int N) {
  LRA_CHECK(N >= 1, "hippo: the LegS state size must be >= 1, got ", N);
  LegS h;
  h.N = N;
  h.A.assign(size_t(N) * size_t(N), 0.0);
  h.B.resize(size_t(N));
  h.P.resize(size_t(N));
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < n; ++k) h.A[size_t(n) * size_t(N) + size_t(k)] = -std::sqrt(2.0 * n + 1) * std::sqrt(2.0 * k + 1);
    h.A[size_t(n) * size_t(N) + size_t(n)] = -(n + 1.0);
    h.B[size_t(n)] = std::sqrt(2.0 * n + 1);
    h.P[size_t(n)] = std::sqrt(n + 0.5);
  }
  return h;
}

NPLR nplr_legs(int N) {
  LRA_CHECK(N >= 2 && N % 2 == 0, "hippo: the NPLR state size must be even and >= 2 (one mode per conjugate pair "
            "is kept), got ", N);
  const LegS h = legs(N);
  // H = −i·(skew part of S), S = A + P·Pᵀ: Hermitian, column-major for LAPACK (H is its own conjugate
  // transpose, so only the lower triangle is read).
  const size_t n = size_t(N);
  std::vector<lapack_complex_double> H(n * n);
  for (size_t r = 0; r < n; ++r)
    for (size_t c = 0; c < n; ++c) {
      const double s_rc = h.A[r * n + c] + h.P[r] * h.P[c], s_cr = h.A[c * n + r] + h.P[c] * h.P[r];
      const double skew = 0.5 * (s_rc - s_cr);
      H[c * n + r] = cdouble(0.0, -skew);  // −i·skew
    }
  std::vector<double> w(n);
  const lapack_int info = LAPACKE_zheev(LAPACK_COL_MAJOR, 'V', 'L', lapack_int(N), H.data(), lapack_int(N), w.data());
  LRA_CHECK(info == 0, "hippo: LAPACK zheev failed for N = ", N, " (info ", int(info), ")");
  // zheev returns ascending eigenvalues; keep the first half (ω ≤ 0), phase-fixed.
  NPLR out;
  out.N = N;
  const size_t M = n / 2;
  out.Lambda.resize(M);
  out.V.resize(n * M);
  out.B.assign(M, cdouble(0));
  out.P.assign(M, cdouble(0));
  for (size_t m = 0; m < M; ++m) {
    out.Lambda[m] = cdouble(-0.5, w[m]);
    const cdouble v0 = H[m * n];
    const cdouble phase = std::abs(v0) > 0 ? std::conj(v0) / std::abs(v0) : cdouble(1);
    for (size_t r = 0; r < n; ++r) {
      const cdouble v = H[m * n + r] * phase;
      out.V[r * M + m] = v;
      out.B[m] += std::conj(v) * h.B[r];
      out.P[m] += std::conj(v) * h.P[r];
    }
  }
  return out;
}

}  // namespace lra::models::hippo
