// The kernels probe (tools/probe/kernels.h) and the mixers' Mixer::materialized_kernels.
//
// For each mixer with kernels, the kernels the accessor returns are the ones forward() applies: the test
// convolves a random input with the accessor's taps by plain loops in double (the MixerKernel contract:
// column j at distance first_lag + j, before or after the output), runs the mixer's fixed tail on it with
// the mixer's own parameters, and compares with forward() in eval mode. An accessor that drifted from the
// forward (a second formula, a lag off by one, a missing normalisation) fails here. MEGA's EMA sits inside
// its gated attention, so its check is the shape and lag contract only.
// Then: the decay fit recovers a known rate, the total variation of a constant is 0 and of an alternating
// kernel near 2, a mixer without kernels is a readable error naming it, and `lra-probe kernels` on a
// checkpoint of a 3-step lra-listops --model s4d run writes one JSON entry per layer and the picture.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/nn.h"
#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "tests/support/process.h"
#include "tools/probe/kernels.h"

namespace {

namespace fs = std::filesystem;
using lra::Device;
using lra::Generator;
using lra::Tensor;
using lra::models::Mixer;
using lra::models::MixerKernel;

std::shared_ptr<Mixer> make_mixer(const std::string& name, int width, int max_len,
                                  const std::map<std::string, std::string>& options, uint64_t seed = 7) {
  lra::models::MixerConfig c;
  c.width = width;
  c.max_len = max_len;
  c.dropout = 0.0;
  c.options = options;
  Generator g(seed);
  auto m = lra::models::find_mixer(name).make(c, g);
  m->eval();
  return m;
}

Tensor param(const Mixer& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.name == name) return p.tensor;
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

Tensor random_input(int64_t L, int64_t H, uint64_t seed) {
  Tensor x = Tensor::empty({1, L, H});
  Generator g(seed);
  lra::nn::init::normal(x, g, 0.0, 1.0);
  return x;
}

// y[t, r] = Σ_k Σ_j taps_k[r, j] · x[t ∓ (first_lag + j), r], in double, by the MixerKernel contract
// (− for causal kernels, + for anti-causal ones); x [1, L, H], one row per channel.
std::vector<double> convolve(const Tensor& x, const std::vector<MixerKernel>& ks) {
  const int64_t L = x.dim(1), H = x.dim(2);
  const float* xd = x.data<float>();
  std::vector<double> y(size_t(L * H), 0.0);
  for (const MixerKernel& k : ks) {
    EXPECT_EQ(k.taps.dim(0), H) << k.name;
    const int64_t n = k.taps.dim(1);
    const float* t = k.taps.data<float>();
    for (int64_t h = 0; h < H; ++h)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t j = 0; j < n; ++j) {
          const int64_t s = k.anti ? l + k.first_lag + j : l - k.first_lag - j;
          if (s >= 0 && s < L) y[size_t(l * H + h)] += double(t[h * n + j]) * double(xd[s * H + h]);
        }
  }
  return y;
}

Tensor to_tensor(const std::vector<double>& v, int64_t L, int64_t H) {
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_vector(f, {1, L, H});
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<float> a = got.to_vector<float>(), b = want.to_vector<float>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(double(a[i]) - double(b[i])) > worst) worst = std::abs(double(a[i]) - double(b[i])), at = i;
  EXPECT_LE(worst, tol) << what << ": worst |forward − reference| " << worst << " at flat index " << at
                        << " (forward " << a[at] << ", reference " << b[at] << ")";
}

// s4d, s4 and sgconv share the tail GLU(Linear_H→2H(GELU(K * u + D ⊙ u))) (dropout off in eval).
// max_len > L: a shorter input than the model was built for (S4 truncates its max_len kernel to L).
void check_ssm_like(const std::string& name, const std::map<std::string, std::string>& options, int64_t L,
                    int64_t max_len) {
  SCOPED_TRACE(name + " L " + std::to_string(L) + " max_len " + std::to_string(max_len));
  const int64_t H = 6;
  auto m = make_mixer(name, int(H), int(max_len), options);
  const Tensor x = random_input(L, H, 11);
  Generator g(1);
  const Tensor y = m->forward(x, Tensor(), g);
  const std::vector<MixerKernel> ks = m->materialized_kernels(L);
  ASSERT_FALSE(ks.empty());
  const bool bidirectional = options.count("bidirectional") && options.at("bidirectional") == "true";
  ASSERT_EQ(ks.size(), bidirectional ? 2u : 1u);
  for (const MixerKernel& k : ks) EXPECT_EQ(k.taps.dim(1), L) << k.name;  // every lag the input reaches
  std::vector<double> pre = convolve(x, ks);
  const std::vector<float> D = param(*m, "D").to_vector<float>(), xd = x.to_vector<float>();
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) pre[size_t(l * H + h)] += double(D[size_t(h)]) * double(xd[size_t(l * H + h)]);
  lra::autograd::NoGrad no_grad;
  const Tensor want = lra::ops::glu(
      lra::ops::linear(lra::ops::gelu(to_tensor(pre, L, H)), param(*m, "out_weight"), param(*m, "out_bias")), -1);
  expect_close(y, want, 2e-4, name + " forward against its materialised kernels");
}

