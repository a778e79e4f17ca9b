// The LaS identity (avgpool.h): pooling every row of the attention matrix along the key index and
// multiplying by V equals the attention matrix times V pooled along the sequence. Checked against the
// explicit computation on a materialised row-stochastic matrix, with windows narrower and wider than
// L; plus the window definition at the borders, self-adjointness and the error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/avgpool/avgpool.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

// A [Lq, L] with non-negative rows summing to one (a softmax output), causal when asked.
std::vector<double> random_attention(int64_t Lq, int64_t L, bool causal, Generator& gen) {
  std::vector<double> a(size_t(Lq * L));
  for (int64_t i = 0; i < Lq; ++i) {
    double s = 0;
    for (int64_t j = 0; j < L; ++j) {
      double v = (causal && j > i) ? 0.0 : std::exp(3.0 * gen.uniform());
      a[size_t(i * L + j)] = v;
      s += v;
    }
    for (int64_t j = 0; j < L; ++j) a[size_t(i * L + j)] /= s;
  }
  return a;
}

TEST(AvgpoolLas, PoolingAttentionRowsEqualsAttentionTimesPooledV) {
  Generator gen(11);
  for (auto [L, d, P, causal] : std::vector<std::tuple<int64_t, int64_t, int, bool>>{
           {1, 3, 3, false}, {8, 4, 3, true}, {13, 5, 5, false}, {29, 7, 7, true}, {6, 2, 11, true}}) {
    std::vector<double> A = random_attention(L, L, causal, gen);
    Tensor V = test::random_input({L, d}, gen);
    std::vector<double> v = V.to_vector<double>();
    // Explicit: AP(A)[i, j] = (1/P) sum_{|r| <= h} A[i, j + r] (zero outside), then AP(A) V.
    int64_t h = (P - 1) / 2;
    std::vector<double> explicit_out(size_t(L * d), 0.0);
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < L; ++j) {
        double ap = 0;
        for (int64_t r = -h; r <= h; ++r)
          if (j + r >= 0 && j + r < L) ap += A[size_t(i * L + j + r)];
        ap /= P;
        for (int64_t c = 0; c < d; ++c) explicit_out[size_t(i * d + c)] += ap * v[size_t(j * d + c)];
      }
    // Identity: A avgpool(V).
    std::vector<double> pv = ops::avgpool_seq(V, P, 0).to_vector<double>(), fast(size_t(L * d), 0.0);
    for (int64_t i = 0; i < L; ++i)
      for (int64_t m = 0; m < L; ++m)
        for (int64_t c = 0; c < d; ++c) fast[size_t(i * d + c)] += A[size_t(i * L + m)] * pv[size_t(m * d + c)];
    for (size_t k = 0; k < fast.size(); ++k)
      EXPECT_NEAR(fast[k], explicit_out[k], 1e-13) << "L " << L << " P " << P << " element " << k;
  }
}

TEST(AvgpoolLas, BordersUseZeroPaddingAndDivisorP) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4});
  std::vector<double> y = ops::avgpool_seq(x, 3, 0).to_vector<double>();
  std::vector<double> want = {3.0 / 3, 6.0 / 3, 9.0 / 3, 7.0 / 3};
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(y[i], want[i]) << i;
  std::vector<double> wide = ops::avgpool_seq(x, 9, 0).to_vector<double>();  // window covers everything
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(wide[i], 10.0 / 9) << i;
}

// <avgpool(x), y> == <x, avgpool(y)>: the backward (which reuses the forward) is the true adjoint.
TEST(AvgpoolLas, FilterIsSelfAdjoint) {
  Generator gen(12);
  Tensor x = test::random_input({3, 19, 4}, gen), y = test::random_input({3, 19, 4}, gen);
  auto dot = [](const Tensor& a, const Tensor& b) {
    std::vector<double> u = a.to_vector<double>(), v = b.to_vector<double>();
    double s = 0;
    for (size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
    return s;
  };
  EXPECT_NEAR(dot(ops::avgpool_seq(x, 5, 1), y), dot(x, ops::avgpool_seq(y, 5, 1)), 1e-12);
}

TEST(AvgpoolLas, Errors) {
  Tensor x = Tensor::zeros({2, 8, 4}, DType::F64);
  EXPECT_NE(test::error_of([&] { ops::avgpool_seq(x, 4); }).find("P = 4 must be odd"), std::string::npos);
  EXPECT_NE(test::error_of([&] { ops::avgpool_seq(x, 3, 3); }).find("dim 3 is out of range for x of shape [2, 8, 4]"),
            std::string::npos);
}

}  // namespace
}  // namespace lra
