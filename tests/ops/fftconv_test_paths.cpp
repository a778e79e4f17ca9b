// Targeted tests of the long convolution: the FFT paths against the direct loops (CPU and CUDA), the
// two anti-causal conventions on an impulse, kernel sharing, and the error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/memory.h"
#include "ops/fftconv/fftconv.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

using ops::AntiCausal;
using ops::FFTConvShape;
using Algo = ops::FFTConvOptions::Algo;

const AntiCausal kAntis[] = {AntiCausal::None, AntiCausal::FromLag1, AntiCausal::FromLag0};

std::vector<FFTConvShape> shapes() {
  std::vector<FFTConvShape> out;
  struct G {
    int64_t B, H, C, L;
  };
  for (G g : {G{1, 1, 1, 1}, G{2, 3, 3, 7}, G{3, 3, 1, 7}, G{1, 37, 37, 64}, G{2, 37, 1, 64}, G{1, 3, 3, 127},
              G{2, 2, 1, 1000}})
    for (int64_t Lk : {int64_t(1), std::max<int64_t>(1, g.L / 2), g.L})
      for (AntiCausal a : kAntis) out.push_back({g.B, g.H, g.L, g.C, Lk, a});
  return out;
}

std::string describe(const FFTConvShape& s) {
  const char* a = s.anti == AntiCausal::None ? "causal" : s.anti == AntiCausal::FromLag1 ? "lag1" : "lag0";
  return str("B", s.B, " H", s.H, " C", s.C, " L", s.L, " Lk", s.Lk, " ", a);
}

// Random inputs (float64, CPU) for a geometry: u, kc, ka (undefined when causal), D, and an upstream g.
struct Inputs {
  Tensor u, kc, ka, D, g;
};
Inputs random_inputs(const FFTConvShape& s, Generator& gen) {
  const double k = 1.0 / std::sqrt(double(s.Lk));
  Inputs in;
  in.u = random_input({s.B, s.H, s.L}, gen);
  in.kc = random_input({s.C, s.Lk}, gen, -k, k);
  if (s.anti != AntiCausal::None) in.ka = random_input({s.C, s.Lk}, gen, -k, k);
  in.D = random_input({s.H}, gen);
  in.g = random_input({s.B, s.H, s.L}, gen);
  return in;
}

Tensor to_dtype(const Tensor& t, DType d) {
  if (!t.defined()) return t;
  std::vector<double> v = t.to_vector<double>();
  if (d == DType::F64) return Tensor::from_vector(v, t.shape());
  return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), t.shape());
}

// Forward and the four gradients through the differentiable API.
struct Result {
  Tensor y, gu, gkc, gka, gD;
};
Result run(const Inputs& in, AntiCausal anti, Algo algo, DType dtype, Device device) {
  auto prep = [&](const Tensor& t) {
    if (!t.defined()) return t;
    Tensor x = to_dtype(t, dtype).to(device);
    x.requires_grad_();
    return x;
  };
  Tensor u = prep(in.u), kc = prep(in.kc), ka = prep(in.ka), D = prep(in.D);
  ops::FFTConvOptions opts;
  opts.anti = anti;
  opts.algo = algo;
  Tensor y = ops::fftconv(u, kc, ka, D, opts);
  y.backward(to_dtype(in.g, dtype).to(device));
  return {y, u.grad(), kc.grad(), ka.defined() ? ka.grad() : Tensor(), D.grad()};
}

void expect_same(const Result& got, const Result& want, double rtol, double atol, const std::string& what) {
  EXPECT_TRUE(all_close(got.y, want.y, rtol, atol, what + " y"));
  EXPECT_TRUE(all_close(got.gu, want.gu, rtol, atol, what + " grad u"));
  EXPECT_TRUE(all_close(got.gkc, want.gkc, rtol, atol, what + " grad kc"));
  if (want.gka.defined()) {
    EXPECT_TRUE(all_close(got.gka, want.gka, rtol, atol, what + " grad ka"));
  }
  EXPECT_TRUE(all_close(got.gD, want.gD, rtol, atol, what + " grad D"));
}

