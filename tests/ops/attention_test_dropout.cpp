// Attention dropout, the properties the case table cannot see (its dropout cases already gradcheck the
// masked backward in float64 and compare CUDA with the CPU): p = 0 is exactly the undropped op; the
// mask is ops::dropout's Philox convention over [B, H, L, L], drops a fraction ≈ p and scales kept
// weights by exactly 1/(1 − p); the output and every gradient average to the undropped ones over
// masks; a mask is fixed by (seed, offset) and changes with either; set_attention_dropout reserves a
// fresh, disjoint stream per call; bad rates are errors naming the option.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/attention/attention.h"
#include "ops/attention/attention_dropout.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using ops::AttentionOptions;

AttentionOptions with_dropout(double p, uint64_t seed, uint64_t offset, bool causal = false) {
  AttentionOptions o;
  o.causal = causal;
  o.dropout = p;
  o.dropout_seed = seed;
  o.dropout_offset = offset;
  return o;
}

// v [B, H, L, D] (D >= L) with v_j = e_j, so out[b, h, i, j] = P_ij · M_ij: the weights themselves.
Tensor identity_values(int64_t B, int64_t H, int64_t L, int64_t D) {
  std::vector<double> v(size_t(B * H * L * D), 0.0);
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t j = 0; j < L; ++j) v[size_t((bh * L + j) * D + j)] = 1.0;
  return Tensor::from_vector(v, {B, H, L, D});
}

struct Result {
  std::vector<double> out, gq, gk, gv;
};

// Forward and backward (upstream gradient w) on fresh leaves.
Result run(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w, const AttentionOptions& o,
           const Tensor& mask = Tensor()) {
  Tensor qq = q.clone(), kk = k.clone(), vv = v.clone();
  qq.requires_grad_();
  kk.requires_grad_();
  vv.requires_grad_();
  Tensor out = ops::attention(qq, kk, vv, mask, o);
  out.backward(w);
  return {out.to_vector<double>(), qq.grad().to_vector<double>(), kk.grad().to_vector<double>(),
          vv.grad().to_vector<double>()};
}

TEST(AttentionDropout, ZeroRateIsExactlyTheUndroppedOp) {
  Generator gen(31);
  Shape s{2, 3, 19, 8};
  Tensor q = test::random_input(s, gen, -2, 2), k = test::random_input(s, gen, -2, 2), v = test::random_input(s, gen);
  Tensor w = test::random_input(s, gen), mask = test::padding_mask(2, 19, gen, 1);
  Result plain = run(q, k, v, w, AttentionOptions(), mask);
  Result zero = run(q, k, v, w, with_dropout(0.0, 77, 1234), mask);
  EXPECT_EQ(zero.out, plain.out);
  EXPECT_EQ(zero.gq, plain.gq);
  EXPECT_EQ(zero.gk, plain.gk);
  EXPECT_EQ(zero.gv, plain.gv);
  // ... while a positive rate changes the result, so the comparison above can fail.
  EXPECT_NE(run(q, k, v, w, with_dropout(0.3, 77, 1234), mask).out, plain.out);
  // set_attention_dropout with p = 0 turns nothing on and draws nothing.
  AttentionOptions o;
  Generator g(5, 100);
  ops::set_attention_dropout(o, 0.0, g, 2, 3, 19);
  EXPECT_EQ(o.dropout, 0.0);
  EXPECT_EQ(g.offset(), 100u);
}

