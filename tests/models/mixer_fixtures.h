// Inputs the mixer tests of tests/models share: a mixer configuration of a given width, a random
// [B, L, D] float input, and the padded token batch the backbone tests train on.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "tests/support/op_cases.h"

namespace lra::models::test_fixtures {

// max_len 32, no dropout, the given mixer settings.
inline MixerConfig mixer_config(int width, std::map<std::string, std::string> options) {
  MixerConfig c;
  c.width = width;
  c.max_len = 32;
  c.dropout = 0.0;
  c.options = std::move(options);
  return c;
}

// [B, L, D] float32 from test::random_input.
inline Tensor random_x(int64_t B, int64_t L, int64_t D, uint64_t seed) {
  Generator gen(seed);
  return ops::cast(test::random_input({B, L, D}, gen), DType::F32);
}

// ids and mask [3, L]: row 0 full, row 1 padded after 4 tokens, row 2 after 9; ids in 1..6, 0 at padding.
inline std::pair<Tensor, Tensor> padded_batch(int L) {
  std::vector<int32_t> ids(static_cast<size_t>(3 * L)), mask(static_cast<size_t>(3 * L), 1);
  const int len[3] = {L, 4, 9};
  for (int b = 0; b < 3; ++b)
    for (int l = 0; l < L; ++l) {
      const bool real = l < len[b];
      ids[size_t(b * L + l)] = real ? 1 + (b * 5 + l * 3) % 6 : 0;
      mask[size_t(b * L + l)] = real ? 1 : 0;
    }
  return {Tensor::from_vector(ids, {3, L}), Tensor::from_vector(mask, {3, L})};
}

// [2, 13] all ones except the last position of row 1: one padded position.
inline Tensor last_padded_mask() {
  Tensor mask = Tensor::from_vector(std::vector<int32_t>(26, 1), {2, 13});
  mask.data<int32_t>()[25] = 0;
  return mask;
}

// A width-8 mixer on x [2, 13, 8] (seed 3) with `mask`: the output keeps the shape and is finite, and a
// random upstream gradient reaches every parameter, finite and not all zero. `what` prefixes the messages.
inline void expect_trains(Mixer& mixer, const Tensor& mask, const std::string& what) {
  Generator gen(2);
  Tensor y = mixer.forward(random_x(2, 13, 8, 3), mask, gen);
  ASSERT_EQ(y.shape(), Shape({2, 13, 8})) << what;
  for (float v : y.to_vector<float>()) ASSERT_TRUE(std::isfinite(v)) << what;
  Generator gg(4);
  y.backward(ops::cast(test::random_input(y.shape(), gg), DType::F32));
  for (const auto& p : mixer.named_parameters()) {
    ASSERT_TRUE(p.tensor.grad().defined()) << what << ": no gradient for " << p.name;
    double norm = 0;
    for (float g : p.tensor.grad().to_vector<float>()) {
      ASSERT_TRUE(std::isfinite(g)) << what << ": " << p.name;
      norm += double(g) * g;
    }
    EXPECT_GT(norm, 0.0) << what << ": zero gradient for " << p.name;
  }
}

}  // namespace lra::models::test_fixtures
