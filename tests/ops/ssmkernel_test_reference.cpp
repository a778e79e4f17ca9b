// The S4D kernel against the formula written with std::complex<double> (an independent transcription of
// s4d.py's kernel), and its argument checks.
#include <gtest/gtest.h>

#include <complex>
#include <string>

#include "ops/ssmkernel/ssmkernel.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

TEST(SSMKernel, MatchesComplexFormula) {
  Generator gen(7);
  const int64_t H = 3, N = 6, L = 50;
  Tensor log_dt = random_input({H}, gen, -6.9, -2.3), ar = random_input({H, N}, gen, -1.0, 0.0),
         ai = random_input({H, N}, gen, 0.0, 20.0), C = random_input({H, N, 2}, gen);
  Tensor K = ops::ssm_kernel(log_dt, ar, ai, C, L);
  ASSERT_EQ(K.shape(), Shape({H, L}));
  auto vdt = log_dt.to_vector<double>(), var = ar.to_vector<double>(), vai = ai.to_vector<double>(),
       vc = C.to_vector<double>(), vk = K.to_vector<double>();
  double worst = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < L; ++l) {
      std::complex<double> sum = 0;
      for (int64_t n = 0; n < N; ++n) {
        int64_t hn = h * N + n;
        std::complex<double> A(-std::exp(var[hn]), vai[hn]), c(vc[2 * hn], vc[2 * hn + 1]);
        std::complex<double> dtA = A * std::exp(vdt[h]);
        sum += c * (std::exp(dtA) - 1.0) / A * std::exp(dtA * double(l));
      }
      worst = std::max(worst, std::abs(2 * sum.real() - vk[h * L + l]));
    }
  EXPECT_LT(worst, 1e-12);
}

// S4's variants written as SSMKernelDiag.forward states them (ssm.py 597–604), with std::complex<double>:
// dt = softplus(inv_dt), C̃ = B·C, then ZOH C̃·(exp(dtA) − 1)/A with powers exp(dtA·l), or bilinear
// C̃·dt/(1 − dtA/2) with powers dA^l, dA = (1 + dtA/2)/(1 − dtA/2) (std::pow, not the op's exp(l·log dA)).
TEST(SSMKernel, VariantsMatchS4sFormulas) {
  Generator gen(8);
  const int64_t H = 3, N = 5, L = 40;
  Tensor p = random_input({H}, gen, -7.0, 0.5), ar = random_input({H, N}, gen, -1.0, 0.0),
         ai = random_input({H, N}, gen, 0.0, 20.0), C = random_input({H, N, 2}, gen), B = random_input({H, N, 2}, gen);
  auto vp = p.to_vector<double>(), var = ar.to_vector<double>(), vai = ai.to_vector<double>(),
       vc = C.to_vector<double>(), vb = B.to_vector<double>();
  for (auto disc : {ops::SSMDisc::ZOH, ops::SSMDisc::Bilinear}) {
    auto vk = ops::ssm_kernel(p, ar, ai, B, C, L, {ops::SSMDt::Softplus, disc}).to_vector<double>();
    double worst = 0;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t l = 0; l < L; ++l) {
        std::complex<double> sum = 0;
        const double dt = std::log1p(std::exp(vp[h]));
        for (int64_t n = 0; n < N; ++n) {
          int64_t hn = h * N + n;
          std::complex<double> A(-std::exp(var[hn]), vai[hn]), bc = std::complex<double>(vb[2 * hn], vb[2 * hn + 1]) *
                                                                     std::complex<double>(vc[2 * hn], vc[2 * hn + 1]);
          std::complex<double> dtA = A * dt;
          if (disc == ops::SSMDisc::ZOH)
            sum += bc * (std::exp(dtA) - 1.0) / A * std::exp(dtA * double(l));
          else
            sum += bc * dt / (1.0 - dtA / 2.0) * std::pow((1.0 + dtA / 2.0) / (1.0 - dtA / 2.0), double(l));
        }
        worst = std::max(worst, std::abs(2 * sum.real() - vk[h * L + l]));
      }
    EXPECT_LT(worst, 1e-12) << (disc == ops::SSMDisc::ZOH ? "zoh" : "bilinear");
  }
  // B undefined is B = 1.
  Tensor ones = Tensor::zeros({H, N, 2}, DType::F64);
  {
    auto v = ones.to_vector<double>();
    for (size_t i = 0; i < v.size(); i += 2) v[i] = 1.0;
    ones = Tensor::from_vector(v, {H, N, 2});
  }
  auto k1 = ops::ssm_kernel(p, ar, ai, ones, C, L, {ops::SSMDt::Exp, ops::SSMDisc::Bilinear}).to_vector<double>();
  auto k0 = ops::ssm_kernel(p, ar, ai, Tensor(), C, L, {ops::SSMDt::Exp, ops::SSMDisc::Bilinear}).to_vector<double>();
  for (size_t i = 0; i < k0.size(); ++i) ASSERT_EQ(k0[i], k1[i]) << i;
}

