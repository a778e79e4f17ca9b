// The float32 CPU fast path of lsh_chunk_attention (lsh_cpu_fast.cpp) against the float64 reference
// (lsh_cpu.cpp), forward (o and lse) and backward with a random upstream gradient (on o and on lse), on odd
// shapes: N 0, C 1, one chunk, two chunks, primes, d 1/3/33, dv ≠ d and dv 0, with perm + key mask + self
// mask and without, shared q = k; results independent of the thread count; one realistic LRA size (the
// reformer at L 1024: R 8, N 1030, C 103, d 16, the key mask and the self mask); and the glue's dispatch.
//
// No case masks every key of a query: its lse (about −1e9) is beyond float32's resolution, so the fast path,
// like the float32 reference, gives each of its keys weight 1 instead of 1/2C (the float64 reference: 1/2C).
//
// Tolerance, float32 vs float64: |fast − ref| <= 1e-5 + 1e-4·|ref| on y, gq, gk, gv. The fast path rounds
// q·k over d, the softmax (fast_exp, ~2 ulp) and sums of up to 2C terms (C up to 103 here) in float32, in
// another order than the reference; entries that cancel carry absolute errors of a few 1e-7·√(2C).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>  // _mm_getcsr
#endif

#include "engine/rng.h"
#include "ops/lsh/lsh.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lra {
namespace {

struct Case {
  int64_t R, N, C, d, dv;
  int64_t period;  // 0: no perm
  bool self_mask, key_mask;
  double scale;
  double amp = 0;  // q, k uniform in ±amp; 0: 2/√(d·scale), scores of order 1
};

struct Inputs {
  ops::LshShape s;
  std::vector<double> q, k, v, gy;
  std::vector<int32_t> perm, mask;
};

Inputs make(const Case& c) {
  Generator gen(41);
  Inputs in;
  ops::LshShape& s = in.s;
  s.R = c.R, s.N = c.N, s.d = c.d, s.dv = c.dv, s.C = c.C, s.scale = c.scale, s.self_mask = c.self_mask;
  auto random = [&](int64_t n, double lo, double hi) {
    std::vector<double> x(static_cast<size_t>(n));
    for (double& e : x) e = float(lo + (hi - lo) * gen.uniform());  // float-representable inputs
    return x;
  };
  const double amp = c.amp > 0 ? c.amp : 2.0 / std::sqrt(double(std::max<int64_t>(c.d, 1)) * std::max(c.scale, 1e-9));
  in.q = random(c.R * c.N * c.d, -amp, amp), in.k = random(c.R * c.N * c.d, -amp, amp);
  in.v = random(c.R * c.N * c.dv, -1, 1), in.gy = random(c.R * c.N * (c.dv + 1), -1, 1);
  if (c.period > 0) {
    s.period = c.period;
    for (int64_t r = 0; r < c.R; ++r) {
      std::vector<int64_t> p = gen.permutation(c.N);
      for (int64_t i = 0; i < c.N; ++i) in.perm.push_back(int32_t(p[size_t(i)]));
    }
    if (c.key_mask) {
      s.Bm = c.R > 1 && c.R % 2 == 0 ? 2 : 1;
      s.Lm = c.period - 1;  // the last position is a pad key
      for (int64_t b = 0; b < s.Bm; ++b)
        for (int64_t j = 0; j < s.Lm; ++j) in.mask.push_back(j == 0 || gen.uniform() > 0.3 ? 1 : 0);
    }
  }
  return in;
}

struct Out {
  std::vector<float> y, gq, gk, gv;
};

std::vector<float> to_float(const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); }

Out run_fast(const Inputs& in) {
  const ops::LshShape& s = in.s;
  const std::vector<float> q = to_float(in.q), k = to_float(in.k), v = to_float(in.v), gy = to_float(in.gy);
  const int32_t* perm = in.perm.empty() ? nullptr : in.perm.data();
  const int32_t* mask = in.mask.empty() ? nullptr : in.mask.data();
  Out o;
  o.y.assign(size_t(s.R * s.N * (s.dv + 1)), 7.0f);  // stale values
  o.gq.assign(q.size(), 7.0f), o.gk.assign(k.size(), 7.0f), o.gv.assign(v.size(), 7.0f);
  if (s.R * s.N == 0) return o;
  ops::cpu::lsh_attention_forward_fast(s, q.data(), k.data(), v.data(), perm, mask, o.y.data());
  ops::cpu::lsh_attention_backward_fast(s, q.data(), k.data(), v.data(), perm, mask, o.y.data(), gy.data(),
                                        o.gq.data(), o.gk.data(), o.gv.data());
  return o;
}

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size()) << what;
  int bad = 0;
  for (size_t x = 0; x < ref.size(); ++x) {
    const double tol = 1e-5 + 1e-4 * std::abs(ref[x]);
    if (!(std::abs(double(fast[x]) - ref[x]) <= tol) && ++bad <= 5)
      ADD_FAILURE() << what << "[" << x << "]: fast " << fast[x] << ", reference " << ref[x];
  }
  EXPECT_EQ(bad, 0) << what;
}

