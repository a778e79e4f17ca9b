// Masked-token denoising: exact corruption counts, pads untouched, targets only where corrupted (or, with
// targets = all, at every non-pad position from the same draws), the random/MASK split, uniformity of the
// chosen positions, determinism in the generator, and errors.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tasks/common/denoise.h"

namespace lt = lra::tasks;

namespace {

using lra::test::error_of;

// B rows of byte ids with lengths L, L-1, ... (at least 1), padded with 0.
lra::Tensor batch(int64_t B, int64_t L, uint64_t seed) {
  lra::Generator gen(seed);
  std::vector<int32_t> ids(static_cast<size_t>(B * L), 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = std::max<int64_t>(1, L - b * 7);
    for (int64_t t = 0; t < len; ++t) ids[size_t(b * L + t)] = 1 + int32_t(gen.below(256));
  }
  return lra::Tensor::from_vector(ids, {B, L});
}

}  // namespace

TEST(Denoise, ExactCountsPadsAndTargets) {
  const int64_t B = 9, L = 301;
  lra::Tensor ids = batch(B, L, 1);
  lra::Generator gen(42);
  lt::Denoised d = lt::corrupt(ids, gen);
  ASSERT_EQ(d.ids.shape(), lra::Shape({B, L}));
  ASSERT_EQ(d.targets.shape(), lra::Shape({B, L}));
  const std::vector<int32_t> in = ids.to_vector<int32_t>(), out = d.ids.to_vector<int32_t>(),
                             tg = d.targets.to_vector<int32_t>();
  int64_t total_random = 0, total_mask = 0;
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0, corrupted = 0, masked = 0, random = 0;
    for (int64_t t = 0; t < L; ++t) {
      const size_t i = size_t(b * L + t);
      if (in[i] == 0) {  // pads never touched, never predicted
        EXPECT_EQ(out[i], 0);
        EXPECT_EQ(tg[i], lt::kDenoiseIgnore);
        continue;
      }
      ++n;
      if (tg[i] == lt::kDenoiseIgnore) {
        EXPECT_EQ(out[i], in[i]) << "changed without a target at " << b << "," << t;
        continue;
      }
      EXPECT_EQ(tg[i], in[i]);  // the target is the original byte
      ++corrupted;
      if (out[i] == lt::kMaskId) {
        ++masked;
      } else {
        ++random;
        EXPECT_GE(out[i], 1);
        EXPECT_LE(out[i], 256);
      }
    }
    const int64_t k = std::llround(0.3 * double(n));
    EXPECT_EQ(corrupted, k) << "row " << b << " of " << n << " tokens";
    // A random id equal to the original would count as random here too, so this is exact.
    EXPECT_EQ(random, std::llround(double(k) / 3.0)) << "row " << b;
    EXPECT_EQ(masked, k - random);
    total_random += random;
    total_mask += masked;
  }
  EXPECT_NEAR(double(total_random) / double(total_random + total_mask), 1.0 / 3.0, 0.01);
  // The input is left alone.
  EXPECT_EQ(ids.to_vector<int32_t>(), in);
  EXPECT_EQ(lt::kDenoiseVocabSize, 258);
  EXPECT_EQ(lt::kMaskId, 257);
}

TEST(Denoise, PositionsAndRandomIdsAreUniform) {
  // Over many draws, every position of a 50-token row is corrupted ~30% of the time, and random ids
  // cover 1..256 with no preference.
  const int64_t L = 50, draws = 4000;
  std::vector<int32_t> row(static_cast<size_t>(L), 'x' + 1);
  lra::Tensor ids = lra::Tensor::from_vector(row, {1, L});
  lra::Generator gen(7);
  std::vector<int> hits(static_cast<size_t>(L), 0), first_half_random(2, 0);
  std::vector<int> byte_hits(257, 0);
  for (int64_t k = 0; k < draws; ++k) {
    lt::Denoised d = lt::corrupt(ids, gen);
    const std::vector<int32_t> out = d.ids.to_vector<int32_t>(), tg = d.targets.to_vector<int32_t>();
    for (int64_t t = 0; t < L; ++t) {
      if (tg[size_t(t)] != lt::kDenoiseIgnore) ++hits[size_t(t)];
      if (out[size_t(t)] != lt::kMaskId && tg[size_t(t)] != lt::kDenoiseIgnore) {
        ++byte_hits[size_t(out[size_t(t)])];
        ++first_half_random[t < L / 2 ? 0 : 1];
      }
    }
  }
  // Each position: Binomial(4000, 0.3), sd ~ 29; allow 5 sd.
  for (int64_t t = 0; t < L; ++t) EXPECT_NEAR(hits[size_t(t)], 1200, 145) << "position " << t;
  // Random replacements are not biased towards early or late positions.
  EXPECT_NEAR(double(first_half_random[0]) / (first_half_random[0] + first_half_random[1]), 0.5, 0.03);
  // 4000 * 5 random ids over 256 values: ~78 each, sd ~ 9.
  EXPECT_EQ(byte_hits[0], 0);
  for (int v = 1; v <= 256; ++v) EXPECT_NEAR(byte_hits[size_t(v)], 78, 45) << "id " << v;
}

