// The bigbird mixer (models/mixers/bigbird.cpp): its random block graph against numpy (LRA's
// get_block_rand_mask run by python3-numpy; expected values below), and the mixer's structure: which key
// blocks a query block sees, the unmasked padded tail, zero outputs at padded queries, a gradient for
// every parameter at every block count. Its numbers are checked against PyTorch in tests/parity
// (Parity.bigbird*), whose oracle derives the graph with numpy itself.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "tests/models/mixer_fixtures.h"
#include "models/mixers/bigbird.h"
#include "ops/loss/loss.h"

namespace lra::models {
namespace {

using Graph = std::vector<std::vector<std::vector<int>>>;

// Sums over the graph flattened in C order: the plain sum and the sum of (flat index + 1) · value, as
// printed by numpy for np.stack([get_block_rand_mask(Lp, Lp, 64, 64, 3, min(Lp, 1024)) for _ in heads]).
std::pair<int64_t, int64_t> sums(const Graph& g) {
  int64_t s = 0, w = 0, i = 0;
  for (const auto& head : g)
    for (const auto& row : head)
      for (int v : row) {
        s += v;
        w += ++i * v;
      }
  return {s, w};
}

TEST(BigBirdGraph, MatchesNumpyOnTheLraLengths) {
  // ListOps (2001 tokens with the CLS row -> 2048), layer 0, head 0, query blocks 1..4: the values
  // lra-benchmark.md §4.1 item 9 quotes.
  const Graph listops = bigbird::random_blocks(32, 64, 3, 1024, 1, 0);
  EXPECT_EQ(std::vector<std::vector<int>>(listops[0].begin(), listops[0].begin() + 4),
            (std::vector<std::vector<int>>{{9, 14, 7}, {9, 6, 7}, {10, 5, 14}, {6, 8, 12}}));
  const struct {
    int64_t Lp;
    uint32_t layer;
    int64_t sum, weighted;
    std::vector<std::vector<int>> tail;  // the last head's last three rows
  } cases[] = {
      {1088, 0, 1393, 127084, {{2, 1, 6}, {1, 3, 11}, {7, 12, 5}}},        // CIFAR 1025 and Pathfinder 1024
      {1024, 3, 1239, 106058, {{8, 5, 4}, {4, 2, 10}, {8, 7, 11}}},        // Text 1001, layer 3
      {4032, 1, 5893, 2164039, {{14, 9, 11}, {9, 4, 7}, {1, 3, 11}}},      // Retrieval 4000, layer 1
  };
  for (const auto& c : cases) {
    const Graph g = bigbird::random_blocks(c.Lp / 64, 64, 3, std::min<int64_t>(c.Lp, 1024), 4, c.layer);
    ASSERT_EQ(g.size(), 4u);
    ASSERT_EQ(int64_t(g[3].size()), c.Lp / 64 - 2);
    EXPECT_EQ(sums(g), std::make_pair(c.sum, c.weighted)) << "Lp " << c.Lp;
    EXPECT_EQ(std::vector<std::vector<int>>(g[3].end() - 3, g[3].end()), c.tail) << "Lp " << c.Lp;
    for (const auto& head : g)
      for (size_t i = 0; i < head.size(); ++i) {
        ASSERT_EQ(head[i].size(), 3u);
        for (int v : head[i]) {
          EXPECT_TRUE(v >= 1 && v <= 15) << "random blocks lie inside the first 1024 tokens, got " << v;
          EXPECT_GT(std::abs(v - int(i + 1)), 1) << "a random block is never in the window";
        }
      }
  }
}

TEST(BigBirdGraph, ShortRowsAsNumpyAssignsThem) {
  // 5 blocks (Lp 320): row 1 has the one candidate 3, numpy broadcasts it into all three slots; row 2
  // has none (LRA raises); row 3 has the one candidate 1.
  const Graph g = bigbird::random_blocks(5, 64, 3, 320, 2, 0);
  for (const auto& head : g)
    EXPECT_EQ(head, (std::vector<std::vector<int>>{{3, 3, 3}, {}, {1, 1, 1}}));
  EXPECT_TRUE(bigbird::random_blocks(2, 64, 3, 128, 2, 0)[0].empty());
}

ModelConfig config(int block, int random_blocks) {
  ModelConfig c;
  c.model = "bigbird";
  c.vocab_size = 7;
  c.num_classes = 3;
  c.max_len = 40;
  c.width = 16;
  c.depth = 2;
  c.ffn = 24;
  c.dropout = 0.0;
  c.pooling = Pooling::Mean;
  c.mixer = {{"block", std::to_string(block)}, {"heads", "2"}, {"random_blocks", std::to_string(random_blocks)}};
  return c;
}

std::pair<Tensor, Tensor> batch(int L) { return test_fixtures::padded_batch(L); }

TEST(BigBird, TrainsWithAGradientForEveryParameterAtEveryBlockCount) {
  // block 3: L 2 -> 1 block, 5 -> 2, 8 -> 3, 12 -> 5 (a full padding block), 20 -> 7, 35 -> 12.
  for (int L : {2, 5, 8, 12, 20, 35}) {
    Generator init(1), gen(2);
    LraModel model(config(3, 2), init);
    auto [ids, mask] = batch(L);
    Tensor logits = model.forward(ids, mask, gen);
    ASSERT_EQ(logits.shape().vec(), (std::vector<int64_t>{3, 3}));
    for (float v : logits.to_vector<float>()) ASSERT_TRUE(std::isfinite(v)) << "L " << L;
    ops::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0, 1, 2}, {3})).backward();
    for (const auto& p : model.named_parameters()) {
      Tensor g = p.tensor.grad();
      ASSERT_TRUE(g.defined()) << "no gradient for " << p.name;
      double m = 0;
      for (float v : g.to_vector<float>()) {
        ASSERT_TRUE(std::isfinite(v)) << p.name;
        m = std::max(m, double(std::fabs(v)));
      }
      if (p.name.rfind("embed", 0) != 0) EXPECT_GT(m, 0.0) << "L " << L << ": zero gradient for " << p.name;
    }
  }
}

