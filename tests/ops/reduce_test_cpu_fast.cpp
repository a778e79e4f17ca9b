// The float32 CPU path of sum / mean over a dim and masked_mean (ops/reduce/reduce_cpu_fast.cpp) against
// the float64 reference, forward and backward, for inner = 1 and inner > 1, n within one chunk and across
// several (chunk ±1), odd and realistic shapes; and independence from the thread count.
// Tolerance: the fast sum is float32 within a chunk (<= 4096 terms, in vector lanes) and double across
// chunks: |fast − ref| <= 1e-5·sqrt(n)·max|x|·|scale| + 1e-5·|ref| (random-walk rounding of n float32
// additions of terms up to max|x|; the reference's own float32 running sum would need more). The
// backwards are a multiply per element: a few ulp.
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/reduce/reduce.h"

namespace lra::test {
namespace {

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::abs(double(fast[i]) - ref[i]), atol + rtol * std::abs(ref[i]))
        << what << " at " << i << ": fast " << fast[i] << ", reference " << ref[i];
}

std::vector<double> uniform(size_t n, std::mt19937& gen) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(n);
  for (auto& e : v) e = u(gen);
  return v;
}

TEST(ReduceCpuFast, SumMatchesTheFloat64Reference) {
  std::mt19937 gen(23);
  struct S {
    int64_t outer, n, inner;
  };
  // inner = 1 with n across the 4096-element chunk (4095, 4096, 4097, 3·4096 + 1, a sum_all of 2^17 + 3);
  // inner > 1 with n across its chunk (inner 64: 128 rows; inner 700: 16 rows), primes, the realistic
  // mean over L of [2, 1024, 64] and a sum over the last dim of [2·4·1024, 16] (Performer's).
  const S shapes[] = {{1, 1, 1},    {3, 7, 1},     {2, 4095, 1},  {2, 4096, 1},    {1, 4097, 1},  {2, 12289, 1},
                      {1, 131075, 1}, {5, 3, 13},  {2, 127, 64},  {2, 129, 64},    {3, 33, 700},  {2, 1024, 64},
                      {8192, 16, 1}, {1, 2, 1},    {4, 1, 5}};
  for (S s : shapes)
    for (double scale : {1.0, 0.37}) {
      const size_t nx = size_t(s.outer * s.n * s.inner), ny = size_t(s.outer * s.inner);
      const auto x = uniform(nx, gen), gy = uniform(ny, gen);
      std::vector<double> y(ny), gx(nx);
      ops::cpu::sum_forward<double>(x.data(), y.data(), s.outer, s.n, s.inner, scale);
      ops::cpu::sum_backward<double>(gy.data(), gx.data(), s.outer, s.n, s.inner, scale);
      const std::vector<float> xf(x.begin(), x.end()), gf(gy.begin(), gy.end());
      std::vector<float> yf(ny), gxf(nx);
      ops::cpu::sum_forward_fast(xf.data(), yf.data(), s.outer, s.n, s.inner, float(scale));
      ops::cpu::sum_backward_fast(gf.data(), gxf.data(), s.outer, s.n, s.inner, float(scale));
      const std::string what = "sum [" + std::to_string(s.outer) + ", " + std::to_string(s.n) + ", " +
                               std::to_string(s.inner) + "] scale " + std::to_string(scale);
      expect_close(yf, y, 1e-5 * std::sqrt(double(s.n)) * scale, 1e-5, what + " forward");
      expect_close(gxf, gx, 1e-7, 1e-6, what + " backward");
    }
}

TEST(ReduceCpuFast, MaskedMeanMatchesTheFloat64Reference) {
  std::mt19937 gen(29);
  struct S {
    int64_t B, L, D;
  };
  const S shapes[] = {{1, 1, 1}, {2, 7, 5}, {3, 33, 64}, {2, 1024, 64}, {2, 0, 3}};
  for (S s : shapes) {
    const size_t nx = size_t(s.B * s.L * s.D), ny = size_t(s.B * s.D);
    const auto x = uniform(nx, gen), gy = uniform(ny, gen);
    std::vector<int32_t> mask(size_t(s.B * s.L));
    for (auto& m : mask) m = (gen() % 3) != 0;
    if (s.B > 1)  // the last batch has no included row: zeros, no gradient
      for (int64_t l = 0; l < s.L; ++l) mask[size_t((s.B - 1) * s.L + l)] = 0;
    std::vector<double> y(ny), inv(size_t(s.B)), gx(nx);
    ops::cpu::masked_mean_forward<double>(x.data(), mask.data(), y.data(), inv.data(), s.B, s.L, s.D);
    ops::cpu::masked_mean_backward<double>(gy.data(), mask.data(), inv.data(), gx.data(), s.B, s.L, s.D);
    const std::vector<float> xf(x.begin(), x.end()), gf(gy.begin(), gy.end());
    std::vector<float> yf(ny), invf(size_t(s.B)), gxf(nx);
    ops::cpu::masked_mean_forward_fast(xf.data(), mask.data(), yf.data(), invf.data(), s.B, s.L, s.D);
    ops::cpu::masked_mean_backward_fast(gf.data(), mask.data(), invf.data(), gxf.data(), s.B, s.L, s.D);
    const std::string what =
        "masked_mean [" + std::to_string(s.B) + ", " + std::to_string(s.L) + ", " + std::to_string(s.D) + "]";
    // A mean of up to L terms: the float32 running sum errs by ~sqrt(L)·6e-8·max|x| before the division.
    expect_close(yf, y, 1e-5, 1e-5, what + " forward");
    expect_close(invf, inv, 1e-7, 1e-6, what + " inv_count");
    expect_close(gxf, gx, 1e-7, 1e-6, what + " backward");
  }
}

// Every job owns its chunk's partial row or its output, and the partials are added in a fixed order:
// 1, 2 or 3 threads give identical bits.
TEST(ReduceCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  std::mt19937 gen(31);
  const int before = omp_get_max_threads();
  struct S {
    int64_t outer, n, inner;
  };
  for (S s : {S{3, 20011, 1}, S{2, 1031, 67}, S{1, 100003, 1}}) {
    const auto xd = uniform(size_t(s.outer * s.n * s.inner), gen), gd = uniform(size_t(s.outer * s.inner), gen);
    const std::vector<float> x(xd.begin(), xd.end()), g(gd.begin(), gd.end());
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      std::vector<float> y(g.size()), gx(x.size());
      ops::cpu::sum_forward_fast(x.data(), y.data(), s.outer, s.n, s.inner, 0.5f);
      ops::cpu::sum_backward_fast(g.data(), gx.data(), s.outer, s.n, s.inner, 0.5f);
      y.insert(y.end(), gx.begin(), gx.end());
      return y;
    };
    const auto one = run(1);
    EXPECT_EQ(one, run(2));
    EXPECT_EQ(one, run(3));
  }
  {
    const int64_t B = 3, L = 2003, D = 64;
    const auto xd = uniform(size_t(B * L * D), gen), gd = uniform(size_t(B * D), gen);
    const std::vector<float> x(xd.begin(), xd.end()), g(gd.begin(), gd.end());
    std::vector<int32_t> mask(size_t(B * L));
    for (auto& m : mask) m = (gen() % 3) != 0;
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      std::vector<float> y(size_t(B * D)), inv(static_cast<size_t>(B)), gx(x.size());
      ops::cpu::masked_mean_forward_fast(x.data(), mask.data(), y.data(), inv.data(), B, L, D);
      ops::cpu::masked_mean_backward_fast(g.data(), mask.data(), inv.data(), gx.data(), B, L, D);
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
