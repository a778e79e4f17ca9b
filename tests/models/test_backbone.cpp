// The LRA backbone and the attention mixers on the CPU, at tiny sizes: every attention model builds,
// gives finite logits and a gradient for every parameter; a transformer learns a small problem;
// pooling, cls token, dual and denoise heads have the documented shapes; structural properties
// (causality of LaS with P = 1, block locality of `local`, padding invariance of masked mean pooling);
// head_layers, final_norm and attention_bias; every mixer's typed, declared keys (unknown keys and values of
// the wrong type are errors naming the mixer and the key).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "engine/autograd.h"
#include "engine/io.h"
#include "engine/optim.h"
#include "engine/settings.h"
#include "models/backbone/backbone.h"
#include "ops/attention/attention.h"
#include "ops/loss/loss.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"
#include "tests/support/compare.h"

namespace lra::models {
namespace {

const std::vector<std::string> kAttentionModels = {"transformer", "rotary_transformer", "las", "las_chunk", "local"};

ModelConfig tiny(const std::string& model) {
  ModelConfig c;
  c.model = model;
  c.vocab_size = 7;
  c.num_classes = 3;
  c.max_len = 12;
  c.width = 16;
  c.depth = 2;
  c.ffn = 24;
  c.position = Position::Learned;
  c.dropout = 0.1;
  c.pooling = Pooling::MaskedMean;
  // Small blocks and windows for the L = 10 batches; each mixer gets only the keys it takes. The attention
  // mixers have their default 4 heads.
  if (model == "las") c.mixer = {{"las_P", "3"}};
  if (model == "las_chunk") c.mixer = {{"chunk", "4"}, {"las_P", "3"}};
  if (model == "local") c.mixer = {{"block", "4"}};
  return c;
}

// ids [B, L] in 1..vocab-1 with the tail of row 1 padded (id 0, mask 0).
struct Batch {
  Tensor ids, mask, labels;
};
Batch tiny_batch(int B, int L, int vocab, int classes, uint64_t seed) {
  Generator g(seed);
  std::vector<int32_t> ids(static_cast<size_t>(B * L)), mask(static_cast<size_t>(B * L), 1),
      labels(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) {
    for (int l = 0; l < L; ++l) ids[size_t(b * L + l)] = 1 + int32_t(g.below(uint32_t(vocab - 1)));
    labels[size_t(b)] = int32_t(g.below(uint32_t(classes)));
  }
  if (B > 1)
    for (int l = L - 3; l < L; ++l) {
      ids[size_t(L + l)] = 0;
      mask[size_t(L + l)] = 0;
    }
  return {Tensor::from_vector(ids, {B, L}), Tensor::from_vector(mask, {B, L}), Tensor::from_vector(labels, {B})};
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector<float>()) m = std::max(m, double(std::fabs(v)));
  return m;
}

// Max |a - b| over rows [r0, r1) of dim 1 of two [B, L, D] tensors.
double max_diff_rows(const Tensor& a, const Tensor& b, int64_t r0, int64_t r1) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  const int64_t B = a.dim(0), L = a.dim(1), D = a.dim(2);
  double m = 0;
  for (int64_t i = 0; i < B; ++i)
    for (int64_t l = r0; l < r1; ++l)
      for (int64_t d = 0; d < D; ++d) {
        size_t k = size_t((i * L + l) * D + d);
        m = std::max(m, double(std::fabs(x[k] - y[k])));
      }
  (void)L;
  return m;
}

class EveryAttentionModel : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryAttentionModel, ForwardIsFiniteAndBackwardReachesEveryParameter) {
  Generator init(1), gen(2);
  LraModel model(tiny(GetParam()), init);
  Batch b = tiny_batch(3, 10, 7, 3, 5);
  Tensor logits = model.forward(b.ids, b.mask, gen);
  ASSERT_EQ(logits.shape().vec(), (std::vector<int64_t>{3, 3}));
  EXPECT_TRUE(all_finite(logits));
  ops::cross_entropy(logits, b.labels).backward();
  auto params = model.named_parameters();
  ASSERT_GT(params.size(), 10u);
  for (const auto& p : params) {
    Tensor g = p.tensor.grad();
    ASSERT_TRUE(g.defined()) << GetParam() << ": no gradient for " << p.name;
    EXPECT_TRUE(all_finite(g)) << GetParam() << ": non-finite gradient for " << p.name;
    EXPECT_GT(max_abs(g), 0.0) << GetParam() << ": zero gradient for " << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EveryAttentionModel, ::testing::ValuesIn(kAttentionModels),
                         [](const auto& info) { return info.param; });

// Rotary variants, strided local grouping, post-norm + BatchNorm + ReLU, tied dropout, pixel input.
TEST(Backbone, VariantsForwardAndBackward) {
  struct Variant {
    const char* what;
    ModelConfig config;
  };
  std::vector<Variant> variants;
  auto add = [&](const char* what, auto edit) {
    ModelConfig c = tiny("transformer");
    edit(c);
    variants.push_back({what, c});
  };
  add("rotary per head", [](ModelConfig& c) { c.position = Position::None; c.mixer["rotary"] = "head"; });
  add("rotary full width", [](ModelConfig& c) { c.position = Position::None; c.mixer["rotary"] = "full"; });
  add("rotary half", [](ModelConfig& c) { c.position = Position::None; c.mixer["rotary"] = "half"; });
  add("sinusoidal + cls", [](ModelConfig& c) {
    c.position = Position::Sinusoidal;
    c.cls_token = true;
    c.pooling = Pooling::Cls;
  });
  add("local strided", [](ModelConfig& c) { c = tiny("local"); c.mixer["grouping"] = "strided"; });
  add("post-norm batch relu", [](ModelConfig& c) {
    c.prenorm = false;
    c.norm = NormKind::Batch;
    c.activation = Activation::Relu;
  });
  add("tied dropout, no ffn", [](ModelConfig& c) { c.tied_dropout = true; c.ffn = 0; });
  add("las cls", [](ModelConfig& c) { c = tiny("las"); c.cls_token = true; c.pooling = Pooling::Cls; });
  add("attention bias, no final norm, one-Linear head", [](ModelConfig& c) {
    c.mixer["attention_bias"] = "true";
    c.final_norm = false;
    c.head_layers = 0;
  });
  for (const Variant& v : variants) {
    Generator init(3), gen(4);
    LraModel model(v.config, init);
    Batch b = tiny_batch(2, 10, 7, 3, 6);
    Tensor logits = model.forward(b.ids, b.mask, gen);
    ASSERT_EQ(logits.shape().vec(), (std::vector<int64_t>{2, 3})) << v.what;
    EXPECT_TRUE(all_finite(logits)) << v.what;
    ops::cross_entropy(logits, b.labels).backward();
    for (const auto& p : model.named_parameters()) {
      ASSERT_TRUE(p.tensor.grad().defined()) << v.what << ": no gradient for " << p.name;
      EXPECT_TRUE(all_finite(p.tensor.grad())) << v.what << ": " << p.name;
    }
    model.eval();
    EXPECT_TRUE(all_finite(model.forward(b.ids, b.mask, gen))) << v.what << " (eval)";
  }
}

TEST(Backbone, ParameterNamesFollowTheModuleTree) {
  ModelConfig c = tiny("transformer");
  c.cls_token = true;
  c.denoise_vocab = 5;
  Generator init(1);
  LraModel model(c, init);
  std::string names;
  for (const auto& p : model.named_parameters()) names += p.name + " ";
  for (const char* n : {"embed ", "cls ", "pos ", "blocks.0.norm1.weight ", "blocks.1.mixer.qkv.weight ",
                        "blocks.1.mixer.out.weight ", "blocks.0.ffn.fc1.weight ", "blocks.0.ffn.fc2.bias ",
                        "final_norm.bias ", "head.hidden.weight ", "head.out.bias ", "denoise.weight "})
    EXPECT_NE(names.find(n), std::string::npos) << n << "not in " << names;
  EXPECT_EQ(names.find("qkv.bias"), std::string::npos) << "q/k/v projections have no bias";
}

// head_layers = 0: the classifier is one Linear on the pooled features (mlp_dim unused), for the single
// and the dual model; 1 keeps the names above; anything else is an error naming the setting.
TEST(Backbone, HeadLayersZeroIsOneLinear) {
  ModelConfig c = tiny("transformer");
  c.head_layers = 0;
  c.mlp_dim = 40;  // unused
  Generator init(1), gen(2);
  LraModel model(c, init);
  model.eval();
  std::map<std::string, Tensor> params;
  for (const auto& p : model.named_parameters()) params[p.name] = p.tensor;
  ASSERT_TRUE(params.count("head.out.weight") && params.count("head.out.bias"));
  EXPECT_EQ(params.at("head.out.weight").shape().vec(), (std::vector<int64_t>{3, 16}));
  for (const auto& [name, t] : params) EXPECT_EQ(name.find("head.hidden"), std::string::npos) << name;
  // The logits are exactly Linear(pooled): the encoder's masked mean through head.out.
  Batch b = tiny_batch(2, 10, 7, 3, 5);
  Tensor pooled = ops::masked_mean(model.encode(b.ids, b.mask, gen), b.mask);
  std::vector<float> want = ops::linear(pooled, params.at("head.out.weight"), params.at("head.out.bias")).to_vector<float>();
  std::vector<float> got = model.forward(b.ids, b.mask, gen).to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "logit " << i;

  for (const char* interaction : {"concat", "nli"}) {
    ModelConfig d = tiny("transformer");
    d.head_layers = 0;
    d.dual = true;
    d.interaction = settings::parse_choice("interaction", interaction, kInteractionNames);
    d.num_classes = 2;
    Generator init_d(1), gen_d(2);
    LraModel dual(d, init_d);
    int64_t in = 0;
    for (const auto& p : dual.named_parameters()) {
      EXPECT_EQ(p.name.find("head.hidden"), std::string::npos) << interaction << ": " << p.name;
      if (p.name == "head.out.weight") in = p.tensor.dim(1);
    }
    EXPECT_EQ(in, (std::string(interaction) == "nli" ? 4 : 2) * 16) << interaction;
    Batch b1 = tiny_batch(2, 10, 7, 2, 1), b2 = tiny_batch(2, 9, 7, 2, 2);
    EXPECT_EQ(dual.forward_pair(b1.ids, b1.mask, b2.ids, b2.mask, gen_d).shape().vec(), (std::vector<int64_t>{2, 2}));
  }

  c.head_layers = 2;
  try {
    Generator init2(1);
    LraModel bad(c, init2);
    ADD_FAILURE() << "head_layers = 2 built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head_layers 2"), std::string::npos) << e.what();
  }
}

