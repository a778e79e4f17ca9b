// Properties of the diagonal recurrence the case table cannot see: the closed form
// x_t = sum_s lambda^(t-s) b_s at L = 16384 (complex and real), reverse = flip(forward(flip)), the
// lambda = 1 cumulative sum, exact float32 vs float64 agreement of the CPU reference, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "ops/scan/scan.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using C = std::complex<double>;

// Closed form at a few times t of channel n of batch 0: x_t = sum_{s<=t} lambda^(t-s) b_s (forward) or
// sum_{s>=t} lambda^(s-t) b_s (reverse), with powers from std::pow, independent of the loop.
TEST(Scan, MatchesClosedFormAtPathXLength) {
  const int64_t L = 16384, N = 3;
  Generator gen(21);
  std::vector<double> lam = {0.999 * std::cos(0.3), 0.999 * std::sin(0.3), 0.9, 0.0, -0.5, 0.7};
  Tensor lambda = Tensor::from_vector(lam, {N, 2}), b = test::random_input({1, L, N, 2}, gen);
  std::vector<double> bv = b.to_vector<double>();
  for (bool reverse : {false, true}) {
    std::vector<double> x = ops::scan_complex(lambda, b, reverse).to_vector<double>();
    for (int64_t n = 0; n < N; ++n) {
      C l(lam[size_t(2 * n)], lam[size_t(2 * n + 1)]);
      for (int64_t t : {int64_t(0), int64_t(1), int64_t(777), L / 2, L - 2, L - 1}) {
        C want = 0;
        for (int64_t s = 0; s < L; ++s) {
          int64_t lag = reverse ? s - t : t - s;
          if (lag < 0) continue;
          want += std::pow(l, double(lag)) * C(bv[size_t(2 * (s * N + n))], bv[size_t(2 * (s * N + n) + 1)]);
        }
        size_t k = size_t(2 * (t * N + n));
        EXPECT_NEAR(x[k], want.real(), 1e-9) << "n " << n << " t " << t << " reverse " << reverse;
        EXPECT_NEAR(x[k + 1], want.imag(), 1e-9) << "n " << n << " t " << t << " reverse " << reverse;
      }
    }
  }
}

TEST(Scan, RealWithLambdaOneIsCumulativeSum) {
  const int64_t L = 16384;
  Generator gen(22);
  Tensor b = test::random_input({2, L, 1}, gen);
  std::vector<double> bv = b.to_vector<double>();
  std::vector<double> x = ops::scan_real(Tensor::ones({1}, DType::F64), b).to_vector<double>();
  for (int64_t bt = 0; bt < 2; ++bt) {
    double s = 0;
    for (int64_t t = 0; t < L; ++t) {
      s += bv[size_t(bt * L + t)];
      ASSERT_NEAR(x[size_t(bt * L + t)], s, 1e-9) << "batch " << bt << " t " << t;
    }
  }
}

TEST(Scan, ReverseIsForwardOnFlippedTime) {
  const int64_t B = 3, L = 37, N = 5;
  Generator gen(23);
  Tensor lambda = test::random_input({N, 2}, gen, -0.7, 0.7), b = test::random_input({B, L, N, 2}, gen);
  auto flip = [&](const std::vector<double>& v) {
    std::vector<double> f(v.size());
    for (int64_t bt = 0; bt < B; ++bt)
      for (int64_t t = 0; t < L; ++t)
        for (int64_t j = 0; j < 2 * N; ++j)
          f[size_t((bt * L + t) * 2 * N + j)] = v[size_t((bt * L + L - 1 - t) * 2 * N + j)];
    return f;
  };
  std::vector<double> rev = ops::scan_complex(lambda, b, true).to_vector<double>();
  Tensor bf = Tensor::from_vector(flip(b.to_vector<double>()), b.shape());
  std::vector<double> fwd = flip(ops::scan_complex(lambda, bf, false).to_vector<double>());
  for (size_t k = 0; k < rev.size(); ++k) EXPECT_NEAR(rev[k], fwd[k], 1e-14) << k;
}