// With v = identity the output is the weight matrix, so the mask can be read off exactly: a weight is
// dropped where out is 0 and otherwise equals the undropped weight / (1 − p). The dropped set must be
// ops::dropout's convention (uniform < p for flat index ((b·H + h)·L + i)·L + j), written here from
// engine/rng.h, not from the op, and its size must be about p of all weights. Both float32 and float64
// references draw the same mask.
TEST(AttentionDropout, MaskIsThePhiloxStreamOverBHLLAndDropsAboutP) {
  const int64_t B = 4, H = 4, L = 32, D = 32, n = B * H * L * L;
  Generator gen(32);
  Shape s{B, H, L, D};
  Tensor q = test::random_input(s, gen, -2, 2), k = test::random_input(s, gen, -2, 2);
  Tensor v = identity_values(B, H, L, D);
  std::vector<double> P = ops::attention(q, k, v, Tensor(), AttentionOptions()).to_vector<double>();
  auto f32 = [](const Tensor& t) {
    std::vector<double> x = t.to_vector<double>();
    return Tensor::from_vector(std::vector<float>(x.begin(), x.end()), t.shape());
  };
  const uint64_t seed = 0xA5A5F00Dull, offset = 987654321;
  for (double p : {0.1, 0.5, 0.9}) {
    AttentionOptions o = with_dropout(p, seed, offset);
    std::vector<double> out = ops::attention(q, k, v, Tensor(), o).to_vector<double>();
    std::vector<float> out32 = ops::attention(f32(q), f32(k), f32(v), Tensor(), o).to_vector<float>();
    int64_t dropped = 0;
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j) {
          const int64_t e = (bh * L + i) * L + j;  // flat weight index = element of out [B, H, L, D=L]
          const size_t x = size_t((bh * L + i) * D + j);
          const bool want_dropped = double(philox_uniform(seed, offset, e)) < p;
          ASSERT_GT(P[x], 0.0);  // every weight is positive without masking, so 0 means dropped
          if (want_dropped) {
            ++dropped;
            ASSERT_EQ(out[x], 0.0) << "p " << p << " weight " << e << " should be dropped";
            ASSERT_EQ(out32[x], 0.0f) << "p " << p << " weight " << e << " should be dropped (float32)";
          } else {
            ASSERT_NEAR(out[x], P[x] / (1 - p), 1e-15 * P[x] / (1 - p)) << "p " << p << " weight " << e;
            ASSERT_NE(out32[x], 0.0f) << "p " << p << " weight " << e << " should be kept (float32)";
          }
        }
    // Binomial(n, p): allow 5 standard deviations.
    EXPECT_NEAR(double(dropped), p * double(n), 5 * std::sqrt(double(n) * p * (1 - p))) << "p " << p;
  }
}

// The output and every gradient are linear in the multipliers M_ij, and E[M_ij] = 1, so averaged over
// many masks they approach the undropped values; per element the gap must stay within 5 standard
// errors of the sample mean. A missing 1/(1 − p) would pull the means to (1 − p) times the truth,
// which the last check shows is far outside the tolerance.
TEST(AttentionDropout, AverageOverMasksIsTheUndroppedOpForwardAndBackward) {
  Generator data(33);
  Shape s{1, 2, 8, 4};
  Tensor q = test::random_input(s, data, -2, 2), k = test::random_input(s, data, -2, 2),
         v = test::random_input(s, data), w = test::random_input(s, data);
  const double p = 0.3;
  Result ref = run(q, k, v, w, AttentionOptions(), Tensor());
  auto flat = [](const Result& r) {
    std::vector<double> all = r.out;
    for (const auto* g : {&r.gq, &r.gk, &r.gv}) all.insert(all.end(), g->begin(), g->end());
    return all;
  };
  const std::vector<double> want = flat(ref);
  std::vector<double> sum(want.size(), 0.0), sq(want.size(), 0.0);
  const int N = 4000;
  Generator gen(34);
  for (int r = 0; r < N; ++r) {
    AttentionOptions o;
    ops::set_attention_dropout(o, p, gen, s[0], s[1], s[2]);
    std::vector<double> x = flat(run(q, k, v, w, o, Tensor()));
    for (size_t e = 0; e < x.size(); ++e) {
      sum[e] += x[e];
      sq[e] += x[e] * x[e];
    }
  }
  int far_from_scaled = 0;
  for (size_t e = 0; e < want.size(); ++e) {
    const double mean = sum[e] / N, var = std::max(sq[e] / N - mean * mean, 0.0);
    const double tol = 5 * std::sqrt(var / N) + 1e-12;
    EXPECT_NEAR(mean, want[e], tol) << "element " << e << " of [out, dq, dk, dv]";
    far_from_scaled += std::fabs((1 - p) * want[e] - want[e]) > 3 * tol;
  }
  EXPECT_GT(far_from_scaled, int(want.size()) / 2) << "the test could not tell a missing 1/(1 - p)";
}

