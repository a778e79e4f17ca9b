// Properties of the rotary embedding the case table cannot see: the rotation formula against a direct
// evaluation, disable_half leaves exactly the even planes untouched, scores depend only on relative
// position, full width equals per head with each head's own band, rope_qk equals two rope calls, and
// the error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/rope/rope.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

TEST(Rope, MatchesDirectFormula) {
  Generator gen(1);
  const int64_t B = 2, L = 9, D = 12;
  for (bool disable : {false, true}) {
    Tensor x = test::random_input({B, L, D}, gen);
    std::vector<double> xv = x.to_vector<double>(), yv = ops::rope(x, {1000, disable}).to_vector<double>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t p = 0; p < L; ++p)
        for (int64_t i = 0; i < D / 2; ++i) {
          double theta = (disable && i % 2 == 0) ? 0.0 : std::pow(1000.0, -2.0 * double(i) / double(D));
          double a = double(p) * theta;
          size_t k = size_t((b * L + p) * D + 2 * i);
          EXPECT_NEAR(yv[k], xv[k] * std::cos(a) - xv[k + 1] * std::sin(a), 1e-14);
          EXPECT_NEAR(yv[k + 1], xv[k] * std::sin(a) + xv[k + 1] * std::cos(a), 1e-14);
          if (disable && i % 2 == 0) {  // position-free plane: bit-exact identity
            EXPECT_EQ(yv[k], xv[k]);
            EXPECT_EQ(yv[k + 1], xv[k + 1]);
          }
        }
  }
}

// <rope(q)_m, rope(k)_n> depends only on m - n: shift both positions by the same amount.
TEST(Rope, ScoreDependsOnlyOnRelativePosition) {
  const int64_t L = 20, D = 8;
  Generator gen(2);
  Tensor q1 = test::random_input({1, D}, gen), k1 = test::random_input({1, D}, gen);
  // Place the same q at positions 3 and 13 and the same k at positions 7 and 17.
  std::vector<double> q(size_t(L * D), 0.0), k(size_t(L * D), 0.0);
  std::vector<double> qv = q1.to_vector<double>(), kv = k1.to_vector<double>();
  for (int64_t c = 0; c < D; ++c) {
    q[size_t(3 * D + c)] = q[size_t(13 * D + c)] = qv[size_t(c)];
    k[size_t(7 * D + c)] = k[size_t(17 * D + c)] = kv[size_t(c)];
  }
  auto [rq, rk] = ops::rope_qk(Tensor::from_vector(q, {L, D}), Tensor::from_vector(k, {L, D}));
  std::vector<double> a = rq.to_vector<double>(), b = rk.to_vector<double>();
  double s1 = 0, s2 = 0;
  for (int64_t c = 0; c < D; ++c) {
    s1 += a[size_t(3 * D + c)] * b[size_t(7 * D + c)];
    s2 += a[size_t(13 * D + c)] * b[size_t(17 * D + c)];
  }
  EXPECT_NEAR(s1, s2, 1e-12);
}

// Full width on [L, D_model] then splitting into heads equals rotating head h's block with the
// frequencies of planes h*d/2 ..: in particular head 0 matches rope per head with base^(d/D_model)...
// only for head 0 (theta_i for i < d/2 is base^(-2i/D_model) = (base^(d/D_model))^(-2i/d)).
TEST(Rope, FullWidthHeadZeroIsPerHeadWithRescaledBase) {
  const int64_t L = 6, Dm = 16, d = 4;
  Generator gen(3);
  Tensor x = test::random_input({L, Dm}, gen);
  std::vector<double> full = ops::rope(x, {10000, false}).to_vector<double>();
  std::vector<double> xv = x.to_vector<double>(), head0(size_t(L * d));
  for (int64_t p = 0; p < L; ++p)
    for (int64_t c = 0; c < d; ++c) head0[size_t(p * d + c)] = xv[size_t(p * Dm + c)];
  double base0 = std::pow(10000.0, double(d) / double(Dm));
  std::vector<double> per = ops::rope(Tensor::from_vector(head0, {L, d}), {base0, false}).to_vector<double>();
  for (int64_t p = 0; p < L; ++p)
    for (int64_t c = 0; c < d; ++c) EXPECT_NEAR(per[size_t(p * d + c)], full[size_t(p * Dm + c)], 1e-12);
}

TEST(Rope, QkEqualsTwoCallsAndBackwardInverts) {
  Generator gen(4);
  Tensor q = test::random_input({2, 5, 10}, gen), k = test::random_input({5, 10}, gen);
  auto [rq, rk] = ops::rope_qk(q, k, {10000, true});
  EXPECT_TRUE(test::all_close(rq, ops::rope(q, {10000, true}), 0, 0, "rope_qk q"));
  EXPECT_TRUE(test::all_close(rk, ops::rope(k, {10000, true}), 0, 0, "rope_qk k"));
  // The backward of a rotation is its inverse: with upstream gradient rope(q), the gradient is q.
  Tensor qg = q.clone();
  qg.requires_grad_();
  ops::rope(qg).backward(ops::rope(q).detach());
  EXPECT_TRUE(test::all_close(qg.grad(), q, 1e-12, 1e-14, "rope backward inverts rope"));
}

TEST(Rope, TablesAreCachedPerKey) {
  auto a = ops::rope_tables(7, 6, {}, DType::F64, Device::CPU);
  auto b = ops::rope_tables(7, 6, {}, DType::F64, Device::CPU);
  auto c = ops::rope_tables(7, 6, {10000, true}, DType::F64, Device::CPU);
  EXPECT_EQ(a.first.raw_data(), b.first.raw_data());
  EXPECT_NE(a.first.raw_data(), c.first.raw_data());
  EXPECT_EQ(a.first.shape(), (Shape{7, 3}));
}

TEST(Rope, ErrorsNameTheShape) {
  Tensor odd = Tensor::zeros({2, 4, 5}, DType::F64);
  EXPECT_NE(test::error_of([&] { ops::rope(odd); }).find("[2, 4, 5] whose last dim D = 5 is odd"), std::string::npos)
      << test::error_of([&] { ops::rope(odd); });
  Tensor q = Tensor::zeros({3, 4}, DType::F64), k = Tensor::zeros({5, 4}, DType::F64);
  EXPECT_NE(test::error_of([&] { ops::rope_qk(q, k); }).find("[L, D] must agree"), std::string::npos);
  EXPECT_NE(test::error_of([&] { ops::rope(Tensor::zeros({4}, DType::F64)); }).find("must be [..., L, D]"),
            std::string::npos);
}

}  // namespace
}  // namespace lra
