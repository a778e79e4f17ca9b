// The S5 mixer (models/mixers/s5.cpp) on its own, through the registry: shapes, finiteness and gradients
// into every parameter for each option, the HiPPO-N block initialisation, the parameter groups of S5's
// opt_config choices, causality of the unidirectional layer, the option checks, and a Path-X-length run.
// The numbers themselves are checked against PyTorch by the parity cases (tests/parity/cases.txt, s5*).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/base.h"
#include "models/hippo/hippo.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

constexpr auto config = &test_fixtures::mixer_config;
using test_fixtures::random_x;

std::map<std::string, nn::NamedParameter> params_by_name(const Mixer& m) {
  std::map<std::string, nn::NamedParameter> out;
  for (const auto& p : m.named_parameters()) out[p.name] = p;
  return out;
}

class S5OptionCases : public ::testing::TestWithParam<std::map<std::string, std::string>> {};

TEST_P(S5OptionCases, ShapeFiniteAndGradientsReachEveryParameter) {
  std::map<std::string, std::string> o = GetParam();
  o.emplace("ssm_size", "8");
  o.emplace("blocks", "2");
  Generator init(1);
  auto mixer = find_mixer("s5").make(config(8, o), init);
  test_fixtures::expect_trains(*mixer, Tensor(), "s5");
}

INSTANTIATE_TEST_SUITE_P(
    Mixers, S5OptionCases,
    ::testing::Values(std::map<std::string, std::string>{},
                      std::map<std::string, std::string>{{"bidirectional", "true"}, {"c_init", "lecun_normal"},
                                                         {"activation_fn", "half_glu2"}},
                      std::map<std::string, std::string>{{"bidirectional", "true"}, {"c_init", "complex_normal"},
                                                         {"activation_fn", "full_glu"}},
                      std::map<std::string, std::string>{{"discretization", "bilinear"}, {"activation_fn", "gelu"}},
                      std::map<std::string, std::string>{{"conj_sym", "false"}, {"bidirectional", "true"}}));

// Every block starts with HiPPO-N's eigenvalues of size P/J (−½ + iω, ω ascending and ≤ 0 with conj_sym);
// without conj_sym the conjugates follow in eigh's ascending order.
TEST(S5, LambdaIsHippoPerBlock) {
  Generator init(1);
  for (bool conj : {true, false}) {
    auto m = find_mixer("s5").make(config(4, {{"ssm_size", "12"}, {"blocks", "3"}, {"conj_sym", conj ? "true" : "false"}}),
                                   init);
    auto p = params_by_name(*m);
    const std::vector<float> re = p.at("Lambda_re").tensor.to_vector<float>();
    const std::vector<float> im = p.at("Lambda_im").tensor.to_vector<float>();
    const size_t per = conj ? 2 : 4;
    ASSERT_EQ(re.size(), 3 * per);
    const hippo::NPLR n = hippo::nplr_legs(4);
    for (size_t i = 0; i < re.size(); ++i) {
      EXPECT_FLOAT_EQ(re[i], -0.5f) << i;
      const size_t m_ = i % per;
      const double want = m_ < 2 ? n.Lambda[m_].imag() : -n.Lambda[3 - m_].imag();
      EXPECT_NEAR(im[i], want, 1e-5) << i;
      if (m_ > 0) EXPECT_LT(im[i - 1], im[i]) << "ascending within a block";
    }
  }
}

// opt_config / dt_global place B and log_step as s5/train_helpers.py does (BandCdecay: the ssm lr with
// decay, "ssm_decay").
TEST(S5, ParameterGroupsFollowOptConfig) {
  struct Want {
    std::map<std::string, std::string> o;
    std::string B, log_step;
  };
  for (const Want& w : {Want{{}, "ssm", "ssm"}, Want{{{"opt_config", "BfastandCdecay"}}, "default", "ssm"},
                        Want{{{"opt_config", "BandCdecay"}}, "ssm_decay", "ssm"},
                        Want{{{"dt_global", "true"}}, "ssm", "default"}}) {
    std::map<std::string, std::string> o = w.o;
    o["ssm_size"] = "8";
    o["blocks"] = "2";
    Generator init(1);
    auto p = params_by_name(*find_mixer("s5").make(config(4, o), init));
    EXPECT_EQ(p.at("Lambda_re").group, "ssm");
    EXPECT_EQ(p.at("Lambda_im").group, "ssm");
    EXPECT_EQ(p.at("B").group, w.B);
    EXPECT_EQ(p.at("log_step").group, w.log_step);
    EXPECT_EQ(p.at("C").group, "default");
    EXPECT_EQ(p.at("D").group, "default");
    EXPECT_EQ(p.at("out2_bias").kind, nn::ParamKind::Bias);
  }
}

// Unidirectional: output t depends on inputs up to t only; bidirectional: on later inputs too.
TEST(S5, CausalUnlessBidirectional) {
  for (bool bidir : {false, true}) {
    Generator init(1), gen(2);
    auto m = find_mixer("s5").make(
        config(4, {{"ssm_size", "8"}, {"blocks", "2"}, {"bidirectional", bidir ? "true" : "false"}}), init);
    Tensor x = random_x(1, 9, 4, 3);
    std::vector<float> a = m->forward(x, Tensor(), gen).to_vector<float>();
    std::vector<float> xv = x.to_vector<float>();
    for (int c = 0; c < 4; ++c) xv[size_t(8 * 4 + c)] += 1.0f;  // change the last position only
    std::vector<float> b = m->forward(Tensor::from_vector(xv, {1, 9, 4}), Tensor(), gen).to_vector<float>();
    double before = 0;
    for (size_t i = 0; i < size_t(8 * 4); ++i) before = std::max(before, double(std::fabs(a[i] - b[i])));
    if (bidir)
      EXPECT_GT(before, 1e-6);
    else
      EXPECT_EQ(before, 0.0);
  }
}

TEST(S5, RejectsBadSizes) {
  Generator init(1);
  EXPECT_THROW(find_mixer("s5").make(config(4, {{"ssm_size", "10"}, {"blocks", "4"}}), init), Error);
  EXPECT_THROW(find_mixer("s5").make(config(4, {{"ssm_size", "9"}, {"blocks", "3"}}), init), Error);
  EXPECT_THROW(find_mixer("s5").make(config(4, {{"dt_min", "0.5"}, {"dt_max", "0.1"}}), init), Error);
}

// Path-X length: forward and backward at L = 16,384 on the CPU (tiny width; nothing [H, N, L] or L×L).
TEST(S5, RunsAtPathXLength) {
  Generator init(1), gen(2);
  MixerConfig c = config(4, {{"ssm_size", "4"}, {"blocks", "1"}, {"bidirectional", "true"}});
  c.max_len = 16384;
  auto m = find_mixer("s5").make(c, init);
  Tensor x = random_x(1, 16384, 4, 3);
  Tensor y = m->forward(x, Tensor(), gen);
  ops::sum_all(y).backward();
  for (float v : y.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
  for (const auto& p : m->named_parameters())
    for (float g : p.tensor.grad().to_vector<float>()) ASSERT_TRUE(std::isfinite(g)) << p.name;
}

}  // namespace
}  // namespace lra::models
