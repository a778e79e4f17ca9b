// Targeted reduction tests: output shapes, exact values, the first-argmax rule, empty mask rows and
// the error messages.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <cmath>

#include "ops/reduce/reduce.h"

namespace lra {
namespace {

Tensor vec(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

using test::error_of;

TEST(Reduce, ShapesAndValues) {
  Tensor x = vec({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  EXPECT_EQ(ops::sum(x, 0).shape(), Shape({3, 2}));
  EXPECT_EQ(ops::sum(x, 1, true).shape(), Shape({2, 1, 2}));
  EXPECT_EQ(ops::sum(x, 1).to_vector<double>(), (std::vector<double>{6, 9, 24, 27}));
  EXPECT_EQ(ops::sum(x, -1).to_vector<double>(), (std::vector<double>{1, 5, 9, 13, 17, 21}));
  EXPECT_EQ(ops::mean(x, 0).to_vector<double>(), (std::vector<double>{3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(ops::max(x, 1).to_vector<double>(), (std::vector<double>{4, 5, 10, 11}));
  Tensor all = ops::sum_all(x);
  EXPECT_EQ(all.shape(), Shape());
  EXPECT_EQ(all.item(), 66);
  EXPECT_EQ(ops::mean_all(x).item(), 5.5);
}

TEST(Reduce, MaxGradientGoesToTheFirstArgmax) {
  Tensor x = vec({1, 3, 3, 2, 5, 5}, {2, 3});
  x.requires_grad_();
  ops::max(x, 1).backward(vec({10, 20}, {2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 10, 0, 0, 20, 0}));
  Tensor y = vec({4, 4, 4, 4}, {2, 2});  // ties down a column too
  y.requires_grad_();
  ops::max(y, 0).backward(vec({1, 2}, {2}));
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{1, 2, 0, 0}));
}

TEST(Reduce, MaskedMeanEmptyRowIsZeroWithZeroGradient) {
  // x [2, 3, 2]; row 0 keeps positions 0 and 2, row 1 keeps nothing.
  Tensor x = vec({1, 2, 100, 200, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 3, 2});
  x.requires_grad_();
  Tensor mask = Tensor::from_vector(std::vector<int32_t>{1, 0, 1, 0, 0, 0}, {2, 3});
  Tensor y = ops::masked_mean(x, mask);
  std::vector<double> v = y.to_vector<double>();
  EXPECT_EQ(v, (std::vector<double>{2, 3, 0, 0}));
  for (double e : v) EXPECT_FALSE(std::isnan(e));
  y.backward(vec({1, 1, 1, 1}, {2, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0}));
}

TEST(Reduce, SumGradientIsBroadcast) {
  Tensor x = Tensor::zeros({2, 3}, DType::F64);
  x.requires_grad_();
  ops::mean(x, 0).backward(vec({2, 4, 6}, {3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(Reduce, Errors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_NE(error_of([&] { ops::sum(x, 2); }).find("sum: dim 2 is out of range for float32[2, 3]"), std::string::npos)
      << error_of([&] { ops::sum(x, 2); });
  EXPECT_NE(error_of([&] { ops::max(Tensor::zeros({2, 0}), 1); }).find("max: dim 1"), std::string::npos);
  Tensor x3 = Tensor::zeros({2, 5, 4});
  std::string e = error_of([&] { ops::masked_mean(x3, Tensor::zeros({2, 4}, DType::I32)); });
  EXPECT_NE(e.find("masked_mean: mask has shape [2, 4] but x is [2, 5, 4]"), std::string::npos) << e;
  e = error_of([&] { ops::masked_mean(x3, Tensor::zeros({2, 5})); });
  EXPECT_NE(e.find("masked_mean: mask must be int32"), std::string::npos) << e;
  e = error_of([&] { ops::masked_mean(x, Tensor::zeros({2, 3}, DType::I32)); });
  EXPECT_NE(e.find("masked_mean: x must be [B, L, D]"), std::string::npos) << e;
}

}  // namespace
}  // namespace lra
