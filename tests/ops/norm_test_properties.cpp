// Norm checks the case table cannot see: D = 1 gives y = bias without NaN, normalised rows have mean
// 0 and variance 1, rms_norm's scale, and errors that name the argument and the shapes.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <cmath>

#include "ops/norm/norm.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using test::error_of;

TEST(Norm, WidthOneGivesBiasAndNoNaN) {
  Tensor x = Tensor::from_vector(std::vector<double>{3.0, -7.0, 0.5}, {3, 1});
  x.requires_grad_();
  Tensor w = Tensor::from_vector(std::vector<double>{2.0}, {1});
  Tensor b = Tensor::from_vector(std::vector<double>{0.25}, {1});
  Tensor y = ops::layer_norm(x, w, b);
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 0.25);
  y.backward(Tensor::ones({3, 1}, DType::F64));
  for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST(Norm, LayerNormRowsHaveZeroMeanUnitVarianceAndRmsNormUnitRms) {
  Generator gen(2);
  Tensor x = test::random_input({4, 97}, gen, -3, 5);
  std::vector<double> y = ops::layer_norm(x, Tensor(), Tensor(), 0.0).to_vector<double>();
  std::vector<double> r = ops::rms_norm(x, Tensor(), 0.0).to_vector<double>();
  for (int64_t row = 0; row < 4; ++row) {
    double m = 0, v = 0, ms = 0;
    for (int64_t j = 0; j < 97; ++j) m += y[size_t(row * 97 + j)] / 97;
    for (int64_t j = 0; j < 97; ++j) {
      v += (y[size_t(row * 97 + j)] - m) * (y[size_t(row * 97 + j)] - m) / 97;
      ms += r[size_t(row * 97 + j)] * r[size_t(row * 97 + j)] / 97;
    }
    EXPECT_NEAR(m, 0.0, 1e-12) << "row " << row;
    EXPECT_NEAR(v, 1.0, 1e-12) << "row " << row;
    EXPECT_NEAR(ms, 1.0, 1e-12) << "row " << row;
  }
}

TEST(Norm, ErrorsNameTheArgumentAndShapes) {
  Tensor x = Tensor::zeros({2, 64});
  std::string m = error_of([&] { ops::layer_norm(x, Tensor::ones({63}), Tensor()); });
  EXPECT_NE(m.find("layer_norm: weight has shape [63] but the last dim of x is 64"), std::string::npos) << m;
  m = error_of([&] { ops::layer_norm(x, Tensor(), Tensor::ones({2, 64})); });
  EXPECT_NE(m.find("layer_norm: bias has shape [2, 64]"), std::string::npos) << m;
  m = error_of([&] { ops::rms_norm(x, Tensor::ones({64}, DType::F64)); });
  EXPECT_NE(m.find("rms_norm: weight is"), std::string::npos) << m;
}

}  // namespace
}  // namespace lra