// final_norm = false drops the norm after the last pre-norm block: encode() then returns the residual
// stream itself, whose rows are not normalised (with the norm, at init, every row has mean 0, variance 1).
TEST(Backbone, FinalNormCanBeTurnedOff) {
  auto row_stats = [](const Tensor& enc) {
    std::vector<float> v = enc.to_vector<float>();
    const int64_t D = enc.dim(2), rows = enc.numel() / D;
    double worst_mean = 0, worst_var = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double m = 0, var = 0;
      for (int64_t d = 0; d < D; ++d) m += v[size_t(r * D + d)] / double(D);
      for (int64_t d = 0; d < D; ++d) var += (v[size_t(r * D + d)] - m) * (v[size_t(r * D + d)] - m) / double(D);
      worst_mean = std::max(worst_mean, std::fabs(m));
      worst_var = std::max(worst_var, std::fabs(var - 1.0));
    }
    return std::pair<double, double>(worst_mean, worst_var);
  };
  Batch b = tiny_batch(2, 10, 7, 3, 5);
  for (bool final_norm : {true, false}) {
    ModelConfig c = tiny("transformer");
    c.final_norm = final_norm;
    Generator init(1), gen(2);
    LraModel model(c, init);
    model.eval();
    bool has_norm = false;
    for (const auto& p : model.named_parameters()) has_norm |= p.name.rfind("final_norm.", 0) == 0;
    EXPECT_EQ(has_norm, final_norm);
    auto [mean_off, var_off] = row_stats(model.encode(b.ids, b.mask, gen));
    if (final_norm) {
      EXPECT_LT(mean_off, 1e-4);
      EXPECT_LT(var_off, 1e-2);
    } else {
      EXPECT_GT(std::max(mean_off, var_off), 0.1) << "the rows look normalised without a final norm";
    }
  }
}

// attention_bias adds zero-initialised biases to the q/k/v and output projections of every attention
// mixer, and training reaches them.
TEST(Backbone, AttentionBiasAddsProjectionBiases) {
  for (const std::string& name : kAttentionModels) {
    ModelConfig c = tiny(name);
    c.mixer["attention_bias"] = "true";
    Generator init(1), gen(2);
    LraModel model(c, init);
    Batch b = tiny_batch(2, 10, 7, 3, 5);
    ops::cross_entropy(model.forward(b.ids, b.mask, gen), b.labels).backward();
    std::map<std::string, Tensor> params;
    for (const auto& p : model.named_parameters()) params[p.name] = p.tensor;
    for (int block = 0; block < 2; ++block)
      for (const auto& [proj, n] : std::vector<std::pair<std::string, int64_t>>{{"qkv", 48}, {"out", 16}}) {
        const std::string key = "blocks." + std::to_string(block) + ".mixer." + proj + ".bias";
        ASSERT_TRUE(params.count(key)) << name << ": no " << key;
        EXPECT_EQ(params.at(key).shape().vec(), (std::vector<int64_t>{n})) << name << ": " << key;
        EXPECT_GT(max_abs(params.at(key).grad()), 0.0) << name << ": zero gradient for " << key;
      }
  }
}

TEST(Backbone, PixelInputUsesALinearEncoder) {
  ModelConfig c = tiny("transformer");
  c.input = Input::Scalars;
  c.num_classes = 10;
  Generator init(1), gen(2);
  LraModel model(c, init);
  std::vector<float> px(2 * 9);
  for (size_t i = 0; i < px.size(); ++i) px[i] = float(i % 5) / 4.0f;
  Tensor logits = model.forward(Tensor::from_vector(px, {2, 9, 1}), Tensor(), gen);
  EXPECT_EQ(logits.shape().vec(), (std::vector<int64_t>{2, 10}));
  EXPECT_THROW(model.forward(tiny_batch(2, 9, 7, 3, 1).ids, Tensor(), gen), Error);
}

// A 1-layer transformer learns "is token 1 more frequent than token 2?" on a fixed batch.
TEST(Backbone, OneLayerTransformerLearns) {
  const int B = 32, L = 9;
  Generator data(7);
  std::vector<int32_t> ids(static_cast<size_t>(B * L)), labels(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) {
    int ones = 0;
    for (int l = 0; l < L; ++l) {
      int32_t t = 1 + int32_t(data.below(2));
      ids[size_t(b * L + l)] = t;
      ones += t == 1;
    }
    labels[size_t(b)] = ones * 2 > L ? 1 : 0;
  }
  Tensor x = Tensor::from_vector(ids, {B, L}), y = Tensor::from_vector(labels, {B});
  Tensor mask = Tensor::ones({B, L}, DType::I32);
  ModelConfig c = tiny("transformer");
  c.depth = 1;
  c.num_classes = 2;
  c.dropout = 0;
  c.pooling = Pooling::Mean;
  Generator init(8), gen(9);
  LraModel model(c, init);
  optim::AdamWConfig cfg;
  optim::AdamW opt(model.named_parameters(), cfg);
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    Tensor loss = ops::cross_entropy(model.forward(x, mask, gen), y);
    loss.backward();
    opt.step(1e-2);
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_LT(last, 0.5 * first) << "loss went from " << first << " to " << last;
}

TEST(Backbone, PoolingModesAndClsTokenShapes) {
  for (bool cls : {false, true})
    for (const char* pooling : {"cls", "masked_mean", "mean", "sum"}) {
      ModelConfig c = tiny("transformer");
      c.cls_token = cls;
      c.pooling = settings::parse_choice("pooling", pooling, kPoolingNames);
      Generator init(1), gen(2);
      LraModel model(c, init);
      Batch b = tiny_batch(2, 10, 7, 3, 3);
      Tensor enc = model.encode(b.ids, b.mask, gen);
      EXPECT_EQ(enc.shape().vec(), (std::vector<int64_t>{2, cls ? 11 : 10, 16})) << pooling << " cls " << cls;
      Tensor logits = model.forward(b.ids, b.mask, gen);
      EXPECT_EQ(logits.shape().vec(), (std::vector<int64_t>{2, 3})) << pooling << " cls " << cls;
      EXPECT_TRUE(all_finite(logits));
    }
  // With a cls token the position table has max_len + 1 rows: a max_len input still fits.
  ModelConfig c = tiny("transformer");
  c.cls_token = true;
  Generator init(1), gen(2);
  LraModel model(c, init);
  EXPECT_EQ(model.encode(tiny_batch(1, 12, 7, 3, 1).ids, Tensor(), gen).dim(1), 13);
  EXPECT_THROW(model.encode(tiny_batch(1, 13, 7, 3, 1).ids, Tensor(), gen), Error);
}

