// The long-convolution mixers (models/mixers/s4d.cpp, gmlp.cpp, residual_conv.cpp) on their own, through the registry:
// shapes, finiteness, gradients into every parameter, parameter groups, the S4D kernel against a
// double-precision loop, the S4D wiring against the ops it is made of, gMLP's near-identity start and
// residual_conv's receptive field.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <map>
#include <string>

#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"
#include "ops/ssmkernel/ssmkernel.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

constexpr auto config = &test_fixtures::mixer_config;
using test_fixtures::random_x;

std::map<std::string, Tensor> params_by_name(const Mixer& m) {
  std::map<std::string, Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.name] = p.tensor;
  return out;
}

struct Setting {
  std::string model;
  std::map<std::string, std::string> extra;
};

class ConvMixers : public ::testing::TestWithParam<Setting> {};

TEST_P(ConvMixers, ShapeFiniteAndGradientsReachEveryParameter) {
  const Setting& s = GetParam();
  Generator init(1);
  auto mixer = find_mixer(s.model).make(config(8, s.extra), init);
  test_fixtures::expect_trains(*mixer, test_fixtures::last_padded_mask(), s.model);
}

INSTANTIATE_TEST_SUITE_P(
    All, ConvMixers,
    ::testing::Values(Setting{"s4d", {{"ssm_n", "8"}}}, Setting{"s4d", {{"ssm_n", "6"}, {"bidirectional", "1"}}},
                      Setting{"s4d", {{"ssm_n", "4"}, {"init", "inv"}, {"c_group", "ssm"}}},
                      Setting{"s4d", {{"ssm_n", "8"}, {"init", "legs"}, {"dt_transform", "softplus"},
                                      {"n_ssm", "1"}, {"bidirectional", "1"}}},
                      Setting{"s4d", {{"ssm_n", "6"}, {"disc", "bilinear"}, {"n_ssm", "3"}, {"dt_group", "default"}}},
                      Setting{"s4d", {{"ssm_n", "4"}, {"init", "real"}, {"disc", "bilinear"}, {"n_ssm", "5"}}},
                      Setting{"gmlp", {}}, Setting{"gmlp", {{"bidirectional", "0"}, {"groups", "2"}}},
                      Setting{"gmlp", {{"hidden", "12"}, {"groups", "4"}}},
                      Setting{"gmlp", {{"conv_scale", "none"}, {"conv_bias", "per_channel"}}},
                      Setting{"residual_conv", {{"kernel_size", "5"}}},
                      Setting{"residual_conv", {{"kernel_size", "1"}, {"hidden", "16"}}},
                      Setting{"residual_conv", {{"kernel_size", "7"}, {"hidden", "12"}, {"groups", "4"}}},
                      Setting{"residual_conv", {{"kernel_size", "0"}}}),
    [](const ::testing::TestParamInfo<Setting>& info) { return info.param.model + "_" + std::to_string(info.index); });

TEST(S4DMixer, SsmGroupAndInit) {
  Generator init(5);
  auto plain = find_mixer("s4d").make(config(4, {{"ssm_n", "8"}}), init);
  std::map<std::string, std::string> group;
  for (const auto& p : plain->named_parameters()) group[p.name] = p.group;
  EXPECT_EQ(group["log_dt"], "ssm");
  EXPECT_EQ(group["log_A_real"], "ssm");
  EXPECT_EQ(group["A_imag"], "ssm");
  EXPECT_NE(group["C"], "ssm");
  EXPECT_NE(group["D"], "ssm");
  EXPECT_NE(group["out_weight"], "ssm");
  auto bc = find_mixer("s4d").make(config(4, {{"ssm_n", "8"}, {"c_group", "ssm"}, {"bidirectional", "1"}}), init);
  for (const auto& p : bc->named_parameters())
    if (p.name == "C" || p.name == "C_anti") EXPECT_EQ(p.group, "ssm") << p.name;

  auto P = params_by_name(*plain);
  ASSERT_EQ(P["A_imag"].shape(), Shape({4, 4}));
  ASSERT_EQ(P["C"].shape(), Shape({4, 4, 2}));
  auto ai = P["A_imag"].to_vector<float>();
  for (int n = 0; n < 4; ++n) EXPECT_FLOAT_EQ(ai[size_t(4 + n)], float(M_PI * n));  // S4D-Lin
  for (float v : P["log_A_real"].to_vector<float>()) EXPECT_FLOAT_EQ(v, float(std::log(0.5)));
  for (float v : P["log_dt"].to_vector<float>()) {
    EXPECT_GE(v, std::log(1e-3) - 1e-6);
    EXPECT_LE(v, std::log(1e-1) + 1e-6);
  }
  auto inv = find_mixer("s4d").make(config(4, {{"ssm_n", "8"}, {"init", "inv"}}), init);
  auto ai_inv = params_by_name(*inv)["A_imag"].to_vector<float>();
  for (int n = 0; n < 4; ++n) EXPECT_NEAR(ai_inv[size_t(n)], 8 / M_PI * (8.0 / (1 + 2 * n) - 1), 1e-4);
}