TEST(Denoise, DeterministicInTheGeneratorState) {
  lra::Tensor ids = batch(4, 97, 3);
  lra::Generator a(5, 1000), b(5, 1000), c(6, 1000);
  lt::Denoised x = lt::corrupt(ids, a), y = lt::corrupt(ids, b), z = lt::corrupt(ids, c);
  EXPECT_EQ(x.ids.to_vector<int32_t>(), y.ids.to_vector<int32_t>());
  EXPECT_EQ(x.targets.to_vector<int32_t>(), y.targets.to_vector<int32_t>());
  EXPECT_NE(x.targets.to_vector<int32_t>(), z.targets.to_vector<int32_t>());
  // The generator advances: a second call differs, and both generators moved alike.
  EXPECT_EQ(a.offset(), b.offset());
  EXPECT_GT(a.offset(), 1000u);
  lt::Denoised again = lt::corrupt(ids, a);
  EXPECT_NE(again.targets.to_vector<int32_t>(), x.targets.to_vector<int32_t>());
}

// targets = all (the predecessor's reconstruction of every non-pad position): the same corrupted ids from
// the same generator state, and the original id as the target at every non-pad position, corrupted or not.
TEST(Denoise, TargetsAllScoresEveryNonPadPosition) {
  lra::Tensor ids = batch(5, 64, 4);
  lt::DenoiseOptions all;
  all.targets = lt::DenoiseTargets::All;
  lra::Generator a(9, 77), b(9, 77);
  lt::Denoised corrupted = lt::corrupt(ids, a), every = lt::corrupt(ids, b, all);
  EXPECT_EQ(every.ids.to_vector<int32_t>(), corrupted.ids.to_vector<int32_t>());
  EXPECT_EQ(a.offset(), b.offset());
  const std::vector<int32_t> in = ids.to_vector<int32_t>(), tg = every.targets.to_vector<int32_t>(),
                             out = every.ids.to_vector<int32_t>();
  int64_t kept = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(tg[i], in[i] == 0 ? lt::kDenoiseIgnore : in[i]) << "position " << i;
    kept += in[i] != 0 && out[i] == in[i];
  }
  EXPECT_GT(kept, 0) << "uncorrupted positions are targets too";
}

// Corruption is keyed per row: a [5, L] batch corrupted at once equals rows [0, 3) and [3, 5) corrupted by
// two windowed calls from the same generator state (so it does not depend on how ranks split the batch),
// and every call reserves 2·L counters per row of the global batch. Exact k per row still holds.
TEST(Denoise, WindowedHalvesConcatenateToTheWholeBatch) {
  const int64_t B = 5, L = 97;
  lra::Tensor ids = batch(B, L, 6);
  lra::Generator whole_gen(8, 500);
  lt::Denoised whole = lt::corrupt(ids, whole_gen);
  EXPECT_EQ(whole_gen.offset(), 500u + uint64_t(B * lt::kDenoiseCountersPerPosition * L));
  std::vector<int32_t> out, tg;
  for (auto [first, rows] : {std::pair<int64_t, int64_t>{0, 3}, {3, 2}}) {
    lra::Generator gen(8, 500);
    gen.set_window({B, first, rows});
    lt::Denoised part = lt::corrupt(ids.narrow0(first, rows).clone(), gen);
    EXPECT_EQ(gen.offset(), whole_gen.offset()) << "the reservation is the global batch's";
    const std::vector<int32_t> o = part.ids.to_vector<int32_t>(), t = part.targets.to_vector<int32_t>();
    out.insert(out.end(), o.begin(), o.end());
    tg.insert(tg.end(), t.begin(), t.end());
  }
  EXPECT_EQ(out, whole.ids.to_vector<int32_t>());
  EXPECT_EQ(tg, whole.targets.to_vector<int32_t>());

  // Per row: exactly round(0.3 n) targets, and row b is Generator(seed, base + b·2L) drawing corrupt_row.
  const std::vector<int32_t> in = ids.to_vector<int32_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0, scored = 0;
    for (int64_t t = 0; t < L; ++t) {
      n += in[size_t(b * L + t)] != 0;
      scored += tg[size_t(b * L + t)] != lt::kDenoiseIgnore;
    }
    EXPECT_EQ(scored, std::llround(0.3 * double(n))) << "row " << b;
    std::vector<int32_t> row_out(static_cast<size_t>(L)), row_tg(static_cast<size_t>(L));
    lra::Generator row_gen(8, 500 + uint64_t(b * 2 * L));
    lt::corrupt_row(in.data() + b * L, L, row_gen, {}, row_out.data(), row_tg.data());
    EXPECT_EQ(row_out, std::vector<int32_t>(out.begin() + b * L, out.begin() + (b + 1) * L)) << "row " << b;
  }

  // The unwindowed second slice would be keyed by rows 0, 1: the comparison above can fail.
  lra::Generator plain(8, 500);
  EXPECT_NE(lt::corrupt(ids.narrow0(3, 2).clone(), plain).ids.to_vector<int32_t>(),
            std::vector<int32_t>(out.begin() + 3 * L, out.end()));
  // A window must match the call's rows.
  lra::Generator bad(8, 500);
  bad.set_window({B, 0, 3});
  const std::string m = error_of([&] { lt::corrupt(ids, bad); });
  EXPECT_NE(m.find("denoise: got 5 rows under a batch window of 3 local rows"), std::string::npos) << m;
}

