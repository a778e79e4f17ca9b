// The S4D kernel against the formula written with std::complex<double> (an independent transcription of
// s4d.py's kernel), and its argument checks.
#include <gtest/gtest.h>

#include <complex>
#include <string>

#include "ops/ssmkernel/ssmkernel.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

TEST(SSMKernel, MatchesComplexFormula) {
  Generator gen(7);
  const int64_t H = 3, N = 6, L = 50;
  Tensor log_dt = random_input({H}, gen, -6.9, -2.3), ar = random_input({H, N}, gen, -1.0, 0.0),
         ai = random_input({H, N}, gen, 0.0, 20.0), C = random_input({H, N, 2}, gen);
  Tensor K = ops::ssm_kernel(log_dt, ar, ai, C, L);
  ASSERT_EQ(K.shape(), Shape({H, L}));
  auto vdt = log_dt.to_vector<double>(), var = ar.to_vector<double>(), vai = ai.to_vector<double>(),
       vc = C.to_vector<double>(), vk = K.to_vector<double>();
  double worst = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < L; ++l) {
      std::complex<double> sum = 0;
      for (int64_t n = 0; n < N; ++n) {
        int64_t hn = h * N + n;
        std::complex<double> A(-std::exp(var[hn]), vai[hn]), c(vc[2 * hn], vc[2 * hn + 1]);
        std::complex<double> dtA = A * std::exp(vdt[h]);
        sum += c * (std::exp(dtA) - 1.0) / A * std::exp(dtA * double(l));
      }
      worst = std::max(worst, std::abs(2 * sum.real() - vk[h * L + l]));
    }
  EXPECT_LT(worst, 1e-12);
}

TEST(SSMKernel, ErrorsNameTheArgument) {
  Tensor dt = Tensor::zeros({4}, DType::F64), ar = Tensor::zeros({4, 3}, DType::F64);
  Tensor ai = Tensor::zeros({4, 3}, DType::F64), C = Tensor::zeros({4, 3, 2}, DType::F64);
  try {
    ops::ssm_kernel(dt, ar, ai, Tensor::zeros({4, 2, 2}, DType::F64), 8);
    FAIL() << "no error for a C of the wrong shape";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("ssm_kernel: C must be [H, N, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::ssm_kernel(dt, Tensor::zeros({5, 3}, DType::F64), ai, C, 8), std::exception);
  EXPECT_THROW(ops::ssm_kernel(dt, ar, ai, C, -1), std::exception);
  // L = 0 is an empty kernel, not an error (the case table checks its shape and zero gradients).
  EXPECT_EQ(ops::ssm_kernel(dt, ar, ai, C, 0).shape(), Shape({4, 0}));
}

}  // namespace
}  // namespace lra::test