// S4D-LegS at N = 2 in closed form: HiPPO-LegS A = [[−1, 0], [−√3, −2]], B = (1, √3), P = (√½, √(3/2)),
// so S = A + PPᵀ = −½·I + [[0, √3/2], [−√3/2, 0]]: Λ = −½ − i·√3/2 (the kept, negative-imaginary mode) with
// eigenvector (1, −i)/√2 (first component real and positive), B̃ = V*·B = (1 + i·√3)/√2 (|Im| < 2: no clip).
// The engine stores S4's A_imag = √3/2 and the conjugate B = (1 − i·√3)/√2. At N = 64 the clip of Im B̃ to
// [−2, 2] bites 11 of the 32 modes (the phase convention decides which; tests/parity/torch_models.py
// s4d_legs_init with torch.linalg.eigh counts the same 11).
TEST(S4DMixer, LegsInitIsHippoClosedForm) {
  Generator init(3);
  auto m2 = find_mixer("s4d").make(config(3, {{"ssm_n", "2"}, {"init", "legs"}}), init);
  auto P = params_by_name(*m2);
  ASSERT_EQ(P["B"].shape(), Shape({3, 1, 2}));
  auto ar = P["log_A_real"].to_vector<float>(), ai = P["A_imag"].to_vector<float>(), b = P["B"].to_vector<float>();
  for (int h = 0; h < 3; ++h) {
    EXPECT_NEAR(ar[size_t(h)], std::log(0.5), 1e-6);
    EXPECT_NEAR(ai[size_t(h)], std::sqrt(3.0) / 2, 1e-6);
    EXPECT_NEAR(b[size_t(2 * h)], 1 / std::sqrt(2.0), 1e-6);
    EXPECT_NEAR(b[size_t(2 * h + 1)], -std::sqrt(1.5), 1e-6);
  }
  auto m64 = find_mixer("s4d").make(config(2, {{"ssm_n", "64"}, {"init", "legs"}, {"n_ssm", "1"}}), init);
  auto Q = params_by_name(*m64);
  ASSERT_EQ(Q["A_imag"].shape(), Shape({1, 32}));
  auto ai64 = Q["A_imag"].to_vector<float>(), b64 = Q["B"].to_vector<float>();
  int clipped = 0;
  for (int n = 0; n < 32; ++n) {
    if (n > 0) EXPECT_LT(ai64[size_t(n)], ai64[size_t(n - 1)]) << n;  // S4's order: Im Λ ascending
    EXPECT_GT(ai64[size_t(n)], 0.f);
    EXPECT_LE(std::abs(b64[size_t(2 * n + 1)]), 2.f);
    clipped += std::abs(b64[size_t(2 * n + 1)]) == 2.f;
  }
  EXPECT_EQ(clipped, 11);
  // lin and inv start at B = 1.
  auto lin = params_by_name(*find_mixer("s4d").make(config(2, {{"ssm_n", "4"}}), init));
  auto bl = lin["B"].to_vector<float>();
  for (size_t i = 0; i < bl.size(); ++i) EXPECT_EQ(bl[i], i % 2 == 0 ? 1.f : 0.f) << i;
}

