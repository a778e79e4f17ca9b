// The S4 (DPLR) mixer (models/mixers/s4.cpp) and the kernel it is made of:
//   * the kernel irfft(dplr_response(·), n)[:L], with C̃ from s4::setup_C, against the dense definition
//     K[l] = C₂·Ā^l·B̄₂ over the conjugate-extended state (Ā, B̄ the bilinear DPLR discretisation), in double;
//   * with P = 0 it is the diagonal bilinear kernel 2·Re Σ C̃'·B̄·Ā^l (the Vandermonde sum, written here);
//   * the mixer through the registry: shapes, gradients into every parameter, the parameter groups, the
//     HiPPO initialisation, n_ssm sharing, option errors, and the kernel length fixed at max_len.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <map>
#include <string>

#include "models/mixer.h"
#include "models/mixers/s4.h"
#include "ops/cauchy/cauchy.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/irfft.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

using cd = std::complex<double>;
constexpr auto config = &test_fixtures::mixer_config;

struct Kernel {
  int64_t H, S, M, n, L;
  Tensor dt, ar, ai, P, B, C;  // C holds C̃ after setup
  std::vector<cd> C_orig;      // [H, M] (one output channel)
};

cd at(const Tensor& t, int64_t i) { return {t.data<double>()[2 * i], t.data<double>()[2 * i + 1]}; }

Kernel make_kernel(int64_t H, int64_t S, int64_t M, int64_t n, int64_t L, bool zero_p, uint64_t seed) {
  Generator gen(seed);
  Kernel k{H, S, M, n, L};
  k.dt = test::random_input({H}, gen, 0.01, 0.3);
  k.ar = test::random_input({S, M}, gen, std::log(0.3), std::log(0.8));
  k.ai = test::random_input({S, M}, gen, 0.0, 4.0);
  k.P = zero_p ? Tensor::zeros({S, M, 2}, DType::F64) : test::random_input({S, M, 2}, gen);
  k.B = test::random_input({S, M, 2}, gen);
  k.C = test::random_input({1, H, M, 2}, gen);
  std::vector<double> dt(static_cast<size_t>(H));
  std::vector<cd> lam(static_cast<size_t>(S * M)), p(static_cast<size_t>(S * M)), c(static_cast<size_t>(H * M));
  for (int64_t h = 0; h < H; ++h) dt[size_t(h)] = k.dt.data<double>()[h];
  for (int64_t i = 0; i < S * M; ++i) {
    lam[size_t(i)] = {-std::exp(k.ar.data<double>()[i]), -k.ai.data<double>()[i]};
    p[size_t(i)] = at(k.P, i);
  }
  for (int64_t i = 0; i < H * M; ++i) c[size_t(i)] = at(k.C, i);
  k.C_orig = c;
  s4::setup_C(1, H, S, M, dt, lam, p, c, n);
  for (int64_t i = 0; i < H * M; ++i) {
    k.C.data<double>()[2 * i] = c[size_t(i)].real();
    k.C.data<double>()[2 * i + 1] = c[size_t(i)].imag();
  }
  return k;
}

Tensor engine_kernel(const Kernel& k) {
  return ops::irfft(ops::dplr_response(k.dt, k.ar, k.ai, k.P, k.B, k.C, k.n), k.n, k.L);  // [1, H, L]
}

TEST(S4Kernel, MatchesTheDenseDPLRDefinition) {
  for (auto [H, S, M, n, L] : {std::array<int64_t, 5>{2, 1, 3, 16, 16}, {3, 3, 2, 13, 9}, {2, 2, 4, 40, 33},
                               {1, 1, 1, 1, 1}, {2, 1, 2, 2, 2}}) {
    Kernel k = make_kernel(H, S, M, n, L, /*zero_p=*/false, 7 + uint64_t(n));
    Tensor K = engine_kernel(k);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t s = h % S, N2 = 2 * M;
      const double dt = k.dt.data<double>()[h];
      std::vector<cd> lam(static_cast<size_t>(M)), p(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m) {
        lam[size_t(m)] = {-std::exp(k.ar.data<double>()[s * M + m]), -k.ai.data<double>()[s * M + m]};
        p[size_t(m)] = at(k.P, s * M + m);
      }
      const std::vector<cd> Ab = s4::bilinear_transition(M, dt, lam.data(), p.data());
      // B̄₂ = dt·(I − dt/2·A₂)⁻¹·B₂ = (Ā + I)·B₂·dt/2, since (I − dt/2·A₂)⁻¹ = (Ā + I)/2.
      std::vector<cd> b2(static_cast<size_t>(N2)), c2(static_cast<size_t>(N2)), x(static_cast<size_t>(N2));
      for (int64_t m = 0; m < M; ++m) {
        b2[size_t(m)] = at(k.B, s * M + m);
        b2[size_t(M + m)] = std::conj(b2[size_t(m)]);
        c2[size_t(m)] = k.C_orig[size_t(h * M + m)];
        c2[size_t(M + m)] = std::conj(c2[size_t(m)]);
      }
      for (int64_t i = 0; i < N2; ++i) {
        cd acc = b2[size_t(i)];
        for (int64_t j = 0; j < N2; ++j) acc += Ab[size_t(i * N2 + j)] * b2[size_t(j)];
        x[size_t(i)] = acc * dt / 2.0;
      }
      for (int64_t l = 0; l < L; ++l) {
        cd want = 0;
        for (int64_t i = 0; i < N2; ++i) want += c2[size_t(i)] * x[size_t(i)];
        EXPECT_NEAR(want.imag(), 0.0, 1e-10);
        EXPECT_NEAR(K.data<double>()[h * L + l], want.real(), 1e-9 * (1.0 + std::abs(want)))
            << "H" << H << " n" << n << " h " << h << " l " << l;
        std::vector<cd> next(static_cast<size_t>(N2), 0.0);
        for (int64_t i = 0; i < N2; ++i)
          for (int64_t j = 0; j < N2; ++j) next[size_t(i)] += Ab[size_t(i * N2 + j)] * x[size_t(j)];
        x = next;
      }
    }
  }
}

