// The float32 CPU path of the broadcasting binary ops and sum_middle (ops/elementwise/binary_cpu_fast.cpp)
// against the float64 reference, through the API (float32 tensors: forward, and both operands' gradients,
// which runs binary_backward_fast and sum_to's sum_middle_fast) on every broadcast pattern: same shape,
// row vector, column, scalar, both stretched, a 0-dim scalar, size 0 and 1, primes, 5 dims (the odometer
// fallback) and sizes above the threading threshold; the raw sum_middle; independence from the thread count;
// and fast_erf's accuracy over a dense grid.
// Tolerances: forward is one float32 rounding per element, so it must equal the float32 reference bit for
// bit. Gradients of a full-shape operand are a few roundings (div: -g·a/b², FMA contractions allowed):
// |fast − ref| <= 1e-6 + 1e-5·|ref|. A stretched operand's gradient sums `count` terms in float32 (each
// |term| <= 8 here): |fast − ref| <= 1e-5 + 2·count·6e-8·8, the worst case of a sequential float sum.
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/elementwise/binary.h"
#include "ops/elementwise/elementwise.h"

namespace lra::test {
namespace {

using ops::BinaryOp;

Tensor (*const kOps[])(const Tensor&, const Tensor&) = {ops::add, ops::sub, ops::mul, ops::div};
const char* const kNames[] = {"add", "sub", "mul", "div"};

// (a, b): same shape, row vectors, columns, scalars, both stretched, 0-dim, size 0 and 1, primes, five dims,
// and sizes over the 2^15 threading threshold (rows, a single row, a scalar).
const std::vector<std::pair<Shape, Shape>> kPairs = {
    {{1}, {1}},           {{0}, {0}},              {{13}, {13}},          {{3, 17}, {3, 17}},
    {{2, 7, 16}, {16}},   {{16}, {2, 7, 16}},      {{5, 31}, {1, 31}},    {{4, 128, 64}, {64}},
    {{3, 5, 1}, {3, 5, 7}}, {{6, 7}, {6, 1}},      {{2, 3, 1}, {2, 3, 37}}, {{4, 3}, {}},
    {{}, {4, 3}},         {{2, 5, 33}, {1}},       {{3, 1}, {1, 5}},      {{3, 1, 5}, {3, 4, 1}},
    {{3, 1, 5}, {1, 4, 1}}, {{2, 1, 3, 1, 4}, {5, 1, 2, 1}}, {{0, 3}, {1, 3}}, {{2, 0}, {2, 1}},
    {{2, 1024, 64}, {2, 1024, 64}}, {{2, 1024, 64}, {64}}, {{2, 1024, 64}, {2, 1024, 1}},
    {{1, 40009}, {1, 40009}}, {{40009}, {}},       {{2, 4, 1, 4099}, {2, 4, 7, 1}}};

Tensor random_f64(const Shape& s, std::mt19937& gen, double lo, double hi, bool alternate_sign = false) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = u(gen) * (alternate_sign && i % 2 ? -1.0 : 1.0);
  return Tensor::from_vector(v, s);
}

struct Result {
  std::vector<double> y, ga, gb;
};

Result run(Tensor (*op)(const Tensor&, const Tensor&), const Tensor& a64, const Tensor& b64, const Tensor& g64,
           DType dtype) {
  Tensor a = ops::cast(a64, dtype).detach(), b = ops::cast(b64, dtype).detach();
  a.requires_grad_();
  b.requires_grad_();
  Tensor y = op(a, b);
  y.backward(ops::cast(g64, dtype).detach());
  return {y.to_vector<double>(), a.grad().to_vector<double>(), b.grad().to_vector<double>()};
}

void expect_close(const std::vector<double>& fast, const std::vector<double>& ref, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::abs(fast[i] - ref[i]), atol + rtol * std::abs(ref[i]))
        << what << " at " << i << ": fast " << fast[i] << ", reference " << ref[i];
}

