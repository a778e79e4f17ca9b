// The float32 CPU path of the EMA kernel (ema_cpu_fast.cpp) against the float64 reference loops on the
// same (float) inputs, forward and backward, on odd shapes (empty extents, size 1, primes, the 16-tap block
// and the 64-tap anchor ±1, the LRA truncation 1024, a long 4099), with slow and fast decays (delta and
// alpha up to ±8: q from ~1 − 1e-7 to ~1e-7, so the skipped-tap cutoff is exercised); and the result
// bit for bit the same for 1, 2 and 3 threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "ops/ema/ema.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

struct Inputs {
  ops::EMAKernelShape s;
  std::vector<float> delta, alpha, beta, gamma, gK;
};

Inputs make_inputs(int64_t D, int64_t N, int64_t L, double logit, Generator& gen) {
  Inputs in;
  in.s = {D, N, L};
  in.delta = random_input({D, N}, gen, -logit, logit).to_vector<float>();
  in.alpha = random_input({D, N}, gen, -logit, logit).to_vector<float>();
  in.beta = random_input({D, N}, gen, -1.2, 1.2).to_vector<float>();
  in.gamma = random_input({D, N}, gen).to_vector<float>();
  in.gK = random_input({D, L}, gen).to_vector<float>();
  return in;
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// |fast − ref| <= rtol·|ref| + atol·max|ref|: rtol 1e-6 is the float32 rounding of the result (6e-8) with a
// margin; atol 1e-9 of the largest entry covers the sums' cancellation (the modes' terms alternate in sign,
// so an entry can be far smaller than its terms), whose double rounding (~1e-15 of the terms) is far below.
void expect_close(const std::vector<double>& ref, const std::vector<float>& fast, const std::string& what) {
  ASSERT_EQ(ref.size(), fast.size()) << what;
  double scale = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double excess = std::abs(ref[i] - double(fast[i])) - (1e-6 * std::abs(ref[i]) + 1e-9 * scale);
    if (excess > worst) worst = excess, at = i;
  }
  EXPECT_LE(worst, 0.0) << what << ": worst excess over the tolerance at " << at << ": ref " << ref[at]
                        << ", fast " << fast[at];
}

TEST(EMAKernelCpuFast, MatchesTheReference) {
  Generator gen(kCaseSeed + 16);
  const std::vector<std::array<int64_t, 3>> shapes = {{0, 3, 5},  {3, 0, 5},  {2, 3, 0},   {1, 1, 1},   {1, 3, 2},
                                                      {3, 5, 17}, {2, 16, 15}, {2, 16, 16}, {2, 16, 17}, {3, 7, 63},
                                                      {3, 7, 65}, {5, 2, 97},  {4, 16, 1024}, {3, 11, 4099}};
  for (double logit : {0.6, 4.0, 8.0})
    for (auto [D, N, L] : shapes) {
      const std::string name = "D" + std::to_string(D) + " N" + std::to_string(N) + " L" + std::to_string(L) +
                               " logit " + std::to_string(logit);
      Inputs in = make_inputs(D, N, L, logit, gen);
      const auto dd = to_double(in.delta), ad = to_double(in.alpha), bd = to_double(in.beta),
                 gd = to_double(in.gamma), gKd = to_double(in.gK);
      std::vector<double> k_ref(size_t(D * L));
      std::vector<float> k_fast(size_t(D * L));
      ops::cpu::ema_kernel_forward<double>(in.s, dd.data(), ad.data(), bd.data(), gd.data(), k_ref.data());
      ops::cpu::ema_kernel_forward_fast(in.s, in.delta.data(), in.alpha.data(), in.beta.data(), in.gamma.data(),
                                        k_fast.data());
      expect_close(k_ref, k_fast, name + " forward");
      std::vector<std::vector<double>> ref(4, std::vector<double>(size_t(D * N)));
      std::vector<std::vector<float>> fast(4, std::vector<float>(size_t(D * N)));
      ops::cpu::ema_kernel_backward<double>(in.s, dd.data(), ad.data(), bd.data(), gd.data(), gKd.data(),
                                            ref[0].data(), ref[1].data(), ref[2].data(), ref[3].data());
      ops::cpu::ema_kernel_backward_fast(in.s, in.delta.data(), in.alpha.data(), in.beta.data(), in.gamma.data(),
                                         in.gK.data(), fast[0].data(), fast[1].data(), fast[2].data(),
                                         fast[3].data());
      for (int g = 0; g < 4; ++g) expect_close(ref[size_t(g)], fast[size_t(g)], name + " gradient " + std::to_string(g));
    }
}

TEST(EMAKernelCpuFast, IndependentOfTheThreadCount) {
  Generator gen(kCaseSeed + 17);
  Inputs in = make_inputs(7, 16, 1031, 0.6, gen);
  const int before = omp_get_max_threads();
  std::vector<float> k0, g0;
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    std::vector<float> k(size_t(7 * 1031)), g(size_t(4 * 7 * 16));
    ops::cpu::ema_kernel_forward_fast(in.s, in.delta.data(), in.alpha.data(), in.beta.data(), in.gamma.data(),
                                      k.data());
    ops::cpu::ema_kernel_backward_fast(in.s, in.delta.data(), in.alpha.data(), in.beta.data(), in.gamma.data(),
                                       in.gK.data(), g.data(), g.data() + 112, g.data() + 224, g.data() + 336);
    if (t == 1) {
      k0 = k;
      g0 = g;
    } else {
      EXPECT_EQ(k, k0) << t << " threads: forward";
      EXPECT_EQ(g, g0) << t << " threads: backward";
    }
  }
  omp_set_num_threads(before);
}

}  // namespace
}  // namespace lra::test