// The float32 kernels draw one Philox block per 4 weights (attention_dropout.h). Here their two layouts
// run on the host, a warp emulated as 32 lanes and a shuffle as reading another lane's word, over odd
// and even L, tiles that start on and off a multiple of 4, and counters that cross 2^32: every flag must
// be attention_dropped's, the mask the CPU reference draws and the kernels drew one weight at a time.
TEST(AttentionDropout, KernelDrawLayoutsGiveTheSameMask) {
  const uint64_t seed = 0x5EEDF00Dull;
  const uint32_t threshold = ops::attention_dropout_threshold(0.5);
  for (uint64_t offset : {uint64_t(0), uint64_t(12345), (uint64_t(1) << 32) - 300})
    for (int64_t L : {1, 3, 5, 31, 32, 33, 64, 102, 1023, 1024})
      for (int64_t bh : {0, 1, 7})
        for (int64_t j0 : {0, 32, 6}) {  // 6: a chunked tile's first key
          // Forward / dq: a warp's 8 query rows from i_w, lane l is key j0 + l.
          for (int64_t i_w : {int64_t(0), int64_t(8), L - 1}) {
            const uint64_t row0 = uint64_t((bh * L + i_w) * L + j0);
            uint32_t share[32];
            for (int lane = 0; lane < 32; ++lane)
              share[lane] = ops::attention_drop_share(seed, offset, threshold, row0, uint64_t(L), lane);
            for (int r = 0; r < ops::kAttentionDropRows; ++r)
              for (int lane = 0; lane < 32; ++lane) {
                int src, bit;
                ops::attention_drop_locate(int(row0 % 4), int(L % 4), r, lane, &src, &bit);
                const uint64_t e = row0 + uint64_t(r * L + lane);
                ASSERT_EQ((share[src] >> bit) & 1u, uint32_t(ops::attention_dropped(seed, offset, e, threshold)))
                    << "row layout: L " << L << " bh " << bh << " rows from " << i_w << " keys from " << j0
                    << " row " << r << " lane " << lane << " offset " << offset;
              }
          }
          // dk/dv: lane l is query i, its 8 keys from j0 + 8·warp.
          for (int64_t i : {int64_t(0), int64_t(5), L - 1})
            for (int warp = 0; warp < 4; ++warp) {
              const uint64_t e0 = uint64_t((bh * L + i) * L + j0 + 8 * warp);
              const uint32_t run = ops::attention_drop_run8(seed, offset, e0, threshold);
              for (int r = 0; r < ops::kAttentionDropRows; ++r)
                ASSERT_EQ((run >> r) & 1u, uint32_t(ops::attention_dropped(seed, offset, e0 + uint64_t(r), threshold)))
                    << "run layout: L " << L << " weight " << e0 + uint64_t(r) << " offset " << offset;
            }
        }
}

