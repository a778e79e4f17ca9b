// The float32 CPU path of softmax and log_softmax (ops/softmax/softmax_cpu_fast.cpp) against the float64
// reference, forward and backward with a random upstream gradient, with and without a key-padding mask
// (a fully masked batch and an all −inf row included), on odd and realistic shapes; and independence from
// the thread count.
// Tolerance: fast_exp (~2 ulp) and float32 row sums over up to 4099 terms (~sqrt(L)·6e-8 relative):
// |fast − ref| <= 2e-6 + 2e-5·|ref|. log_softmax outputs reach |y| ~ 16 (x in [-4, 4], L = 4099), where
// the float32 rounding of x − m − log s alone is ~1e-6.
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/softmax/softmax.h"

namespace lra::test {
namespace {

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::abs(double(fast[i]) - ref[i]), 2e-6 + 2e-5 * std::abs(ref[i]))
        << what << " at " << i << ": fast " << fast[i] << ", reference " << ref[i];
}

TEST(SoftmaxCpuFast, MatchesTheFloat64Reference) {
  std::mt19937 gen(17);
  std::uniform_real_distribution<double> xs(-4.0, 4.0), gs(-1.0, 1.0);
  struct S {
    int64_t B, rows_per_b, L;
  };
  // L = 1, primes, 64 (Linformer's k), 1024 (--small length), 1025, 4099; rows across the threading
  // threshold; B rows of masks.
  const S shapes[] = {{1, 1, 1}, {0, 3, 7}, {2, 1, 0}, {3, 1, 7},     {2, 5, 33},     {2, 8, 64},
                      {2, 4, 1024}, {2, 3, 1025}, {1, 2, 4099}, {2, 512, 64}};
  for (S s : shapes)
    for (bool masked : {false, true})
      for (bool log : {false, true}) {
        const int64_t rows = s.B * s.rows_per_b;
        const size_t n = size_t(rows * s.L);
        std::vector<double> x(n), g(n), y(n), gx(n);
        for (auto& v : x) v = xs(gen);
        for (auto& v : g) v = gs(gen);
        if (rows > 1 && s.L > 1)  // an all −inf row (zeros, as a fully masked one)
          for (int64_t j = 0; j < s.L; ++j) x[size_t(s.L + j)] = -std::numeric_limits<double>::infinity();
        std::vector<int32_t> mask(size_t(s.B * s.L), 1);
        if (masked) {
          for (size_t i = 0; i < mask.size(); ++i) mask[i] = (gen() % 3) != 0;
          for (int64_t b = 0; b < s.B && s.L > 0; ++b) mask[size_t(b * s.L)] = 1;  // every batch keeps j = 0
          if (s.B > 1)  // the last batch fully masked
            for (int64_t j = 0; j < s.L; ++j) mask[size_t((s.B - 1) * s.L + j)] = 0;
        }
        const int32_t* mp = masked ? mask.data() : nullptr;
        ops::cpu::softmax_forward<double>(x.data(), y.data(), mp, rows, s.L, s.rows_per_b, log);
        ops::cpu::softmax_backward<double>(y.data(), g.data(), gx.data(), mp, rows, s.L, s.rows_per_b, log);
        const std::vector<float> xf(x.begin(), x.end()), gf(g.begin(), g.end());
        std::vector<float> yf(n), gxf(n);
        ops::cpu::softmax_forward_fast(xf.data(), yf.data(), mp, rows, s.L, s.rows_per_b, log);
        ops::cpu::softmax_backward_fast(yf.data(), gf.data(), gxf.data(), mp, rows, s.L, s.rows_per_b, log);
        // The all −inf row of log_softmax is −inf − (−inf) in neither: both write zeros; −inf outputs of
        // partially −inf rows do not occur here (whole rows only).
        const std::string what = std::string(log ? "log_softmax" : "softmax") + (masked ? " masked" : "") + " [" +
                                 std::to_string(s.B) + "·" + std::to_string(s.rows_per_b) + ", " +
                                 std::to_string(s.L) + "]";
        expect_close(yf, y, what + " forward");
        expect_close(gxf, gx, what + " backward");
      }
}

// Each thread owns whole rows: 1, 2 or 3 threads give identical bits.
TEST(SoftmaxCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int64_t B = 2, per_b = 301, L = 97, rows = B * per_b;
  std::mt19937 gen(19);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  std::vector<float> x(size_t(rows * L)), g(size_t(rows * L));
  for (auto& v : x) v = u(gen);
  for (auto& v : g) v = u(gen);
  std::vector<int32_t> mask(size_t(B * L));
  for (auto& v : mask) v = (gen() % 3) != 0;
  const int before = omp_get_max_threads();
  for (bool log : {false, true}) {
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      std::vector<float> y(x.size()), gx(x.size());
      ops::cpu::softmax_forward_fast(x.data(), y.data(), mask.data(), rows, L, per_b, log);
      ops::cpu::softmax_backward_fast(y.data(), g.data(), gx.data(), mask.data(), rows, L, per_b, log);
      y.insert(y.end(), gx.begin(), gx.end());
      return y;
    };
    const auto one = run(1);
    EXPECT_EQ(one, run(2));
    EXPECT_EQ(one, run(3));
  }
  omp_set_num_threads(before);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace
}  // namespace lra::test
