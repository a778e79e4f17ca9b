// Properties of attention the case table cannot see: the semantics against an independent oracle
// (including head dims the CUDA kernels do not compile), exact zeros for fully masked queries, the
// chunk / window / LaS special cases, the tile ranges the CUDA kernels skip by, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/attention/attention.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using ops::AttentionOptions;

// An independent oracle in double, written from the header's definition: for every (b, h, i) list
// the included keys, then softmax over them.
std::vector<double> oracle(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                           const AttentionOptions& o, const Tensor& bias) {
  const int64_t B = q.dim(0), H = q.dim(1), L = q.dim(2), D = q.dim(3);
  std::vector<double> Q = q.to_vector<double>(), K = k.to_vector<double>(), V = v.to_vector<double>();
  std::vector<int32_t> M = mask.defined() ? mask.to_vector<int32_t>() : std::vector<int32_t>(size_t(B * L), 1);
  std::vector<double> Bi = bias.defined() ? bias.to_vector<double>() : std::vector<double>();
  const double scale = o.scale != 0 ? o.scale : 1 / std::sqrt(double(D));
  std::vector<double> out(size_t(B * H * L * D), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<int64_t> keys;
        std::vector<double> s;
        for (int64_t j = 0; j < L; ++j) {
          if (!M[size_t(b * L + j)]) continue;
          if (o.causal && j > i) continue;
          if (o.chunk > 0) {
            int64_t block_i = i / o.chunk, block_j = j / o.chunk;
            if (std::abs(block_i - block_j) > o.window) continue;
          }
          double x = 0;
          for (int64_t c = 0; c < D; ++c) x += Q[size_t(((b * H + h) * L + i) * D + c)] * K[size_t(((b * H + h) * L + j) * D + c)];
          x *= scale;
          if (!o.alpha.empty()) x *= std::exp(-double(o.alpha[size_t(h)]) * double(std::abs(i - j)));
          if (bias.defined()) x += Bi[size_t(bias.ndim() == 4 ? ((b * H + h) * L + i) * L + j : (h * L + i) * L + j)];
          keys.push_back(j);
          s.push_back(x);
        }
        if (keys.empty()) continue;  // output stays 0
        double m = -INFINITY, z = 0;
        for (double x : s) m = std::max(m, x);
        for (double& x : s) z += (x = std::exp(x - m));
        for (size_t t = 0; t < keys.size(); ++t)
          for (int64_t c = 0; c < D; ++c)
            out[size_t(((b * H + h) * L + i) * D + c)] += s[t] / z * V[size_t(((b * H + h) * L + keys[t]) * D + c)];
      }
  return out;
}

AttentionOptions opts(bool causal, int64_t chunk = 0, int window = 0, std::vector<float> alpha = {}, double scale = 0) {
  AttentionOptions o;
  o.causal = causal;
  o.chunk = chunk;
  o.window = window;
  o.alpha = std::move(alpha);
  o.scale = scale;
  return o;
}

Tensor mask_with_holes(int64_t B, int64_t L, Generator& gen, int64_t fully_masked) {
  Tensor m = test::random_ints({B, L}, gen, 0, 3);
  int32_t* p = m.data<int32_t>();
  for (int64_t j = 0; j < L; ++j)
    if (fully_masked >= 0) p[fully_masked * L + j] = 0;
  return m;
}

TEST(Attention, MatchesIndependentOracle) {
  struct Config {
    const char* what;
    Shape shape;
    AttentionOptions o;
    bool mask, bias4;
  };
  const Config configs[] = {
      {"full D=8", {2, 2, 9, 8}, opts(false), false, false},
      {"causal D=5", {1, 3, 13, 5}, opts(true), true, false},
      {"chunk 4 window 1 D=8", {2, 1, 23, 8}, opts(false, 4, 1), true, false},
      {"chunk 5 window 2 causal", {1, 2, 31, 8}, opts(true, 5, 2), true, true},
      {"LaS chunk 6", {2, 3, 20, 8}, opts(true, 6, 0, {0.0f, 0.1f, 2.0f}), true, true},
      {"LaS huge alpha, scale 0.7", {1, 2, 9, 3}, opts(false, 0, 0, {0.0f, 50.0f}, 0.7), false, false},
  };
  Generator gen(11);
  for (const Config& c : configs) {
    const int64_t B = c.shape[0], H = c.shape[1], L = c.shape[2];
    Tensor q = test::random_input(c.shape, gen, -2, 2), k = test::random_input(c.shape, gen, -2, 2);
    Tensor v = test::random_input(c.shape, gen);
    Tensor mask = c.mask ? mask_with_holes(B, L, gen, B - 1) : Tensor();
    Tensor bias = c.bias4 ? test::random_input({B, H, L, L}, gen) : Tensor();
    Tensor got = ops::attention(q, k, v, mask, c.o, bias);
    Tensor want = Tensor::from_vector(oracle(q, k, v, mask, c.o, bias), c.shape);
    EXPECT_TRUE(test::all_close(got, want, 1e-12, 1e-13, c.what));
  }
}