TEST(AttentionDropout, MaskIsFixedBySeedAndOffsetAndChangesWithEither) {
  Generator data(35);
  Shape s{2, 2, 23, 8};
  Tensor q = test::random_input(s, data, -2, 2), k = test::random_input(s, data, -2, 2),
         v = test::random_input(s, data), w = test::random_input(s, data);
  Result a = run(q, k, v, w, with_dropout(0.25, 7, 1000, true));
  Result again = run(q, k, v, w, with_dropout(0.25, 7, 1000, true));
  EXPECT_EQ(a.out, again.out);
  EXPECT_EQ(a.gq, again.gq);
  EXPECT_EQ(a.gk, again.gk);
  EXPECT_EQ(a.gv, again.gv);
  EXPECT_NE(run(q, k, v, w, with_dropout(0.25, 7, 1001, true)).out, a.out) << "a different offset";
  EXPECT_NE(run(q, k, v, w, with_dropout(0.25, 8, 1000, true)).out, a.out) << "a different seed";

  // set_attention_dropout: the generator's seed, then back-to-back disjoint counter ranges of
  // uniform_counters(B·H·L·L), hence different masks from one call to the next.
  Generator gen(99, 40);
  AttentionOptions o1, o2;
  ops::set_attention_dropout(o1, 0.25, gen, 2, 2, 23);
  ops::set_attention_dropout(o2, 0.25, gen, 2, 2, 23);
  EXPECT_EQ(o1.dropout, 0.25);
  EXPECT_EQ(o1.dropout_seed, 99u);
  EXPECT_EQ(o1.dropout_offset, 40u);
  EXPECT_EQ(o2.dropout_offset, 40u + uniform_counters(2 * 2 * 23 * 23));
  EXPECT_EQ(gen.offset(), 40u + 2 * uniform_counters(2 * 2 * 23 * 23));
  EXPECT_NE(run(q, k, v, w, o1).out, run(q, k, v, w, o2).out);
}

// A batch window keys the attention mask by global row (set_attention_dropout with the local B): the whole
// batch of 5 without a window equals rows [0, 3) and [3, 5) from two windowed calls on the same generator
// state, output and every gradient, bit for bit (the rows do not interact). L = 23 makes H·L·L = 1058
// weights per row, not a multiple of 4, so the second slice starts inside a Philox block. On the CPU this
// is the row path (attention_cpu_rows.cpp; the float32 fast path takes no dropout, attention_cpu_path);
// float32 and float64 both. The same on CUDA with D = 32.
void expect_windowed_halves_match(Device device, DType dtype, int64_t D) {
  const int64_t B = 5, H = 2, L = 23;
  Generator data(36);
  Shape s{B, H, L, D};
  auto input = [&](double lo, double hi) {
    Tensor t = test::random_input(s, data, lo, hi);
    if (dtype == DType::F32) {
      std::vector<double> x = t.to_vector<double>();
      t = Tensor::from_vector(std::vector<float>(x.begin(), x.end()), s);
    }
    return t;
  };
  const Tensor q = input(-2, 2), k = input(-2, 2), v = input(-1, 1), w = input(-1, 1);
  std::vector<double> second_out;
  for (bool causal : {false, true}) {
    AttentionOptions whole_o;
    whole_o.causal = causal;
    Generator whole_gen(99, 40);
    ops::set_attention_dropout(whole_o, 0.3, whole_gen, B, H, L);
    const Result whole = run(q.to(device), k.to(device), v.to(device), w.to(device), whole_o);
    Result parts;
    for (auto [first, rows] : {std::pair<int64_t, int64_t>{0, 3}, {3, 2}}) {
      AttentionOptions o;
      o.causal = causal;
      Generator gen(99, 40);
      gen.set_window({B, first, rows});
      ops::set_attention_dropout(o, 0.3, gen, rows, H, L);
      EXPECT_EQ(gen.offset(), whole_gen.offset()) << "the reservation is the global batch's";
      EXPECT_EQ(o.dropout_first, uint64_t(first * H * L * L));
      auto slice = [&](const Tensor& t) { return t.narrow0(first, rows).clone().to(device); };
      const Result r = run(slice(q), slice(k), slice(v), slice(w), o);
      parts.out.insert(parts.out.end(), r.out.begin(), r.out.end());
      parts.gq.insert(parts.gq.end(), r.gq.begin(), r.gq.end());
      parts.gk.insert(parts.gk.end(), r.gk.begin(), r.gk.end());
      parts.gv.insert(parts.gv.end(), r.gv.begin(), r.gv.end());
      if (!causal && first == 3) second_out = r.out;
    }
    EXPECT_EQ(parts.out, whole.out) << "causal " << causal;
    EXPECT_EQ(parts.gq, whole.gq) << "causal " << causal;
    EXPECT_EQ(parts.gk, whole.gk) << "causal " << causal;
    EXPECT_EQ(parts.gv, whole.gv) << "causal " << causal;
  }
  // Without the window the second slice would draw the first rows' masks: the comparison above can fail.
  AttentionOptions plain_o;
  Generator plain(99, 40);
  ops::set_attention_dropout(plain_o, 0.3, plain, 2, H, L);
  auto tail = [&](const Tensor& t) { return t.narrow0(3, 2).clone().to(device); };
  const std::vector<double> unkeyed = run(tail(q), tail(k), tail(v), tail(w), plain_o).out;
  EXPECT_NE(unkeyed, second_out);
}