// Masked mean pooling ignores what sits at padded positions (they are masked as keys and not pooled).
TEST(Backbone, MaskedMeanIgnoresPaddedTokens) {
  ModelConfig c = tiny("transformer");
  Generator init(1), gen(2);
  LraModel model(c, init);
  model.eval();
  Batch b = tiny_batch(2, 10, 7, 3, 4);
  Tensor a = model.forward(b.ids, b.mask, gen);
  std::vector<int32_t> ids = b.ids.to_vector<int32_t>();
  for (int l = 7; l < 10; ++l) ids[size_t(10 + l)] = 5;  // row 1's padded tail, still masked
  Tensor other = model.forward(Tensor::from_vector(ids, {2, 10}), b.mask, gen);
  EXPECT_LT(max_diff_rows(ops::reshape(a, {2, 1, 3}), ops::reshape(other, {2, 1, 3}), 0, 1), 1e-5);
  // ... while unmasking them changes row 1.
  Tensor ones = Tensor::ones({2, 10}, DType::I32);
  Tensor changed = model.forward(Tensor::from_vector(ids, {2, 10}), ones, gen);
  EXPECT_GT(max_diff_rows(ops::reshape(a, {2, 1, 3}), ops::reshape(changed, {2, 1, 3}), 0, 1), 1e-4);
}

// Issue 13 item 2: the dropout after embedding + positions is its own setting, input_dropout (default 0:
// S4's dropinp, the predecessor has none), not the model's dropout rate. With no blocks and no final norm
// encode() is embedding + positions (+ input dropout), so dropped entries are exact zeros.
TEST(Backbone, InputDropoutOnlyWhenSet) {
  for (bool tied : {false, true}) {
    ModelConfig c = tiny("transformer");
    c.depth = 0;
    c.final_norm = false;
    c.dropout = 0.5;  // the blocks' rate: must not reach the input
    c.tied_dropout = tied;
    Generator init(1);
    LraModel model(c, init);
    Batch b = tiny_batch(2, 10, 7, 3, 5);
    Generator g1(2), g2(2);
    model.eval();
    std::vector<float> plain = model.encode(b.ids, b.mask, g1).to_vector<float>();
    model.train();
    EXPECT_EQ(model.encode(b.ids, b.mask, g2).to_vector<float>(), plain)
        << "tied " << tied << ": input_dropout = 0 must leave the input alone in training";

    c.input_dropout = 0.5;
    Generator init2(1), g3(2);
    LraModel dropped(c, init2);
    std::vector<float> d = dropped.encode(b.ids, b.mask, g3).to_vector<float>();
    ASSERT_EQ(d.size(), plain.size());
    int zeros = 0, kept = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      if (d[i] == 0.0f) ++zeros;
      else if (std::fabs(d[i] - 2.0f * plain[i]) <= 1e-5f * std::fabs(plain[i]) + 1e-6f) ++kept;
    }
    EXPECT_EQ(zeros + kept, int(d.size())) << "tied " << tied << ": each entry is dropped or scaled by 1/(1-p)";
    EXPECT_GT(zeros, 0) << "tied " << tied;
    EXPECT_GT(kept, 0) << "tied " << tied;
    if (tied)  // one mask per (batch row, channel): a dropped channel is zero at every position
      for (int64_t bi = 0; bi < 2; ++bi)
        for (int64_t ch = 0; ch < 16; ++ch) {
          const bool first = d[size_t((bi * 10) * 16 + ch)] == 0.0f;
          for (int64_t l = 1; l < 10; ++l) EXPECT_EQ(d[size_t((bi * 10 + l) * 16 + ch)] == 0.0f, first);
        }
  }
  ModelConfig bad = tiny("transformer");
  bad.input_dropout = 1.0;
  Generator init(1);
  EXPECT_THROW(LraModel(bad, init), Error);
}

// Issue 13 item 7: cls_init = normal draws the cls row like an embedding row (the predecessor's CLS id).
TEST(Backbone, ClsInitZerosOrNormal) {
  for (ClsInit how : {ClsInit::Zeros, ClsInit::Normal}) {
    ModelConfig c = tiny("transformer");
    c.cls_token = true;
    c.cls_init = how;
    Generator init(1);
    LraModel model(c, init);
    double sum_sq = 0;
    for (const auto& p : model.named_parameters())
      if (p.name == "cls")
        for (float v : p.tensor.to_vector<float>()) sum_sq += double(v) * v;
    if (how == ClsInit::Zeros) EXPECT_EQ(sum_sq, 0.0);
    else EXPECT_GT(sum_sq, 16 * 0.2);  // 16 draws of N(0, 1)
  }
}

// Issue 13 item 6: LRA's pixel mask. input_mask() masks id 0; the model masks those positions as keys and
// as queries, so a batch with black pixels gives other logits than without the setting, and a batch with
// none gives the same.
TEST(Backbone, MaskZeroPixels) {
  ModelConfig c = tiny("transformer");
  c.pooling = Pooling::Mean;
  c.dropout = 0;
  Generator init(1);
  LraModel plain(c, init);
  c.mask_zero_pixels = true;
  Generator init2(1);
  LraModel masked(c, init2);
  plain.eval();
  masked.eval();

  std::vector<int32_t> ids = {3, 0, 5, 0, 2, 6, 0, 1, 4, 0};
  Tensor t = Tensor::from_vector(ids, {1, 10});
  Tensor given = Tensor::from_vector(std::vector<int32_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {1, 10});
  EXPECT_EQ(masked.input_mask(t, given).to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 1, 0, 1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(masked.input_mask(t, Tensor()).to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 1, 0, 1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(plain.input_mask(t, given).to_vector<int32_t>(), given.to_vector<int32_t>());  // off: the mask as given
  EXPECT_THROW(masked.input_mask(Tensor::from_vector(std::vector<float>(10, 1.0f), {1, 10}), given), Error);

  Generator gen(3);
  Tensor m = masked.input_mask(t, Tensor());
  std::vector<float> a = plain.forward(t, Tensor::ones({1, 10}, DType::I32), gen).to_vector<float>();
  std::vector<float> key_only = plain.forward(t, m, gen).to_vector<float>();  // keys masked, queries not
  std::vector<float> both = masked.forward(t, m, gen).to_vector<float>();
  EXPECT_NE(both, a);
  EXPECT_NE(both, key_only) << "masked queries must attend uniformly to every key, not to the real keys";
  // No black pixel: nothing is masked, the same model.
  std::vector<int32_t> lit = {3, 1, 5, 2, 2, 6, 4, 1, 4, 2};
  Tensor tl = Tensor::from_vector(lit, {1, 10});
  EXPECT_EQ(masked.forward(tl, masked.input_mask(tl, Tensor()), gen).to_vector<float>(),
            plain.forward(tl, Tensor::ones({1, 10}, DType::I32), gen).to_vector<float>());

  // Only the full-attention mixers take it, and the error says so.
  for (const char* other : {"local", "las", "s4d", "gmlp", "residual_conv"}) {
    ModelConfig o = tiny(other);
    o.mask_zero_pixels = true;
    Generator g(1);
    try {
      LraModel refused(o, g);
      ADD_FAILURE() << other << " must refuse mask_zero_pixels";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("mask_zero_pixels"), std::string::npos) << e.what();
    }
  }
}

// The query mask is composed of existing ops, so it runs on the GPU as on the CPU.
TEST(Backbone, MaskZeroPixelsRunsOnTheGpuAsOnTheCpu) {
  LRA_REQUIRE_CUDA();
  ModelConfig c = tiny("transformer");
  c.mask_zero_pixels = true;
  c.pooling = Pooling::Mean;
  c.cls_token = true;
  c.mixer = {{"qkv_dim", "16"}, {"heads", "4"}, {"attention_dropout", "0"}};
  Generator init(5), gen(6);
  LraModel model(c, init);
  model.eval();
  std::vector<int32_t> ids = {0, 2, 5, 0, 2, 6, 0, 1, 4, 0, 3, 3, 0, 0, 2, 6, 1, 0, 4, 5};
  Tensor t = Tensor::from_vector(ids, {2, 10});
  Tensor m = model.input_mask(t, Tensor());
  std::vector<float> cpu = model.forward(t, m, gen).to_vector<float>();
  model.to(Device::CUDA);
  std::vector<float> gpu = model.forward(t.to(Device::CUDA), m.to(Device::CUDA), gen).to_vector<float>();
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-4) << i;
}