TEST(Attention, FloatAndDoubleReferencesAgree) {
  Generator gen(12);
  Shape s{2, 2, 17, 8};
  Tensor q = test::random_input(s, gen, -2, 2), k = test::random_input(s, gen, -2, 2), v = test::random_input(s, gen);
  Tensor mask = mask_with_holes(2, 17, gen, -1);
  AttentionOptions o = opts(true, 5, 1, {0.0f, 0.3f});
  auto f32 = [](const Tensor& t) {
    std::vector<double> x = t.to_vector<double>();
    return Tensor::from_vector(std::vector<float>(x.begin(), x.end()), t.shape());
  };
  Tensor got = ops::attention(f32(q), f32(k), f32(v), mask, o);
  EXPECT_EQ(got.dtype(), DType::F32);
  EXPECT_TRUE(test::all_close(got, ops::attention(q, k, v, mask, o), 1e-5, 1e-6, "float32 vs float64 reference"));
}

// A query with no included key outputs exactly 0 and passes back exactly 0: never NaN.
TEST(Attention, FullyMaskedQueriesGiveZerosAndZeroGradient) {
  Generator gen(13);
  Shape s{2, 2, 12, 8};
  Tensor q = test::random_input(s, gen), k = test::random_input(s, gen), v = test::random_input(s, gen);
  q.requires_grad_();
  k.requires_grad_();
  v.requires_grad_();
  // Batch 1 fully masked; in batch 0 the second block of 4 (keys 4..7) is masked, so with chunk 4 and
  // no window queries 4..7 have no key at all.
  std::vector<int32_t> m(24, 1);
  for (int j = 4; j < 8; ++j) m[size_t(j)] = 0;
  for (int j = 12; j < 24; ++j) m[size_t(j)] = 0;
  Tensor mask = Tensor::from_vector(m, {2, 12});
  Tensor out = ops::attention(q, k, v, mask, opts(false, 4));
  out.backward(test::random_input(s, gen));
  std::vector<double> o = out.to_vector<double>(), gq = q.grad().to_vector<double>(), gk = k.grad().to_vector<double>(),
                      gv = v.grad().to_vector<double>();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 12; ++i)
        for (int64_t c = 0; c < 8; ++c) {
          size_t e = size_t(((b * 2 + h) * 12 + i) * 8 + c);
          ASSERT_FALSE(std::isnan(o[e]) || std::isnan(gq[e]) || std::isnan(gk[e]) || std::isnan(gv[e]));
          bool empty_query = b == 1 || (i >= 4 && i < 8);
          bool masked_key = b == 1 || (i >= 4 && i < 8);  // the same positions, seen as keys
          if (empty_query) {
            EXPECT_EQ(o[e], 0.0) << "b " << b << " h " << h << " i " << i;
            EXPECT_EQ(gq[e], 0.0) << "b " << b << " h " << h << " i " << i;
          } else {
            EXPECT_NE(o[e], 0.0);
          }
          if (masked_key) {
            EXPECT_EQ(gk[e], 0.0) << "b " << b << " h " << h << " j " << i;
            EXPECT_EQ(gv[e], 0.0) << "b " << b << " h " << h << " j " << i;
          }
        }
}