TEST(ProbeKernels, S4DKernelIsTheOneForwardApplies) {
  check_ssm_like("s4d", {{"ssm_n", "8"}}, 37, 37);
  check_ssm_like("s4d", {{"ssm_n", "8"}, {"bidirectional", "true"}, {"disc", "bilinear"}}, 37, 37);
  check_ssm_like("s4d", {{"ssm_n", "8"}}, 19, 37);
}

TEST(ProbeKernels, S4KernelIsTheOneForwardApplies) {
  check_ssm_like("s4", {{"ssm_n", "8"}}, 32, 32);
  check_ssm_like("s4", {{"ssm_n", "8"}, {"bidirectional", "true"}}, 32, 32);
  check_ssm_like("s4", {{"ssm_n", "8"}, {"bidirectional", "true"}}, 21, 32);
}

TEST(ProbeKernels, SGConvKernelIsTheOneForwardApplies) {
  check_ssm_like("sgconv", {{"kernel_dim", "4"}}, 29, 29);
  check_ssm_like("sgconv", {{"kernel_dim", "4"}, {"bidirectional", "true"}}, 29, 29);
  check_ssm_like("sgconv", {{"kernel_dim", "4"}, {"bidirectional", "true"}}, 11, 29);
}

// residual_conv, kernel_size 0: Linear_H→D(ReLU(Linear_D→H(K * u))) with the depthwise kernel.
TEST(ProbeKernels, ResidualConvFullKernelIsTheOneForwardApplies) {
  const int64_t L = 23, D = 5;
  auto m = make_mixer("residual_conv", int(D), int(L), {{"kernel_size", "0"}});
  const Tensor x = random_input(L, D, 3);
  Generator g(1);
  const Tensor y = m->forward(x, Tensor(), g);
  const std::vector<MixerKernel> ks = m->materialized_kernels(L);
  ASSERT_EQ(ks.size(), 2u);
  EXPECT_EQ(ks[0].taps.dim(1), L);      // lags 0..L−1
  EXPECT_EQ(ks[1].taps.dim(1), L - 1);  // lags 1..L−1
  lra::autograd::NoGrad no_grad;
  const Tensor h = lra::ops::relu(lra::ops::linear(to_tensor(convolve(x, ks), L, D), param(*m, "proj_weight"),
                                                   param(*m, "proj_bias")));
  expect_close(y, lra::ops::linear(h, param(*m, "out_weight"), param(*m, "out_bias")), 2e-4, "residual_conv full");
}

