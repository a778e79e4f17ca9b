// matmul / linear beyond the case table: error messages, the raw cpu::gemm contract (alpha, beta,
// strides, panel edges) against a naive loop, and linear at a realistic size against a naive float64
// reference (all three gradients) and on CUDA.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "ops/matmul/matmul.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using test::error_of;

TEST(Matmul, ErrorMessagesNameShapes) {
  Tensor a = Tensor::zeros({2, 3, 4}), b = Tensor::zeros({5, 6});
  EXPECT_EQ(error_of([&] { ops::matmul(a, b); }), "matmul: a is [2, 3, 4] and b is [5, 6]: inner dims 4 and 5 differ");
  EXPECT_EQ(error_of([&] { ops::matmul(a, b, true, true); }),
            "matmul: a is [2, 3, 4] and b is [5, 6]: inner dims 3 and 6 differ (trans_a=1, trans_b=1)");
  EXPECT_EQ(error_of([&] { ops::matmul(a, Tensor::zeros({3, 4, 5})); }),
            "matmul: a is [2, 3, 4] and b is [3, 4, 5]: b must be 2-D (shared by every batch entry) or have a's "
            "batch dims [2]");
  EXPECT_EQ(error_of([&] { ops::matmul(Tensor::zeros({4}), b); }), "matmul: a must have 2 to 5 dims, got [4]");
  EXPECT_EQ(error_of([&] { ops::linear(Tensor::zeros({2, 64}), Tensor::zeros({128, 63})); }),
            "linear: weight has shape [128, 63] but the last dim of x is 64 (x is [2, 64])");
  EXPECT_EQ(error_of([&] { ops::linear(Tensor::zeros({2, 4}), Tensor::zeros({3, 4}), Tensor::zeros({5})); }),
            "linear: bias has shape [5] but weight [3, 4] has 3 output features");
  EXPECT_NE(error_of([&] { ops::matmul(a, Tensor::zeros({4, 6}, DType::F64)); }).find("matmul: b is float64"),
            std::string::npos);
}

// C_s = alpha op(A_s) op(B_s) + beta C_s by the definition, in double.
void naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const std::vector<double>& a,
                int64_t sa, const std::vector<double>& b, int64_t sb, double beta, std::vector<double>& c, int64_t sc,
                int64_t batch) {
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += a[size_t(s * sa + (ta ? p * m + i : i * k + p))] * b[size_t(s * sb + (tb ? j * k + p : p * n + j))];
        double& out = c[size_t(s * sc + i * n + j)];
        out = alpha * acc + (beta == 0 ? 0 : beta * out);
      }
}

TEST(Matmul, CpuGemmMatchesNaiveLoop) {
  Generator gen(test::kCaseSeed + 10);
  // Sizes straddle the CPU panel (128 x 256) and register tile (16) edges.
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 17, 5}, {5, 257, 129}, {2, 16, 256}, {7, 300, 260}};
  for (const auto& d : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool shared_b : {false, true}) {
          const int64_t m = d[0], n = d[1], k = d[2], batch = 2;
          const int64_t sb = shared_b ? 0 : k * n;
          std::vector<double> a = test::random_input({batch, m * k}, gen).to_vector<double>();
          std::vector<double> b = test::random_input({batch, k * n}, gen).to_vector<double>();
          std::vector<double> c0 = test::random_input({batch, m * n}, gen).to_vector<double>();
          for (double beta : {0.0, 0.5}) {
            std::vector<double> want = c0, got = c0;
            naive_gemm(ta, tb, m, n, k, -1.5, a, m * k, b, sb, beta, want, m * n, batch);
            ops::cpu::gemm<double>(ta, tb, m, n, k, -1.5, a.data(), m * k, b.data(), sb, beta, got.data(), m * n, batch);
            double worst = 0;
            for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
            EXPECT_LT(worst, 1e-11) << "m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb
                                    << " shared_b=" << shared_b << " beta=" << beta;
          }
        }
}

TEST(Matmul, BetaZeroIgnoresNaNInC) {
  std::vector<float> a = {1, 2}, b = {3, 4}, c = {NAN};
  ops::cpu::gemm<float>(false, false, 1, 1, 2, 1.0f, a.data(), 0, b.data(), 0, 0.0f, c.data(), 0, 1);
  EXPECT_EQ(c[0], 11.0f);
}