TEST(Attention, ChunkSpecialCases) {
  Generator gen(14);
  Shape s{1, 2, 19, 8};
  Tensor q = test::random_input(s, gen, -2, 2), k = test::random_input(s, gen, -2, 2), v = test::random_input(s, gen);
  for (bool causal : {false, true}) {
    Tensor full = ops::attention(q, k, v, Tensor(), opts(causal));
    // One block holding the whole sequence, or a window reaching every block, is plain attention.
    EXPECT_TRUE(test::all_close(ops::attention(q, k, v, Tensor(), opts(causal, 19)), full, 0, 1e-14, "chunk = L"));
    EXPECT_TRUE(test::all_close(ops::attention(q, k, v, Tensor(), opts(causal, 100)), full, 0, 1e-14, "chunk > L"));
    EXPECT_TRUE(test::all_close(ops::attention(q, k, v, Tensor(), opts(causal, 4, 4)), full, 0, 1e-14,
                                "window over all blocks"));
    // chunk 1, no window: every query sees only itself, so out = v.
    EXPECT_TRUE(test::all_close(ops::attention(q, k, v, Tensor(), opts(causal, 1)), v, 0, 1e-15, "chunk 1"));
  }
  // Chunked attention is attention on each block alone (here the last block of 19 % 5 = 4 is shorter).
  Tensor chunked = ops::attention(q, k, v, Tensor(), opts(false, 5));
  std::vector<double> c = chunked.to_vector<double>();
  std::vector<double> Q = q.to_vector<double>(), K = k.to_vector<double>(), V = v.to_vector<double>();
  for (int64_t start = 0; start < 19; start += 5) {
    int64_t n = std::min<int64_t>(5, 19 - start);
    std::vector<double> qb, kb, vb;
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = start; i < start + n; ++i)
        for (int64_t d = 0; d < 8; ++d) {
          size_t e = size_t((h * 19 + i) * 8 + d);
          qb.push_back(Q[e]);
          kb.push_back(K[e]);
          vb.push_back(V[e]);
        }
    Shape bs{1, 2, n, 8};
    std::vector<double> alone =
        ops::attention(Tensor::from_vector(qb, bs), Tensor::from_vector(kb, bs), Tensor::from_vector(vb, bs), Tensor(),
                       opts(false))
            .to_vector<double>();
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t d = 0; d < 8; ++d)
          EXPECT_NEAR(c[size_t((h * 19 + start + i) * 8 + d)], alone[size_t((h * n + i) * 8 + d)], 1e-14)
              << "block at " << start;
  }
}

TEST(Attention, LasHeadWithAlphaZeroIsPlainAttention) {
  Generator gen(15);
  Shape s{2, 3, 15, 8};
  Tensor q = test::random_input(s, gen, -2, 2), k = test::random_input(s, gen, -2, 2), v = test::random_input(s, gen);
  std::vector<double> plain = ops::attention(q, k, v, Tensor(), opts(true)).to_vector<double>();
  std::vector<double> las = ops::attention(q, k, v, Tensor(), opts(true, 0, 0, {0.0f, 0.2f, 1.0f})).to_vector<double>();
  double diff_head0 = 0, diff_other = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t e = 0; e < 15 * 8; ++e) {
        size_t x = size_t((b * 3 + h) * 15 * 8 + e);
        (h == 0 ? diff_head0 : diff_other) += std::fabs(plain[x] - las[x]);
      }
  EXPECT_EQ(diff_head0, 0.0) << "α_0 = 0 must leave head 0 unchanged";
  EXPECT_GT(diff_other, 1e-3) << "α > 0 must change the other heads";
}

// The CUDA kernels visit only the tiles in attention_key_range / attention_query_range: every
// included pair must lie inside them, or the GPU silently drops it.
TEST(Attention, TileRangesCoverEveryAllowedPair) {
  for (bool causal : {false, true})
    for (int64_t chunk : {0, 1, 3, 7, 16, 50})
      for (int64_t window : {0, 1, 2})
        for (int64_t L : {1, 7, 31, 32, 33, 65, 130})
          for (int64_t tile : {7, 32}) {
            if (window > 0 && chunk == 0) continue;
            for (int64_t t0 = 0; t0 < L; t0 += tile) {
              const int64_t t1 = std::min(t0 + tile, L);
              int64_t kb, ke, qb, qe;
              ops::attention_key_range(causal, chunk, window, L, t0, t1, &kb, &ke);
              ops::attention_query_range(causal, chunk, window, L, t0, t1, &qb, &qe);
              ASSERT_TRUE(kb >= 0 && ke <= L && qb >= 0 && qe <= L);
              for (int64_t a = t0; a < t1; ++a)
                for (int64_t x = 0; x < L; ++x) {
                  // a as a query, x as a key; then a as a key, x as a query.
                  if (ops::attention_pair_allowed(causal, chunk, window, a, x))
                    ASSERT_TRUE(x >= kb && x < ke) << "key " << x << " of query " << a << " outside [" << kb << ", "
                                                   << ke << ") L " << L << " chunk " << chunk << " window " << window
                                                   << " causal " << causal;
                  if (ops::attention_pair_allowed(causal, chunk, window, x, a))
                    ASSERT_TRUE(x >= qb && x < qe) << "query " << x << " of key " << a << " outside [" << qb << ", "
                                                   << qe << ") L " << L << " chunk " << chunk << " window " << window
                                                   << " causal " << causal;
                }
            }
          }
  // And the ranges do skip: chunk 16 without a window visits one block of keys.
  int64_t b, e;
  ops::attention_key_range(false, 16, 0, 1000, 64, 96, &b, &e);
  EXPECT_EQ(b, 64);
  EXPECT_EQ(e, 96);
  ops::attention_key_range(true, 0, 0, 1000, 64, 96, &b, &e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 96);
}