// residual_conv, bounded K with groups: each row is one (group, input, output) channel pair.
TEST(ProbeKernels, ResidualConvDenseKernelIsTheOneForwardApplies) {
  const int64_t L = 13, D = 4, Hc = 6, K = 5, G = 2, Dg = D / G, Hg = Hc / G;
  auto m = make_mixer("residual_conv", int(D), int(L), {{"kernel_size", "5"}, {"hidden", "6"}, {"groups", "2"}});
  const Tensor x = random_input(L, D, 5);
  Generator g(1);
  const Tensor y = m->forward(x, Tensor(), g);
  const std::vector<MixerKernel> ks = m->materialized_kernels(L);
  ASSERT_EQ(ks.size(), 2u);
  EXPECT_EQ(ks[0].taps.dim(0), G * Dg * Hg);
  EXPECT_EQ(ks[0].taps.dim(1), K / 2 + 1);
  EXPECT_EQ(ks[1].taps.dim(1), K / 2);
  const std::vector<float> xd = x.to_vector<float>(), bias = param(*m, "conv_bias").to_vector<float>();
  std::vector<double> pre(size_t(L * Hc), 0.0);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t o = 0; o < Hc; ++o) pre[size_t(l * Hc + o)] = bias[size_t(o)];
  for (const MixerKernel& k : ks) {
    const int64_t n = k.taps.dim(1);
    const float* t = k.taps.data<float>();
    for (int64_t c = 0; c < G; ++c)
      for (int64_t i = 0; i < Dg; ++i)
        for (int64_t j = 0; j < Hg; ++j) {
          const int64_t row = (c * Dg + i) * Hg + j;
          for (int64_t l = 0; l < L; ++l)
            for (int64_t q = 0; q < n; ++q) {
              const int64_t s = k.anti ? l + k.first_lag + q : l - k.first_lag - q;
              if (s >= 0 && s < L)
                pre[size_t(l * Hc + c * Hg + j)] += double(t[row * n + q]) * double(xd[size_t(s * D + c * Dg + i)]);
            }
        }
  }
  lra::autograd::NoGrad no_grad;
  const Tensor h = lra::ops::relu(to_tensor(pre, L, Hc));
  expect_close(y, lra::ops::linear(h, param(*m, "out_weight"), param(*m, "out_bias")), 2e-4, "residual_conv dense");
}

TEST(ProbeKernels, MegaGivesItsEmaKernels) {
  const int64_t L = 20, D = 6;
  auto m = make_mixer("mega", int(D), int(L), {{"z_dim", "4"}, {"ndim", "2"}, {"truncation", "12"}});
  const std::vector<MixerKernel> ks = m->materialized_kernels(L);
  ASSERT_EQ(ks.size(), 2u);  // the LRA MEGA is bidirectional
  for (const MixerKernel& k : ks) {
    EXPECT_EQ(k.taps.dim(0), D) << k.name;
    EXPECT_EQ(k.taps.dim(1), 12) << k.name;  // min(truncation, L)
    EXPECT_EQ(k.first_lag, 0) << k.name;     // both directions include lag 0 (AntiCausal::FromLag0)
  }
  EXPECT_FALSE(ks[0].anti);
  EXPECT_TRUE(ks[1].anti);
}

TEST(ProbeKernels, MixersWithoutKernelsReturnNone) {
  EXPECT_TRUE(make_mixer("transformer", 8, 16, {{"heads", "2"}})->materialized_kernels(16).empty());
  EXPECT_TRUE(make_mixer("las", 8, 16, {{"heads", "2"}})->materialized_kernels(16).empty());
  EXPECT_TRUE(make_mixer("lru", 8, 16, {})->materialized_kernels(16).empty());
}

TEST(ProbeKernels, DecayFitRecoversAKnownRate) {
  std::vector<double> lag, mag;
  for (int l = 0; l < 200; ++l) {
    lag.push_back(l);
    mag.push_back(3.0 * std::exp(-0.05 * l));
  }
  const lra::probe::DecayFit f = lra::probe::fit_decay(lag, mag);
  EXPECT_NEAR(f.rate, 0.05, 1e-9);
  EXPECT_NEAR(f.log_amplitude, std::log(3.0), 1e-9);
  // The range stops at the floor: 3e-4·peak is reached at l = ln(1e4)/0.05 ≈ 184.
  EXPECT_EQ(f.points, 185);
  // A rounding floor after the decay is not fitted.
  for (int l = 100; l < 200; ++l) mag[size_t(l)] = 1e-12;
  const lra::probe::DecayFit g = lra::probe::fit_decay(lag, mag);
  EXPECT_NEAR(g.rate, 0.05, 1e-9);
  EXPECT_EQ(g.points, 100);
  EXPECT_TRUE(std::isnan(lra::probe::fit_decay({0.0}, {1.0}).rate));
}

