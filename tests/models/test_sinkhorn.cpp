// The sinkhorn mixer (models/mixers/sinkhorn.cpp) in both variants, inside the backbone: finite forward,
// a gradient for every parameter (with attention dropout on), lengths that the block does not divide,
// and the paper variant's limit on the number of blocks. Its numbers are checked against PyTorch in
// tests/parity (Parity.sinkhorn*).
#include <gtest/gtest.h>

#include <cmath>

#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "tests/models/mixer_fixtures.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"

namespace lra::models {
namespace {

ModelConfig config(const std::string& variant, int block) {
  ModelConfig c;
  c.model = "sinkhorn";
  c.vocab_size = 7;
  c.num_classes = 3;
  c.max_len = 16;
  c.width = 16;
  c.depth = 2;
  c.ffn = 24;
  c.dropout = 0.1;
  c.pooling = Pooling::Mean;
  c.mixer = {{"variant", variant}, {"block", std::to_string(block)}, {"heads", "2"}, {"attention_dropout", "0.2"}};
  return c;
}

std::pair<Tensor, Tensor> batch(int L) { return test_fixtures::padded_batch(L); }

class SinkhornVariants : public ::testing::TestWithParam<std::string> {};

TEST_P(SinkhornVariants, TrainsWithAGradientForEveryParameterAtLengthsTheBlockDoesNotDivide) {
  for (int L : {12, 13, 3}) {
    Generator init(1), gen(2);
    LraModel model(config(GetParam(), 4), init);
    auto [ids, mask] = batch(L);
    Tensor logits = model.forward(ids, mask, gen);
    ASSERT_EQ(logits.shape().vec(), (std::vector<int64_t>{3, 3}));
    for (float v : logits.to_vector<float>()) ASSERT_TRUE(std::isfinite(v)) << GetParam() << " L " << L;
    ops::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0, 1, 2}, {3})).backward();
    for (const auto& p : model.named_parameters()) {
      Tensor g = p.tensor.grad();
      ASSERT_TRUE(g.defined()) << GetParam() << ": no gradient for " << p.name;
      double m = 0;
      for (float v : g.to_vector<float>()) {
        ASSERT_TRUE(std::isfinite(v)) << GetParam() << ": " << p.name;
        m = std::max(m, double(std::fabs(v)));
      }
      // One block (L = 3): the 1 x 1 Sinkhorn permutation is exactly 1, so the sort network has no effect.
      const bool single_block_sort = L <= 4 && p.name.find("mixer.sort.") != std::string::npos;
      if (single_block_sort)
        EXPECT_EQ(m, 0.0) << p.name;
      else
        EXPECT_GT(m, 0.0) << GetParam() << " L " << L << ": zero gradient for " << p.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sinkhorn, SinkhornVariants, ::testing::Values("lra", "paper"),
                         [](const auto& info) { return info.param; });

TEST(Sinkhorn, OnlyThePaperVariantHasASortingNetwork) {
  Generator init(1);
  bool lra_sort = false, paper_sort = false;
  for (const auto& p : LraModel(config("lra", 4), init).named_parameters())
    lra_sort |= p.name.find("mixer.sort.") != std::string::npos;
  for (const auto& p : LraModel(config("paper", 4), init).named_parameters())
    paper_sort |= p.name.find("mixer.sort.") != std::string::npos;
  EXPECT_FALSE(lra_sort);  // LRA's sort network multiplies by sum(softmax) = 1: it is omitted
  EXPECT_TRUE(paper_sort);
}

TEST(Sinkhorn, PaperVariantNamesTheBlockLimit) {
  ModelConfig c = config("paper", 2);
  c.mixer["max_num_blocks"] = "5";
  Generator init(1), gen(2);
  LraModel model(c, init);
  auto [ids, mask] = batch(12);  // 6 blocks of 2 > 5
  try {
    model.forward(ids, mask, gen);
    FAIL() << "6 blocks accepted with max_num_blocks = 5";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_num_blocks"), std::string::npos) << e.what();
  }
}

// Eval mode draws no dropout: two forwards agree bit for bit.
TEST(Sinkhorn, EvalIsDeterministic) {
  Generator init(1), gen(2);
  LraModel model(config("lra", 4), init);
  model.eval();
  auto [ids, mask] = batch(12);
  const std::vector<float> a = model.forward(ids, mask, gen).to_vector<float>();
  const std::vector<float> b = model.forward(ids, mask, gen).to_vector<float>();
  EXPECT_EQ(a, b);
}

// The lra variant in float32 on the CPU without dropout runs its two branches as ops::attention calls with
// the mask as a bias; float64 keeps the materialised path (matmul, mask, softmax, matmul). The same mixer
// in both dtypes agrees, forward and every gradient, with fully masked query rows (padding) included and
// a block that does not divide L (and a single group, nb = 1). Tolerance: |f32 − f64| <= 1e-4 + 1e-3·|f64|
// (float32 rounding through two projections, two softmaxes over C = 4..5 keys and the backward).
TEST(Sinkhorn, Float32FusedPathMatchesTheFloat64MaterialisedPath) {
  for (const auto& [L, block] : std::vector<std::pair<int, int>>{{13, 4}, {12, 3}, {5, 5}, {13, 13}}) {
    const MixerConfig c = test_fixtures::mixer_config(8, {{"variant", "lra"}, {"block", std::to_string(block)},
                                                          {"heads", "2"}, {"attention_dropout", "0.3"}});
    Generator init(1);
    std::shared_ptr<Mixer> f32 = find_mixer("sinkhorn").make(c, init);
    Generator init2(1);
    std::shared_ptr<Mixer> f64 = find_mixer("sinkhorn").make(c, init2);
    f32->eval(), f64->eval();  // no dropout: the fused path
    for (const auto& p : f64->named_parameters()) {
      Tensor d = ops::cast(p.tensor.detach(), DType::F64);
      TensorImpl* impl = p.tensor.impl();
      impl->storage = d.impl()->storage, impl->offset = d.impl()->offset, impl->dtype = DType::F64;
    }
    const Tensor x = test_fixtures::random_x(3, L, 8, 3);
    auto [ids, mask] = test_fixtures::padded_batch(L);
    Generator gen(2), gen2(2), gg(4);
    Tensor y32 = f32->forward(x, mask, gen), y64 = f64->forward(ops::cast(x, DType::F64), mask, gen2);
    const Tensor g = test::random_input(y32.shape(), gg);
    y32.backward(ops::cast(g, DType::F32));
    y64.backward(g);
    auto close = [&](const Tensor& a, const Tensor& b, const std::string& what) {
      const std::vector<double> va = ops::cast(a, DType::F64).to_vector<double>(), vb = b.to_vector<double>();
      ASSERT_EQ(va.size(), vb.size()) << what;
      for (size_t i = 0; i < va.size(); ++i)
        ASSERT_LE(std::abs(va[i] - vb[i]), 1e-4 + 1e-3 * std::abs(vb[i])) << what << "[" << i << "] L " << L;
    };
    close(y32, y64, "y");
    const auto p32 = f32->named_parameters(), p64 = f64->named_parameters();
    for (size_t i = 0; i < p32.size(); ++i) close(p32[i].tensor.grad(), p64[i].tensor.grad(), p32[i].name);
  }
}

}  // namespace
}  // namespace lra::models