// The fixed pattern against the mask LRA builds (sparse_attention.py build_mask of Fixed1 ∪ Fixed2 as
// dense boolean matrices; with use_cls_token the mask of L − 1 positions padded by an all-true first
// row and column), written here in those terms, not through attention_fixed_allowed.
TEST(Attention, FixedPatternIsLrasMask) {
  for (int64_t n : {1, 2, 5, 50})
    for (int64_t c : {int64_t(0), int64_t(1), n / 5, n})
      for (bool global_first : {false, true})
        for (int64_t L : {1, 2, 7, 51, 52, 103}) {
          const int64_t m = global_first ? L - 1 : L;  // the pattern's own length
          std::vector<char> fixed1(size_t(m * m)), fixed2(size_t(m * m));
          for (int64_t q = 0; q < m; ++q)
            for (int64_t k = 0; k < m; ++k) {
              const bool lower = k <= q;
              fixed1[size_t(q * m + k)] = lower && q / n == k / n;
              fixed2[size_t(q * m + k)] = lower && (k % n == 0 || k % n >= n - c);
            }
          ops::AttentionStructure st;
          st.fixed_block = n;
          st.fixed_summary = c;
          st.fixed_global_first = global_first;
          for (int64_t i = 0; i < L; ++i)
            for (int64_t j = 0; j < L; ++j) {
              bool lra;
              if (global_first && (i == 0 || j == 0)) {
                lra = true;  // the padded row and column
              } else {
                const int64_t q = global_first ? i - 1 : i, k = global_first ? j - 1 : j;
                lra = fixed1[size_t(q * m + k)] || fixed2[size_t(q * m + k)];
              }
              ASSERT_EQ(ops::attention_pair_allowed(st, i, j), lra)
                  << "(" << i << ", " << j << ") n " << n << " c " << c << " global_first " << global_first << " L "
                  << L;
            }
        }
}

// The band against LRA's sliding-window mask (longformer_attention.py): window w gives right = ⌊w/2⌋
// diagonals above, left = w − right diagonals below counting the main one; the band is a = left − 1,
// b = right. w = 512: a = 255, b = 256.
TEST(Attention, BandIsLrasSlidingWindow) {
  for (int64_t w : {1, 2, 3, 8, 9, 512})
    for (int64_t L : {1, 5, 17, 300}) {
      const int64_t right = w / 2, left = w - right;
      ops::AttentionStructure st;
      st.band = true;
      st.band_left = left - 1;
      st.band_right = right;
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j) {
          bool lra = false;
          for (int64_t d = 0; d < left; ++d) lra = lra || j == i - d;        // eye(L, k = −d)
          for (int64_t d = 1; d <= right; ++d) lra = lra || j == i + d;      // eye(L, k = d)
          ASSERT_EQ(ops::attention_pair_allowed(st, i, j), lra) << "(" << i << ", " << j << ") w " << w << " L " << L;
        }
    }
}