// linear at a realistic LRA size: y = x Wᵀ + b and all three gradients against loops in double.
TEST(Linear, RealisticSizeMatchesNaiveReference) {
  Generator gen(test::kCaseSeed + 11);
  const int64_t rows = 2 * 1000, in = 64, out = 128;
  Tensor x = test::random_input({2, 1000, in}, gen), w = test::random_input({out, in}, gen),
         bias = test::random_input({out}, gen), g = test::random_input({2, 1000, out}, gen);
  x.requires_grad_();
  w.requires_grad_();
  bias.requires_grad_();
  Tensor y = ops::linear(x, w, bias);
  y.backward(g);
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = bias.to_vector<double>(),
                      gv = g.to_vector<double>(), yv = y.to_vector<double>();
  std::vector<double> dx = x.grad().to_vector<double>(), dw = w.grad().to_vector<double>(),
                      db = bias.grad().to_vector<double>();
  double worst_y = 0, worst_dx = 0, worst_dw = 0, worst_db = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = bv[size_t(o)];
      for (int64_t i = 0; i < in; ++i) s += xv[size_t(r * in + i)] * wv[size_t(o * in + i)];
      worst_y = std::max(worst_y, std::fabs(s - yv[size_t(r * out + o)]));
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < in; ++i) {
      double s = 0;
      for (int64_t o = 0; o < out; ++o) s += gv[size_t(r * out + o)] * wv[size_t(o * in + i)];
      worst_dx = std::max(worst_dx, std::fabs(s - dx[size_t(r * in + i)]));
    }
  for (int64_t o = 0; o < out; ++o) {
    double sb = 0;
    for (int64_t r = 0; r < rows; ++r) sb += gv[size_t(r * out + o)];
    worst_db = std::max(worst_db, std::fabs(sb - db[size_t(o)]));
    for (int64_t i = 0; i < in; ++i) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += gv[size_t(r * out + o)] * xv[size_t(r * in + i)];
      worst_dw = std::max(worst_dw, std::fabs(s - dw[size_t(o * in + i)]));
    }
  }
  EXPECT_LT(worst_y, 1e-12);
  EXPECT_LT(worst_dx, 1e-12);
  EXPECT_LT(worst_dw, 1e-10);  // sums of 2000 terms
  EXPECT_LT(worst_db, 1e-10);
}

TEST(Linear, EqualsMatmulWithTransposedWeightPlusBias) {
  Generator gen(test::kCaseSeed + 12);
  Tensor x = test::random_input({3, 4, 9}, gen), w = test::random_input({5, 9}, gen);
  std::vector<double> lin = ops::linear(x, w).to_vector<double>();
  std::vector<double> mm = ops::matmul(x, w, false, true).to_vector<double>();
  ASSERT_EQ(lin.size(), mm.size());
  for (size_t i = 0; i < lin.size(); ++i) EXPECT_NEAR(lin[i], mm[i], 1e-13) << i;
}

// The realistic linear on CUDA, all three gradients (the case table differentiates only its bias).
TEST(Linear, CudaRealisticSizeMatchesCpu) {
  LRA_REQUIRE_CUDA();
  Generator gen(test::kCaseSeed + 13);
  auto f32 = [](const Tensor& t) {
    std::vector<double> v = t.to_vector<double>();
    return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), t.shape());
  };
  Tensor x = f32(test::random_input({2, 1000, 64}, gen)), w = f32(test::random_input({128, 64}, gen)),
         b = f32(test::random_input({128}, gen)), g = f32(test::random_input({2, 1000, 128}, gen));
  Tensor xg = x.to(Device::CUDA), wg = w.to(Device::CUDA), bg = b.to(Device::CUDA);
  for (Tensor* t : {&x, &w, &b, &xg, &wg, &bg}) t->requires_grad_();
  ops::linear(x, w, b).backward(g);
  Tensor y = ops::linear(xg, wg, bg);
  y.backward(g.to(Device::CUDA));
  // Same reason as the case table: float32 sums in different orders; dW and db sum 2000 rows.
  const double rtol = 1e-4, atol = 1e-5 * std::sqrt(2000.0);
  EXPECT_TRUE(test::all_close(y, ops::linear(x, w, b).detach(), rtol, atol, "linear forward"));
  EXPECT_TRUE(test::all_close(xg.grad(), x.grad(), rtol, atol, "linear dx"));
  EXPECT_TRUE(test::all_close(wg.grad(), w.grad(), rtol, atol, "linear dW"));
  EXPECT_TRUE(test::all_close(bg.grad(), b.grad(), rtol, atol, "linear db"));
}

}  // namespace
}  // namespace lra
