// The LRU mixer (models/mixers/lru.cpp) on its own, through the registry: shapes, finiteness and gradients
// into every parameter for each option, the ring initialisation (|λ|² uniform on [r_min², r_max²], phase in
// [0, max_phase), γ = √(1 − |λ|²), B and C scales), the parameter groups, causality (a later input never
// changes an earlier output unless bidirectional), mask_padding, and the recurrence against a complex<double>
// loop written from the header's formula.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <map>
#include <string>
#include <vector>

#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

constexpr auto config = &test_fixtures::mixer_config;
using test_fixtures::random_x;

std::map<std::string, std::vector<float>> values(const Mixer& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& p : m.named_parameters()) out[p.name] = p.tensor.to_vector<float>();
  return out;
}

class LRUOptionsTest : public ::testing::TestWithParam<std::map<std::string, std::string>> {};

TEST_P(LRUOptionsTest, ShapeFiniteAndGradientsReachEveryParameter) {
  Generator init(1);
  auto mixer = find_mixer("lru").make(config(8, GetParam()), init);
  test_fixtures::expect_trains(*mixer, test_fixtures::last_padded_mask(), "lru");
}

INSTANTIATE_TEST_SUITE_P(
    All, LRUOptionsTest,
    ::testing::Values(std::map<std::string, std::string>{{"ssm_n", "5"}},
                      std::map<std::string, std::string>{{"ssm_n", "1"}, {"bidirectional", "1"}},
                      std::map<std::string, std::string>{{"ssm_n", "7"}, {"glu", "0"}, {"mask_padding", "1"}},
                      std::map<std::string, std::string>{
                          {"ssm_n", "4"}, {"r_min", "0.999"}, {"r_max", "0.9999"}, {"max_phase", "0.314159"}}));

TEST(LRUMixer, RingInitialisationAndGroups) {
  const int H = 16, N = 4000;
  const double r_min = 0.4, r_max = 0.9, max_phase = 1.5;
  Generator init(7);
  auto m = find_mixer("lru").make(config(H, {{"ssm_n", std::to_string(N)}, {"r_min", "0.4"}, {"r_max", "0.9"},
                                             {"max_phase", "1.5"}}),
                                  init);
  auto v = values(*m);
  double mean_r2 = 0, mean_phase = 0;
  for (int n = 0; n < N; ++n) {
    const double mod = std::exp(-std::exp(double(v["nu_log"][n])));
    const double phase = std::exp(double(v["theta_log"][n]));
    ASSERT_GE(mod, r_min - 1e-6);
    ASSERT_LE(mod, r_max + 1e-6);
    ASSERT_GE(phase, 0.0);
    ASSERT_LT(phase, max_phase + 1e-6);
    EXPECT_NEAR(std::exp(double(v["gamma_log"][n])), std::sqrt(1 - mod * mod), 1e-5);
    mean_r2 += mod * mod / N;
    mean_phase += phase / N;
  }
  // |λ|² ~ U[r_min², r_max²] (not |λ| uniform: that would give a mean of r_min·r_max + (r_max − r_min)²/3).
  EXPECT_NEAR(mean_r2, (r_min * r_min + r_max * r_max) / 2, 0.01);
  EXPECT_NEAR(mean_phase, max_phase / 2, 0.03);
  auto std_of = [](const std::vector<float>& a) {
    double s = 0;
    for (float x : a) s += double(x) * x;
    return std::sqrt(s / double(a.size()));
  };
  EXPECT_NEAR(std_of(v["B_re"]), 1 / std::sqrt(2.0 * H), 0.01);
  EXPECT_NEAR(std_of(v["B_im"]), 1 / std::sqrt(2.0 * H), 0.01);
  EXPECT_NEAR(std_of(v["C_re"]) * std::sqrt(double(N)), 1.0, 0.03);
  for (const auto& p : m->named_parameters()) {
    const bool ssm = p.name == "nu_log" || p.name == "theta_log" || p.name == "gamma_log" || p.name == "B_re" ||
                     p.name == "B_im";
    EXPECT_EQ(p.group, ssm ? "ssm" : "default") << p.name;
  }
}

TEST(LRUMixer, RejectsBadRing) {
  Generator init(1);
  EXPECT_THROW(find_mixer("lru").make(config(4, {{"r_min", "0.9"}, {"r_max", "0.5"}}), init), Error);
  EXPECT_THROW(find_mixer("lru").make(config(4, {{"r_max", "1.5"}}), init), Error);
  EXPECT_THROW(find_mixer("lru").make(config(4, {{"ssm_n", "0"}}), init), Error);
}

