// Cases for the long convolution: every anti-causal convention, shared and per-channel kernels, with and
// without D, L from 1 to an LRA-sized 1000, Lk from 1 to L. The op runs with Algo::Auto, so on the CPU
// the short kernels take the direct loops and the long ones the radix-2 FFT (fftconv_test_paths.cpp
// checks the two against each other on every shape); on the GPU every case runs through cuFFT.
#include <algorithm>
#include <cmath>

#include "ops/fftconv/fftconv.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

using ops::AntiCausal;

const char* anti_name(AntiCausal a) {
  switch (a) {
    case AntiCausal::None: return "causal";
    case AntiCausal::FromLag1: return "anti@lag1";
    case AntiCausal::FromLag0: return "anti@lag0";
  }
  return "?";
}

struct Geometry {
  int64_t B, H, C, L, Lk;
  AntiCausal anti;
  bool with_D;
};

OpCase make_case(const Geometry& g, Generator& gen) {
  OpCase c;
  c.name = std::string("fftconv ") + anti_name(g.anti) + " B" + std::to_string(g.B) + " H" + std::to_string(g.H) +
           " C" + std::to_string(g.C) + " L" + std::to_string(g.L) + " Lk" + std::to_string(g.Lk) +
           (g.with_D ? " D" : "");
  // Taps scaled by 1/sqrt(Lk) as kernel initialisations do, so outputs stay O(1) at any Lk.
  const double k_scale = 1.0 / std::sqrt(double(g.Lk));
  c.inputs = {random_input({g.B, g.H, g.L}, gen), random_input({g.C, g.Lk}, gen, -k_scale, k_scale)};
  const bool anti = g.anti != AntiCausal::None;
  if (anti) c.inputs.push_back(random_input({g.C, g.Lk}, gen, -k_scale, k_scale));
  if (g.with_D) c.inputs.push_back(random_input({g.H}, gen));
  const bool with_D = g.with_D;
  ops::FFTConvOptions opts;
  opts.anti = g.anti;
  c.fn = [opts, anti, with_D](const std::vector<Tensor>& in) {
    return ops::fftconv(in[0], in[1], anti ? in[2] : Tensor(), with_D ? in.back() : Tensor(), opts);
  };
  // CUDA float32 vs the CPU float32 reference. The FFT's rounding error grows like ε·log2(n) times the
  // size of what is summed; the longest sum is the kernel gradient's, over m = (B·H/C)·L products of O(1)
  // terms, whose float32 error is ~ε·sqrt(m) (random walk). So atol = 1e-5·log2(n)·sqrt(m/64): for the
  // LRA-sized case (n = 2048, m = 2000) about 6e-4 against kernel gradients of size ~15, and 1e-5·log2(n)
  // for the small ones.
  const double n = double(ops::cuda::fft_size(g.L, g.Lk));
  const double m = double(g.B * g.H / g.C * g.L);
  c.rtol = 1e-4;
  c.atol = 1e-5 * std::log2(n) * std::max(1.0, std::sqrt(m / 64.0));
  return c;
}

std::vector<OpCase> fftconv_cases(Generator& gen) {
  std::vector<OpCase> cases;
  // (H, C) pairs: one channel, per-channel kernels, shared kernels, and H = 37 (not a multiple of 32).
  const std::pair<int64_t, int64_t> channels[] = {{1, 1}, {3, 3}, {3, 1}, {37, 37}, {37, 1}};
  const AntiCausal antis[] = {AntiCausal::None, AntiCausal::FromLag1, AntiCausal::FromLag0};
  int k = 0;
  for (int64_t L : {1, 7, 64, 127}) {
    std::vector<int64_t> taps = {1};
    if (L / 2 > 1) taps.push_back(L / 2);
    if (L > 1) taps.push_back(L);
    for (int64_t Lk : taps)
      for (AntiCausal anti : antis) {
        auto [H, C] = channels[k % 5];
        if (L > 64 && H == 37) H = C = 5;  // 37 long rows cost too much gradcheck time: 37 channels at L ≤ 64
        cases.push_back(make_case({1 + k % 2, H, C, L, Lk, anti, k % 3 != 1}, gen));
        ++k;
      }
  }
  // An LRA-sized row (Image/Pathfinder L = 1024 territory): odd lengths, FFT on both devices.
  cases.push_back(make_case({1, 2, 1, 1000, 500, AntiCausal::FromLag1, true}, gen));
  cases.push_back(make_case({1, 2, 2, 1000, 1000, AntiCausal::FromLag0, false}, gen));
  // Empty extents: no batch and no channels (C = 1 divides H = 0), each through both algorithms on both
  // devices. y is empty; the kernel and skip gradients are sums over no rows, zeros that the finite
  // differences confirm. L = 0 is an error (fftconv_test_paths.cpp): no kernel of 1 <= Lk <= L taps.
  using Algo = ops::FFTConvOptions::Algo;
  for (Algo algo : {Algo::Direct, Algo::FFT})
    for (const Geometry& g : {Geometry{0, 3, 3, 7, 4, AntiCausal::FromLag1, true},
                              Geometry{2, 0, 1, 9, 3, AntiCausal::FromLag0, true}}) {
      OpCase c = make_case(g, gen);
      ops::FFTConvOptions opts;
      opts.anti = g.anti;
      opts.algo = algo;
      c.name += algo == Algo::Direct ? " direct" : " fft";
      c.fn = [opts](const std::vector<Tensor>& in) { return ops::fftconv(in[0], in[1], in[2], in[3], opts); };
      c.out_shape = Shape{g.B, g.H, g.L};
      cases.push_back(c);
    }
  return cases;
}

}  // namespace
LRA_OP_CASES(fftconv, fftconv_cases);
}  // namespace lra::test