TEST(AttentionDropout, WindowedHalvesConcatenateToTheWholeBatch) {
  expect_windowed_halves_match(Device::CPU, DType::F64, 8);
  expect_windowed_halves_match(Device::CPU, DType::F32, 8);
  Generator gen(1);
  gen.set_window({6, 0, 4});
  AttentionOptions o;
  const std::string m = test::error_of([&] { ops::set_attention_dropout(o, 0.3, gen, 3, 2, 5); });
  EXPECT_NE(m.find("attention: set_attention_dropout got B = 3 rows, not a multiple of the generator's batch window "
                   "of 4 local rows"),
            std::string::npos)
      << m;
}

TEST(AttentionDropout, CudaWindowedHalvesConcatenateToTheWholeBatch) {
  LRA_REQUIRE_CUDA();
  expect_windowed_halves_match(Device::CUDA, DType::F32, 32);
}

// Dropout never makes a fully masked query anything but exact zeros, and keeps everything finite at
// a high rate.
TEST(AttentionDropout, FullyMaskedQueriesStayZeroAndHighRatesStayFinite) {
  Generator data(36);
  Shape s{2, 2, 17, 8};
  Tensor q = test::random_input(s, data, -2, 2), k = test::random_input(s, data, -2, 2),
         v = test::random_input(s, data), w = test::random_input(s, data);
  Tensor mask = test::padding_mask(2, 17, data, 1);  // batch 1 has no key at all
  Result r = run(q, k, v, w, with_dropout(0.95, 3, 0), mask);
  const size_t half = r.out.size() / 2;
  for (size_t e = 0; e < r.out.size(); ++e) {
    ASSERT_TRUE(std::isfinite(r.out[e]) && std::isfinite(r.gq[e]) && std::isfinite(r.gk[e]) && std::isfinite(r.gv[e]))
        << "element " << e;
    if (e >= half) {
      EXPECT_EQ(r.out[e], 0.0) << "element " << e;
      EXPECT_EQ(r.gq[e], 0.0) << "element " << e;
      EXPECT_EQ(r.gv[e], 0.0) << "element " << e;
    }
  }
}

TEST(AttentionDropout, RatesOutsideZeroToOneAreErrors) {
  using test::error_of;
  Generator gen(37);
  Tensor q = test::random_input({1, 2, 5, 8}, gen);
  for (double p : {1.0, -0.1, std::nan("")})
    EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), with_dropout(p, 1, 0)); })
                  .find("options.dropout must be in [0, 1)"),
              std::string::npos)
        << "p " << p;
  AttentionOptions o;
  EXPECT_NE(error_of([&] { ops::set_attention_dropout(o, 1.0, gen, 1, 2, 5); }).find("dropout must be in [0, 1)"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { ops::attention(q, q, q, Tensor(), with_dropout(0.99, 1, 0)); }), "(no error)");
}

}  // namespace
}  // namespace lra