// n_ssm copies, the softplus dt parameter, dt_group = default and the bilinear kernel: the mixer's kernel is
// ops::ssm_kernel over the copies tiled so that channel h uses copy h mod n_ssm.
TEST(S4DMixer, SharedCopiesSoftplusAndGroups) {
  Generator init(4), gen(5);
  const int64_t H = 6;
  auto mixer = find_mixer("s4d").make(config(H, {{"ssm_n", "4"}, {"n_ssm", "4"}, {"dt_transform", "softplus"},
                                                 {"dt_group", "default"}, {"disc", "bilinear"}, {"init", "inv"}}),
                                      init);
  std::map<std::string, std::string> group;
  std::map<std::string, nn::ParamKind> kind;
  for (const auto& p : mixer->named_parameters()) {
    group[p.name] = p.group;
    kind[p.name] = p.kind;
  }
  EXPECT_EQ(group.count("log_dt"), 0u);
  EXPECT_EQ(group["inv_dt"], "default");
  EXPECT_EQ(kind["inv_dt"], nn::ParamKind::Bias);  // the global lr, but never decayed (S4's wd 0 for dt)
  for (const char* n : {"log_A_real", "A_imag", "B"}) EXPECT_EQ(group[n], "ssm") << n;
  auto P = params_by_name(*mixer);
  ASSERT_EQ(P["A_imag"].shape(), Shape({4, 2}));
  ASSERT_EQ(P["B"].shape(), Shape({4, 2, 2}));
  for (float v : P["inv_dt"].to_vector<float>()) {  // softplus(inv_dt) is the log-uniform dt
    const double dt = std::log1p(std::exp(double(v)));
    EXPECT_GE(dt, 1e-3 * (1 - 1e-5));
    EXPECT_LE(dt, 1e-1 * (1 + 1e-5));
  }
  // Copies differ after a perturbation, so a wrong tiling would show.
  {
    auto ai = P["A_imag"].to_vector<float>();
    for (size_t i = 0; i < ai.size(); ++i) ai[i] += 0.37f * float(i);
    P["A_imag"].copy_from(Tensor::from_vector(ai, {4, 2}));
  }
  Tensor x = random_x(2, 9, H, 9);
  Tensor y = mixer->forward(x, Tensor(), gen);
  std::vector<int64_t> copy;
  for (int64_t h = 0; h < H; ++h) copy.push_back(h % 4);
  auto rows = [&](const Tensor& t) {
    std::vector<Tensor> r;
    for (int64_t c : copy) r.push_back(ops::slice(t, 0, c, c + 1));
    return ops::concat(r, 0);
  };
  Tensor K = ops::ssm_kernel(P["inv_dt"], rows(P["log_A_real"]), rows(P["A_imag"]), rows(P["B"]), P["C"], 9,
                             {ops::SSMDt::Softplus, ops::SSMDisc::Bilinear});
  Tensor u = ops::gelu(ops::fftconv(ops::transpose(x, 1, 2), K, Tensor(), P["D"], {}));
  Tensor ref = ops::glu(ops::linear(ops::transpose(u, 1, 2), P["out_weight"], P["out_bias"]), -1);
  auto a = y.to_vector<float>(), b = ref.to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << i;
}

TEST(S4DMixer, KernelMatchesDoubleLoop) {
  Generator init(6);
  auto mixer = find_mixer("s4d").make(config(5, {{"ssm_n", "12"}}), init);
  auto P = params_by_name(*mixer);
  const int64_t H = 5, N = 6, L = 32;
  Tensor K = ops::ssm_kernel(P["log_dt"], P["log_A_real"], P["A_imag"], P["C"], L);
  auto dt = P["log_dt"].to_vector<float>(), ar = P["log_A_real"].to_vector<float>(),
       ai = P["A_imag"].to_vector<float>(), c = P["C"].to_vector<float>(), k = K.to_vector<float>();
  double worst = 0, scale = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < L; ++l) {
      std::complex<double> sum = 0;
      for (int64_t n = 0; n < N; ++n) {
        size_t hn = size_t(h * N + n);
        std::complex<double> A(-std::exp(double(ar[hn])), ai[hn]), C(c[2 * hn], c[2 * hn + 1]);
        std::complex<double> dtA = A * std::exp(double(dt[size_t(h)]));
        sum += C * (std::exp(dtA) - 1.0) / A * std::exp(dtA * double(l));
      }
      worst = std::max(worst, std::abs(2 * sum.real() - k[size_t(h * L + l)]));
      scale = std::max(scale, std::abs(2 * sum.real()));
    }
  EXPECT_GT(scale, 1e-3);
  EXPECT_LT(worst, 1e-5 * (1 + scale));  // float32 against double: exp/sincos rounding only
}