TEST(Denoise, OptionsAndEdgeCases) {
  // An all-pad row, a one-token row (round(0.3) = 0), and rate 1 with no random ids.
  lra::Tensor ids = lra::Tensor::from_vector(std::vector<int32_t>{0, 0, 0, 0, 5, 0, 0, 0, 7, 8, 9, 10}, {3, 4});
  lra::Generator gen(1);
  lt::Denoised d = lt::corrupt(ids, gen);
  std::vector<int32_t> out = d.ids.to_vector<int32_t>(), tg = d.targets.to_vector<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(out.begin(), out.begin() + 8), (std::vector<int32_t>{0, 0, 0, 0, 5, 0, 0, 0}));
  EXPECT_EQ(std::count(tg.begin(), tg.begin() + 8, lt::kDenoiseIgnore), 8);
  EXPECT_EQ(std::count(tg.begin() + 8, tg.end(), lt::kDenoiseIgnore), 3);  // 0.3 * 4 = 1.2 -> 1
  lt::DenoiseOptions all;
  all.rate = 1.0;
  all.random_fraction = 0.0;
  d = lt::corrupt(ids, gen, all);
  EXPECT_EQ(d.ids.to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 0, 0, 257, 0, 0, 0, 257, 257, 257, 257}));
  EXPECT_EQ(d.targets.to_vector<int32_t>(),
            (std::vector<int32_t>{-100, -100, -100, -100, 5, -100, -100, -100, 7, 8, 9, 10}));

  // The raw row entry point.
  const int32_t row[5] = {3, 4, 5, 6, 0};
  int32_t row_out[5], row_tg[5];
  EXPECT_EQ(lt::corrupt_row(row, 5, gen, all, row_out, row_tg), 4);
  EXPECT_EQ(row_out[0], lt::kMaskId);
  EXPECT_EQ(row_tg[0], 3);
  EXPECT_EQ(row_out[4], 0);
  EXPECT_EQ(row_tg[4], -100);

  // Errors.
  lt::DenoiseOptions bad;
  bad.rate = 1.5;
  EXPECT_NE(error_of([&] { lt::corrupt(ids, gen, bad); }).find("rate must be in [0, 1]"), std::string::npos);
  bad = {};
  bad.mask_id = 100;
  EXPECT_NE(error_of([&] { lt::corrupt(ids, gen, bad); }).find("must not overlap"), std::string::npos);
  lra::Tensor twice = lt::corrupt(batch(2, 20, 1), gen).ids;
  std::string msg = error_of([&] { lt::corrupt(twice, gen); });
  EXPECT_NE(msg.find("id 257 at position"), std::string::npos) << msg;
  EXPECT_NE(msg.find("already corrupted"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in row 0 of [2, 20]"), std::string::npos) << msg;
  msg = error_of([&] { lt::corrupt(lra::Tensor::zeros({2, 3}), gen); });
  EXPECT_NE(msg.find("host int32 tensor [B, L]"), std::string::npos) << msg;
  msg = error_of([&] { lt::corrupt(lra::Tensor::zeros({6}, lra::DType::I32), gen); });
  EXPECT_NE(msg.find("host int32 tensor [B, L]"), std::string::npos) << msg;
}
