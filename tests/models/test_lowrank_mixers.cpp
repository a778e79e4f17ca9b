// linformer and synthesizer (models/mixers/linformer.cpp, synthesizer.cpp) on the CPU, at tiny sizes: the
// parameters each mode builds and their shapes, the LRA behaviours the headers promise (E and R sliced to the
// first L positions, padding leaking where LRA applies no mask, masked where it does), and attention dropout
// only in training. Their values against PyTorch are the parity cases (tests/parity/cases.txt).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/mixer.h"

namespace lra::models {
namespace {

constexpr int kWidth = 16, kMaxLen = 12, kLen = 10, kReal = 7;  // row 1 of the batch is padded from kReal

std::shared_ptr<Mixer> build(const std::string& name, std::map<std::string, std::string> options, int seed = 1) {
  MixerConfig mc;
  mc.width = kWidth;
  mc.max_len = kMaxLen;
  mc.dropout = 0;
  if (!options.count("attention_dropout")) options["attention_dropout"] = "0";
  mc.options = options;
  Generator init{uint64_t(seed)};
  return find_mixer(name).make(mc, init);
}

Tensor input(int64_t L = kLen, uint64_t seed = 3) {
  Generator g(seed);
  Tensor x = Tensor::empty({2, L, kWidth});
  uniform_(x, g, -1, 1);
  return x;
}

Tensor padding_mask(int64_t L = kLen) {
  std::vector<int32_t> m(size_t(2 * L), 1);
  for (int64_t l = kReal; l < L; ++l) m[size_t(L + l)] = 0;
  return Tensor::from_vector(m, {2, L});
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

std::map<std::string, Shape> shapes(const Mixer& m) {
  std::map<std::string, Shape> out;
  for (const auto& p : m.named_parameters()) out[p.name] = p.tensor.shape();
  return out;
}

std::vector<float> forward(Mixer& m, const Tensor& x, const Tensor& mask) {
  Generator g(5);
  return m.forward(x, mask, g).to_vector<float>();
}

// The outputs of the real positions of batch row 1.
std::vector<float> real_rows(const std::vector<float>& y, int64_t L = kLen) {
  return {y.begin() + L * kWidth, y.begin() + (L + kReal) * kWidth};
}

// x with the padded positions of row 1 replaced by other values.
Tensor other_padding(const Tensor& x) {
  std::vector<float> v = x.to_vector<float>();
  for (int64_t l = kReal; l < x.dim(1); ++l)
    for (int c = 0; c < kWidth; ++c) v[size_t((x.dim(1) + l) * kWidth + c)] += 0.75f;
  return Tensor::from_vector(v, x.shape());
}

TEST(Linformer, ParametersAreLrasWithoutBiases) {
  auto m = build("linformer", {{"heads", "2"}, {"qkv_dim", "8"}, {"k", "5"}});
  EXPECT_EQ(shapes(*m), (std::map<std::string, Shape>{{"query.weight", Shape({8, kWidth})},
                                                      {"key.weight", Shape({8, kWidth})},
                                                      {"value.weight", Shape({8, kWidth})},
                                                      {"out.weight", Shape({kWidth, 8})},
                                                      {"proj", Shape({kMaxLen, 5})}}));
  // E starts U(±sqrt(6 / (max_len + k))), flax's Xavier fans on the 2-D shape.
  for (const auto& p : m->named_parameters())
    if (p.name == "proj")
      for (float e : p.tensor.to_vector<float>()) EXPECT_LE(std::abs(e), std::sqrt(6.0 / (kMaxLen + 5)));
}

TEST(Linformer, ALengthLUsesTheFirstLRowsOfE) {
  auto m = build("linformer", {{"heads", "2"}, {"k", "20"}});  // k above max_len is fine
  const Tensor x = input(), mask = padding_mask();
  const std::vector<float> before = forward(*m, x, mask);
  Tensor e;
  for (const auto& p : m->named_parameters())
    if (p.name == "proj") e = p.tensor;
  float* rows = e.data<float>();
  for (int64_t i = kLen * 20; i < kMaxLen * 20; ++i) rows[i] += 1.0f;  // rows L.. are unused
  EXPECT_EQ(forward(*m, x, mask), before);
  rows[3 * 20 + 1] += 1.0f;  // row 3 is used
  EXPECT_NE(forward(*m, x, mask), before);
}

TEST(Linformer, PaddingLeaksIntoTheProjectionAsInLraUnlessMasked) {
  const Tensor x = input(), mask = padding_mask(), x2 = other_padding(x);
  auto lra = build("linformer", {{"heads", "2"}, {"k", "4"}});
  EXPECT_NE(real_rows(forward(*lra, x, mask)), real_rows(forward(*lra, x2, mask)))
      << "LRA's Linformer ignores the padding mask: padded tokens reach the real ones through E";
  auto masked = build("linformer", {{"heads", "2"}, {"k", "4"}, {"mask_padding", "true"}});
  EXPECT_EQ(real_rows(forward(*masked, x, mask)), real_rows(forward(*masked, x2, mask)));
}

TEST(Synthesizer, EachModeBuildsItsParameters) {
  const int H = 2, Q = 8, d = Q / H, k = 3;
  const std::map<std::string, Shape> projections = {{"value.weight", Shape({Q, kWidth})},
                                                    {"out.weight", Shape({kWidth, Q})}};
  auto with = [&](std::map<std::string, Shape> extra, bool dot) {
    extra.insert(projections.begin(), projections.end());
    if (dot) {
      extra["query.weight"] = Shape({Q, kWidth});
      extra["key.weight"] = Shape({Q, kWidth});
    }
    return extra;
  };
  const Shape R({H, kMaxLen, kMaxLen}), R1({H, kMaxLen, k}), R2({H, k, kMaxLen}), W1({Q, kWidth}), W2({kMaxLen, d});
  const std::map<std::string, std::map<std::string, Shape>> want = {
      {"random", with({{"random", R}}, true)},
      {"factorized_random", with({{"random1", R1}, {"random2", R2}}, false)},
      {"dense", with({{"dense_syn.weight", W1}, {"dense_syn2", W2}}, false)},
      {"dense+random", with({{"dense_syn.weight", W1}, {"dense_syn2", W2}, {"random", R}}, true)},
      {"dense+factorized_random",
       with({{"dense_syn.weight", W1}, {"dense_syn2", W2}, {"random1", R1}, {"random2", R2}}, false)}};
  for (const auto& [mode, shapes_wanted] : want) {
    const bool dot = shapes_wanted.count("query.weight") > 0;
    auto m = build("synthesizer", {{"heads", "2"},
                                   {"qkv_dim", "8"},
                                   {"k", "3"},
                                   {"mode", mode},
                                   {"dot_product", dot ? "true" : "false"}});
    EXPECT_EQ(shapes(*m), shapes_wanted) << mode;
    Generator g(1);
    const Tensor y = m->forward(input(), padding_mask(), g);
    EXPECT_EQ(y.shape(), Shape({2, kLen, kWidth})) << mode;
    EXPECT_TRUE(all_finite(y)) << mode;
  }
}

TEST(Synthesizer, PaddedKeysAreMaskedOnlyWithTheDotProduct) {
  const Tensor x = input(), mask = padding_mask(), x2 = other_padding(x);
  // (dense with the transposed layout: LRA's reshape would feed padded tokens' features to real queries.)
  for (const std::string mode : {"random", "factorized_random", "dense"}) {
    const std::map<std::string, std::string> o = {
        {"heads", "2"}, {"mode", mode}, {"k", "3"}, {"dense_layout", "transpose"}};
    auto dot = build("synthesizer", o);
    EXPECT_EQ(real_rows(forward(*dot, x, mask)), real_rows(forward(*dot, x2, mask))) << mode;
    // Without the dot product LRA applies no mask: padded values get weight.
    auto no_dot = o;
    no_dot["dot_product"] = "false";
    auto plain = build("synthesizer", no_dot);
    EXPECT_NE(real_rows(forward(*plain, x, mask)), real_rows(forward(*plain, x2, mask))) << mode;
  }
}

TEST(Synthesizer, ALengthLUsesTheLeadingBlockOfR) {
  auto m = build("synthesizer", {{"heads", "2"}, {"dot_product", "false"}});
  const Tensor x = input();
  const std::vector<float> before = forward(*m, x, Tensor());
  Tensor r;
  for (const auto& p : m->named_parameters())
    if (p.name == "random") r = p.tensor;
  float* v = r.data<float>();
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < kMaxLen; ++i)
      for (int j = 0; j < kMaxLen; ++j)
        if (i >= kLen || j >= kLen) v[(h * kMaxLen + i) * kMaxLen + j] += 1.0f;
  EXPECT_EQ(forward(*m, x, Tensor()), before);
  v[(1 * kMaxLen + 2) * kMaxLen + 4] += 1.0f;
  EXPECT_NE(forward(*m, x, Tensor()), before);
}

TEST(Synthesizer, DenseLayoutReshapeIsLrasAndDiffersFromTranspose) {
  // With one head the reshape and the transpose are the same layout; with two they differ.
  const Tensor x = input();
  auto one = [&](const char* layout, const char* heads) {
    auto m = build("synthesizer", {{"heads", heads}, {"mode", "dense"}, {"dense_layout", layout}}, 4);
    return forward(*m, x, padding_mask());
  };
  EXPECT_EQ(one("reshape", "1"), one("transpose", "1"));
  EXPECT_NE(one("reshape", "2"), one("transpose", "2"));
}

// attention_dropout drops attention weights in training only, with a fresh mask per call.
TEST(LowRankMixers, AttentionDropoutOnlyInTraining) {
  const Tensor x = input(), mask = padding_mask();
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> variants = {
      {"linformer", {{"k", "4"}}},
      {"synthesizer", {}},
      {"synthesizer", {{"mode", "dense+factorized_random"}, {"k", "3"}, {"dot_product", "false"}}}};
  for (const auto& [name, extra] : variants) {
    auto opts = extra;
    opts["heads"] = "2";
    opts["attention_dropout"] = "0.5";
    auto dropped = build(name, opts);
    opts["attention_dropout"] = "0";
    auto plain = build(name, opts);
    Generator g_drop(7), g_plain(7);
    const std::vector<float> a = dropped->forward(x, mask, g_drop).to_vector<float>();
    const std::vector<float> a2 = dropped->forward(x, mask, g_drop).to_vector<float>();
    const std::vector<float> b = plain->forward(x, mask, g_plain).to_vector<float>();
    EXPECT_NE(a, b) << name << ": training with p = 0.5 must drop weights";
    EXPECT_NE(a, a2) << name << ": each training call draws a fresh mask";
    EXPECT_EQ(g_plain.offset(), 0u) << name << ": p = 0 draws nothing";
    dropped->eval();
    Generator g_eval(7);
    EXPECT_EQ(dropped->forward(x, mask, g_eval).to_vector<float>(), b) << name << ": eval must not drop";
    EXPECT_EQ(g_eval.offset(), 0u) << name;
  }
}

TEST(LowRankMixers, BadOptionsAreRefusedNamingTheMixer) {
  auto refused = [](const std::string& name, std::map<std::string, std::string> o, const std::string& part) {
    try {
      build(name, std::move(o));
      ADD_FAILURE() << name << " accepted a bad option (" << part << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  refused("linformer", {{"k", "0"}}, "linformer: k");
  refused("linformer", {{"heads", "3"}}, "heads");
  refused("synthesizer", {{"mode", "factorized_random"}, {"k", "0"}}, "synthesizer: k");
  refused("synthesizer", {{"mode", "factorized_dense"}}, "mode");
  // Longer than the model was built for: E and R have max_len rows.
  auto m = build("linformer", {});
  Generator g(1);
  EXPECT_THROW(m->forward(input(kMaxLen + 1), Tensor(), g), Error);
}

}  // namespace
}  // namespace lra::models
