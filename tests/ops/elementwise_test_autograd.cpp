// Autograd behaviour checked through real ops: accumulation, no-grad scopes, consumed graphs.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "ops/elementwise/elementwise.h"

namespace lra {
namespace {

TEST(Autograd, TensorUsedTwiceAccumulates) {
  Tensor x = Tensor::from_vector(std::vector<double>{0.5, -1.0}, {2});
  x.requires_grad_();
  // y = tanh(x) + 3 * x, via two uses of x.
  Tensor t = ops::tanh(x);
  Tensor s = ops::scale(x, 3.0);
  Tensor y = ops::add(t, s);
  y.backward(Tensor::ones({2}, DType::F64));
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 1 - std::tanh(0.5) * std::tanh(0.5) + 3, 1e-12);
  EXPECT_NEAR(g[1], 1 - std::tanh(-1.0) * std::tanh(-1.0) + 3, 1e-12);
  // Leaf gradients accumulate across backward calls.
  ops::scale(x, 2.0).backward(Tensor::ones({2}, DType::F64));
  EXPECT_NEAR(x.grad().to_vector<double>()[0], 1 - std::tanh(0.5) * std::tanh(0.5) + 5, 1e-12);
}

TEST(Autograd, NoGradRecordsNothingAndGraphIsConsumed) {
  Tensor x = Tensor::from_vector(std::vector<double>{1.0}, {1});
  x.requires_grad_();
  {
    autograd::NoGrad no_grad;
    EXPECT_FALSE(ops::relu(x).grad_fn());
  }
  Tensor y = ops::sigmoid(x);
  EXPECT_TRUE(y.grad_fn());
  y.backward();
  EXPECT_THROW(y.backward(), Error);
}

}  // namespace
}  // namespace lra

namespace lra {
namespace {

TEST(Cast, Int32MasksBecomeFloatsWithoutGradient) {
  Tensor m = Tensor::from_vector(std::vector<int32_t>{1, 0, 1, 1}, {2, 2});
  Tensor f = ops::cast(m, DType::F32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1, 0, 1, 1}));
  EXPECT_FALSE(f.grad_fn());
  EXPECT_THROW(ops::cast(f, DType::I32), Error);
}

}  // namespace
}  // namespace lra