TEST(BinaryCpuFast, EveryOpAndBroadcastMatchesTheReference) {
  std::mt19937 gen(11);
  for (int k = 0; k < 4; ++k)
    for (const auto& [sa, sb] : kPairs) {
      const Shape out = ops::broadcast_shape(sa, sb, "test");
      const std::string what = std::string(kNames[k]) + " " + sa.to_string() + " " + sb.to_string();
      const Tensor a = random_f64(sa, gen, -2, 2);
      // div: |b| in [0.5, 2], both signs.
      const Tensor b = k == 3 ? random_f64(sb, gen, 0.5, 2, true) : random_f64(sb, gen, -2, 2);
      const Tensor g = random_f64(out, gen, -1, 1);
      const Result ref = run(kOps[k], a, b, g, DType::F64), fast = run(kOps[k], a, b, g, DType::F32);
      // Forward: one rounding per element, the float32 reference's exactly.
      std::vector<float> yref(static_cast<size_t>(out.numel()));
      const std::vector<float> af = ops::cast(a, DType::F32).to_vector<float>(),
                               bf = ops::cast(b, DType::F32).to_vector<float>();
      const ops::BroadcastGeometry geo = ops::broadcast_geometry(sa, sb, out);
      ops::cpu::binary_forward<float>(BinaryOp(k), af.data(), bf.data(), yref.data(), geo);
      ASSERT_EQ(fast.y, std::vector<double>(yref.begin(), yref.end())) << what << " forward";
      const double count_a = double(out.numel()) / double(std::max<int64_t>(1, sa.numel()));
      const double count_b = double(out.numel()) / double(std::max<int64_t>(1, sb.numel()));
      expect_close(fast.ga, ref.ga, 1e-5 + 2 * count_a * 6e-8 * 8, 1e-5, what + " grad a");
      expect_close(fast.gb, ref.gb, 1e-5 + 2 * count_b * 6e-8 * 8, 1e-5, what + " grad b");
    }
}

// Only one operand wanted: the other gradient buffer is nullptr.
TEST(BinaryCpuFast, OneSidedBackward) {
  std::mt19937 gen(12);
  for (int k = 0; k < 4; ++k)
    for (bool want_a : {true, false}) {
      const Shape sa{3, 40}, sb{40};
      Tensor a = ops::cast(random_f64(sa, gen, 0.5, 2), DType::F32), b = ops::cast(random_f64(sb, gen, 0.5, 2), DType::F32);
      (want_a ? a : b).requires_grad_();
      kOps[k](a, b).backward(Tensor::ones({3, 40}, DType::F32));
      EXPECT_EQ(a.grad().defined(), want_a) << kNames[k];
      EXPECT_EQ(b.grad().defined(), !want_a) << kNames[k];
      for (float v : (want_a ? a : b).grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v)) << kNames[k];
    }
}

TEST(BinaryCpuFast, SumMiddleMatchesTheReference) {
  std::mt19937 gen(13);
  std::uniform_real_distribution<double> u(-1, 1);
  struct S {
    int64_t outer, n, inner;
  };
  for (S s : {S{1, 1, 1}, S{0, 5, 3}, S{3, 0, 4}, S{2, 7, 0}, S{1, 13, 1}, S{5, 4097, 1}, S{1, 100003, 1},
              S{1, 2048, 64}, S{3, 17, 1031}, S{7, 1, 5}, S{2, 300, 513}}) {
    const int64_t nx = s.outer * s.n * s.inner, ny = s.outer * s.inner;
    std::vector<double> x(static_cast<size_t>(nx)), y(static_cast<size_t>(ny));
    for (auto& v : x) v = u(gen);
    const std::vector<float> xf(x.begin(), x.end());
    std::vector<float> yf(static_cast<size_t>(ny), -7.0f), yref(static_cast<size_t>(ny));
    ops::cpu::sum_middle<double>(x.data(), y.data(), s.outer, s.n, s.inner);
    ops::cpu::sum_middle<float>(xf.data(), yref.data(), s.outer, s.n, s.inner);
    ops::cpu::sum_middle_fast(xf.data(), yf.data(), s.outer, s.n, s.inner);
    const std::string what = "sum_middle [" + std::to_string(s.outer) + ", " + std::to_string(s.n) + ", " +
                             std::to_string(s.inner) + "]";
    // inner > 1 sums each column's rows in the reference's order: bit for bit.
    if (s.inner > 1) EXPECT_EQ(yf, yref) << what;
    // A float32 sum of n terms of |x| <= 1: within n·eps of the exact sum (a loose, safe bound).
    expect_close(std::vector<double>(yf.begin(), yf.end()), y, 1e-6 + double(s.n) * 6e-8, 0, what);
  }
}