TEST(FFTConv, CpuFftMatchesDirectFloat64) {
  Generator gen(kCaseSeed + 10);
  for (const FFTConvShape& s : shapes()) {
    Inputs in = random_inputs(s, gen);
    Result direct = run(in, s.anti, Algo::Direct, DType::F64, Device::CPU);
    Result fft = run(in, s.anti, Algo::FFT, DType::F64, Device::CPU);
    // Double-precision FFT rounding: ~1e-16·log2(n) of sums of O(1)..O(50) values.
    expect_same(fft, direct, 1e-10, 1e-11, describe(s) + " (seed " + std::to_string(kCaseSeed + 10) + ")");
  }
}

TEST(FFTConv, CpuFftMatchesDirectFloat32) {
  Generator gen(kCaseSeed + 11);
  for (const FFTConvShape& s : shapes()) {
    Inputs in = random_inputs(s, gen);
    Result direct = run(in, s.anti, Algo::Direct, DType::F64, Device::CPU);
    Result fft = run(in, s.anti, Algo::FFT, DType::F32, Device::CPU);
    // float32 radix-2 FFT vs exact: ε·log2(n) times the magnitude of the longest sums (the kernel
    // gradients, up to ~sqrt(2000) here).
    expect_same(fft, direct, 1e-4, 1e-4, describe(s));
  }
}

// An impulse at p shows where every tap lands: y[p + j] = kc[j]; FromLag1: y[p − 1 − j] = ka[j];
// FromLag0: y[p − j] = ka[j], so y[p] = kc[0] + ka[0].
TEST(FFTConv, ConventionsOnAnImpulse) {
  const int64_t L = 11, Lk = 4, p = 5;
  std::vector<double> uv(L, 0.0);
  uv[p] = 1.0;
  Tensor u = Tensor::from_vector(uv, {1, 1, L});
  Tensor kc = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, Lk});
  Tensor ka = Tensor::from_vector(std::vector<double>{10, 20, 30, 40}, {1, Lk});
  const std::vector<double> causal = {0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0};
  const std::vector<double> lag1 = {0, 40, 30, 20, 10, 1, 2, 3, 4, 0, 0};
  const std::vector<double> lag0 = {0, 0, 40, 30, 20, 11, 2, 3, 4, 0, 0};
  for (Algo algo : {Algo::Direct, Algo::FFT}) {
    ops::FFTConvOptions o;
    o.algo = algo;
    std::vector<double> y = ops::fftconv(u, kc, Tensor(), Tensor(), o).to_vector<double>();
    for (int64_t t = 0; t < L; ++t) EXPECT_NEAR(y[size_t(t)], causal[size_t(t)], 1e-12) << "causal t=" << t;
    o.anti = AntiCausal::FromLag1;
    y = ops::fftconv(u, kc, ka, Tensor(), o).to_vector<double>();
    for (int64_t t = 0; t < L; ++t) EXPECT_NEAR(y[size_t(t)], lag1[size_t(t)], 1e-12) << "lag1 t=" << t;
    o.anti = AntiCausal::FromLag0;
    y = ops::fftconv(u, kc, ka, Tensor(), o).to_vector<double>();
    for (int64_t t = 0; t < L; ++t) EXPECT_NEAR(y[size_t(t)], lag0[size_t(t)], 1e-12) << "lag0 t=" << t;
  }
}

// FromLag0 with ka = [a0, a1, ..] is FromLag1 with ka' = [a1, .., 0] and kc'[0] = kc[0] + a0.
TEST(FFTConv, Lag0IsLag1WithShiftedTaps) {
  Generator gen(kCaseSeed + 12);
  const int64_t B = 2, H = 6, C = 3, L = 50, Lk = 20;
  Tensor u = random_input({B, H, L}, gen), kc = random_input({C, Lk}, gen), ka = random_input({C, Lk}, gen);
  Tensor kc1 = kc.clone(), ka1 = Tensor::zeros({C, Lk}, DType::F64);
  for (int64_t c = 0; c < C; ++c) {
    kc1.data<double>()[c * Lk] += ka.data<double>()[c * Lk];
    for (int64_t j = 1; j < Lk; ++j) ka1.data<double>()[c * Lk + j - 1] = ka.data<double>()[c * Lk + j];
  }
  for (Algo algo : {Algo::Direct, Algo::FFT}) {
    ops::FFTConvOptions o0{AntiCausal::FromLag0, algo}, o1{AntiCausal::FromLag1, algo};
    EXPECT_TRUE(all_close(ops::fftconv(u, kc, ka, Tensor(), o0), ops::fftconv(u, kc1, ka1, Tensor(), o1), 1e-12,
                          1e-12, "lag0 vs shifted lag1"));
  }
}

