// Properties of softmax / log_softmax the case table cannot see: exact zeros where the mask excludes
// (value and gradient), fully masked rows, normalisation, and the error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/softmax/softmax.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

// x [2, 3, 6] with mask [2, 6]: batch 0 excludes positions 1 and 4, batch 1 excludes everything.
struct Fixture {
  Tensor x, mask;
  Fixture() {
    Generator gen(7);
    x = test::random_input({2, 3, 6}, gen, -5, 5);
    mask = Tensor::from_vector(std::vector<int32_t>{1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0}, {2, 6});
  }
  bool included(int64_t row, int64_t j) const { return mask.to_vector<int32_t>()[size_t((row / 3) * 6 + j)] != 0; }
};

TEST(Softmax, MaskGivesExactZerosAndRowsSumToOne) {
  Fixture f;
  std::vector<double> p = ops::softmax(f.x, f.mask).to_vector<double>();
  std::vector<double> lp = ops::log_softmax(f.x, f.mask).to_vector<double>();
  for (int64_t r = 0; r < 6; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < 6; ++j) {
      size_t k = size_t(r * 6 + j);
      ASSERT_FALSE(std::isnan(p[k]) || std::isnan(lp[k])) << "row " << r << " pos " << j;
      if (f.included(r, j)) {
        EXPECT_GT(p[k], 0.0);
        EXPECT_NEAR(std::exp(lp[k]), p[k], 1e-14);
      } else {
        EXPECT_EQ(p[k], 0.0) << "row " << r << " pos " << j;
        EXPECT_EQ(lp[k], 0.0) << "row " << r << " pos " << j;
      }
      sum += p[k];
    }
    EXPECT_NEAR(sum, r < 3 ? 1.0 : 0.0, 1e-14) << "row " << r;  // batch 1 is fully masked: all zeros
  }
}

TEST(Softmax, GradientIsExactlyZeroWhereExcluded) {
  for (bool log : {false, true}) {
    Fixture f;
    Tensor x = f.x.clone();
    x.requires_grad_();
    Tensor y = log ? ops::log_softmax(x, f.mask) : ops::softmax(x, f.mask);
    Generator gen(8);
    y.backward(test::random_input(y.shape(), gen));
    std::vector<double> g = x.grad().to_vector<double>();
    int nonzero = 0;
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t j = 0; j < 6; ++j) {
        double v = g[size_t(r * 6 + j)];
        ASSERT_FALSE(std::isnan(v));
        if (!f.included(r, j))
          EXPECT_EQ(v, 0.0) << (log ? "log_softmax" : "softmax") << " row " << r << " pos " << j;
        else
          nonzero += v != 0.0;
      }
    EXPECT_GT(nonzero, 0) << "the included positions should get a gradient";
  }
}

TEST(Softmax, StableForHugeLogitsAndMatchesDirectFormula) {
  Tensor x = Tensor::from_vector(std::vector<float>{1000.0f, 1001.0f, 999.0f}, {3});
  std::vector<float> p = ops::softmax(x).to_vector<float>();
  double e0 = std::exp(-1.0), e2 = std::exp(-2.0), s = e0 + 1 + e2;
  EXPECT_NEAR(p[0], e0 / s, 1e-6);
  EXPECT_NEAR(p[1], 1 / s, 1e-6);
  EXPECT_NEAR(p[2], e2 / s, 1e-6);
  std::vector<float> lp = ops::log_softmax(x).to_vector<float>();
  EXPECT_NEAR(lp[1], -std::log(s), 1e-6);
}

TEST(Softmax, ErrorsNameTheOpAndTheShapes) {
  Tensor x = Tensor::zeros({2, 3, 5});
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message([&] { ops::softmax(x, Tensor::ones({2, 4}, DType::I32)); });
  EXPECT_NE(m.find("softmax: mask has shape [2, 4]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 5]"), std::string::npos) << m;
  m = message([&] { ops::log_softmax(x, Tensor::ones({2, 5}, DType::F32)); });
  EXPECT_NE(m.find("log_softmax: mask must be int32"), std::string::npos) << m;
  m = message([&] { ops::softmax(Tensor::zeros({5}), Tensor::ones({1, 5}, DType::I32)); });
  EXPECT_NE(m.find("rank >= 2"), std::string::npos) << m;
  m = message([&] { ops::softmax(Tensor::ones({3}, DType::I32)); });
  EXPECT_NE(m.find("softmax: x must be float32 or float64"), std::string::npos) << m;
}

TEST(Softmax, EmptyTensorsAreFine) {
  EXPECT_EQ(ops::softmax(Tensor::zeros({0, 4})).numel(), 0);
  EXPECT_EQ(ops::log_softmax(Tensor::zeros({3, 0})).numel(), 0);
}

}  // namespace
}  // namespace lra