TEST(S4Kernel, ZeroPIsTheDiagonalBilinearKernel) {
  Kernel k = make_kernel(3, 1, 4, 24, 20, /*zero_p=*/true, 11);
  Tensor K = engine_kernel(k);
  for (int64_t h = 0; h < k.H; ++h) {
    const double dt = k.dt.data<double>()[h];
    for (int64_t l = 0; l < k.L; ++l) {
      double want = 0;
      for (int64_t m = 0; m < k.M; ++m) {
        const cd dl = dt * cd(-std::exp(k.ar.data<double>()[m]), -k.ai.data<double>()[m]);
        const cd Ab = (1.0 + dl / 2.0) / (1.0 - dl / 2.0), Bb = dt * at(k.B, m) / (1.0 - dl / 2.0);
        want += 2.0 * (k.C_orig[size_t(h * k.M + m)] * Bb * std::pow(Ab, double(l))).real();
      }
      EXPECT_NEAR(K.data<double>()[h * k.L + l], want, 1e-9 * (1.0 + std::abs(want))) << "h " << h << " l " << l;
    }
  }
}

std::map<std::string, nn::NamedParameter> params_by_name(const Mixer& m) {
  std::map<std::string, nn::NamedParameter> out;
  for (const auto& p : m.named_parameters()) out.emplace(p.name, p);
  return out;
}

TEST(S4Mixer, ShapesAndGradientsReachEveryParameter) {
  for (const auto& extra : std::vector<std::map<std::string, std::string>>{
           {{"ssm_n", "8"}},
           {{"ssm_n", "6"}, {"bidirectional", "1"}, {"n_ssm", "0"}},
           {{"ssm_n", "4"}, {"n_ssm", "2"}, {"dt_transform", "exp"}, {"c_group", "ssm_decay"}, {"dt_group", "default"}}}) {
    Generator init(1);
    auto mixer = find_mixer("s4").make(config(8, extra), init);
    test_fixtures::expect_trains(*mixer, test_fixtures::last_padded_mask(), "s4");
  }
}

TEST(S4Mixer, ParametersGroupsAndHippoInit) {
  Generator init(5);
  auto m = find_mixer("s4").make(config(6, {{"ssm_n", "8"}, {"bidirectional", "1"}, {"n_ssm", "3"}}), init);
  auto p = params_by_name(*m);
  EXPECT_EQ(p.at("log_A_real").tensor.shape(), Shape({3, 4}));
  EXPECT_EQ(p.at("P").tensor.shape(), Shape({3, 4, 2}));
  EXPECT_EQ(p.at("B").tensor.shape(), Shape({3, 4, 2}));
  EXPECT_EQ(p.at("C").tensor.shape(), Shape({2, 6, 4, 2}));
  EXPECT_EQ(p.at("inv_dt").tensor.shape(), Shape({6}));
  for (const char* name : {"log_A_real", "A_imag", "P", "B", "inv_dt"}) EXPECT_EQ(p.at(name).group, "ssm") << name;
  EXPECT_EQ(p.at("C").group, "default");
  EXPECT_EQ(p.at("D").group, "default");
  // Re Λ = −½ for every mode; Im Λ ≤ 0 stored as A_imag ≥ 1e-4; |Im B| ≤ 2; the copies are equal.
  const auto ar = p.at("log_A_real").tensor.to_vector<float>(), ai = p.at("A_imag").tensor.to_vector<float>();
  const auto b = p.at("B").tensor.to_vector<float>();
  for (size_t i = 0; i < ar.size(); ++i) {
    EXPECT_NEAR(ar[i], std::log(0.5), 1e-6);
    EXPECT_GE(ai[i], 1e-4f);
    EXPECT_LE(std::abs(b[2 * i + 1]), 2.0f);
    EXPECT_EQ(ai[i], ai[i % 4]);
  }
  // dt = softplus(inv_dt) in [dt_min, dt_max]
  for (float v : p.at("inv_dt").tensor.to_vector<float>()) {
    const double dt = std::log1p(std::exp(double(v)));
    EXPECT_GE(dt, 1e-3 * (1 - 1e-5));
    EXPECT_LE(dt, 1e-1 * (1 + 1e-5));
  }
}

TEST(S4Mixer, OptionErrors) {
  Generator init(1);
  auto expect_error = [&](std::map<std::string, std::string> o, const std::string& what) {
    try {
      find_mixer("s4").make(config(8, o), init);
      FAIL() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error({{"ssm_n", "7"}}, "ssm_n");
  expect_error({{"n_ssm", "3"}}, "n_ssm");
  expect_error({{"dt_transform", "relu"}}, "dt_transform");
  expect_error({{"dt_min", "0.5"}, {"dt_max", "0.1"}}, "dt_min");
}

}  // namespace
}  // namespace lra::models
