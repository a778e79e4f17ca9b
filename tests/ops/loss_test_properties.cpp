// cross_entropy / count_correct behaviour the case table cannot see: values against a hand
// computation, ignored rows, label errors and their messages.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <cmath>

#include "ops/loss/loss.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using test::error_of;

TEST(CrossEntropy, MatchesHandComputationAndIgnoresRows) {
  // Row 0: logits (1, 2, 3) label 2; row 1 ignored; row 2: (0, 0, 0) label 0.
  Tensor logits = Tensor::from_vector(std::vector<double>{1, 2, 3, 9, -9, 4, 0, 0, 0}, {3, 3});
  Tensor labels = Tensor::from_vector(std::vector<int32_t>{2, -100, 0}, {3});
  logits.requires_grad_();
  Tensor loss = ops::cross_entropy(logits, labels);
  EXPECT_EQ(loss.ndim(), 0);
  double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, l2 = std::log(3.0);
  EXPECT_NEAR(loss.item(), (l0 + l2) / 2, 1e-12);
  loss.backward();
  std::vector<double> g = logits.grad().to_vector<double>();
  for (int c = 0; c < 3; ++c) EXPECT_EQ(g[size_t(3 + c)], 0.0) << "ignored row gets no gradient";
  EXPECT_NEAR(g[6], (1.0 / 3 - 1) / 2, 1e-12);
  EXPECT_NEAR(g[7], (1.0 / 3) / 2, 1e-12);
  double row0 = 0;
  for (int c = 0; c < 3; ++c) row0 += g[size_t(c)];
  EXPECT_NEAR(row0, 0.0, 1e-12) << "softmax - onehot sums to 0 over a row";
}

TEST(CrossEntropy, AllIgnoredIsZeroNotNaN) {
  Tensor logits = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  logits.requires_grad_();
  Tensor loss = ops::cross_entropy(logits, Tensor::full({2}, -100, DType::I32));
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  for (float v : logits.grad().to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(CrossEntropy, NoRowsIsZeroLossAndNoClassesIsAnError) {
  // N = 0 is "no counted row" (loss.h): 0, where PyTorch's mean over nothing gives NaN.
  Tensor logits = Tensor::zeros({0, 4});
  logits.requires_grad_();
  Tensor loss = ops::cross_entropy(logits, Tensor::zeros({0}, DType::I32));
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  EXPECT_EQ(logits.grad().shape(), Shape({0, 4}));
  EXPECT_EQ(ops::count_correct(logits, Tensor::zeros({0}, DType::I32)), 0);
  // C = 0 has no class to predict, even when there are no rows either.
  for (const Shape& s : {Shape{3, 0}, Shape{0, 0}}) {
    Tensor labels = Tensor::zeros({s[0]}, DType::I32);
    std::string m = error_of([&] { ops::cross_entropy(Tensor::zeros(s), labels); });
    EXPECT_NE(m.find("cross_entropy: logits " + s.to_string() + " have no classes"), std::string::npos) << m;
  }
}

TEST(CrossEntropy, StableForHugeLogits) {
  Tensor logits = Tensor::from_vector(std::vector<float>{1000, 1001, -1000, 5000}, {2, 2});
  Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 1}, {2});
  double expected = (std::log(1 + std::exp(-1.0)) + 1 + 0) / 2;  // row 1 ~ exactly 0
  EXPECT_NEAR(ops::cross_entropy(logits, labels).item(), expected, 1e-5);
}

TEST(CrossEntropy, BadLabelsAndShapesAreErrors) {
  Tensor logits = Tensor::zeros({2, 3, 5});
  std::string m = error_of([&] {
    ops::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 3, 7, 4}, {2, 3}));
  });
  EXPECT_NE(m.find("cross_entropy: label 7 at row 4"), std::string::npos) << m;
  EXPECT_NE(m.find("[0, 5)"), std::string::npos) << m;
  m = error_of([&] { ops::cross_entropy(logits, Tensor::zeros({2, 4}, DType::I32)); });
  EXPECT_NE(m.find("labels have shape [2, 4] but logits [2, 3, 5]"), std::string::npos) << m;
  m = error_of([&] { ops::cross_entropy(logits, Tensor::zeros({2, 3}, DType::F32)); });
  EXPECT_NE(m.find("labels must be int32"), std::string::npos) << m;
  m = error_of([&] { ops::count_correct(Tensor::zeros({5}), Tensor::zeros({}, DType::I32)); });
  EXPECT_NE(m.find("count_correct: logits must be [N, C]"), std::string::npos) << m;
}

TEST(CountCorrect, ArgmaxFirstOnTiesAndIgnoredRowsSkipped) {
  Tensor logits = Tensor::from_vector(std::vector<float>{0, 5, 5, 1, 0, 0, 2, 2, 9, 0, 0, 0}, {4, 3});
  // Row 0: argmax 1 (tie with 2, first wins), label 1 -> correct. Row 1: argmax 0, label 2 -> wrong.
  // Row 2: argmax 2, ignored. Row 3: all equal -> argmax 0, label 0 -> correct.
  Tensor labels = Tensor::from_vector(std::vector<int32_t>{1, 2, -100, 0}, {4});
  EXPECT_EQ(ops::count_correct(logits, labels), 2);
  EXPECT_EQ(ops::count_correct(logits, labels, 1), 1);  // row 0 now ignored; -100 is out of range
}

}  // namespace
}  // namespace lra
