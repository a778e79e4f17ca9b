// The running-state product against its quadratic definition y_t = sum_{j <= t} (q_t · k_j) v_j, written
// with the explicit [L, L] score matrix (the op-case table checks gradients and the CUDA path, this file
// checks that the recurrence computes the definition).
#include <gtest/gtest.h>

#include <cmath>

#include "ops/linear_attention/linear_attention.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

TEST(LinearAttention, MatchesQuadraticDefinition) {
  Generator gen(7);
  const int64_t N = 3, L = 17, P = 5, R = 4;
  Tensor q = random_input({N, L, P}, gen), k = random_input({N, L, P}, gen), v = random_input({N, L, R}, gen);
  Tensor y = ops::causal_linear_attention(q, k, v);
  ASSERT_EQ(y.shape(), Shape({N, L, R}));
  const double *qd = q.data<double>(), *kd = k.data<double>(), *vd = v.data<double>(), *yd = y.data<double>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < L; ++t)
      for (int64_t r = 0; r < R; ++r) {
        double want = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double score = 0;
          for (int64_t p = 0; p < P; ++p) score += qd[(n * L + t) * P + p] * kd[(n * L + j) * P + p];
          want += score * vd[(n * L + j) * R + r];
        }
        EXPECT_NEAR(yd[(n * L + t) * R + r], want, 1e-12) << "n " << n << " t " << t << " r " << r;
      }
}

TEST(LinearAttention, RejectsMismatchedShapes) {
  Generator gen(1);
  Tensor q = random_input({2, 5, 3}, gen);
  EXPECT_THROW(ops::causal_linear_attention(q, random_input({2, 5, 4}, gen), random_input({2, 5, 2}, gen)), Error);
  EXPECT_THROW(ops::causal_linear_attention(q, q, random_input({2, 6, 2}, gen)), Error);
  EXPECT_THROW(ops::causal_linear_attention(q, q, random_input({3, 5, 2}, gen)), Error);
}

}  // namespace
}  // namespace lra::test