// The tile ranges of the band and the fixed pattern (alone and combined with causal / chunk) cover
// every allowed pair, as TileRangesCoverEveryAllowedPair checks for the older structure, and the band
// does skip: the kernels' work is O(L·(a + b)).
TEST(Attention, BandAndFixedTileRangesCoverEveryAllowedPair) {
  std::vector<ops::AttentionStructure> structures;
  for (int64_t a : {0, 1, 5, 31, 33, 255, 1000})
    for (int64_t b : {0, 2, 32, 256})
      for (bool causal : {false, true}) {
        ops::AttentionStructure st;
        st.band = true;
        st.band_left = a;
        st.band_right = b;
        st.causal = causal;
        structures.push_back(st);
      }
  for (int64_t n : {1, 5, 31, 32, 33, 50, 63, 65})
    for (int64_t c : {int64_t(0), int64_t(1), n / 5})
      for (bool gf : {false, true}) {
        ops::AttentionStructure st;
        st.fixed_block = n;
        st.fixed_summary = c;
        st.fixed_global_first = gf;
        structures.push_back(st);
        st.chunk = 16;  // and combined with the older structure
        st.window = 1;
        st.band = true;
        st.band_left = 7;
        st.band_right = 3;
        structures.push_back(st);
      }
  for (const ops::AttentionStructure& st : structures)
    for (int64_t L : {1, 2, 31, 33, 64, 65, 131})
      for (int64_t tile : {7, 32, 64})
        for (int64_t t0 = 0; t0 < L; t0 += tile) {
          const int64_t t1 = std::min(t0 + tile, L);
          int64_t kb, ke, qb, qe;
          ops::attention_key_range(st, L, t0, t1, &kb, &ke);
          ops::attention_query_range(st, L, t0, t1, &qb, &qe);
          ASSERT_TRUE(kb >= 0 && kb <= ke && ke <= L && qb >= 0 && qb <= qe && qe <= L);
          for (int64_t a = t0; a < t1; ++a)
            for (int64_t x = 0; x < L; ++x) {
              if (ops::attention_pair_allowed(st, a, x))
                ASSERT_TRUE(x >= kb && x < ke) << "key " << x << " of query " << a << " outside [" << kb << ", " << ke
                                               << ") L " << L << " band " << st.band << " " << st.band_left << "/"
                                               << st.band_right << " fixed " << st.fixed_block << "/"
                                               << st.fixed_summary << " gf " << st.fixed_global_first;
              if (ops::attention_pair_allowed(st, x, a))
                ASSERT_TRUE(x >= qb && x < qe) << "query " << x << " of key " << a << " outside [" << qb << ", " << qe
                                               << ") L " << L << " band " << st.band << " " << st.band_left << "/"
                                               << st.band_right << " fixed " << st.fixed_block << "/"
                                               << st.fixed_summary << " gf " << st.fixed_global_first;
            }
        }
  ops::AttentionStructure lra_window;  // Longformer's 512 at L = 4000: a query tile sees 543 keys
  lra_window.band = true;
  lra_window.band_left = 255;
  lra_window.band_right = 256;
  int64_t b, e;
  ops::attention_key_range(lra_window, 4000, 1024, 1056, &b, &e);
  EXPECT_EQ(b, 1024 - 255);
  EXPECT_EQ(e, 1056 + 256);
  ops::attention_query_range(lra_window, 4000, 1024, 1056, &b, &e);
  EXPECT_EQ(b, 1024 - 256);
  EXPECT_EQ(e, 1056 + 255);
  ops::AttentionStructure sparse;  // the fixed pattern is causal; its global row 0 sees every key
  sparse.fixed_block = 50;
  sparse.fixed_summary = 10;
  ops::attention_key_range(sparse, 1000, 64, 96, &b, &e);
  EXPECT_EQ(e, 96);
  ops::attention_query_range(sparse, 1000, 64, 96, &b, &e);
  EXPECT_EQ(b, 64);
  sparse.fixed_global_first = true;
  ops::attention_key_range(sparse, 1000, 0, 32, &b, &e);
  EXPECT_EQ(e, 1000);
  ops::attention_key_range(sparse, 1000, 64, 96, &b, &e);
  EXPECT_EQ(e, 96);
}

// A band side far beyond L (an "unbounded" band) neither overflows nor restricts.
TEST(Attention, HugeBandIsFullAttention) {
  Generator gen(17);
  Tensor q = test::random_input({1, 2, 9, 8}, gen), k = test::random_input({1, 2, 9, 8}, gen),
         v = test::random_input({1, 2, 9, 8}, gen);
  AttentionOptions huge;
  huge.band = true;
  huge.band_left = huge.band_right = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(test::all_close(ops::attention(q, k, v, Tensor(), huge), ops::attention(q, k, v, Tensor(), {}), 0, 0,
                              "huge band = full"));
  int64_t b, e;
  ops::AttentionStructure st;
  st.band = true;
  st.band_left = st.band_right = std::numeric_limits<int64_t>::max();
  ops::attention_key_range(st, 9, 3, 5, &b, &e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 9);
}

