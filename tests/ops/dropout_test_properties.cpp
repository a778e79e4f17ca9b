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

// A batch window keys the mask by global row: the full batch of 5 rows without a window equals the rows
// [0, 3) and [3, 5) dropped by two windowed calls from the same generator state, forward and backward, for
// untied masks and masks tied along a middle, the last and the batch dim (batch-shared). Every call
// advances the generator alike. The sizes are odd (R = 7·6 = 42 mask values per row is not a multiple
// of 4, so the second slice starts inside a Philox block).
std::vector<float> windowed_rows(const Tensor& x, int tied, Device device, bool grad) {
  const int64_t B = x.dim(0);
  std::vector<float> out;
  for (auto [first, rows] : {std::pair<int64_t, int64_t>{0, 3}, {3, B - 3}}) {
    Generator gen(77, 5);
    gen.set_window({B, first, rows});
    Tensor part = x.narrow0(first, rows).clone().to(device);
    part.requires_grad_();
    Tensor y = ops::dropout(part, 0.3, gen, true, tied);
    Generator whole(77, 5);
    ops::dropout(x, 0.3, whole, true, tied);
    EXPECT_EQ(gen.offset(), whole.offset()) << "the reservation is the global batch's";
    if (grad) {
      Tensor w = Tensor::ones(part.shape(), DType::F32, device);
      y.backward(w);
      y = part.grad();
    }
    std::vector<float> v = y.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<float> whole_batch(const Tensor& x, int tied, bool grad) {
  Generator gen(77, 5);
  Tensor xx = x.clone();
  xx.requires_grad_();
  Tensor y = ops::dropout(xx, 0.3, gen, true, tied);
  if (!grad) return y.to_vector<float>();
  y.backward(Tensor::ones(x.shape(), DType::F32));
  return xx.grad().to_vector<float>();
}

TEST(Dropout, WindowedHalvesConcatenateToTheWholeBatch) {
  Generator data(6);
  Tensor x = Tensor::empty({5, 7, 6}, DType::F32);
  uniform_(x, data, 0.5, 1.5);
  for (int tied : {ops::kNoTie, 1, -1, 0})
    for (bool grad : {false, true}) {
      const std::vector<float> whole = whole_batch(x, tied, grad), parts = windowed_rows(x, tied, Device::CPU, grad);
      ASSERT_EQ(whole.size(), parts.size());
      int64_t dropped = 0;
      for (size_t i = 0; i < whole.size(); ++i) {
        ASSERT_EQ(whole[i], parts[i]) << "tied " << tied << " grad " << grad << " element " << i;
        dropped += whole[i] == 0.0f;
      }
      EXPECT_GT(dropped, 0) << "the test needs dropped elements in both halves to mean anything";
    }
  // Without a window the second slice would have drawn the first rows' mask: the test tells them apart.
  Generator plain(77, 5);
  std::vector<float> unkeyed = ops::dropout(x.narrow0(3, 2).clone(), 0.3, plain).to_vector<float>();
  std::vector<float> whole = whole_batch(x, ops::kNoTie, false);
  EXPECT_NE(unkeyed, std::vector<float>(whole.begin() + 3 * 42, whole.end()));
}

TEST(Dropout, WindowNeedsABatchLedTensor) {
  Generator gen(1);
  gen.set_window({6, 2, 2});
  const std::string m = test::error_of([&] { ops::dropout(Tensor::ones({7}), 0.5, gen); });
  EXPECT_NE(m.find("dropout: x float32[7] on cpu is not batch-led under the generator's batch window of 2 local rows"),
            std::string::npos)
      << m;
}

TEST(Dropout, CudaWindowedHalvesConcatenateToTheWholeBatch) {
  LRA_REQUIRE_CUDA();
  Generator data(6);
  Tensor x = Tensor::empty({5, 7, 6}, DType::F32);
  uniform_(x, data, 0.5, 1.5);
  for (int tied : {ops::kNoTie, 1, -1, 0})
    for (bool grad : {false, true}) {
      const std::vector<float> whole = whole_batch(x, tied, grad), parts = windowed_rows(x, tied, Device::CUDA, grad);
      ASSERT_EQ(whole.size(), parts.size());
      for (size_t i = 0; i < whole.size(); ++i)
        ASSERT_EQ(whole[i], parts[i]) << "tied " << tied << " grad " << grad << " element " << i;
    }
}

}  // namespace
}  // namespace lra
