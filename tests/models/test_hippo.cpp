// HiPPO-LegS and its NPLR diagonalisation (models/hippo/hippo.h): the matrices against their closed form,
// and the eigen-decomposition against the definition S·v = λ·v, in double precision.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/base.h"
#include "models/hippo/hippo.h"

namespace {

using lra::models::hippo::cdouble;

TEST(Hippo, LegSMatricesAreTheClosedForm) {
  const auto h = lra::models::hippo::legs(4);
  EXPECT_DOUBLE_EQ(h.A[0 * 4 + 0], -1.0);
  EXPECT_DOUBLE_EQ(h.A[3 * 4 + 3], -4.0);
  EXPECT_DOUBLE_EQ(h.A[2 * 4 + 1], -std::sqrt(5.0) * std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(h.A[1 * 4 + 2], 0.0);
  EXPECT_DOUBLE_EQ(h.B[3], std::sqrt(7.0));
  EXPECT_DOUBLE_EQ(h.P[2], std::sqrt(2.5));
}

TEST(Hippo, NplrOfSizeTwoIsKnownByHand) {
  // S = [[−½, √3/2], [−√3/2, −½]]: eigenvalues −½ ± i√3/2; the kept one has the negative imaginary part.
  const auto d = lra::models::hippo::nplr_legs(2);
  ASSERT_EQ(d.Lambda.size(), 1u);
  EXPECT_NEAR(d.Lambda[0].real(), -0.5, 1e-14);
  EXPECT_NEAR(d.Lambda[0].imag(), -std::sqrt(3.0) / 2, 1e-14);
  EXPECT_NEAR(d.V[0].imag(), 0.0, 1e-14);
  EXPECT_GT(d.V[0].real(), 0.0);
}

class HippoSizes : public testing::TestWithParam<int> {};

TEST_P(HippoSizes, NplrDiagonalisesTheNormalPart) {
  const int N = GetParam();
  const size_t n = size_t(N), M = n / 2;
  const auto h = lra::models::hippo::legs(N);
  const auto d = lra::models::hippo::nplr_legs(N);
  ASSERT_EQ(d.Lambda.size(), M);
  for (size_t m = 0; m < M; ++m) {
    EXPECT_DOUBLE_EQ(d.Lambda[m].real(), -0.5);
    EXPECT_LE(d.Lambda[m].imag(), 1e-12) << "mode " << m << " is not in the negative half";
    if (m > 0) EXPECT_LE(d.Lambda[m - 1].imag(), d.Lambda[m].imag()) << "not ascending at " << m;
    // S·v = λ·v with S = A + P·Pᵀ, the first component real and positive, unit norm.
    double err = 0, norm = 0;
    for (size_t r = 0; r < n; ++r) {
      cdouble sv = 0;
      for (size_t c = 0; c < n; ++c) sv += (h.A[r * n + c] + h.P[r] * h.P[c]) * d.V[c * M + m];
      err = std::max(err, std::abs(sv - d.Lambda[m] * d.V[r * M + m]));
      norm += std::norm(d.V[r * M + m]);
    }
    EXPECT_LT(err, 1e-9 * N) << "mode " << m;
    EXPECT_NEAR(norm, 1.0, 1e-12);
    EXPECT_NEAR(d.V[m].imag(), 0.0, 1e-12);
    EXPECT_GE(d.V[m].real(), 0.0);
    // B̃ = V*·B and P̃ = V*·P.
    cdouble b = 0, p = 0;
    for (size_t r = 0; r < n; ++r) {
      b += std::conj(d.V[r * M + m]) * h.B[r];
      p += std::conj(d.V[r * M + m]) * h.P[r];
    }
    EXPECT_LT(std::abs(b - d.B[m]), 1e-12 * N);
    EXPECT_LT(std::abs(p - d.P[m]), 1e-12 * N);
  }
  // The kept columns are orthonormal (the eigenvectors of a Hermitian matrix).
  for (size_t a = 0; a < M; ++a)
    for (size_t b = a + 1; b < M; ++b) {
      cdouble dot = 0;
      for (size_t r = 0; r < n; ++r) dot += std::conj(d.V[r * M + a]) * d.V[r * M + b];
      EXPECT_LT(std::abs(dot), 1e-10) << a << ", " << b;
    }
}

INSTANTIATE_TEST_SUITE_P(Sizes, HippoSizes, testing::Values(2, 4, 16, 64, 256));

TEST(Hippo, RefusesAnOddNplrSize) {
  EXPECT_THROW(lra::models::hippo::nplr_legs(5), lra::Error);
  EXPECT_THROW(lra::models::hippo::nplr_legs(0), lra::Error);
}

}  // namespace
