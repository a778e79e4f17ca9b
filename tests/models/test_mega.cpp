// The mega mixer (models/mixers/mega.cpp) on its own, through the registry: shapes, finiteness and
// gradients into every parameter for each attention function, bias and chunking; a chunk no shorter than
// L is full attention; the gated residual forward_residual(x, x) = x + forward(x). The numbers themselves
// are checked against PyTorch by the parity cases (tests/parity: mega, mega_chunk_laplace, ...).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

constexpr auto config = &test_fixtures::mixer_config;
using test_fixtures::random_x;
using Options = std::map<std::string, std::string>;

Tensor one_padded_mask() {
  Tensor mask = Tensor::from_vector(std::vector<int32_t>(26, 1), {2, 13});
  for (int l = 9; l < 13; ++l) mask.data<int32_t>()[13 + l] = 0;  // row 1: 9 real tokens
  return mask;
}

class MegaSettings : public ::testing::TestWithParam<Options> {};

TEST_P(MegaSettings, ShapeFiniteAndGradientsReachEveryParameter) {
  Generator init(1);
  auto mixer = find_mixer("mega").make(config(8, GetParam()), init);
  test_fixtures::expect_trains(*mixer, one_padded_mask(), "mega");
}

INSTANTIATE_TEST_SUITE_P(All, MegaSettings,
                         ::testing::Values(Options{{"z_dim", "6"}, {"ndim", "3"}},
                                           Options{{"attention", "laplace"}, {"truncation", "5"}},
                                           Options{{"attention", "relu2"}, {"rel_pos_bias", "rotary"}},
                                           Options{{"chunk", "4"}, {"attention", "laplace"}},
                                           Options{{"chunk", "5"}, {"rel_pos_bias", "rotary"}},
                                           Options{{"bidirectional", "0"}, {"hidden_dim", "5"}}));

TEST(MegaMixer, ChunkNoShorterThanLIsFullAttention) {
  for (const char* attention : {"softmax", "laplace"}) {
    Generator i1(7), i2(7), g1(8), g2(8);
    auto full = find_mixer("mega").make(config(8, {{"attention", attention}, {"max_positions", "16"}}), i1);
    auto chunked = find_mixer("mega").make(config(8, {{"attention", attention}, {"chunk", "16"}}), i2);
    Tensor x = random_x(2, 13, 8, 9);
    std::vector<float> a = full->forward(x, one_padded_mask(), g1).to_vector<float>();
    std::vector<float> b = chunked->forward(x, one_padded_mask(), g2).to_vector<float>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) ASSERT_EQ(a[k], b[k]) << attention << " at " << k;
  }
}

TEST(MegaMixer, OwnsItsGatedResidual) {
  Generator init(3), g1(4), g2(4);
  auto mixer = find_mixer("mega").make(config(8, {{"chunk", "4"}}), init);
  ASSERT_TRUE(mixer->owns_residual());
  Tensor x = random_x(2, 13, 8, 5);
  std::vector<float> branch = mixer->forward(x, one_padded_mask(), g1).to_vector<float>();
  std::vector<float> out = mixer->forward_residual(x, x, one_padded_mask(), g2).to_vector<float>();
  std::vector<float> xs = x.to_vector<float>();
  for (size_t k = 0; k < out.size(); ++k) EXPECT_NEAR(out[k], xs[k] + branch[k], 1e-6) << k;
}

}  // namespace
}  // namespace lra::models