TEST(S4DMixer, ForwardIsTheDocumentedComposition) {
  Generator init(7), gen(8);
  auto mixer = find_mixer("s4d").make(config(6, {{"ssm_n", "4"}, {"bidirectional", "1"}}), init);
  auto P = params_by_name(*mixer);
  Tensor x = random_x(2, 11, 6, 9);
  Tensor y = mixer->forward(x, Tensor(), gen);
  Tensor K = ops::ssm_kernel(P["log_dt"], P["log_A_real"], P["A_imag"], P["C"], 11);
  Tensor Ka = ops::ssm_kernel(P["log_dt"], P["log_A_real"], P["A_imag"], P["C_anti"], 11);
  ops::FFTConvOptions opts;
  opts.anti = ops::AntiCausal::FromLag1;
  Tensor u = ops::gelu(ops::fftconv(ops::transpose(x, 1, 2), K, Ka, P["D"], opts));
  Tensor ref = ops::glu(ops::linear(ops::transpose(u, 1, 2), P["out_weight"], P["out_bias"]), -1);
  auto a = y.to_vector<float>(), b = ref.to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << i;
}

// Largest |out − out_bias| over the output: what the mixer adds beyond its constant bias.
double input_dependent_part(Mixer& m, const Tensor& x) {
  Generator gen(0);
  auto y = m.forward(x, Tensor(), gen).to_vector<float>();
  auto b = params_by_name(m)["out_bias"].to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - b[i % b.size()]));
  return worst;
}

TEST(GMLPMixer, NearIdentityAtInit) {
  Generator init(10);
  auto mixer = find_mixer("gmlp").make(config(16, {}), init);
  Tensor x = random_x(2, 32, 16, 11);
  // Kernel ~ N(0, 1e-5²) and conv bias 1: LN(conv) ≈ 0, so the block adds (almost) only a constant.
  const double at_init = input_dependent_part(*mixer, x);
  EXPECT_LT(at_init, 0.05);
  // The control: with an O(0.1) kernel the same mixer depends on its input, so the bound above means something.
  for (auto& p : mixer->named_parameters())
    if (p.name.rfind("kernel", 0) == 0) {
      Generator g(12);
      Tensor fresh = ops::cast(test::random_input(p.tensor.shape(), g, -0.3, 0.3), DType::F32);
      std::copy(fresh.data<float>(), fresh.data<float>() + fresh.numel(), p.tensor.data<float>());
    }
  EXPECT_GT(input_dependent_part(*mixer, x), 4 * at_init);
  EXPECT_GT(input_dependent_part(*mixer, x), 0.05);
}

