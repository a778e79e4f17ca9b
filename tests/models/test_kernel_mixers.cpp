// The kernel-attention mixers (models/mixers/linear_transformer.cpp, performer.cpp) on their own,
// through the registry: the Performer's random matrix (orthogonal blocks, row lengths, redraw policy),
// causality of the causal forms, and what mask_keys changes (LRA attends to padded keys; mask_keys
// does not). The formulas themselves are checked against PyTorch by the parity cases.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "tests/models/mixer_fixtures.h"
#include "tests/support/op_cases.h"

namespace lra::models {
namespace {

constexpr auto config = &test_fixtures::mixer_config;
using test_fixtures::random_x;

std::vector<float> projection_of(const Mixer& m) {
  for (const auto& b : m.named_buffers())
    if (b.name == "projection") return b.tensor.to_vector<float>();
  return {};
}

TEST(Performer, OrthogonalBlocksAndRowLengths) {
  // head dim d = 4 (width 8, 2 heads), m = 11 features: blocks of rows [0, 4), [4, 8) and rows [8, 11).
  const int64_t d = 4, m = 11;
  for (int scaling : {0, 1}) {
    Generator init(5);
    auto mixer = find_mixer("performer")
                     .make(config(8, {{"heads", "2"}, {"kernel", "softmax"}, {"nb_features", std::to_string(m)},
                                      {"ortho_scaling", std::to_string(scaling)}}),
                           init);
    std::vector<float> W = projection_of(*mixer);
    ASSERT_EQ(W.size(), size_t(m * d));
    auto dot = [&](int64_t i, int64_t j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += double(W[size_t(i * d + c)]) * W[size_t(j * d + c)];
      return s;
    };
    for (int64_t i = 0; i < m; ++i) {
      const double len = std::sqrt(dot(i, i));
      if (scaling == 1) EXPECT_NEAR(len, 2.0, 1e-5) << "row " << i;  // sqrt(d)
      EXPECT_GT(len, 0.0);
      for (int64_t j = (i / d) * d; j < i; ++j)  // rows of one block are orthogonal
        EXPECT_NEAR(dot(i, j) / (len * std::sqrt(dot(j, j))), 0.0, 1e-5) << "rows " << i << ", " << j;
    }
  }
}

TEST(Performer, RedrawsInTrainingOnlyAndOnlyWhenAsked) {
  Tensor x = random_x(2, 7, 8, 3);
  for (const char* redraw : {"auto", "no"}) {
    Generator init(1), gen(2);
    auto mixer = find_mixer("performer")
                     .make(config(8, {{"heads", "2"}, {"kernel", "softmax"}, {"nb_features", "6"}, {"redraw", redraw}}),
                           init);
    const std::vector<float> w0 = projection_of(*mixer);
    mixer->train();
    Tensor y1 = mixer->forward(x, Tensor(), gen);
    const std::vector<float> w1 = projection_of(*mixer);
    mixer->forward(x, Tensor(), gen);
    const std::vector<float> w2 = projection_of(*mixer);
    mixer->eval();
    Tensor y3 = mixer->forward(x, Tensor(), gen);
    const std::vector<float> w3 = projection_of(*mixer);
    if (std::string(redraw) == "auto") {  // softmax: LRA redraws at every call
      EXPECT_NE(w0, w1);
      EXPECT_NE(w1, w2);
    } else {
      EXPECT_EQ(w0, w1);
      EXPECT_EQ(w1, w2);
      EXPECT_EQ(y1.to_vector<float>(), y3.to_vector<float>());  // same matrix: the same output
    }
    EXPECT_EQ(w2, w3);  // evaluation uses the last matrix drawn
  }
}

TEST(Performer, ReluKernelHasNoMatrixByDefault) {
  Generator init(1);
  auto mixer = find_mixer("performer").make(config(8, {{"heads", "2"}}), init);
  EXPECT_TRUE(projection_of(*mixer).empty());
  EXPECT_THROW(find_mixer("performer").make(config(8, {{"kernel", "softmax"}, {"features", "none"}}), init), Error);
}

struct Setting {
  std::string model;
  std::map<std::string, std::string> options;
};

class KernelMixers : public ::testing::TestWithParam<Setting> {};

TEST_P(KernelMixers, CausalOutputsIgnoreLaterPositions) {
  const Setting& s = GetParam();
  auto options = s.options;
  options["causal"] = "true";
  options["heads"] = "2";
  Generator init(1), gen(2);
  auto mixer = find_mixer(s.model).make(config(8, options), init);
  mixer->eval();
  Tensor x = random_x(2, 9, 8, 3);
  std::vector<float> y = mixer->forward(x, Tensor(), gen).to_vector<float>();
  Tensor x2 = x.clone();
  for (int64_t c = 0; c < 8; ++c) x2.data<float>()[(0 * 9 + 6) * 8 + c] += 1.0f;  // change position 6 of row 0
  std::vector<float> y2 = mixer->forward(x2, Tensor(), gen).to_vector<float>();
  for (int64_t t = 0; t < 9; ++t)
    for (int64_t c = 0; c < 8; ++c) {
      const size_t i = size_t(t * 8 + c);
      // The softmax kernel's key stabiliser is a max over all keys, later ones included (LRA's, also in
      // its unidirectional mode): it moves earlier outputs by O(softmax_eps) relative, not more.
      if (t < 6) EXPECT_NEAR(y[i], y2[i], 1e-5) << "position " << t;
    }
  EXPECT_NE(y[6 * 8], y2[6 * 8]);
}

TEST_P(KernelMixers, MaskKeysRemovesPaddedKeysAndLraKeepsThem) {
  const Setting& s = GetParam();
  Tensor x = random_x(1, 9, 8, 3);
  std::vector<int32_t> m(9, 1);
  m[7] = m[8] = 0;
  Tensor mask = Tensor::from_vector(m, {1, 9});
  Tensor x2 = x.clone();
  for (int64_t c = 0; c < 8; ++c) x2.data<float>()[8 * 8 + c] += 1.0f;  // change a padded position
  for (bool mask_keys : {false, true}) {
    auto options = s.options;
    options["heads"] = "2";
    options["mask_keys"] = mask_keys ? "true" : "false";
    Generator init(1), gen(2);
    auto mixer = find_mixer(s.model).make(config(8, options), init);
    mixer->eval();
    std::vector<float> y = mixer->forward(x, mask, gen).to_vector<float>();
    std::vector<float> y2 = mixer->forward(x2, mask, gen).to_vector<float>();
    double change = 0;  // at the real positions
    for (size_t i = 0; i < size_t(7 * 8); ++i) change = std::max(change, double(std::fabs(y[i] - y2[i])));
    // With mask_keys the softmax kernel's key stabiliser still takes its max over every key, padded ones
    // included (as LRA's): that moves the result by O(softmax_eps) relative, ~1e-6 here.
    if (mask_keys) EXPECT_LT(change, 5e-5);
    else EXPECT_GT(change, 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(All, KernelMixers,
                         ::testing::Values(Setting{"linear_transformer", {}}, Setting{"performer", {}},
                                           Setting{"performer", {{"kernel", "softmax"}, {"nb_features", "6"},
                                                                 {"redraw", "no"}}}),
                         [](const ::testing::TestParamInfo<Setting>& info) {
                           return info.param.model + (info.param.options.empty() ? "" : "_softmax");
                         });

}  // namespace
}  // namespace lra::models