// C = 1 (one shared row) equals C = H with that row repeated; the shared gradient is the sum.
TEST(FFTConv, SharedKernelEqualsRepeatedKernel) {
  Generator gen(kCaseSeed + 13);
  const int64_t B = 2, H = 5, L = 33, Lk = 17;
  for (Algo algo : {Algo::Direct, Algo::FFT}) {
    Tensor u = random_input({B, H, L}, gen), k1 = random_input({1, Lk}, gen);
    Tensor kH = Tensor::empty({H, Lk}, DType::F64);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < Lk; ++j) kH.data<double>()[h * Lk + j] = k1.data<double>()[j];
    k1.requires_grad_();
    kH.requires_grad_();
    ops::FFTConvOptions o{AntiCausal::None, algo};
    Tensor g = random_input({B, H, L}, gen);
    Tensor y1 = ops::fftconv(u, k1, Tensor(), Tensor(), o), yH = ops::fftconv(u, kH, Tensor(), Tensor(), o);
    EXPECT_TRUE(all_close(y1, yH, 1e-12, 1e-12, "shared vs repeated kernel"));
    y1.backward(g);
    yH.backward(g);
    std::vector<double> gH = kH.grad().to_vector<double>(), g1 = k1.grad().to_vector<double>();
    for (int64_t j = 0; j < Lk; ++j) {
      double sum = 0;
      for (int64_t h = 0; h < H; ++h) sum += gH[size_t(h * Lk + j)];
      EXPECT_NEAR(g1[size_t(j)], sum, 1e-10) << "tap " << j;
    }
  }
}

TEST(FFTConv, AutoPicksDirectForShortKernelsOnly) {
  EXPECT_TRUE(ops::cpu::prefers_direct({8, 64, 1024, 64, 3, AntiCausal::None}));
  EXPECT_TRUE(ops::cpu::prefers_direct({1, 1, 1, 1, 1, AntiCausal::FromLag0}));
  EXPECT_FALSE(ops::cpu::prefers_direct({8, 64, 1024, 64, 1024, AntiCausal::FromLag1}));
  EXPECT_EQ(ops::cpu::fft_size(1000, 1000), 2048);
  EXPECT_EQ(ops::cpu::fft_size(1, 1), 2);
  EXPECT_EQ(ops::cuda::fft_size(1000, 1000), 2000);  // 2^4·5^3
  EXPECT_EQ(ops::cuda::fft_size(1024, 1024), 2048);
  EXPECT_EQ(ops::cuda::fft_size(7, 4), 12);  // 11 → the next even 7-smooth number
}

// The CUDA kernel buffer is built by gathering (anti_tap), the gradients read back by anti_position:
// they must be inverses, and the anti-causal taps must not land on causal ones (except FromLag0's lag 0).
TEST(FFTConv, AntiTapInvertsAntiPosition) {
  for (int64_t L : {1, 7, 64, 127, 1000})
    for (int64_t Lk : {int64_t(1), std::max<int64_t>(1, L / 2), L})
      for (int64_t n : {ops::cpu::fft_size(L, Lk), ops::cuda::fft_size(L, Lk)})
        for (AntiCausal a : {AntiCausal::FromLag1, AntiCausal::FromLag0}) {
          int64_t hits = 0;
          for (int64_t i = 0; i < n + 2; ++i) {
            int64_t j = ops::anti_tap(i, n, Lk, a);
            if (j < 0) continue;
            ++hits;
            EXPECT_EQ(ops::anti_position(j, n, a), i) << "n " << n << " Lk " << Lk;
            EXPECT_TRUE(i >= Lk || (a == AntiCausal::FromLag0 && i == 0)) << "tap " << j << " at " << i;
          }
          EXPECT_EQ(hits, Lk) << "n " << n << " Lk " << Lk;
          EXPECT_EQ(ops::anti_tap(0, n, Lk, AntiCausal::None), -1);
        }
}

