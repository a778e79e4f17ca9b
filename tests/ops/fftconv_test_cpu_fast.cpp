// The float32 CPU path of the FFT convolution (ops/fftconv/fftconv_cpu_fast.cpp: 16 channels per lane
// block) against the float64 reference (the direct loops, the definition), forward and backward with a
// random upstream gradient, on odd shapes: one channel, a group of 16 ±1, shared kernel rows, odd batch
// (the second row of the last pair is empty), both anti-causal conventions, L 1 to an LRA length.
//
// Tolerance: an FFT's float32 error is norm-wise, not per entry — about eps·log2(n) times the size of the
// whole transform — so each tensor is compared with |fast − ref| <= 4e-6·log2(n)·max|ref| + 1e-6 (the
// reference path in float32 against the same float64 oracle stays inside the same bound).
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "ops/fftconv/fftconv.h"

namespace lra::test {
namespace {

using ops::AntiCausal;
using ops::FFTConvShape;

struct Data {
  std::vector<double> u, kc, ka, D, gy;
};

Data make(const FFTConvShape& s, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  auto fill = [&](size_t count, double scale) {
    std::vector<double> v(count);
    for (double& x : v) x = n(gen) * scale;
    return v;
  };
  Data d;
  d.u = fill(size_t(s.B * s.H * s.L), 1.0);
  d.kc = fill(size_t(s.C * s.Lk), 1.0 / std::sqrt(double(s.Lk)));
  d.ka = fill(size_t(s.C * s.Lk), 1.0 / std::sqrt(double(s.Lk)));
  d.D = fill(size_t(s.H), 1.0);
  d.gy = fill(size_t(s.B * s.H * s.L), 1.0);
  return d;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

struct Out {
  std::vector<float> y, gu, gkc, gka, gD;
};

Out run_fast(const FFTConvShape& s, const Data& d) {
  const bool anti = s.anti != AntiCausal::None;
  const auto u = to_float(d.u), kc = to_float(d.kc), ka = to_float(d.ka), D = to_float(d.D), gy = to_float(d.gy);
  Out o;
  o.y.resize(u.size());
  o.gu.resize(u.size());
  o.gkc.resize(kc.size());
  o.gka.resize(anti ? ka.size() : 0);
  o.gD.resize(D.size());
  ops::cpu::fftconv_fft_forward_fast(s, u.data(), kc.data(), anti ? ka.data() : nullptr, D.data(), o.y.data());
  ops::cpu::fftconv_fft_backward_fast(s, u.data(), kc.data(), anti ? ka.data() : nullptr, D.data(), gy.data(),
                                      o.gu.data(), o.gkc.data(), anti ? o.gka.data() : nullptr, o.gD.data());
  return o;
}

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, double log2n, const char* what,
                  const std::string& where) {
  ASSERT_EQ(fast.size(), ref.size()) << what << " " << where;
  double maxref = 0, worst = 0;
  size_t at = 0;
  for (double r : ref) maxref = std::max(maxref, std::abs(r));
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::abs(double(fast[i]) - ref[i]);
    if (e > worst) worst = e, at = i;
  }
  const double tol = 4e-6 * log2n * maxref + 1e-6;
  EXPECT_LE(worst, tol) << what << " " << where << ": worst error at " << at << " (fast " << fast[at] << ", ref "
                        << ref[at] << "), max |ref| " << maxref;
}

std::string describe(const FFTConvShape& s) {
  const char* a = s.anti == AntiCausal::None ? "causal" : s.anti == AntiCausal::FromLag1 ? "lag1" : "lag0";
  return "B" + std::to_string(s.B) + " H" + std::to_string(s.H) + " C" + std::to_string(s.C) + " L" +
         std::to_string(s.L) + " Lk" + std::to_string(s.Lk) + " " + a;
}

TEST(FFTConvCpuFast, MatchesTheFloat64ReferenceOnOddShapes) {
  struct G {
    int64_t B, H, C, L, Lk;
  };
  const G shapes[] = {{1, 1, 1, 1, 1},     {3, 1, 1, 7, 7},    {2, 15, 15, 13, 5},  {3, 16, 1, 64, 64},
                      {1, 17, 17, 31, 16}, {2, 33, 3, 100, 37}, {5, 2, 2, 129, 129}, {2, 20, 20, 1000, 1000}};
  unsigned seed = 1;
  for (G g : shapes)
    for (AntiCausal a : {AntiCausal::None, AntiCausal::FromLag1, AntiCausal::FromLag0}) {
      const FFTConvShape s{g.B, g.H, g.L, g.C, g.Lk, a};
      const bool anti = a != AntiCausal::None;
      const Data d = make(s, seed++);
      std::vector<double> y(d.u.size()), gu(d.u.size()), gkc(d.kc.size()), gka(anti ? d.ka.size() : 0),
          gD(d.D.size());
      ops::cpu::fftconv_direct_forward<double>(s, d.u.data(), d.kc.data(), anti ? d.ka.data() : nullptr, d.D.data(),
                                               y.data());
      ops::cpu::fftconv_direct_backward<double>(s, d.u.data(), d.kc.data(), anti ? d.ka.data() : nullptr,
                                                d.D.data(), d.gy.data(), gu.data(), gkc.data(),
                                                anti ? gka.data() : nullptr, gD.data());
      const Out o = run_fast(s, d);
      const double log2n = std::log2(double(ops::cpu::fft_size(s.L, s.Lk)));
      const std::string where = describe(s);
      expect_close(o.y, y, log2n, "y", where);
      expect_close(o.gu, gu, log2n, "gu", where);
      expect_close(o.gkc, gkc, log2n, "gkc", where);
      if (anti) expect_close(o.gka, gka, log2n, "gka", where);
      expect_close(o.gD, gD, log2n, "gD", where);
    }
}

// The training path takes it: ops::fftconv in float32 on the CPU equals the fast path exactly.
TEST(FFTConvCpuFast, IsWhatFloat32TrainingRuns) {
  const FFTConvShape s{2, 18, 300, 18, 300, AntiCausal::None};
  const Data d = make(s, 7);
  const Out o = run_fast(s, d);
  Tensor u = Tensor::from_vector(to_float(d.u), {s.B, s.H, s.L}).requires_grad_(true);
  Tensor k = Tensor::from_vector(to_float(d.kc), {s.C, s.Lk}).requires_grad_(true);
  Tensor D = Tensor::from_vector(to_float(d.D), {s.H}).requires_grad_(true);
  ops::FFTConvOptions opts;
  opts.algo = ops::FFTConvOptions::Algo::FFT;
  Tensor y = ops::fftconv(u, k, Tensor(), D, opts);
  EXPECT_EQ(y.to_vector<float>(), o.y);
  y.backward(Tensor::from_vector(to_float(d.gy), {s.B, s.H, s.L}));
  EXPECT_EQ(u.grad().to_vector<float>(), o.gu);
  EXPECT_EQ(k.grad().to_vector<float>(), o.gkc);
  EXPECT_EQ(D.grad().to_vector<float>(), o.gD);
}

// Each group of channels owns its outputs and the kernel rows are summed in channel order: 1, 2 or 3
// threads give identical bits.
TEST(FFTConvCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const FFTConvShape s{3, 50, 257, 5, 200, AntiCausal::FromLag1};
  const Data d = make(s, 11);
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Out one = run_fast(s, d);
  for (int t : {2, 3}) {
    omp_set_num_threads(t);
    const Out many = run_fast(s, d);
    EXPECT_EQ(one.y, many.y) << t;
    EXPECT_EQ(one.gu, many.gu) << t;
    EXPECT_EQ(one.gkc, many.gkc) << t;
    EXPECT_EQ(one.gka, many.gka) << t;
    EXPECT_EQ(one.gD, many.gD) << t;
  }
  omp_set_num_threads(before);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace
}  // namespace lra::test
