// Values of the unary functions where the case table's float32-vs-float64 and finite-difference checks
// cannot see a wrong formula: known points, and the ranges where a naive form overflows.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/elementwise/elementwise.h"

namespace lra {
namespace {

std::vector<double> apply(Tensor (*f)(const Tensor&), std::vector<double> x) {
  return f(Tensor::from_vector(x, {int64_t(x.size())})).to_vector<double>();
}

TEST(UnaryValues, SinCos) {
  const std::vector<double> x = {0.0, 1.0, -2.5, 40.0};
  std::vector<double> s = apply(ops::sine, x), c = apply(ops::cosine, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_DOUBLE_EQ(s[i], std::sin(x[i]));
    EXPECT_DOUBLE_EQ(c[i], std::cos(x[i]));
  }
}

TEST(UnaryValues, SoftplusIsLog1pExpWithoutOverflow) {
  std::vector<double> y = apply(ops::softplus, {0.0, 2.0, -3.0, 800.0, -800.0});
  EXPECT_DOUBLE_EQ(y[0], std::log(2.0));
  EXPECT_NEAR(y[1], std::log1p(std::exp(2.0)), 1e-15);
  EXPECT_NEAR(y[2], std::log1p(std::exp(-3.0)), 1e-15);
  EXPECT_DOUBLE_EQ(y[3], 800.0);  // exp(800) overflows a double: the naive form would give inf
  EXPECT_GE(y[4], 0.0);
  EXPECT_LT(y[4], 1e-300);
  Tensor f = ops::softplus(Tensor::from_vector(std::vector<float>{100.0f}, {1}));
  EXPECT_FLOAT_EQ(f.to_vector<float>()[0], 100.0f);
}

TEST(UnaryValues, LaplaceIsMegasNormalCdf) {
  // ½(1 + erf((x − μ)/(σ√2))), μ = √½, σ = √(1/(4π)): ½ at μ, the normal CDF one σ either side.
  const double mu = std::sqrt(0.5), sigma = std::sqrt(1.0 / (4.0 * M_PI));
  std::vector<double> y = apply(ops::laplace, {mu, mu + sigma, mu - 2 * sigma, 0.0});
  EXPECT_NEAR(y[0], 0.5, 1e-15);
  EXPECT_NEAR(y[1], 0.8413447460685429, 1e-14);
  EXPECT_NEAR(y[2], 0.022750131948179195, 1e-14);
  EXPECT_NEAR(y[3], 0.5 * (1 + std::erf(-mu / (sigma * std::sqrt(2.0)))), 1e-15);
}

}  // namespace
}  // namespace lra