TEST(ProbeKernels, TotalVariationOfConstantAndAlternatingKernels) {
  const std::vector<float> constant(64, 0.7f);
  EXPECT_EQ(lra::probe::total_variation(constant.data(), 64), 0.0);
  std::vector<float> alternating(64);
  for (size_t j = 0; j < alternating.size(); ++j) alternating[j] = j % 2 ? -1.f : 1.f;
  EXPECT_NEAR(lra::probe::total_variation(alternating.data(), 64), 2.0 * 63 / 64, 1e-12);
  // A slow exponential is smooth: TV well below 1.
  std::vector<float> smooth(64);
  for (size_t j = 0; j < smooth.size(); ++j) smooth[j] = float(std::exp(-0.05 * double(j)));
  EXPECT_LT(lra::probe::total_variation(smooth.data(), 64), 0.1);
  // summarise_kernel takes the median over rows and the quartiles of |K| per lag.
  std::vector<float> rows;
  for (int r = 0; r < 3; ++r) rows.insert(rows.end(), constant.begin(), constant.end());
  rows.insert(rows.end(), alternating.begin(), alternating.end());
  const lra::probe::KernelSummary s =
      lra::probe::summarise_kernel(lra::models::mixer_kernel("causal", false, 0, Tensor::from_vector(rows, {4, 64})));
  EXPECT_EQ(s.tv, 0.0);  // three constant rows out of four
  EXPECT_NEAR(s.median[5], 0.7, 1e-6);
  EXPECT_NEAR(s.q75[5], 0.775, 1e-6);  // |K| = 0.7, 0.7, 0.7, 1: numpy's linear interpolation
}

lra::models::ModelConfig tiny_model(const std::string& mixer) {
  lra::models::ModelConfig c;
  c.model = mixer;
  c.width = 8;
  c.depth = 2;
  c.ffn = 16;
  c.max_len = 16;
  c.vocab_size = 10;
  c.num_classes = 3;
  if (mixer == "transformer") c.mixer = {{"heads", "2"}};
  if (mixer == "s4d") c.mixer = {{"ssm_n", "4"}};
  return c;
}

TEST(ProbeKernels, ProbeGivesEveryLayerAndRefusesAMixerWithoutKernels) {
  Generator g(1);
  lra::models::LraModel s4d(tiny_model("s4d"), g);
  const auto layers = lra::probe::probe_kernels(s4d);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1].layer, 1);
  ASSERT_EQ(layers[0].kernels.size(), 1u);
  EXPECT_EQ(layers[0].kernels[0].lag.size(), 16u);
  lra::models::LraModel transformer(tiny_model("transformer"), g);
  try {
    lra::probe::probe_kernels(transformer);
    ADD_FAILURE() << "a transformer has no kernels";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("mixer transformer"), std::string::npos) << e.what();
  }
}

TEST(ProbeKernels, EndToEndOnAListopsCheckpoint) {
  const fs::path dir = lra::test::scratch_dir() / "probe_kernels";
  fs::remove_all(dir);
  const std::string bin = std::string(LRA_BINARY_DIR) + "/tools/";
  const auto train = lra::test::run_command(
      bin + "lra-listops --generate --gen-train 64 --gen-val 16 --gen-min-length 8 --gen-max-length 32 " +
      "--gen-depth 3 --gen-args 3 --model s4d --width 8 --depth 2 --mixer ssm_n=4 --ffn 16 --batch 8 " +
      "--device cpu --steps 3 --eval-every 3 --plot false --out " + (dir / "run").string());
  ASSERT_EQ(train.status, 0) << train.output;
  const auto probe = lra::test::run_command(bin + "lra-probe kernels --checkpoint " +
                                            (dir / "run" / "last.safetensors").string() + " --out " +
                                            (dir / "probe").string() + " --no-plot");
  ASSERT_EQ(probe.status, 0) << probe.output;
  std::ifstream f(dir / "probe" / "kernels.json");
  ASSERT_TRUE(f.good()) << probe.output;
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["model"], "s4d");
  ASSERT_EQ(j["layers"].size(), 2u);
  for (const auto& l : j["layers"]) {
    ASSERT_EQ(l["kernels"].size(), 1u);
    EXPECT_EQ(l["kernels"][0]["median"].size(), j["length"].get<size_t>());
    EXPECT_TRUE(l["kernels"][0]["tv"].is_number());
  }
  // The picture (tools/probe/plot_kernels.py with matplotlib, as the trainer's curves.png needs).
  const auto plotted = lra::test::run_command(bin + "lra-probe kernels --checkpoint " +
                                              (dir / "run" / "last.safetensors").string() + " --out " +
                                              (dir / "plot").string());
  ASSERT_EQ(plotted.status, 0) << plotted.output;
  std::ifstream png(dir / "plot" / "kernels.png", std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG") << plotted.output;
  const auto missing = lra::test::run_command(bin + "lra-probe kernels --checkpoint " + (dir / "none").string() +
                                              " --out " + (dir / "probe").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("no file"), std::string::npos) << missing.output;
}

}  // namespace
