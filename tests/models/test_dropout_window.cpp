// Dropout keyed by the global example index (engine/rng.h, BatchWindow): for every mixer that draws during
// its forward, a training-mode forward of a batch of 5 equals the row concatenation of two forwards on rows
// [0, 3) and [3, 5) whose generators (same state) carry the batch window. So masks depend on a row's place
// in the global batch, not on how many data-parallel ranks share it. Dropout 0.3 everywhere (blocks,
// input, attention weights where a mixer has them, tied dropout in one variant), LayerNorm (BatchNorm
// mixes rows). Tolerance: the two sides differ only in the row counts of the GEMMs (and of any op that
// blocks over rows), i.e. float32 summation order: |a − b| <= 2e-5 + 2e-5·|a| on O(1) values. A wrong
// mask gives O(1) differences; the test also checks that an unwindowed slice does differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/backbone/backbone.h"

namespace lra::models {
namespace {

struct Variant {
  std::string model;
  std::map<std::string, std::string> mixer;
  bool tied = false;
};

ModelConfig config(const Variant& v) {
  ModelConfig c;
  c.model = v.model;
  c.vocab_size = 7;
  c.num_classes = 3;
  c.max_len = 12;
  c.width = 16;
  c.depth = 2;
  c.ffn = 24;
  c.position = Position::Learned;
  c.dropout = 0.3;
  c.input_dropout = 0.3;
  c.tied_dropout = v.tied;
  c.pooling = Pooling::MaskedMean;
  c.mixer = v.mixer;
  return c;
}

// ids [5, 12] in 1..6, row 1 padded after 8 tokens, row 4 after 5.
std::pair<Tensor, Tensor> batch() {
  const int64_t B = 5, L = 12;
  Generator g(5);
  std::vector<int32_t> ids(size_t(B * L)), mask(size_t(B * L), 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l) {
      const bool real = !((b == 1 && l >= 8) || (b == 4 && l >= 5));
      ids[size_t(b * L + l)] = real ? 1 + int32_t(g.below(6)) : 0;
      mask[size_t(b * L + l)] = real ? 1 : 0;
    }
  return {Tensor::from_vector(ids, {B, L}), Tensor::from_vector(mask, {B, L})};
}

std::vector<float> encode_rows(LraModel& model, const Tensor& ids, const Tensor& mask, int64_t first, int64_t rows,
                               bool window) {
  Generator gen(12, 1000);
  if (window) gen.set_window({ids.dim(0), first, rows});
  return model.encode(ids.narrow0(first, rows).clone(), mask.narrow0(first, rows).clone(), gen).to_vector<float>();
}

class WindowedForward : public ::testing::TestWithParam<Variant> {};

TEST_P(WindowedForward, HalvesConcatenateToTheWholeBatch) {
  const Variant v = GetParam();
  Generator init(1);
  LraModel model(config(v), init);
  model.train();
  auto [ids, mask] = batch();
  const std::vector<float> whole = encode_rows(model, ids, mask, 0, 5, false);
  std::vector<float> parts = encode_rows(model, ids, mask, 0, 3, true);
  const std::vector<float> second = encode_rows(model, ids, mask, 3, 2, true);
  parts.insert(parts.end(), second.begin(), second.end());
  ASSERT_EQ(whole.size(), parts.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    const double excess = std::fabs(double(whole[i]) - parts[i]) - (2e-5 + 2e-5 * std::fabs(double(whole[i])));
    if (excess > worst) worst = excess, at = i;
  }
  EXPECT_EQ(worst, 0.0) << v.model << ": element " << at << " of [5, 12, 16]: whole " << whole[at] << " vs parts "
                        << parts[at];

  // The unwindowed second slice draws the first rows' masks: the comparison above can fail.
  const std::vector<float> unkeyed = encode_rows(model, ids, mask, 3, 2, false);
  double gap = 0;
  for (size_t i = 0; i < unkeyed.size(); ++i) gap = std::max(gap, std::fabs(double(unkeyed[i]) - second[i]));
  EXPECT_GT(gap, 1e-2) << v.model;
}

// Every mixer that draws random numbers in its forward (the audit in engine/rng.h), with its own dropout
// of attention weights where it has one.
const std::vector<Variant> kVariants = {
    {"transformer", {{"attention_dropout", "0.3"}}},
    {"transformer", {{"attention_dropout", "0.3"}}, true},
    {"local", {{"block", "4"}, {"attention_dropout", "0.3"}}},
    {"las", {{"las_P", "3"}, {"attention_dropout", "0.3"}}},
    {"longformer", {{"attention_dropout", "0.3"}}},
    {"sparse_transformer", {{"attention_dropout", "0.3"}}},
    {"synthesizer", {{"attention_dropout", "0.3"}}},
    {"linformer", {{"attention_dropout", "0.3"}}},
    {"sinkhorn", {{"attention_dropout", "0.3"}}},
    {"mega", {{"attention_dropout", "0.3"}}},
    {"performer", {}},
    {"s4", {}},
    {"s4d", {}},
    {"s5", {}},
    {"lru", {}},
    {"sgconv", {}},
    {"gmlp", {}},
};

INSTANTIATE_TEST_SUITE_P(Mixers, WindowedForward, ::testing::ValuesIn(kVariants), [](const auto& info) {
  return info.param.model + (info.param.tied ? "_tied" : "") + "_" + std::to_string(info.index);
});

}  // namespace
}  // namespace lra::models