// The predecessor's spatial convolution (long-transformers gmlp.py SpatialConv + fft_conv1d.py): the FFT
// with norm="ortho" scales the convolution by 1/√n, n the power of two ≥ L + K (K = 2·max_len + 1, or
// max_len causal), and num_channels = groups biases repeat over the hidden channels (channel j adds
// bias[j mod groups]). The default mixer must equal the unscaled per-channel-bias mixer given kernels
// times 1/√n and biases expanded that way; the unscaled mixer with the same kernels must not.
TEST(GMLPMixer, OrthoScaleAndSharedBiasAreThePredecessors) {
  for (bool bidirectional : {true, false}) {
    const int64_t L = 13, max_len = 32, groups = 4, hidden = 12;
    const int64_t K = bidirectional ? 2 * max_len + 1 : max_len;  // 65 or 32: n = 128 or 64
    const double n = bidirectional ? 128.0 : 64.0;
    ASSERT_TRUE(L + K <= n && 2 * (L + K) > n);
    const std::string bi = bidirectional ? "1" : "0";
    Generator init_a(21), init_b(21), gen(0);
    auto a = find_mixer("gmlp").make(config(8, {{"hidden", "12"}, {"groups", "4"}, {"bidirectional", bi}}), init_a);
    auto b = find_mixer("gmlp").make(config(8, {{"hidden", "12"}, {"groups", "4"}, {"bidirectional", bi},
                                                {"conv_scale", "none"}, {"conv_bias", "per_channel"}}),
                                     init_b);
    auto pa = params_by_name(*a), pb = params_by_name(*b);
    ASSERT_EQ(pa.at("conv_bias").shape(), Shape({groups}));
    ASSERT_EQ(pb.at("conv_bias").shape(), Shape({hidden}));
    for (int64_t r = 0; r < groups; ++r) pa.at("conv_bias").data<float>()[r] = 0.5f * float(r + 1);
    for (int64_t j = 0; j < hidden; ++j) pb.at("conv_bias").data<float>()[j] = 0.5f * float(j % groups + 1);
    for (const char* name : {"kernel_causal", "kernel_anti"}) {
      if (!pa.count(name)) continue;
      Generator g(22);
      Tensor k = ops::cast(test::random_input(pa.at(name).shape(), g, -0.3, 0.3), DType::F32);
      for (int64_t i = 0; i < k.numel(); ++i) {
        pa.at(name).data<float>()[i] = k.data<float>()[i];
        pb.at(name).data<float>()[i] = float(k.data<float>()[i] / std::sqrt(n));
      }
    }
    Tensor x = random_x(2, L, 8, 23);
    auto ya = a->forward(x, Tensor(), gen).to_vector<float>();
    auto yb = b->forward(x, Tensor(), gen).to_vector<float>();
    double worst = 0, scale = 0;
    for (size_t i = 0; i < ya.size(); ++i) {
      worst = std::max(worst, std::abs(double(ya[i]) - yb[i]));
      scale = std::max(scale, std::abs(double(yb[i])));
    }
    EXPECT_LT(worst, 1e-5 * scale) << "bidirectional " << bidirectional;
    // The control: the unscaled mixer with the unscaled kernels is another function.
    for (const char* name : {"kernel_causal", "kernel_anti"})
      if (pa.count(name))
        std::copy(pa.at(name).data<float>(), pa.at(name).data<float>() + pa.at(name).numel(), pb.at(name).data<float>());
    auto yc = b->forward(x, Tensor(), gen).to_vector<float>();
    double diff = 0;
    for (size_t i = 0; i < ya.size(); ++i) diff = std::max(diff, std::abs(double(ya[i]) - yc[i]));
    EXPECT_GT(diff, 1e-2 * scale) << "bidirectional " << bidirectional;
  }
}

// Which output positions change when input position p changes (all channels perturbed).
std::vector<bool> changed_positions(Mixer& m, int64_t L, int64_t D, int64_t p) {
  Generator gen(0);
  Tensor x = random_x(1, L, D, 13);
  auto y0 = m.forward(x, Tensor(), gen).to_vector<float>();
  Tensor x1 = x.clone();
  for (int64_t d = 0; d < D; ++d) x1.data<float>()[p * D + d] += 1.f;
  auto y1 = m.forward(x1, Tensor(), gen).to_vector<float>();
  std::vector<bool> changed(size_t(L), false);
  for (int64_t t = 0; t < L; ++t)
    for (int64_t d = 0; d < D; ++d)
      if (std::abs(y1[size_t(t * D + d)] - y0[size_t(t * D + d)]) > 1e-5) changed[size_t(t)] = true;
  return changed;
}

TEST(ResidualConvMixer, KernelSizeBoundsTheReceptiveField) {
  Generator init(14);
  for (int K : {1, 5, 11}) {
    auto mixer = find_mixer("residual_conv").make(config(4, {{"kernel_size", std::to_string(K)}}), init);
    const int64_t L = 24, p = 10;
    auto changed = changed_positions(*mixer, L, 4, p);
    for (int64_t t = 0; t < L; ++t)
      EXPECT_EQ(changed[size_t(t)], std::abs(t - p) <= K / 2) << "K=" << K << " position " << t;
  }
  auto full = find_mixer("residual_conv").make(config(4, {{"kernel_size", "0"}}), init);
  auto changed = changed_positions(*full, 24, 4, 3);
  for (int64_t t = 0; t < 24; ++t) EXPECT_TRUE(changed[size_t(t)]) << "full length, position " << t;
}