// Changes tokens [changed_from, L) of a one-layer model's input and returns the largest change of
// encode() over rows [r0, r1).
double change_before(const std::string& model_name, std::map<std::string, std::string> extra, int L, int changed_from,
                     int64_t r0, int64_t r1) {
  ModelConfig c = tiny(model_name);
  c.mixer = std::move(extra);
  c.depth = 1;
  Generator init(1), gen(2);
  LraModel model(c, init);
  model.eval();
  Batch b = tiny_batch(1, L, 7, 3, 8);
  Tensor a = model.encode(b.ids, Tensor(), gen);
  std::vector<int32_t> ids = b.ids.to_vector<int32_t>();
  for (int l = changed_from; l < L; ++l) ids[size_t(l)] = ids[size_t(l)] % 6 + 1;
  Tensor e = model.encode(Tensor::from_vector(ids, {1, L}), Tensor(), gen);
  return max_diff_rows(a, e, r0, r1);
}

TEST(Backbone, LasWithoutPoolingIsCausal) {
  EXPECT_LT(change_before("las", {{"las_P", "1"}}, 10, 7, 0, 7), 1e-6);
  EXPECT_GT(change_before("las", {{"las_P", "1"}}, 10, 7, 7, 10), 1e-4);
  // The centred pooling window looks ahead by (P - 1) / 2 positions.
  EXPECT_GT(change_before("las", {{"las_P", "3"}}, 10, 7, 6, 7), 1e-6);
  EXPECT_LT(change_before("las_chunk", {{"las_P", "1"}, {"chunk", "4"}}, 10, 7, 0, 7), 1e-6);
}

// Encodes one fixed batch with a one-layer model (the same seed gives the same parameters whenever the
// parameter shapes agree, which holds across the attention mixers).
Tensor encode_once(const std::string& model_name, std::map<std::string, std::string> extra,
                   Position position = Position::Learned) {
  ModelConfig c = tiny(model_name);
  c.mixer = std::move(extra);
  c.position = position;
  c.depth = 1;
  Generator init(1), gen(2);
  LraModel model(c, init);
  model.eval();
  Batch b = tiny_batch(2, 10, 7, 3, 8);
  return model.encode(b.ids, b.mask, gen);
}

TEST(Backbone, LasWithZeroDecayAndNoPoolingIsCausalAttention) {
  Tensor causal = encode_once("transformer", {{"causal", "true"}});
  EXPECT_LT(max_diff_rows(encode_once("las", {{"las_B", "0"}, {"las_P", "1"}}), causal, 0, 10), 1e-5);
  // The decay and the pooling each change the result.
  EXPECT_GT(max_diff_rows(encode_once("las", {{"las_B", "0.5"}, {"las_P", "1"}}), causal, 0, 10), 1e-4);
  EXPECT_GT(max_diff_rows(encode_once("las", {{"las_B", "0"}, {"las_P", "3"}}), causal, 0, 10), 1e-4);
  EXPECT_GT(max_diff_rows(encode_once("transformer", {}), causal, 0, 10), 1e-4);
}

TEST(Backbone, RotaryModesDiffer) {
  const Position off = Position::None;
  Tensor none = encode_once("transformer", {}, off);
  Tensor head = encode_once("transformer", {{"rotary", "head"}}, off);
  Tensor full = encode_once("transformer", {{"rotary", "full"}}, off);
  Tensor half = encode_once("transformer", {{"rotary", "half"}}, off);
  // rotary_transformer defaults to rotary per head (and to PyTorch's init of the projections).
  EXPECT_LT(max_diff_rows(encode_once("rotary_transformer", {}, off),
                          encode_once("transformer", {{"rotary", "head"}, {"projection_init", "torch"}}, off), 0, 10),
            1e-6);
  EXPECT_GT(max_diff_rows(none, head, 0, 10), 1e-4);
  EXPECT_GT(max_diff_rows(head, full, 0, 10), 1e-4);
  EXPECT_GT(max_diff_rows(full, half, 0, 10), 1e-4);
  // An explicit rotary overrides the mixer's default.
  EXPECT_LT(max_diff_rows(encode_once("rotary_transformer", {{"rotary", "none"}}, off),
                          encode_once("transformer", {{"projection_init", "torch"}}, off), 0, 10),
            1e-6);
}

TEST(Backbone, LocalAttentionStaysInsideItsBlock) {
  // Contiguous blocks of 4: changing tokens 8, 9 (block 2) leaves positions 0..7 unchanged.
  EXPECT_LT(change_before("local", {{"block", "4"}}, 10, 8, 0, 8), 1e-6);
  EXPECT_GT(change_before("local", {{"block", "4"}}, 10, 8, 8, 10), 1e-4);
  // Strided groups of 4 over L = 8. LRA's grouping pads a whole extra block (Lp = 12, stride 3): groups
  // {0, 3, 6, 9}, {1, 4, 7, 10}, {2, 5, 8, 11}, so changing token 7 moves positions 1, 4 and 7 only.
  // strided_fixed pads to a multiple (stride 2): {0, 2, 4, 6} and {1, 3, 5, 7}, every odd position moves.
  for (const auto& [grouping, stride] : std::vector<std::pair<std::string, int>>{{"strided", 3}, {"strided_fixed", 2}}) {
    ModelConfig c = tiny("local");
    c.mixer = {{"block", "4"}, {"grouping", grouping}};
    c.depth = 1;
    Generator init(1), gen(2);
    LraModel model(c, init);
    model.eval();
    Batch b = tiny_batch(1, 8, 7, 3, 9);
    Tensor a = model.encode(b.ids, Tensor(), gen);
    std::vector<int32_t> ids = b.ids.to_vector<int32_t>();
    ids[7] = ids[7] % 6 + 1;
    Tensor e = model.encode(Tensor::from_vector(ids, {1, 8}), Tensor(), gen);
    for (int64_t l = 0; l < 8; ++l) {
      double d = max_diff_rows(a, e, l, l + 1);
      if (l % stride != 7 % stride) EXPECT_LT(d, 1e-6) << grouping << ": position " << l;
      else EXPECT_GT(d, 1e-5) << grouping << ": position " << l;
    }
  }
}

TEST(Backbone, DualHeadBothInteractions) {
  int64_t concat_in = 0, nli_in = 0;
  for (const char* interaction : {"concat", "nli"}) {
    ModelConfig c = tiny("transformer");
    c.dual = true;
    c.interaction = settings::parse_choice("interaction", interaction, kInteractionNames);
    c.num_classes = 2;
    c.mlp_dim = 8;
    Generator init(1), gen(2);
    LraModel model(c, init);
    Batch b1 = tiny_batch(2, 10, 7, 2, 1), b2 = tiny_batch(2, 9, 7, 2, 2);
    Tensor logits = model.forward_pair(b1.ids, b1.mask, b2.ids, b2.mask, gen);
    EXPECT_EQ(logits.shape().vec(), (std::vector<int64_t>{2, 2})) << interaction;
    ops::cross_entropy(logits, b1.labels).backward();
    for (const auto& p : model.named_parameters()) {
      ASSERT_TRUE(p.tensor.grad().defined()) << interaction << ": " << p.name;
      if (p.name == "head.hidden.weight") (std::string(interaction) == "nli" ? nli_in : concat_in) = p.tensor.dim(1);
      if (p.name == "head.hidden2.weight") EXPECT_EQ(p.tensor.dim(0), 4);
    }
    EXPECT_THROW(model.forward(b1.ids, b1.mask, gen), Error);
  }
  EXPECT_EQ(concat_in, 2 * 16);
  EXPECT_EQ(nli_in, 4 * 16);
}

// classify(encode()) is forward(), and classify_pair() of two encodings is forward_pair(), with or without a
// cls row, for each pooling (single-pass denoising reads the class logits and the reconstruction from one
// encode()).
TEST(Backbone, ClassifyOnEncodedIsForward) {
  for (bool cls : {false, true})
    for (Pooling pooling : {Pooling::MaskedMean, Pooling::Cls, Pooling::Mean}) {
      ModelConfig c = tiny("transformer");
      c.cls_token = cls;
      c.pooling = pooling;
      Generator init(1), gen(2);
      Batch b1 = tiny_batch(2, 10, 7, 3, 1), b2 = tiny_batch(2, 10, 7, 3, 2);
      LraModel single(c, init);
      single.eval();
      EXPECT_EQ(single.classify(single.encode(b1.ids, b1.mask, gen), b1.mask).to_vector<float>(),
                single.forward(b1.ids, b1.mask, gen).to_vector<float>())
          << "cls " << cls;
      EXPECT_THROW(single.classify_pair(single.encode(b1.ids, b1.mask, gen), b1.mask,
                                        single.encode(b2.ids, b2.mask, gen), b2.mask),
                   Error);
      c.dual = true;
      LraModel dual(c, init);
      dual.eval();
      Tensor e1 = dual.encode(b1.ids, b1.mask, gen), e2 = dual.encode(b2.ids, b2.mask, gen);
      EXPECT_EQ(dual.classify_pair(e1, b1.mask, e2, b2.mask).to_vector<float>(),
                dual.forward_pair(b1.ids, b1.mask, b2.ids, b2.mask, gen).to_vector<float>())
          << "cls " << cls;
      EXPECT_THROW(dual.classify(e1, b1.mask), Error);
    }
}