TEST(Attention, ErrorMessagesNameTheProblem) {
  using test::error_of;
  Generator gen(16);
  Tensor q = test::random_input({2, 3, 5, 8}, gen);
  AttentionOptions none;
  EXPECT_NE(error_of([&] { ops::attention(q.view({6, 5, 8}), q, q, Tensor(), none); }).find("must be [B, H, L, D]"),
            std::string::npos);
  Tensor k = test::random_input({2, 3, 6, 8}, gen);
  EXPECT_NE(error_of([&] { ops::attention(q, k, q, Tensor(), none); }).find("k [2, 3, 6, 8]"), std::string::npos);
  Tensor bad_mask = Tensor::ones({2, 6}, DType::I32);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, bad_mask, none); }).find("key_mask has shape [2, 6]"),
            std::string::npos);
  Tensor float_mask = Tensor::ones({2, 5}, DType::F64);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, float_mask, none); }).find("key_mask must be int32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), opts(false, 0, 1)); }).find("needs options.chunk > 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), opts(false, -2)); }).find("options.chunk must be >= 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), opts(false, 0, 0, {0.0f, 0.1f})); })
                .find("options.alpha has 2 values but q has 3 heads"),
            std::string::npos);
  AttentionOptions o;
  o.band_left = 3;
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), o); }).find("need options.band = true"), std::string::npos);
  o.band = true;
  o.band_left = -1;
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), o); }).find("band_left and band_right must be >= 0"),
            std::string::npos);
  o = AttentionOptions();
  o.fixed_global_first = true;
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), o); }).find("need options.fixed_block > 0"),
            std::string::npos);
  o.fixed_block = 4;
  o.fixed_summary = 5;
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), o); }).find("fixed_summary = 5 must be in [0, fixed_block = 4]"),
            std::string::npos);
  o.fixed_block = -1;
  o.fixed_summary = 0;
  o.fixed_global_first = false;
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), o); }).find("fixed_block must be >= 0"), std::string::npos);
  Tensor bias = test::random_input({3, 5, 4}, gen);
  EXPECT_NE(error_of([&] { ops::attention(q, q, q, Tensor(), none, bias); }).find("bias has shape [3, 5, 4]"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { ops::attention(q, q, q, Tensor(), none, test::random_input({3, 5, 5}, gen)); }),
            "(no error)");
}

}  // namespace
}  // namespace lra

namespace lra {
namespace {

// The CPU path the op runs (attention_cpu_rows.cpp) against the reference it replaced
// (attention_cpu.cpp, the L×L specification), on the raw entry points, forward and backward, for every
// structural option, the LaS decay, both bias layouts, a fully masked row and dropout.
struct RowsCase {
  const char* name;
  int64_t B, H, L, D;
  bool causal = false;
  int64_t chunk = 0, window = 0;
  bool band = false;
  int64_t band_left = 0, band_right = 0;
  int64_t fixed_block = 0, fixed_summary = 0;
  bool global_first = false, alpha = false, bias = false, bias_per_batch = false, mask = false;
  double dropout = 0;
};

template <class T>
void check_rows_case(const RowsCase& c, double tol) {
  Generator gen(17);
  const int64_t n = c.B * c.H * c.L * c.D;
  auto random = [&](int64_t count) {
    std::vector<T> x(static_cast<size_t>(count));
    for (T& e : x) e = T(gen.uniform() * 2 - 1);
    return x;
  };
  std::vector<T> q = random(n), k = random(n), v = random(n), gout = random(n);
  const int64_t bias_count = (c.bias_per_batch ? c.B : 1) * c.H * c.L * c.L;
  std::vector<T> bias = c.bias ? random(bias_count) : std::vector<T>();
  std::vector<int32_t> mask(size_t(c.B * c.L), 1);
  if (c.mask)
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t j = 0; j < c.L; ++j) mask[size_t(b * c.L + j)] = b == 0 ? (j % 3 != 1) : (b == 1 ? 0 : j < c.L / 2);
  std::vector<float> alpha(static_cast<size_t>(c.H));
  for (int64_t h = 0; h < c.H; ++h) alpha[size_t(h)] = float(0.05 * double(h));