TEST(FFTConv, ErrorsNameTheArgumentAndShapes) {
  Tensor u = Tensor::zeros({2, 6, 10}), kc = Tensor::zeros({4, 5}), ok = Tensor::zeros({3, 5});
  EXPECT_NE(error_of([&] { ops::fftconv(u, kc, Tensor(), Tensor()); }).find("kc has 4 rows, which must divide H = 6"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(u, Tensor::zeros({3, 11}), Tensor(), Tensor()); }).find("11 taps"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(Tensor::zeros({6, 10}), ok, Tensor(), Tensor()); }).find("[B, H, L]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(u, ok, Tensor(), Tensor(), {AntiCausal::FromLag1}); }).find("ka is undefined"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(u, ok, ok, Tensor()); }).find("mode is None"), std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(u, ok, Tensor::zeros({3, 4}), Tensor(), {AntiCausal::FromLag0}); })
                .find("ka has shape [3, 4] but kc has [3, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(u, ok, Tensor(), Tensor::zeros({5})); }).find("D has shape [5] but must be [6]"),
            std::string::npos);
  // Empty extents that cannot work: L = 0 leaves no room for a tap, C = 0 has no kernel row.
  EXPECT_NE(error_of([&] { ops::fftconv(Tensor::zeros({2, 3, 0}), Tensor::zeros({3, 1}), Tensor(), Tensor()); })
                .find("fftconv: u [2, 3, 0] has an empty length dim"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::fftconv(Tensor::zeros({2, 0, 5}), Tensor::zeros({0, 2}), Tensor(), Tensor()); })
                .find("fftconv: kc has 0 rows"),
            std::string::npos);
}

// ---- CUDA ----------------------------------------------------------------------------------------

TEST(FFTConv, CudaFftAndDirectMatchCpu) {
  LRA_REQUIRE_CUDA();
  Generator gen(kCaseSeed + 14);
  for (const FFTConvShape& s : shapes()) {
    Inputs in = random_inputs(s, gen);
    Result ref = run(in, s.anti, Algo::Direct, DType::F64, Device::CPU);
    // float32 FFT rounding grows like ε·log2(n) times the longest sum (the kernel gradients'):
    // atol 2e-6·log2(n)·sqrt(B·H/C·L) covers it with margin.
    const double n = double(ops::cuda::fft_size(s.L, s.Lk));
    const double atol = 2e-6 * std::log2(n) * std::sqrt(double(s.B * s.H / s.C * s.L)) + 1e-5;
    expect_same(run(in, s.anti, Algo::FFT, DType::F32, Device::CUDA), ref, 1e-4, atol, describe(s) + " cuda fft");
    expect_same(run(in, s.anti, Algo::Direct, DType::F32, Device::CUDA), ref, 1e-4, 1e-4,
                describe(s) + " cuda direct");
  }
}

// Plans and work areas are cached: a second identical step allocates nothing new from the driver.
TEST(FFTConv, CudaSteadyStateDoesNotCallCudaMalloc) {
  LRA_REQUIRE_CUDA();
  Generator gen(kCaseSeed + 15);
  FFTConvShape s{4, 64, 1000, 8, 1000, AntiCausal::FromLag1};
  Inputs in = random_inputs(s, gen);
  run(in, s.anti, Algo::FFT, DType::F32, Device::CUDA);
  const size_t before = cuda_memory_stats().device_mallocs;
  run(in, s.anti, Algo::FFT, DType::F32, Device::CUDA);
  EXPECT_EQ(cuda_memory_stats().device_mallocs, before);
}

}  // namespace
}  // namespace lra::test