TEST(ResidualConvMixer, DenseGroupedConvMatchesADirectSum) {
  // y[t, o] = Σ_{k, i in o's group} x[t + k − K/2, i]·W[k, i, o] + b[o] (zero outside 0..L−1), then
  // ReLU and the output linear: the paper's Conv1d(D, H, K, groups, padding K/2).
  const int64_t B = 2, L = 9, D = 4, H = 6, K = 5, G = 2, Dg = D / G, Hg = H / G;
  Generator init(21);
  auto mixer = find_mixer("residual_conv")
                   .make(config(int(D), {{"kernel_size", "5"}, {"hidden", "6"}, {"groups", "2"}}), init);
  Tensor x = random_x(B, L, D, 22);
  Generator gen(0);
  std::vector<float> got = mixer->forward(x, Tensor(), gen).to_vector<float>();
  auto p = params_by_name(*mixer);
  std::vector<float> xv = x.to_vector<float>(), w = p.at("conv_weight").to_vector<float>(),
                     cb = p.at("conv_bias").to_vector<float>(), ow = p.at("out_weight").to_vector<float>(),
                     ob = p.at("out_bias").to_vector<float>();
  ASSERT_EQ(p.at("conv_weight").shape(), Shape({G, K * Dg, Hg}));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      std::vector<double> hidden(static_cast<size_t>(H));
      for (int64_t o = 0; o < H; ++o) {
        const int64_t c = o / Hg, j = o % Hg;
        double acc = cb[size_t(o)];
        for (int64_t k = 0; k < K; ++k) {
          const int64_t s = t + k - K / 2;
          if (s < 0 || s >= L) continue;
          for (int64_t i = 0; i < Dg; ++i)
            acc += double(xv[size_t((b * L + s) * D + c * Dg + i)]) * w[size_t((c * K * Dg + k * Dg + i) * Hg + j)];
        }
        hidden[size_t(o)] = std::max(acc, 0.0);
      }
      for (int64_t d = 0; d < D; ++d) {
        double want = ob[size_t(d)];
        for (int64_t o = 0; o < H; ++o) want += hidden[size_t(o)] * ow[size_t(d * H + o)];
        EXPECT_NEAR(got[size_t((b * L + t) * D + d)], want, 1e-4) << "b " << b << " t " << t << " d " << d;
      }
    }
}

TEST(ConvMixers, BadSettingsAreNamed) {
  Generator init(15);
  auto expect_error = [&](const std::string& model, std::map<std::string, std::string> extra, const std::string& text) {
    try {
      find_mixer(model).make(config(8, std::move(extra)), init);
      ADD_FAILURE() << model << ": no error, expected '" << text << "'";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error("s4d", {{"ssm_n", "7"}}, "ssm_n");
  expect_error("s4d", {{"init", "hippo"}}, "mixer s4d: init must be one of lin, inv, legs, real, got 'hippo'");
  expect_error("s4d", {{"n_ssm", "9"}}, "s4d: n_ssm must be in [0, width = 8]");
  expect_error("s4d", {{"dt_transform", "relu"}}, "mixer s4d: dt_transform must be one of exp, softplus");
  expect_error("s4d", {{"disc", "dss"}}, "mixer s4d: disc must be one of zoh, bilinear");
  expect_error("s4d", {{"bidirectional", "2"}}, "mixer s4d: bidirectional takes true or false, got '2'");
  expect_error("s4d", {{"ssm_n", "6.5"}}, "mixer s4d: ssm_n takes an integer, got '6.5'");
  expect_error("gmlp", {{"groups", "3"}}, "groups");
  expect_error("residual_conv", {{"kernel_size", "4"}}, "kernel_size");
  expect_error("residual_conv", {{"kernel_size", "5"}, {"groups", "3"}}, "groups");
  // A misspelt key is no longer ignored (it used to train the default full-length kernel): the error
  // names the key and the keys the mixer takes.
  expect_error("residual_conv", {{"kernal_size", "7"}}, "unknown setting 'kernal_size=7'");
  expect_error("residual_conv", {{"kernal_size", "7"}}, "residual_conv takes kernel_size, hidden, groups");
  expect_error("s4d", {{"ssm_n", "4"}, {"state", "16"}}, "unknown setting 'state=16'");
  expect_error("gmlp", {{"kernel_size", "7"}}, "gmlp takes hidden, groups, bidirectional, conv_scale, conv_bias");
  expect_error("gmlp", {{"conv_scale", "sqrt"}}, "mixer gmlp: conv_scale must be one of ortho, none, got 'sqrt'");
  Generator gen(0);
  auto m = find_mixer("s4d").make(config(8, {{"ssm_n", "4"}}), init);
  EXPECT_THROW(m->forward(random_x(1, 40, 8, 1), Tensor(), gen), std::exception);  // L > max_len
  EXPECT_THROW(m->forward(random_x(1, 5, 7, 1), Tensor(), gen), std::exception);   // wrong width
}

}  // namespace
}  // namespace lra::models