  ops::AttentionParams p;
  p.B = c.B, p.H = c.H, p.L = c.L, p.D = c.D;
  p.scale = 1.0 / std::sqrt(double(std::max<int64_t>(c.D, 1)));
  p.causal = c.causal, p.chunk = c.chunk, p.window = c.window;
  p.band = c.band, p.band_left = c.band_left, p.band_right = c.band_right;
  p.fixed_block = c.fixed_block, p.fixed_summary = c.fixed_summary, p.fixed_global_first = c.global_first;
  p.alpha = c.alpha ? alpha.data() : nullptr;
  p.key_mask = c.mask ? mask.data() : nullptr;
  p.bias_batch_stride = c.bias && c.bias_per_batch ? c.H * c.L * c.L : 0;
  p.dropout = c.dropout, p.dropout_seed = 5, p.dropout_offset = 11;
  const T* bp = c.bias ? bias.data() : nullptr;

  std::vector<T> out_ref(static_cast<size_t>(n)), out(static_cast<size_t>(n));
  ops::cpu::attention_forward<T>(p, q.data(), k.data(), v.data(), bp, out_ref.data());
  ops::cpu::attention_forward_rows<T>(p, q.data(), k.data(), v.data(), bp, out.data());
  const size_t full = size_t(c.B * c.H * c.L * c.L);
  std::vector<T> gq_ref(static_cast<size_t>(n)), gk_ref(static_cast<size_t>(n)), gv_ref(static_cast<size_t>(n)), gb_ref(full);
  std::vector<T> gq(size_t(n), T(7)), gk(size_t(n), T(7)), gv(size_t(n), T(7)), gb(full, T(7));  // stale values
  ops::cpu::attention_backward<T>(p, q.data(), k.data(), v.data(), bp, gout.data(), gq_ref.data(), gk_ref.data(),
                                  gv_ref.data(), gb_ref.data());
  ops::cpu::attention_backward_rows<T>(p, q.data(), k.data(), v.data(), bp, gout.data(), gq.data(), gk.data(),
                                       gv.data(), gb.data());
  auto expect_near = [&](const std::vector<T>& a, const std::vector<T>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t e = 0; e < a.size(); ++e)
      ASSERT_NEAR(double(a[e]), double(b[e]), tol * (1 + std::abs(double(b[e]))))
          << c.name << ": " << what << "[" << e << "]";
  };
  expect_near(out, out_ref, "out");
  expect_near(gq, gq_ref, "gq");
  expect_near(gk, gk_ref, "gk");
  expect_near(gv, gv_ref, "gv");
  expect_near(gb, gb_ref, "gbias");
}

std::vector<RowsCase> rows_cases() {
  std::vector<RowsCase> cs;
  auto add = [&](RowsCase c) { cs.push_back(c); };
  add({"plain", 2, 3, 17, 5});
  add({"one", 1, 1, 1, 1});
  add({"empty_head_dim", 1, 2, 5, 0});
  RowsCase c{"causal_mask_bias", 3, 2, 33, 4};
  c.causal = true, c.mask = true, c.bias = true;
  add(c);
  c = {"chunk_window_alpha_batch_bias", 3, 2, 31, 3};
  c.chunk = 4, c.window = 1, c.alpha = true, c.bias = true, c.bias_per_batch = true, c.mask = true;
  add(c);
  c = {"local_causal", 2, 2, 29, 6};
  c.chunk = 5, c.causal = true;
  add(c);
  c = {"band", 2, 2, 37, 4};
  c.band = true, c.band_left = 3, c.band_right = 5, c.mask = true;
  add(c);
  c = {"band_wider_than_L", 1, 2, 9, 3};
  c.band = true, c.band_left = 40, c.band_right = 0;
  add(c);
  c = {"fixed_pattern_global_first", 2, 2, 41, 3};
  c.fixed_block = 6, c.fixed_summary = 2, c.global_first = true, c.causal = true, c.mask = true;
  add(c);
  c = {"dropout", 2, 2, 23, 4};
  c.dropout = 0.3, c.mask = true, c.bias = true;
  add(c);
  return cs;
}

TEST(AttentionCpuRows, MatchesTheReferenceInDouble) {
  for (const RowsCase& c : rows_cases()) check_rows_case<double>(c, 1e-12);
}

TEST(AttentionCpuRows, MatchesTheReferenceInFloat) {
  for (const RowsCase& c : rows_cases()) check_rows_case<float>(c, 2e-5);
}

}  // namespace
}  // namespace lra
