// The float32 CPU path of layer_norm and rms_norm (ops/norm/norm_cpu_fast.cpp) against the float64
// reference, forward (y, mean, rstd) and backward (dx, dw, db) with a random upstream gradient, for every
// variant (weight / bias present or not), on odd and realistic shapes; and independence from the thread
// count.
// Tolerance: row statistics in float32 over D <= 256 terms and dw/db as float32 chunk partials of 32 rows
// summed in double: |fast − ref| <= 1e-5 + 1e-4·|ref| for y and dx (a few ulp of each term times D's
// rounding), atol 1e-4 for dw/db, which sum up to 2·1024 rows of |gy·xhat| ~ 1 (sqrt(32)·6e-8 per chunk
// on values ~10, and cancellation makes |ref| small where the terms are not).
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/norm/norm.h"

namespace lra::test {
namespace {

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::abs(double(fast[i]) - ref[i]), atol + rtol * std::abs(ref[i]))
        << what << " at " << i << ": fast " << fast[i] << ", reference " << ref[i];
}

std::vector<double> uniform(size_t n, std::mt19937& gen, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& e : v) e = u(gen);
  return v;
}

struct Result {
  std::vector<float> y, mean, rstd, dx, dw, db;
};

Result run_fast(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                const std::vector<float>& gy, int64_t rows, int64_t D, bool rms, bool has_w, bool has_b) {
  Result r;
  const size_t n = size_t(rows * D);
  r.y.resize(n);
  r.dx.resize(n);
  r.mean.resize(size_t(rows));
  r.rstd.resize(size_t(rows));
  r.dw.assign(size_t(D), 7.0f);  // overwritten, not accumulated into
  r.db.assign(size_t(D), 7.0f);
  const float* wp = has_w ? w.data() : nullptr;
  const float* bp = has_b ? b.data() : nullptr;
  const float eps = rms ? 1e-6f : 1e-5f;
  ops::cpu::norm_forward_fast(x.data(), wp, bp, r.y.data(), r.mean.data(), r.rstd.data(), rows, D, eps, rms);
  ops::cpu::norm_backward_fast(x.data(), wp, r.mean.data(), r.rstd.data(), gy.data(), r.dx.data(),
                               has_w ? r.dw.data() : nullptr, has_b ? r.db.data() : nullptr, rows, D, rms);
  return r;
}

TEST(NormCpuFast, MatchesTheFloat64Reference) {
  std::mt19937 gen(11);
  struct S {
    int64_t rows, D;
  };
  // Empty (the glue passes rows = 0 when D = 0), D = 1, primes, 64 (the --small width), 255/257 (tile ±1), rows across the chunk size (31, 32, 33) and
  // the realistic [2·1024, 64] and [2·100, 256].
  const S shapes[] = {{0, 7},  {0, 0},   {1, 1},   {5, 1},    {1, 7},    {13, 64},
                      {31, 17}, {32, 255}, {33, 257}, {2048, 64}, {200, 256}};
  struct V {
    bool rms, w, b;
  };
  const V variants[] = {{false, true, true}, {false, false, true}, {false, true, false}, {false, false, false},
                        {true, true, false}, {true, false, false}};
  for (S s : shapes)
    for (V v : variants) {
      const size_t n = size_t(s.rows * s.D);
      const auto x = uniform(n, gen, -2, 2), gy = uniform(n, gen, -1, 1);
      const auto w = uniform(size_t(s.D), gen, 0.5, 1.5), b = uniform(size_t(s.D), gen, -1, 1);
      std::vector<double> y(n), dx(n), mean(size_t(s.rows)), rstd(size_t(s.rows)), dw(size_t(s.D)), db(size_t(s.D));
      const double eps = v.rms ? 1e-6 : 1e-5;
      ops::cpu::norm_forward<double>(x.data(), v.w ? w.data() : nullptr, v.b ? b.data() : nullptr, y.data(),
                                     mean.data(), rstd.data(), s.rows, s.D, eps, v.rms);
      ops::cpu::norm_backward<double>(x.data(), v.w ? w.data() : nullptr, mean.data(), rstd.data(), gy.data(),
                                      dx.data(), dw.data(), db.data(), s.rows, s.D, v.rms);
      const std::vector<float> xf(x.begin(), x.end()), gf(gy.begin(), gy.end()), wf(w.begin(), w.end()),
          bf(b.begin(), b.end());
      const Result r = run_fast(xf, wf, bf, gf, s.rows, s.D, v.rms, v.w, v.b);
      const std::string what = std::string(v.rms ? "rms_norm" : "layer_norm") + (v.w ? " w" : "") +
                               (v.b ? " b" : "") + " [" + std::to_string(s.rows) + ", " + std::to_string(s.D) + "]";
      expect_close(r.y, y, 1e-5, 1e-4, what + " y");
      expect_close(r.rstd, rstd, 1e-5, 1e-4, what + " rstd");
      if (!v.rms) expect_close(r.mean, mean, 1e-6, 1e-5, what + " mean");
      // dx = rstd·(g − mean_g − xhat·mean_gh) cancels to exactly 0 when D = 1; float32 rounding of g (the FMA
      // contractions differ between the two passes) is then multiplied by rstd (316 at eps 1e-5), so atol
      // scales with the largest rstd.
      double max_rstd = 1.0;
      for (double v : rstd) max_rstd = std::max(max_rstd, v);
      expect_close(r.dx, dx, 1e-5 * max_rstd, 1e-4, what + " dx");
      if (v.w) expect_close(r.dw, dw, 1e-4, 1e-5, what + " dw");
      if (v.b) expect_close(r.db, db, 1e-4, 1e-5, what + " db");
    }
}

// Rows and chunks are owned by one thread each and dw/db sum the chunks in a fixed order: 1, 2 or 3
// threads give identical bits.
TEST(NormCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int64_t rows = 1001, D = 96;
  std::mt19937 gen(13);
  auto to_f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const auto x = to_f(uniform(size_t(rows * D), gen, -2, 2)), gy = to_f(uniform(size_t(rows * D), gen, -1, 1));
  const auto w = to_f(uniform(size_t(D), gen, 0.5, 1.5)), b = to_f(uniform(size_t(D), gen, -1, 1));
  const int before = omp_get_max_threads();
  for (bool rms : {false, true}) {
    auto run = [&](int threads) {
      omp_set_num_threads(threads);
      Result r = run_fast(x, w, b, gy, rows, D, rms, true, !rms);
      for (auto* v : {&r.mean, &r.rstd, &r.dx, &r.dw, &r.db}) r.y.insert(r.y.end(), v->begin(), v->end());
      return r.y;
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