TEST(Backbone, DenoiseHeadShape) {
  for (bool cls : {false, true}) {
    ModelConfig c = tiny("transformer");
    c.cls_token = cls;
    c.denoise_vocab = 9;
    Generator init(1), gen(2);
    LraModel model(c, init);
    Batch b = tiny_batch(2, 10, 7, 3, 1);
    Tensor logits = model.denoise_logits(model.encode(b.ids, b.mask, gen));
    EXPECT_EQ(logits.shape().vec(), (std::vector<int64_t>{2, 10, 9})) << "cls " << cls;
  }
  Generator init(1);
  LraModel plain(tiny("transformer"), init);
  EXPECT_THROW(plain.denoise_logits(Tensor::zeros({1, 4, 16})), Error);
}

// momentum: the running statistics' update weight m (PyTorch's convention), 0.1 by default; bn_momentum sets it.
class BatchNormMomentum : public testing::TestWithParam<double> {};

TEST_P(BatchNormMomentum, UsesBatchThenRunningStatistics) {
  const double mom = GetParam();
  Norm norm(NormKind::Batch, 3, mom);
  std::vector<float> v(2 * 5 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 3) * 2.0f + float(i % 7) - 1.0f;
  Tensor x = Tensor::from_vector(v, {2, 5, 3});
  std::vector<float> y = norm.forward(x).to_vector<float>();
  for (int ch = 0; ch < 3; ++ch) {
    double m = 0, s = 0;
    for (int r = 0; r < 10; ++r) m += y[size_t(r * 3 + ch)] / 10.0;
    for (int r = 0; r < 10; ++r) s += (y[size_t(r * 3 + ch)] - m) * (y[size_t(r * 3 + ch)] - m) / 10.0;
    EXPECT_NEAR(m, 0.0, 1e-5) << "channel " << ch;
    EXPECT_NEAR(s, 1.0, 1e-3) << "channel " << ch;
  }
  norm.eval();
  // Running statistics after one step: (1 − m) * (0, 1) + m * batch (unbiased variance, as PyTorch);
  // the eval output is not normalised.
  std::vector<float> e = norm.forward(x).to_vector<float>();
  for (int ch = 0; ch < 3; ++ch) {
    double m = 0, var = 0;
    for (int r = 0; r < 10; ++r) m += v[size_t(r * 3 + ch)] / 10.0;
    for (int r = 0; r < 10; ++r) var += (v[size_t(r * 3 + ch)] - m) * (v[size_t(r * 3 + ch)] - m) / 9.0;
    double rm = mom * m, rv = (1 - mom) + mom * var;
    for (int r = 0; r < 10; ++r)
      EXPECT_NEAR(e[size_t(r * 3 + ch)], (v[size_t(r * 3 + ch)] - rm) / std::sqrt(rv + 1e-5), 1e-4)
          << "channel " << ch << " row " << r;
  }
}

// 0.1: PyTorch's default and ours; 0.05 and 0.01: S5's and minimal-LRU's flax momenta (0.95, 0.99).
INSTANTIATE_TEST_SUITE_P(Momenta, BatchNormMomentum, testing::Values(0.1, 0.05, 0.01));

TEST(Backbone, BatchNormRunningStatisticsTravelWithTheCheckpoint) {
  // Train-mode steps move the running statistics away from (0, 1); a fresh model loading the
  // checkpoint must then give the identical eval output, which it cannot with the default statistics.
  ModelConfig cfg = tiny("transformer");
  cfg.norm = NormKind::Batch;
  cfg.dropout = 0;
  Generator init(5), gen(7);
  LraModel a(cfg, init);
  Generator init_b(5);
  LraModel b(cfg, init_b);
  Batch batch = tiny_batch(4, 12, 7, 3, 9);
  for (int i = 0; i < 3; ++i) a.forward(batch.ids, batch.mask, gen);
  bool has_buffers = false;
  for (const auto& buf : a.named_buffers()) has_buffers |= buf.name == "blocks.0.norm1.running_var";
  EXPECT_TRUE(has_buffers) << "BatchNorm statistics must be named module buffers";
  a.eval();
  b.eval();
  std::string path = (lra::test::scratch_dir() / "lra_bn_buffers.safetensors").string();
  io::save_checkpoint(path, a, nullptr, 3, gen, "{}");
  std::vector<float> before = b.forward(batch.ids, batch.mask, gen).to_vector<float>();
  io::load_checkpoint(path, b, nullptr, nullptr);
  std::vector<float> want = a.forward(batch.ids, batch.mask, gen).to_vector<float>();
  std::vector<float> got = b.forward(batch.ids, batch.mask, gen).to_vector<float>();
  EXPECT_EQ(got, want) << "the loaded model must reproduce the saved one's eval output exactly";
  EXPECT_NE(before, want) << "the test is void if the running statistics never moved";
  std::filesystem::remove(path);
}

// Attention dropout (the mixers' attention_dropout) reaches every attention
// mixer in training, with a fresh mask per call, and is off in eval: an eval mixer with p = 0.5 gives
// exactly what the same mixer built with p = 0 gives.
TEST(AttentionMixers, AttentionDropoutOnlyInTraining) {
  struct Variant {
    std::string model;
    std::map<std::string, std::string> extra;
  };
  const std::vector<Variant> variants = {{"transformer", {}}, {"rotary_transformer", {}}, {"las", {{"las_P", "3"}}},
                                         {"las_chunk", {{"chunk", "4"}}}, {"local", {{"block", "4"}}},
                                         {"local", {{"block", "4"}, {"grouping", "strided"}}}};
  Generator data(3);
  Tensor x = Tensor::empty({2, 10, 16});
  uniform_(x, data, -1, 1);
  std::vector<int32_t> m(20, 1);
  for (int l = 7; l < 10; ++l) m[size_t(10 + l)] = 0;
  Tensor mask = Tensor::from_vector(m, {2, 10});
  for (const Variant& v : variants) {
    const std::string what = v.model + (v.extra.count("grouping") ? " strided" : "");
    MixerConfig mc;
    mc.width = 16;
    mc.max_len = 12;
    mc.options = v.extra;
    auto make = [&](double p) {
      Generator init(1);
      mc.options["attention_dropout"] = settings::format_double(p);
      mc.dropout = 0;  // the model dropout must not be what drops attention weights
      return find_mixer(v.model).make(mc, init);
    };
    std::shared_ptr<Mixer> dropped = make(0.5), plain = make(0.0);
    Generator g_drop(7), g_plain(7);
    std::vector<float> a = dropped->forward(x, mask, g_drop).to_vector<float>();
    std::vector<float> a2 = dropped->forward(x, mask, g_drop).to_vector<float>();
    std::vector<float> b = plain->forward(x, mask, g_plain).to_vector<float>();
    EXPECT_NE(a, b) << what << ": training with p = 0.5 must drop weights";
    EXPECT_NE(a, a2) << what << ": each training call draws a fresh mask";
    EXPECT_GT(g_drop.offset(), 0u) << what;
    EXPECT_EQ(g_plain.offset(), 0u) << what << ": p = 0 draws nothing";
    dropped->eval();
    Generator g_eval(7);
    EXPECT_EQ(dropped->forward(x, mask, g_eval).to_vector<float>(), b) << what << ": eval must not drop";
    EXPECT_EQ(g_eval.offset(), 0u) << what << ": eval draws nothing";
  }
  MixerConfig bad;
  bad.width = 16;
  bad.options = {{"attention_dropout", "1.0"}};
  Generator init(1);
  EXPECT_THROW(find_mixer("transformer").make(bad, init), Error);
}