// The float32 CPU path (a recurrence re-anchored every 64 taps, in double, channels in parallel) against the
// float64 reference loops on the same (float) inputs, forward and backward, over every option and a length
// past many re-anchoring blocks, with slow and fast decays and phases up to ~10^5 radians at the last tap
// (where the float32 reference itself loses ~1e-2 in the phase: the fast path is the more accurate one).
TEST(SSMKernel, FastCpuPathMatchesTheReference) {
  Generator gen(11);
  auto to_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  for (int disc = 0; disc < 2; ++disc)
    for (int dt = 0; dt < 2; ++dt) {
      ops::SSMKernelOptions o;
      o.disc = disc ? ops::SSMDisc::Bilinear : ops::SSMDisc::ZOH;
      o.dt = dt ? ops::SSMDt::Softplus : ops::SSMDt::Exp;
      const ops::SSMKernelShape s{5, 7, 4099, o};
      std::vector<float> p = random_input({s.H}, gen, dt ? -6.0 : -6.9, dt ? 0.5 : -1.0).to_vector<float>();
      std::vector<float> ar = random_input({s.H, s.N}, gen, -6.0, 0.5).to_vector<float>();
      std::vector<float> ai = random_input({s.H, s.N}, gen, 0.0, 60.0).to_vector<float>();
      std::vector<float> B = random_input({s.H, s.N, 2}, gen).to_vector<float>();
      std::vector<float> C = random_input({s.H, s.N, 2}, gen).to_vector<float>();
      std::vector<float> gK = random_input({s.H, s.L}, gen).to_vector<float>();
      const std::vector<double> pd = to_double(p), ard = to_double(ar), aid = to_double(ai), Bd = to_double(B),
                                Cd = to_double(C), gKd = to_double(gK);
      const size_t HL = size_t(s.H * s.L), HN = size_t(s.H * s.N);
      std::vector<double> k_ref(HL);
      std::vector<float> k_fast(HL);
      ops::cpu::ssm_kernel_forward<double>(s, pd.data(), ard.data(), aid.data(), Bd.data(), Cd.data(), k_ref.data());
      ops::cpu::ssm_kernel_forward_fast(s, p.data(), ar.data(), ai.data(), B.data(), C.data(), k_fast.data());
      double scale = 0, worst = 0;
      for (size_t i = 0; i < HL; ++i) {
        scale = std::max(scale, std::abs(k_ref[i]));
        worst = std::max(worst, std::abs(k_ref[i] - double(k_fast[i])));
      }
      EXPECT_LT(worst, 1e-6 * scale) << "forward, disc " << disc << ", dt " << dt;
      const std::vector<size_t> sizes = {size_t(s.H), HN, HN, 2 * HN, 2 * HN};
      std::vector<std::vector<double>> ref;
      std::vector<std::vector<float>> fast;
      for (size_t n : sizes) {
        ref.emplace_back(n);
        fast.emplace_back(n);
      }
      ops::cpu::ssm_kernel_backward<double>(s, pd.data(), ard.data(), aid.data(), Bd.data(), Cd.data(), gKd.data(),
                                            ref[0].data(), ref[1].data(), ref[2].data(), ref[3].data(),
                                            ref[4].data());
      ops::cpu::ssm_kernel_backward_fast(s, p.data(), ar.data(), ai.data(), B.data(), C.data(), gK.data(),
                                         fast[0].data(), fast[1].data(), fast[2].data(), fast[3].data(),
                                         fast[4].data());
      for (size_t g = 0; g < ref.size(); ++g) {
        double gscale = 0, gworst = 0;
        for (size_t i = 0; i < ref[g].size(); ++i) {
          gscale = std::max(gscale, std::abs(ref[g][i]));
          gworst = std::max(gworst, std::abs(ref[g][i] - double(fast[g][i])));
        }
        EXPECT_LT(gworst, 1e-6 * gscale) << "gradient " << g << ", disc " << disc << ", dt " << dt;
      }
    }
}

TEST(SSMKernel, ErrorsNameTheArgument) {
  Tensor dt = Tensor::zeros({4}, DType::F64), ar = Tensor::zeros({4, 3}, DType::F64);
  Tensor ai = Tensor::zeros({4, 3}, DType::F64), C = Tensor::zeros({4, 3, 2}, DType::F64);
  try {
    ops::ssm_kernel(dt, ar, ai, Tensor::zeros({4, 2, 2}, DType::F64), 8);
    FAIL() << "no error for a C of the wrong shape";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("ssm_kernel: C must be [H, N, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::ssm_kernel(dt, Tensor::zeros({5, 3}, DType::F64), ai, C, 8), std::exception);
  EXPECT_THROW(ops::ssm_kernel(dt, ar, ai, C, -1), std::exception);
  EXPECT_THROW(ops::ssm_kernel(dt, ar, ai, Tensor::zeros({4, 3}, DType::F64), C, 8), std::exception);  // B [H, N]
  // L = 0 is an empty kernel, not an error (the case table checks its shape and zero gradients).
  EXPECT_EQ(ops::ssm_kernel(dt, ar, ai, C, 0).shape(), Shape({4, 0}));
}

}  // namespace
}  // namespace lra::test