// The mixer alone, one head, block 2, no random blocks unless asked: x [1, L, 8] from a fixed pattern.
struct Probe {
  std::shared_ptr<Mixer> mixer;
  explicit Probe(int random_blocks, int layer = 0) {
    MixerConfig mc;
    mc.width = 8;
    mc.max_len = 64;
    mc.layer = layer;
    mc.options = {{"block", "2"}, {"heads", "1"}, {"random_blocks", std::to_string(random_blocks)}};
    Generator init(3);
    mixer = find_mixer("bigbird").make(mc, init);
  }
  std::vector<float> run(int L, int poke, const Tensor& mask = Tensor()) {
    std::vector<float> x(size_t(L * 8));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.7 * double(i) + 0.3));
    if (poke >= 0)
      for (int c = 0; c < 8; ++c) x[size_t(poke * 8 + c)] += 0.5f;
    Generator gen(4);
    return mixer->forward(Tensor::from_vector(x, {1, L, 8}), mask, gen).to_vector<float>();
  }
};

// Which query positions change when the input at position `poke` changes.
std::vector<int> changed(Probe& p, int L, int poke) {
  const std::vector<float> a = p.run(L, -1), b = p.run(L, poke);
  std::vector<int> rows;
  for (int l = 0; l < L; ++l)
    for (int c = 0; c < 8; ++c)
      if (a[size_t(l * 8 + c)] != b[size_t(l * 8 + c)]) {
        rows.push_back(l);
        break;
      }
  return rows;
}

TEST(BigBird, WindowAndGlobalBlocksWithoutRandomBlocks) {
  // L = 15, block 2: Lp 16, 8 blocks. With r = 0, query block i sees {0, i−1, i, i+1, 7}.
  Probe p(0);
  // Position 6 (key block 3) reaches the global query blocks 0 and 7 (positions 0, 1, 14; 15 is cut off)
  // and the window query blocks 2, 3, 4 (positions 4..9), itself included.
  EXPECT_EQ(changed(p, 15, 6), (std::vector<int>{0, 1, 4, 5, 6, 7, 8, 9, 14}));
  // Position 0 (key block 0, global) reaches every query.
  EXPECT_EQ(changed(p, 15, 0).size(), 15u);
}

TEST(BigBird, RandomBlocksComeFromTheGraph) {
  // L = 15, block 2, r = 1: query block i also sees the graph's block of row i.
  for (int layer : {0, 1}) {
    Probe p(1, layer);
    const Graph g = bigbird::random_blocks(8, 2, 1, 16, 1, uint32_t(layer));
    for (int kb = 1; kb <= 6; ++kb) {
      std::vector<int> want;
      for (int qb = 0; qb < 8; ++qb) {
        bool sees = qb == 0 || qb == 7 || kb == 0 || kb == 7 || std::abs(qb - kb) <= 1;
        if (qb >= 1 && qb <= 6) sees |= g[0][size_t(qb - 1)][0] == kb;
        if (sees)
          for (int l : {2 * qb, 2 * qb + 1})
            if (l < 15) want.push_back(l);
      }
      EXPECT_EQ(changed(p, 15, 2 * kb), want) << "layer " << layer << " key block " << kb;
    }
  }
}

TEST(BigBird, PaddedQueriesGiveZeroAndMaskedKeysAreIgnored) {
  Probe p(1);
  const int L = 11;  // Lp 12, 6 blocks; positions 7.. are padding
  std::vector<int32_t> m(size_t(L), 1);
  for (int l = 7; l < L; ++l) m[size_t(l)] = 0;
  const Tensor mask = Tensor::from_vector(m, {1, L});
  const std::vector<float> a = p.run(L, -1, mask), b = p.run(L, 9, mask);
  for (int l = 0; l < L; ++l)
    for (int c = 0; c < 8; ++c) {
      if (l >= 7) EXPECT_EQ(a[size_t(l * 8 + c)], 0.0f) << "padded query " << l;
      // A masked key has logit − 10000: weight 0 in float32, so poking it changes nothing.
      EXPECT_EQ(a[size_t(l * 8 + c)], b[size_t(l * 8 + c)]) << "query " << l;
    }
}

}  // namespace
}  // namespace lra::models