TEST(AttentionMixers, QkvDimSetsTheAttentionWidth) {
  // LRA's qkv_dim: q, k, v (and the heads) are Q wide inside a D-wide model; the output projection maps
  // Q back to D. Every attention mixer takes it.
  for (const std::string& model : kAttentionModels) {
    MixerConfig mc;
    mc.width = 16;
    mc.max_len = 12;
    mc.options = {{"qkv_dim", "8"}, {"heads", "2"}};
    if (model == "las_chunk") mc.options["chunk"] = "4";
    if (model == "local") mc.options["block"] = "4";
    Generator init(2), gen(3);
    auto mixer = find_mixer(model).make(mc, init);
    std::map<std::string, Shape> shapes;
    for (const auto& p : mixer->named_parameters()) shapes[p.name] = p.tensor.shape();
    EXPECT_EQ(shapes.at("qkv.weight"), Shape({24, 16})) << model;
    EXPECT_EQ(shapes.at("out.weight"), Shape({16, 8})) << model;
    Batch b = tiny_batch(2, 10, 7, 3, 4);
    Tensor x = Tensor::empty({2, 10, 16});
    uniform_(x, gen, -1, 1);
    Tensor y = mixer->forward(x, b.mask, gen);
    EXPECT_EQ(y.shape(), Shape({2, 10, 16})) << model;
    EXPECT_TRUE(all_finite(y)) << model;
  }
  MixerConfig bad;
  bad.width = 16;
  bad.options = {{"qkv_dim", "8"}, {"heads", "3"}};
  Generator init(1);
  try {
    find_mixer("transformer").make(bad, init);
    ADD_FAILURE() << "qkv_dim 8 over 3 heads must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qkv_dim"), std::string::npos) << e.what();
  }
}

TEST(AttentionMixers, ZeroPaddedHeadDimIsTheSameAttention) {
  // What the mixers do on CUDA for a head dim the kernels lack (4 to 16 in the LRA pixel configs): pad
  // q, k, v with zero columns, keep the scale of the true d, slice the output. Checked on the CPU, in
  // float64, forward and every gradient.
  Generator gen(8);
  const int64_t B = 2, H = 2, L = 9, d = 5, padded = 32;
  auto input = [&]() {
    Tensor t = Tensor::empty({B, H, L, d}, DType::F64);
    uniform_(t, gen, -1, 1);
    t.requires_grad_(true);
    return t;
  };
  Tensor q = input(), k = input(), v = input(), go = Tensor::empty({B, H, L, d}, DType::F64);
  uniform_(go, gen, -1, 1);
  ops::AttentionOptions o;
  o.causal = true;
  ops::attention(q, k, v, Tensor(), o).backward(go);
  std::vector<double> want_grads[3] = {q.grad().to_vector<double>(), k.grad().to_vector<double>(),
                                       v.grad().to_vector<double>()};
  std::vector<double> want = ops::attention(q, k, v, Tensor(), o).to_vector<double>();
  Tensor q2 = q.detach(), k2 = k.detach(), v2 = v.detach();
  for (Tensor* t : {&q2, &k2, &v2}) t->requires_grad_(true);
  ops::AttentionOptions po = o;
  po.scale = 1.0 / std::sqrt(double(d));
  auto pad = [&](const Tensor& t) { return ops::pad(t, 3, 0, padded - d); };
  Tensor got = ops::slice(ops::attention(pad(q2), pad(k2), pad(v2), Tensor(), po), 3, 0, d);
  got.backward(go);
  std::vector<double> g = got.to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(g[i], want[i], 1e-12) << "output " << i;
  const Tensor* got_grads[3] = {&q2, &k2, &v2};
  for (int n = 0; n < 3; ++n) {
    std::vector<double> gg = got_grads[n]->grad().to_vector<double>();
    for (size_t i = 0; i < gg.size(); ++i) ASSERT_NEAR(gg[i], want_grads[n][i], 1e-12) << "grad " << n << " " << i;
  }
}

TEST(AttentionMixers, SmallHeadDimRunsOnTheGpuAsOnTheCpu) {
  LRA_REQUIRE_CUDA();
  MixerConfig mc;
  mc.width = 32;
  mc.max_len = 40;
  mc.options = {{"qkv_dim", "16"}, {"heads", "4"}, {"attention_dropout", "0"}};  // head dim 4, as LRA's pathfinder
  Generator init(5), gen(6);
  auto mixer = find_mixer("transformer").make(mc, init);
  mixer->eval();
  Batch b = tiny_batch(2, 33, 7, 3, 7);
  Tensor x = Tensor::empty({2, 33, 32});
  uniform_(x, gen, -1, 1);
  std::vector<float> cpu = mixer->forward(x, b.mask, gen).to_vector<float>();
  mixer->to(Device::CUDA);
  std::vector<float> gpu = mixer->forward(x.to(Device::CUDA), b.mask.to(Device::CUDA), gen).to_vector<float>();
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-4) << i;
}

// The projections start as each model's reference does. LRA (lra_benchmarks/models/transformer/
// transformer.py:60-75, local/local.py:63-79, flax nn.attention's DenseGeneral): q, k and v are three
// D → (H, d) layers, each Xavier-uniform over (D, Q), bound sqrt(6 / (D + Q)); the output layer is Xavier
// over (Q, D); no biases. The locality-bias predecessor (src/models/modules/rotary_multihead_attention.py:32-36):
// nn.Linear's U(±1/sqrt(fan_in)) for every weight and bias. The old fused Xavier over fan_out 3Q drew q, k, v
// within sqrt(6 / (D + 3Q)), below the LRA bound's 0.95.
TEST(AttentionMixers, ProjectionInitFollowsEachReference) {
  const int64_t D = 32, Q = 16;
  struct Case {
    std::string model, init;  // init "": the mixer's default
    bool torch;
  };
  const std::vector<Case> cases = {{"transformer", "", false}, {"local", "", false},       {"las", "", false},
                                   {"las_chunk", "", false},   {"rotary_transformer", "", true},
                                   {"transformer", "torch", true}, {"rotary_transformer", "lra", false}};
  auto stats = [](const std::vector<float>& w, size_t from, size_t to) {
    double max = 0, sq = 0;
    for (size_t i = from; i < to; ++i) {
      max = std::max(max, double(std::fabs(w[i])));
      sq += double(w[i]) * double(w[i]);
    }
    return std::make_pair(max, std::sqrt(sq / double(to - from)));
  };
  for (const Case& c : cases) {
    const std::string what = c.model + (c.init.empty() ? "" : " projection_init=" + c.init);
    MixerConfig mc;
    mc.width = int(D);
    mc.max_len = 12;
    mc.options = {{"qkv_dim", std::to_string(Q)}, {"heads", "2"}, {"attention_bias", "true"}};
    if (!c.init.empty()) mc.options["projection_init"] = c.init;
    Generator init(3);
    auto mixer = find_mixer(c.model).make(mc, init);
    std::map<std::string, std::vector<float>> p;
    for (const auto& np : mixer->named_parameters()) p[np.name] = np.tensor.to_vector<float>();
    const double qkv_bound = c.torch ? 1 / std::sqrt(double(D)) : std::sqrt(6.0 / double(D + Q));
    const double out_bound = c.torch ? 1 / std::sqrt(double(Q)) : std::sqrt(6.0 / double(Q + D));
    // Each of the q, k, v blocks (rows [bQ, (b+1)Q) of the fused [3Q, D] weight), and the output weight:
    // every entry within the bound, the largest of 512 draws above 0.95 of it, the rms that of a uniform.
    for (int block = 0; block < 3; ++block) {
      auto [max, rms] = stats(p.at("qkv.weight"), size_t(block * Q * D), size_t((block + 1) * Q * D));
      EXPECT_LE(max, qkv_bound * (1 + 1e-6)) << what << " block " << block;
      EXPECT_GT(max, 0.95 * qkv_bound) << what << " block " << block;
      EXPECT_NEAR(rms, qkv_bound / std::sqrt(3.0), 0.1 * qkv_bound / std::sqrt(3.0)) << what << " block " << block;
    }
    auto [out_max, out_rms] = stats(p.at("out.weight"), 0, size_t(D * Q));
    EXPECT_LE(out_max, out_bound * (1 + 1e-6)) << what;
    EXPECT_GT(out_max, 0.95 * out_bound) << what;
    EXPECT_NEAR(out_rms, out_bound / std::sqrt(3.0), 0.1 * out_bound / std::sqrt(3.0)) << what;
    // Biases: zero for LRA's Dense layers (attention_bias on), PyTorch's U(±1/sqrt(fan_in)) for torch.
    auto [qkv_bias_max, qkv_bias_rms] = stats(p.at("qkv.bias"), 0, size_t(3 * Q));
    auto [out_bias_max, out_bias_rms] = stats(p.at("out.bias"), 0, size_t(D));
    if (c.torch) {
      EXPECT_LE(qkv_bias_max, qkv_bound * (1 + 1e-6)) << what;
      EXPECT_GT(qkv_bias_max, 0.8 * qkv_bound) << what;
      EXPECT_LE(out_bias_max, out_bound * (1 + 1e-6)) << what;
      EXPECT_GT(out_bias_max, 0.8 * out_bound) << what;
    } else {
      EXPECT_EQ(qkv_bias_max, 0.0) << what;
      EXPECT_EQ(out_bias_max, 0.0) << what;
    }
    (void)qkv_bias_rms;
    (void)out_bias_rms;
  }
}