// Each output element has one formula and one owner; row sums use fixed blocks: 1, 2, 3 threads agree
// bit for bit.
TEST(BinaryCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  std::mt19937 gen(14);
  auto run_all = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<double> all;
    std::mt19937 g2(15);
    for (int k = 0; k < 4; ++k)
      for (const auto& [sa, sb] : {std::pair<Shape, Shape>{{2, 1024, 64}, {64}}, {{2, 1024, 64}, {2, 1024, 1}},
                                   {{1, 70001}, {}}, {{300, 301}, {300, 301}}}) {
        const Shape out = ops::broadcast_shape(sa, sb, "test");
        const Result r = run(kOps[k], random_f64(sa, g2, 0.5, 2), random_f64(sb, g2, 0.5, 2),
                             random_f64(out, g2, -1, 1), DType::F32);
        all.insert(all.end(), r.y.begin(), r.y.end());
        all.insert(all.end(), r.ga.begin(), r.ga.end());
        all.insert(all.end(), r.gb.begin(), r.gb.end());
      }
    std::vector<float> x(3 * 50001), y(3);
    for (auto& v : x) v = float(std::uniform_real_distribution<double>(-1, 1)(g2));
    ops::cpu::sum_middle_fast(x.data(), y.data(), 3, 50001, 1);
    all.insert(all.end(), y.begin(), y.end());
    return all;
  };
  (void)gen;
  const int before = omp_get_max_threads();
  const auto one = run_all(1);
  EXPECT_EQ(one, run_all(2));
  EXPECT_EQ(one, run_all(3));
  omp_set_num_threads(before);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// fast_erf (ops/cpu_fast_math.h) at every float32 point of a step-1e-5 grid over [-6, 6] against glibc's
// double erf: stated bound |err| <= 1e-7 absolute and <= 1.5 ulp of the float32 result (measured 7.8e-8
// and 1.3 ulp); erf(±inf) = ±1, NaN stays NaN.
TEST(ElementwiseCpuFast, FastErfAccuracy) {
  std::vector<float> x;
  for (double v = -6; v <= 6; v += 1e-5) x.push_back(float(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, 0.927734375f, std::nextafter(0.927734375f, 1.0f), 4.0f, 40.0f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    x.push_back(v);
  std::vector<float> y(x.size());
  ops::cpu::erf_fast(x.data(), y.data(), int64_t(x.size()));
  double worst = 0, worst_ulp = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::erf(double(x[i])), err = std::abs(double(y[i]) - ref);
    const float rf = float(ref);
    const double ulp = std::abs(double(std::nextafter(rf, 2.0f)) - double(rf));
    worst = std::max(worst, err);
    worst_ulp = std::max(worst_ulp, err / ulp);
    ASSERT_LE(err, 1e-7) << "x " << x[i] << ": fast_erf " << y[i] << ", erf " << ref;
    ASSERT_LE(err / ulp, 1.5) << "x " << x[i] << ": fast_erf " << y[i] << ", erf " << ref;
  }
  std::printf("fast_erf over %zu points: worst |err| %.3g, %.3f ulp\n", x.size(), worst, worst_ulp);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float yn = 0;
  ops::cpu::erf_fast(&nan, &yn, 1);
  EXPECT_TRUE(std::isnan(yn));
}

}  // namespace
}  // namespace lra::test
