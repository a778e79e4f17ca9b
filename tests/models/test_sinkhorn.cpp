// The sinkhorn mixer (models/mixers/sinkhorn.cpp) in both variants, inside the backbone: finite forward,
// a gradient for every parameter (with attention dropout on), lengths that the block does not divide,
// and the paper variant's limit on the number of blocks. Its numbers are checked against PyTorch in
// tests/parity (Parity.sinkhorn*).
#include <gtest/gtest.h>

#include <cmath>

#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "tests/models/mixer_fixtures.h"
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

}  // namespace
}  // namespace lra::models