// grouping = strided is LRA's local_attention.py, built here directly from its steps in double: pad the
// input by C − L mod C rows of zeros (a whole block when C divides L), project, view the positions as
// [C, n] (position c·n + g has block slot c in group g), pad the padding mask with "real" (LRA's −1e9
// becomes True in its boolean mask), cut that mask contiguously into the groups' [C] slices, mask
// query slot i / key slot j of group g with m̃[g·C + i] · m̃[g·C + j] (−1e10 in float32: a fully masked
// row is uniform), attend inside each group, project and drop the padded rows. L = 8 (C divides L:
// stride n = 3, not 2) and L = 10 (n = 3), with and without padding.
TEST(AttentionMixers, StridedGroupingIsLras) {
  const int64_t D = 8, H = 2, C = 4, d = D / H;
  for (int64_t L : {8, 10}) {
    for (bool masked : {false, true}) {
      const std::string what = "L " + std::to_string(L) + (masked ? " masked" : "");
      MixerConfig mc;
      mc.width = int(D);
      mc.max_len = 12;
      mc.options = {{"heads", std::to_string(H)}, {"block", std::to_string(C)}, {"grouping", "strided"},
                    {"attention_dropout", "0"}};
      Generator init(4), gen(5);
      auto mixer = find_mixer("local").make(mc, init);
      mixer->eval();
      const int64_t B = 2;
      Tensor x = Tensor::empty({B, L, D});
      uniform_(x, gen, -1, 1);
      // Row 1 ends in 3 padding positions; row 0 has one in the middle.
      std::vector<int32_t> m(size_t(B * L), 1);
      for (int64_t l = L - 3; l < L; ++l) m[size_t(L + l)] = 0;
      m[2] = 0;
      Tensor mask = masked ? Tensor::from_vector(m, {B, L}) : Tensor();
      std::vector<float> got = mixer->forward(x, mask, gen).to_vector<float>();

      std::map<std::string, std::vector<float>> p;
      for (const auto& np : mixer->named_parameters()) p[np.name] = np.tensor.to_vector<float>();
      const std::vector<float>&wqkv = p.at("qkv.weight"), &wo = p.at("out.weight");
      const std::vector<float> xv = x.to_vector<float>();
      const int64_t Lp = L + (C - L % C), n = Lp / C;
      ASSERT_EQ(n, 3) << what;
      for (int64_t b = 0; b < B; ++b) {
        // q, k, v [Lp, 3D] of the zero-padded input; m̃ with the padded tail real.
        std::vector<double> proj(size_t(Lp * 3 * D), 0.0);
        for (int64_t l = 0; l < L; ++l)
          for (int64_t o = 0; o < 3 * D; ++o)
            for (int64_t c = 0; c < D; ++c)
              proj[size_t(l * 3 * D + o)] += double(wqkv[size_t(o * D + c)]) * xv[size_t((b * L + l) * D + c)];
        auto mt = [&](int64_t r) { return r >= L || !masked ? 1 : m[size_t(b * L + r)]; };
        std::vector<double> att(size_t(Lp * D), 0.0);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t g = 0; g < n; ++g)
            for (int64_t i = 0; i < C; ++i) {
              const int64_t pq = i * n + g;
              std::vector<double> w(size_t(C), 0.0);
              if (mt(g * C + i) == 0) {
                std::fill(w.begin(), w.end(), 1.0 / double(C));
              } else {
                double mx = -1e300, z = 0;
                for (int64_t j = 0; j < C; ++j) {
                  if (mt(g * C + j) == 0) continue;
                  double s = 0;
                  for (int64_t e = 0; e < d; ++e)
                    s += proj[size_t(pq * 3 * D + h * d + e)] * proj[size_t((j * n + g) * 3 * D + D + h * d + e)];
                  w[size_t(j)] = s / std::sqrt(double(d));
                  mx = std::max(mx, w[size_t(j)]);
                }
                for (int64_t j = 0; j < C; ++j) {
                  w[size_t(j)] = mt(g * C + j) == 0 ? 0.0 : std::exp(w[size_t(j)] - mx);
                  z += w[size_t(j)];
                }
                for (double& v : w) v /= z;
              }
              for (int64_t j = 0; j < C; ++j)
                for (int64_t e = 0; e < d; ++e)
                  att[size_t(pq * D + h * d + e)] +=
                      w[size_t(j)] * proj[size_t((j * n + g) * 3 * D + 2 * D + h * d + e)];
            }
        for (int64_t l = 0; l < L; ++l)
          for (int64_t o = 0; o < D; ++o) {
            double y = 0;
            for (int64_t c = 0; c < D; ++c) y += double(wo[size_t(o * D + c)]) * att[size_t(l * D + c)];
            ASSERT_NEAR(got[size_t((b * L + l) * D + o)], y, 1e-5) << what << " row " << b << " position " << l;
          }
      }
    }
  }
}

TEST(Registry, ListModelsListsTheAttentionModels) {
  std::string list = list_models();
  for (const std::string& name : kAttentionModels) {
    EXPECT_NE(list.find(name + " "), std::string::npos) << name << " missing from:\n" << list;
    EXPECT_EQ(find_mixer(name).name, name);
  }
}

