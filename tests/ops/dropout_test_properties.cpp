// Properties of dropout the case table cannot see: the dropped fraction, the exact scale of kept
// values, eval / p = 0 identity, tied masks, argument errors, and CPU and CUDA masks being identical.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/dropout/dropout.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using test::error_of;

TEST(Dropout, DroppedFractionIsAboutPAndKeptValuesAreExactlyScaled) {
  const int64_t n = 100000;
  for (double p : {0.1, 0.5, 0.9}) {
    Generator data(3);
    Tensor x = Tensor::empty({n}, DType::F32);
    uniform_(x, data, 0.5, 1.5);  // never 0, so a 0 in y means dropped
    Generator gen(11);
    std::vector<float> y = ops::dropout(x, p, gen).to_vector<float>(), xv = x.to_vector<float>();
    int64_t dropped = 0;
    float keep = float(1.0 - p);
    for (int64_t i = 0; i < n; ++i) {
      if (y[size_t(i)] == 0.0f)
        ++dropped;
      else
        ASSERT_EQ(y[size_t(i)], xv[size_t(i)] / keep) << "p " << p << " element " << i;
    }
    // Binomial: sd = sqrt(n p (1-p)) <= 158; allow 5 sd.
    EXPECT_NEAR(double(dropped), p * double(n), 5 * std::sqrt(double(n) * p * (1 - p))) << "p " << p;
  }
}

TEST(Dropout, EvalAndZeroPReturnTheSameTensorAndDrawNothing) {
  Tensor x = Tensor::ones({4, 5});
  Generator gen(5, 100);
  EXPECT_EQ(ops::dropout(x, 0.5, gen, false).impl(), x.impl());
  EXPECT_EQ(ops::dropout(x, 0.0, gen, true).impl(), x.impl());
  EXPECT_EQ(gen.offset(), 100u);
  Tensor y = ops::dropout(x, 0.5, gen, true);
  EXPECT_NE(y.impl(), x.impl());
  EXPECT_EQ(gen.offset(), 100u + uniform_counters(20));
}

TEST(Dropout, TiedMaskIsConstantAlongTheTiedDim) {
  const int64_t B = 3, L = 37, D = 11;
  Tensor x = Tensor::ones({B, L, D});
  for (int tied : {1, -2}) {
    Generator gen(9);
    std::vector<float> y = ops::dropout(x, 0.5, gen, true, tied).to_vector<float>();
    int64_t kept = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t d = 0; d < D; ++d) {
        float first = y[size_t(b * L * D + d)];
        kept += first != 0.0f;
        for (int64_t l = 1; l < L; ++l)
          ASSERT_EQ(y[size_t((b * L + l) * D + d)], first) << "tied " << tied << " b " << b << " l " << l << " d " << d;
      }
    EXPECT_GT(kept, 0);
    EXPECT_LT(kept, B * D);  // 33 mask values at p = 0.5: both outcomes occur
    EXPECT_EQ(gen.offset(), uniform_counters(B * D));
  }
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Generator data(4);
  Tensor x = test::random_input({6, 50}, data);
  x.requires_grad_();
  Generator gen(21);
  Tensor y = ops::dropout(x, 0.4, gen, true, 0);
  y.backward(Tensor::ones({6, 50}, DType::F64));
  std::vector<double> yv = y.to_vector<double>(), xv = x.detach().to_vector<double>(), g = x.grad().to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_EQ(g[i], yv[i] == 0.0 ? 0.0 : 1.0 / 0.6) << "element " << i;
}

TEST(Dropout, ErrorsNameTheArgument) {
  Tensor x = Tensor::ones({2, 3});
  Generator gen(1);
  std::string m = error_of([&] { ops::dropout(x, 1.0, gen); });
  EXPECT_NE(m.find("dropout: p must be in [0, 1), got p = 1"), std::string::npos) << m;
  m = error_of([&] { ops::dropout(x, -0.1, gen); });
  EXPECT_NE(m.find("p = -0.1"), std::string::npos) << m;
  m = error_of([&] { ops::dropout(x, 0.5, gen, true, 2); });
  EXPECT_NE(m.find("dropout: tied_dim 2 is out of range"), std::string::npos) << m;
  m = error_of([&] { ops::dropout(Tensor::ones({3}, DType::I32), 0.5, gen); });
  EXPECT_NE(m.find("dropout: x must be float32 or float64"), std::string::npos) << m;
}

TEST(Dropout, CudaMaskIsIdenticalToCpu) {
  LRA_REQUIRE_CUDA();
  Generator data(6);
  Tensor x = Tensor::empty({4, 333, 65}, DType::F32);
  uniform_(x, data, -1, 1);
  for (int tied : {ops::kNoTie, 1, -1}) {
    Generator g_cpu(77, 5), g_gpu(77, 5);
    Tensor y_cpu = ops::dropout(x, 0.3, g_cpu, true, tied);
    Tensor y_gpu = ops::dropout(x.to(Device::CUDA), 0.3, g_gpu, true, tied);
    EXPECT_EQ(g_cpu.offset(), g_gpu.offset());
    std::vector<float> a = y_cpu.to_vector<float>(), b = y_gpu.to_vector<float>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "tied " << tied << " element " << i;
  }
}

}  // namespace
}  // namespace lra