// y with glu = false against y_t = Re(C h_t) + D u_t, h_t = λ h_{t−1} + γ B u_t, in complex<double>.
TEST(LRUMixer, RecurrenceMatchesComplexLoop) {
  const int H = 3, N = 4, B = 2, L = 9;
  for (bool bidirectional : {false, true}) {
    Generator init(11), gen(12);
    auto m = find_mixer("lru").make(
        config(H, {{"ssm_n", "4"}, {"glu", "0"}, {"bidirectional", bidirectional ? "1" : "0"},
                   {"r_min", "0.5"}, {"r_max", "0.95"}}),
        init);
    auto v = values(*m);
    Tensor x = random_x(B, L, H, 13);
    const std::vector<float> xs = x.to_vector<float>(), ys = m->forward(x, Tensor(), gen).to_vector<float>();
    using C = std::complex<double>;
    std::vector<C> lam(N);
    for (int n = 0; n < N; ++n)
      lam[n] = std::exp(C(-std::exp(double(v["nu_log"][n])), std::exp(double(v["theta_log"][n]))));
    auto bu = [&](int b, int t, int n) {
      C s = 0;
      for (int h = 0; h < H; ++h)
        s += C(v["B_re"][n * H + h], v["B_im"][n * H + h]) * double(xs[(b * L + t) * H + h]);
      return s * std::exp(double(v["gamma_log"][n]));
    };
    for (int b = 0; b < B; ++b) {
      std::vector<std::vector<C>> fwd(L, std::vector<C>(N)), rev(L, std::vector<C>(N));
      for (int n = 0; n < N; ++n) {
        C h = 0;
        for (int t = 0; t < L; ++t) fwd[t][n] = h = lam[n] * h + bu(b, t, n);
        h = 0;
        for (int t = L - 1; t >= 0; --t) rev[t][n] = h = lam[n] * h + bu(b, t, n);
      }
      for (int t = 0; t < L; ++t)
        for (int o = 0; o < H; ++o) {
          double y = double(v["D"][o]) * xs[(b * L + t) * H + o];
          for (int n = 0; n < N; ++n) {
            y += (C(v["C_re"][o * N + n], v["C_im"][o * N + n]) * fwd[t][n]).real();
            if (bidirectional) y += (C(v["C_re_rev"][o * N + n], v["C_im_rev"][o * N + n]) * rev[t][n]).real();
          }
          EXPECT_NEAR(ys[(b * L + t) * H + o], y, 2e-5 * (1 + std::abs(y))) << "b " << b << " t " << t << " h " << o;
        }
    }
  }
}

// Unidirectional: changing input t = 6 leaves outputs 0..5 unchanged; bidirectional: it does not.
TEST(LRUMixer, CausalUnlessBidirectional) {
  for (bool bidirectional : {false, true}) {
    Generator init(3), gen(4);
    auto m = find_mixer("lru").make(config(4, {{"ssm_n", "3"}, {"bidirectional", bidirectional ? "1" : "0"}}), init);
    Tensor x = random_x(1, 10, 4, 5);
    const std::vector<float> y0 = m->forward(x, Tensor(), gen).to_vector<float>();
    Tensor x2 = x.clone();
    x2.data<float>()[6 * 4 + 1] += 1.0f;
    const std::vector<float> y1 = m->forward(x2, Tensor(), gen).to_vector<float>();
    double before = 0;
    for (int i = 0; i < 6 * 4; ++i) before = std::max(before, double(std::abs(y1[i] - y0[i])));
    if (bidirectional)
      EXPECT_GT(before, 1e-6);
    else
      EXPECT_EQ(before, 0.0);
  }
}

// mask_padding: the padded tail's values never reach a real position, even through the reverse scan.
TEST(LRUMixer, MaskPaddingHidesThePadTail) {
  Generator init(3), gen(4);
  auto m = find_mixer("lru").make(config(4, {{"ssm_n", "3"}, {"bidirectional", "1"}, {"mask_padding", "1"}}), init);
  Tensor x = random_x(1, 10, 4, 5);
  std::vector<int32_t> mk(10, 1);
  for (int t = 7; t < 10; ++t) mk[size_t(t)] = 0;
  Tensor mask = Tensor::from_vector(mk, {1, 10});
  const std::vector<float> y0 = m->forward(x, mask, gen).to_vector<float>();
  Tensor x2 = x.clone();
  for (int i = 7 * 4; i < 40; ++i) x2.data<float>()[i] += 3.0f;
  const std::vector<float> y1 = m->forward(x2, mask, gen).to_vector<float>();
  for (int i = 0; i < 7 * 4; ++i) EXPECT_EQ(y0[size_t(i)], y1[size_t(i)]) << i;
}

}  // namespace
}  // namespace lra::models