TEST(Registry, UnknownModelNamesTheRegisteredOnes) {
  ModelConfig c = tiny("no_such_model");
  Generator init(1);
  try {
    LraModel model(c, init);
    FAIL() << "an unknown model built";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no_such_model"), std::string::npos) << msg;
    for (const std::string& name : kAttentionModels) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

TEST(Registry, BadSettingsAreClearErrors) {
  auto message = [](ModelConfig c) {
    Generator init(1);
    try {
      LraModel model(c, init);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ModelConfig c = tiny("las");
  c.mixer["las_P"] = "4";
  EXPECT_NE(message(c).find("las_P = 4 must be an odd integer"), std::string::npos) << message(c);
  c = tiny("transformer");
  c.mixer["rotary"] = "sideways";
  EXPECT_NE(message(c).find("mixer transformer: rotary must be one of none, head, full, half, got 'sideways'"),
            std::string::npos)
      << message(c);
  c = tiny("transformer");
  c.mixer["heads"] = "3";
  EXPECT_NE(message(c).find("16 must be a positive multiple of heads 3"), std::string::npos) << message(c);
  c = tiny("transformer");
  c.mixer["heads"] = "3.5";
  EXPECT_NE(message(c).find("mixer transformer: heads takes an integer, got '3.5'"), std::string::npos) << message(c);
  c = tiny("transformer");
  c.dropout = 1.0;
  EXPECT_NE(message(c).find("dropout 1 is not in [0, 1)"), std::string::npos) << message(c);
  c = tiny("transformer");
  c.bn_momentum = 0.0;
  EXPECT_NE(message(c).find("bn_momentum 0 is not in (0, 1]"), std::string::npos) << message(c);
  // Rotary positions are the attention mixers' key; a convolution has none to take.
  c = tiny("gmlp");
  c.mixer["rotary"] = "full";
  EXPECT_NE(message(c).find("mixer gmlp: unknown setting 'rotary=full'"), std::string::npos) << message(c);
  // Choices are parsed once, where the setting is read: a bad name never reaches the model.
  EXPECT_THROW(settings::find(model_settings(), "pooling")->set(c, "max"), Error);
}

// Mixer keys: a key no mixer reads (a typo) is an error naming it, the mixer and the keys it takes,
// both when the mixer is built through the registry and through the backbone.
TEST(Registry, UnknownMixerKeyNamesTheMixerAndItsKeys) {
  ASSERT_FALSE(mixers().empty());
  for (const MixerEntry& e : mixers()) {
    MixerConfig mc;
    mc.width = 16;
    mc.max_len = 12;
    mc.options = {{"kernal_size", "7"}};
    Generator init(1);
    try {
      find_mixer(e.name).make(mc, init);
      ADD_FAILURE() << e.name << " accepted the unknown key kernal_size";
    } catch (const Error& err) {
      const std::string msg = err.what();
      EXPECT_NE(msg.find("'kernal_size=7'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("mixer " + e.name + ":"), std::string::npos) << msg;
      for (const OptionInfo& o : e.options) EXPECT_NE(msg.find(o.key), std::string::npos) << e.name << ": " << msg;
    }
  }
  ModelConfig c = tiny("local");
  c.mixer["blok"] = "8";
  Generator init(1);
  try {
    LraModel model(c, init);
    ADD_FAILURE() << "the backbone accepted the unknown key blok";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("blok"), std::string::npos) << err.what();
  }
}

// Every declared key is one the mixer reads: a valid value builds, a nonsense value is rejected naming the
// key (a declared key the mixer ignored would build), and every key's default is its type's. Keys are
// declared by the same visit() that reads them (models/mixer.h), so declared and read keys are one set.
// A new key needs a valid value in this table.
TEST(Registry, EveryMixerDeclaresExactlyTheKeysItReads) {
  const std::map<std::string, std::string> valid = {
      {"rotary", "full"},        {"rotary_base", "500"}, {"causal", "true"},  {"las_B", "0.2"},
      {"las_P", "3"},            {"chunk", "4"},         {"block", "4"},      {"grouping", "strided"},
      {"projection_init", "torch"},
      {"ssm_n", "4"},            {"init", "inv"},        {"dt_min", "0.002"}, {"dt_max", "0.05"},
      {"bidirectional", "true"}, {"s4d c_group", "ssm"}, {"hidden", "16"},    {"groups", "2"},
      {"kernel_size", "3"},      {"qkv_dim", "8"},       {"heads", "2"},      {"attention_dropout", "0.2"},
      {"attention_bias", "true"},
      {"variant", "paper"},      {"max_num_blocks", "4"}, {"sinkhorn_iters", "2"}, {"temperature", "0.5"},
      {"k", "4"},                {"mask_padding", "true"}, {"mode", "dense+factorized_random"},
      {"dot_product", "false"},  {"dense_layout", "transpose"}, {"conv_scale", "none"},  {"conv_bias", "per_channel"},
      // reformer
      {"n_hashes", "2"},         {"n_buckets", "2"},     {"chunk_len", "20"}, {"scale", "inverse"},
      {"self_mask", "true"},     {"mask_padding", "true"}, {"head_merge", "transpose"}, {"out_proj", "true"},
      {"hash_seed", "7"},
      // linear_transformer, performer
      {"eps", "1e-5"},           {"mask_keys", "true"},  {"kernel", "softmax"},
      {"features", "iid"},       {"nb_features", "6"},  {"ortho_scaling", "1"}, {"redraw", "yes"},
      {"relu_eps", "0.01"},      {"softmax_eps", "1e-5"},
      // sparse_transformer, longformer
      {"window", "5"},           {"summary", "2"},      {"global_first", "false"},
      // bigbird
      {"random_blocks", "2"},    {"random_span", "8"},    {"padding", "masked"},
      // s4d (issue 15)
      {"dt_transform", "softplus"}, {"n_ssm", "2"},      {"dt_group", "default"}, {"disc", "bilinear"},
      // lru
      {"r_min", "0.5"},          {"r_max", "0.9"},        {"max_phase", "3.14"}, {"glu", "false"},
      {"gelu_tanh", "false"},
      // s4
      {"n_ssm", "2"},            {"dt_transform", "exp"}, {"dt_group", "default"},
      {"c_group", "ssm_decay"},
      // s5
      {"ssm_size", "32"},        {"blocks", "4"},         {"conj_sym", "false"}, {"c_init", "lecun_normal"},
      {"discretization", "bilinear"}, {"clip_eigs", "true"}, {"activation_fn", "full_glu"},
      {"opt_config", "BandCdecay"}, {"dt_global", "true"},
      // sgconv ("<mixer> <key>": a value for one mixer where another mixer's key has the same name)
      {"kernel_dim", "2"},       {"init_scale", "1"},     {"n_scales", "3"},   {"decay_min", "1"},
      {"decay_max", "1"},        {"kernel_decay", "false"}, {"sgconv mode", "cat_cos"},
      // mega
      {"z_dim", "6"},            {"hidden_dim", "12"},    {"ndim", "4"},       {"truncation", "5"},
      {"max_positions", "20"},   {"attention", "laplace"}, {"rel_pos_bias", "rotary"}, {"hidden_dropout", "0.1"}};

  // Keys that are only valid next to another one.
  const std::map<std::string, std::map<std::string, std::string>> companions = {
      {"residual_conv groups", {{"kernel_size", "3"}}},  // groups needs a bounded kernel
      {"sparse_transformer block", {{"summary", "1"}}}};  // summary (default 10) must fit in the block
  for (const MixerEntry& e : mixers()) {
    for (const OptionInfo& o : e.options) {
      const std::string& key = o.key;
      const std::string own = e.name + " " + key;
      ASSERT_TRUE(valid.count(own) || valid.count(key))
          << e.name << " declares '" << key << "': add a valid value to this test";
      const std::string value = valid.count(own) ? valid.at(own) : valid.at(key);
      MixerConfig mc;
      mc.width = 16;
      mc.max_len = 12;
      mc.options = {{key, value}};
      if (companions.count(e.name + " " + key))
        for (const auto& kv : companions.at(e.name + " " + key)) mc.options.insert(kv);
      Generator init(1), gen(2);
      std::shared_ptr<Mixer> m;
      ASSERT_NO_THROW(m = find_mixer(e.name).make(mc, init)) << e.name << " with " << key << "=" << value;
      Tensor x = Tensor::zeros({1, 10, 16});
      EXPECT_EQ(m->forward(x, Tensor(), gen).shape().vec(), (std::vector<int64_t>{1, 10, 16})) << e.name << " " << key;
      mc.options = {{key, "nonsense"}};
      try {
        find_mixer(e.name).make(mc, init);
        ADD_FAILURE() << e.name << " ignores its declared key '" << key << "' (nonsense value accepted)";
      } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("mixer " + e.name + ": " + key), std::string::npos)
            << e.name << ": " << err.what();
      }
      // The printed default reads back as the key's type.
      mc.options = {{key, o.default_value}};
      if (companions.count(e.name + " " + key))
        for (const auto& kv : companions.at(e.name + " " + key)) mc.options.insert(kv);
      EXPECT_NO_THROW(find_mixer(e.name).make(mc, init)) << e.name << " " << key << " = " << o.default_value;
    }
  }
}

// An options struct that names a key twice is a bug of the mixer, caught when it is described.
TEST(Registry, AKeyDeclaredTwiceFails) {
  struct Twice {
    int a = 1, b = 2;
    void visit(MixerOptions& o) {
      o.integer("a", a, "first");
      o.integer("a", b, "again");
    }
  };
  Twice t;
  MixerOptions describe("toy");
  EXPECT_THROW(t.visit(describe), Error);
  // Reading: unknown keys fail in finish(), values of the wrong type as they are read.
  struct One {
    int a = 1;
    bool f = false;
    std::string c = "x";
    void visit(MixerOptions& o) {
      o.integer("a", a, "an int");
      o.flag("f", f, "a flag");
      o.choice("c", c, {"x", "y"}, "a choice");
    }
  };
  const One read = read_options<One>("toy", {{"a", "5"}, {"f", "on"}, {"c", "y"}});
  EXPECT_EQ(read.a, 5);
  EXPECT_TRUE(read.f);
  EXPECT_EQ(read.c, "y");
  EXPECT_THROW(read_options<One>("toy", {{"b", "1"}}), Error);
  EXPECT_THROW(read_options<One>("toy", {{"f", "maybe"}}), Error);
  EXPECT_THROW(read_options<One>("toy", {{"c", "z"}}), Error);
}

TEST(Registry, ListModelsShowsEachMixersKeys) {
  const std::string list = list_models();
  for (const MixerEntry& e : mixers()) {
    const size_t at = list.find("\n" + e.name + "  ") != std::string::npos ? list.find("\n" + e.name + "  ") + 1
                                                                          : list.find(e.name + "  ");
    ASSERT_NE(at, std::string::npos) << e.name << " is not listed:\n" << list;
    const size_t end = list.find("\n", list.find("\n", at) + 1);
    const std::string block = list.substr(at);
    for (const OptionInfo& o : e.options)
      EXPECT_NE(block.find("    " + o.key + " " + o.type + " = " + o.default_value), std::string::npos)
          << e.name << " " << o.key << " in\n" << list;
    (void)end;
  }
}

}  // namespace
}  // namespace lra::models