// The float32 CPU path accumulates in double and rounds once: it equals the float64 result rounded.
TEST(Scan, Float32ReferenceIsRoundedFloat64) {
  const int64_t L = 16384, N = 2;
  Generator gen(24);
  std::vector<double> lam = {0.995, -0.99};
  std::vector<double> bv = test::random_input({1, L, N}, gen).to_vector<double>();
  std::vector<float> bf(bv.begin(), bv.end());
  std::vector<double> b_rounded(bf.begin(), bf.end());
  std::vector<float> lf(lam.begin(), lam.end());
  std::vector<double> lam_rounded(lf.begin(), lf.end());
  Tensor l64 = Tensor::from_vector(lam_rounded, {N}), b64 = Tensor::from_vector(b_rounded, {1, L, N});
  std::vector<double> x64 = ops::scan_real(l64, b64).to_vector<double>();
  Tensor l32 = Tensor::from_vector(lf, {N}), b32 = Tensor::from_vector(bf, {1, L, N});
  std::vector<float> x32 = ops::scan_real(l32, b32).to_vector<float>();
  for (size_t k = 0; k < x64.size(); ++k) ASSERT_EQ(x32[k], float(x64[k])) << k;
}

// The float32 CPU path (blocks of 64 states advanced together, (batch, block) in parallel) against the
// float64 reference on the same inputs: both directions, conj(lambda), real and complex, N = 130 (two full
// blocks and a partial one), and the lambda gradient (each block's sum in the reference's order).
TEST(Scan, FastCpuPathMatchesTheReference) {
  const int64_t batch = 3, L = 517, N = 130;
  Generator gen(31);
  for (int complex = 0; complex < 2; ++complex) {
    const int64_t w = complex ? 2 : 1;
    // |lambda| < 1: random phases, moduli in [0.9, 0.999].
    std::vector<float> lam(size_t(N * w));
    std::vector<double> mod = test::random_input({N}, gen, 0.9, 0.999).to_vector<double>(),
                        ph = test::random_input({N}, gen, -3.1, 3.1).to_vector<double>();
    for (int64_t n = 0; n < N; ++n) {
      lam[size_t(n * w)] = float(complex ? mod[size_t(n)] * std::cos(ph[size_t(n)]) : mod[size_t(n)]);
      if (complex) lam[size_t(n * w + 1)] = float(mod[size_t(n)] * std::sin(ph[size_t(n)]));
    }
    std::vector<float> b = test::random_input({batch * L * N * w}, gen).to_vector<float>();
    std::vector<float> a = test::random_input({batch * L * N * w}, gen).to_vector<float>();
    const std::vector<double> lamd(lam.begin(), lam.end()), bd(b.begin(), b.end()), ad(a.begin(), a.end());
    for (int reverse = 0; reverse < 2; ++reverse)
      for (int conj = 0; conj < 2; ++conj) {
        std::vector<double> xr(b.size());
        std::vector<float> xf(b.size());
        ops::cpu::scan<double>(lamd.data(), bd.data(), xr.data(), batch, L, N, complex, reverse, conj);
        ops::cpu::scan_fast(lam.data(), b.data(), xf.data(), batch, L, N, complex, reverse, conj);
        for (size_t k = 0; k < xr.size(); ++k)
          ASSERT_NEAR(xf[k], xr[k], 1e-6 * (1 + std::abs(xr[k]))) << "complex " << complex << " reverse " << reverse
                                                                  << " conj " << conj << " at " << k;
        std::vector<double> gr(lam.size());
        std::vector<float> gf(lam.size());
        const std::vector<double> xd(xf.begin(), xf.end());
        ops::cpu::scan_lambda_grad<double>(xd.data(), ad.data(), gr.data(), batch, L, N, complex, reverse);
        ops::cpu::scan_lambda_grad_fast(xf.data(), a.data(), gf.data(), batch, L, N, complex, reverse);
        for (size_t k = 0; k < gr.size(); ++k)
          ASSERT_NEAR(gf[k], gr[k], 1e-5 * (1 + std::abs(gr[k]))) << "lambda grad, complex " << complex << " at " << k;
      }
  }
}

TEST(Scan, ErrorsNameTheShapes) {
  Tensor b = Tensor::zeros({2, 8, 4}, DType::F64);
  EXPECT_NE(test::error_of([&] { ops::scan_real(Tensor::zeros({5}, DType::F64), b); })
                .find("lambda has shape [5] but b has shape [2, 8, 4], so lambda must be [4]"),
            std::string::npos)
      << test::error_of([&] { ops::scan_real(Tensor::zeros({5}, DType::F64), b); });
  EXPECT_NE(
      test::error_of([&] { ops::scan_complex(Tensor::zeros({8, 2}, DType::F64), b); }).find("needs a last dim of 2"),
      std::string::npos);
  EXPECT_NE(test::error_of([&] { ops::scan_real(Tensor::zeros({4}, DType::F64), Tensor::zeros({4}, DType::F64)); })
                .find("b must be [..., L, N]"),
            std::string::npos);
}

}  // namespace
}  // namespace lra