void check(const Case& c) {
  const Inputs in = make(c);
  const ops::LshShape& s = in.s;
  const std::string name = "R " + std::to_string(c.R) + " N " + std::to_string(c.N) + " C " + std::to_string(c.C) +
                           " d " + std::to_string(c.d) + " dv " + std::to_string(c.dv) + " period " +
                           std::to_string(c.period) + (c.self_mask ? " self" : "") + (c.key_mask ? " mask" : "");
  const int32_t* perm = in.perm.empty() ? nullptr : in.perm.data();
  const int32_t* mask = in.mask.empty() ? nullptr : in.mask.data();
  std::vector<double> y(size_t(s.R * s.N * (s.dv + 1))), gq(in.q.size()), gk(in.k.size()), gv(in.v.size());
  if (s.R * s.N > 0) {
    ops::cpu::lsh_attention_forward<double>(s, in.q.data(), in.k.data(), in.v.data(), perm, mask, y.data());
    ops::cpu::lsh_attention_backward<double>(s, in.q.data(), in.k.data(), in.v.data(), perm, mask, y.data(),
                                             in.gy.data(), gq.data(), gk.data(), gv.data());
  }
  const Out o = run_fast(in);
  if (s.R * s.N == 0) return;
  expect_close(o.y, y, name + " y");
  expect_close(o.gq, gq, name + " gq");
  expect_close(o.gk, gk, name + " gk");
  expect_close(o.gv, gv, name + " gv");
}

TEST(LshCpuFast, MatchesReferenceOnOddShapes) {
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 0, false, false, 1.0},        // one row, C 1, one chunk
      {2, 7, 1, 3, 5, 0, false, false, 1.7},        // C 1, 7 chunks
      {2, 7, 1, 3, 5, 7, true, false, 1.7},         // C 1 with the self mask (a key mask would mask whole rows)
      {2, 5, 5, 3, 4, 0, false, false, 1.0},        // one chunk: it looks back at itself
      {2, 5, 5, 3, 4, 5, true, true, 1.0},          // one chunk with the masks
      {3, 14, 7, 1, 2, 7, true, false, 1.0},        // two chunks, d 1, self mask, 2 rounds
      {2, 21, 3, 33, 17, 7, true, true, 0.17},      // primes, d 33, dv ≠ d, 3 rounds
      {2, 39, 13, 16, 16, 13, false, true, 4.0},    // key mask without the self mask
      {1, 130, 65, 33, 31, 0, false, false, 0.3},   // chunks over a 64-row query block
      {2, 9, 3, 6, 0, 9, true, true, 1.0},          // dv 0: lse only
      {2, 6, 2, 0, 3, 0, false, false, 1.0},        // d 0: uniform weights
      {2, 0, 3, 4, 4, 0, false, false, 1.0},        // N 0
      {0, 6, 3, 4, 4, 0, false, false, 1.0},        // R 0
  };
  for (const Case& c : cases) check(c);
}

TEST(LshCpuFast, MatchesReferenceAtTheLraTextSize) {
  // The reformer at L 1024 (Lp 1030, 10 chunks of 103), batch 2 × 4 heads, head dim 16, scale √16.
  check({8, 1030, 103, 16, 16, 1030, true, true, 4.0});
}

TEST(LshCpuFast, MatchesReferenceWithTheReformersLargeScores) {
  // The reformer's regime: shared q = k of unit size, logits times √d, so scores reach ~±60 and most
  // weights underflow (e^-100): their products are subnormal, which the fast path flushes to zero (FTZ/DAZ,
  // a subnormal is below 1.2e-38, far under the tolerance).
  Case c{8, 1030, 103, 16, 16, 0, false, false, 4.0};
  c.amp = 1.0;
  check(c);
}

TEST(LshCpuFast, LeavesTheCallersFloatingPointModeAlone) {
  // The fast path sets FTZ/DAZ in its threads while it runs and restores MXCSR after.
#if defined(__SSE__)
  const Inputs in = make({2, 12, 4, 5, 3, 0, false, false, 1.0});
  const unsigned before = _mm_getcsr();
  run_fast(in);
  EXPECT_EQ(_mm_getcsr(), before);
  volatile float tiny = 1e-38f;
  EXPECT_GT(tiny * 0.5f, 0.0f) << "subnormals flushed after the call";
#else
  GTEST_SKIP() << "MXCSR is x86's";
#endif
}

TEST(LshCpuFast, IndependentOfTheThreadCount) {
#ifdef _OPENMP
  const Case c{4, 3 * 67, 67, 33, 16, 67, true, true, 1.0};
  const Inputs in = make(c);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Out one = run_fast(in);
  omp_set_num_threads(3);
  const Out three = run_fast(in);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.y, three.y);
  EXPECT_EQ(one.gq, three.gq);
  EXPECT_EQ(one.gk, three.gk);
  EXPECT_EQ(one.gv, three.gv);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

TEST(LshCpuFast, GlueRunsFloat32OnTheFastPath) {
  // The same call through ops::lsh_chunk_attention in float32 gives the fast path's bits.
  const Case c{2, 12, 4, 5, 3, 0, false, false, 1.0};
  const Inputs in = make(c);
  const Out o = run_fast(in);
  auto tensor = [](const std::vector<double>& x, const Shape& shape) {
    Tensor t = Tensor::empty(shape, DType::F32);
    for (size_t i = 0; i < x.size(); ++i) t.data<float>()[i] = float(x[i]);
    return t;
  };
  ops::LshAttentionOptions opts;
  opts.chunk = c.C;
  opts.scale = c.scale;
  Tensor y = ops::lsh_chunk_attention(tensor(in.q, {c.R, c.N, c.d}), tensor(in.k, {c.R, c.N, c.d}),
                                      tensor(in.v, {c.R, c.N, c.dv}), opts);
  ASSERT_EQ(y.numel(), int64_t(o.y.size()));
  for (size_t i = 0; i < o.y.size(); ++i) EXPECT_EQ(y.data<float>()[i], o.y[i]) << i;
}

}  // namespace
}  // namespace lra
