// The float32 CPU fast path of attention (attention_cpu_fast.cpp) against the float64 reference
// (attention_cpu.cpp), forward and backward with a random upstream gradient, on odd shapes and every
// structural option it takes; exact zeros for queries with no key; results independent of the thread
// count; and which path the glue takes for each option combination (attention_cpu_path).
//
// Tolerance, float32 vs float64: |fast − ref| <= 2e-6 + 2e-4·|ref| on out, gq, gk, gv. The fast path
// rounds q·k over D, the softmax (a polynomial exp of ~2 ulp) and sums of up to L terms in float32; the
// gradients sum L products that partly cancel, so small entries carry absolute errors of a few 1e-7 (the
// worst measured beyond 3e-4·|ref| was 3.6e-7, at L 1024): 2e-6 keeps a margin of ~5.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/attention/attention.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lra {
namespace {

struct FastCase {
  std::string name;
  int64_t B, H, L, D;
  bool causal = false;
  int64_t chunk = 0, window = 0;
  bool band = false;
  int64_t band_left = 0, band_right = 0;
  int64_t fixed_block = 0, fixed_summary = 0;
  bool global_first = false, alpha = false, mask = false;
  double scale = 0;
  int bias = 0;  // 0: none, 1: shared [H, L, L], 2: per batch [B, H, L, L]
};

struct Result {
  std::vector<float> out, lse, gq, gk, gv, gbias;
};

// Inputs of a case (q, k in [-2, 2]: a softmax far from uniform), its mask and α, and the params.
struct Inputs {
  std::vector<float> q, k, v, gout, alpha, bias;  // bias empty without one
  std::vector<int32_t> mask;
  ops::AttentionParams p;
};

Inputs make_inputs(const FastCase& c) {
  Generator gen(23);
  Inputs in;
  const size_t n = size_t(c.B * c.H * c.L * c.D);
  auto random = [&](float lo, float hi) {
    std::vector<float> x(n);
    for (float& e : x) e = lo + (hi - lo) * float(gen.uniform());
    return x;
  };
  in.q = random(-2, 2), in.k = random(-2, 2), in.v = random(-1, 1), in.gout = random(-1, 1);
  if (c.bias) {  // in [-3, 3]: a bias that moves the softmax as much as q·k does
    in.bias.resize(size_t((c.bias == 2 ? c.B : 1) * c.H * c.L * c.L));
    for (float& e : in.bias) e = -3.0f + 6.0f * float(gen.uniform());
  }
  // Batch 0: every third key masked; batch 1: all masked (its queries see nothing); batch 2: the second half.
  in.mask.assign(size_t(c.B * c.L), 1);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t j = 0; j < c.L; ++j)
      in.mask[size_t(b * c.L + j)] = b == 0 ? (j % 3 != 1) : (b == 1 ? 0 : j < c.L / 2);
  for (int64_t h = 0; h < c.H; ++h) in.alpha.push_back(h == 0 ? 0.0f : 0.02f * float(1 << h));
  ops::AttentionParams& p = in.p;
  p.B = c.B, p.H = c.H, p.L = c.L, p.D = c.D;
  p.scale = c.scale != 0 ? c.scale : 1.0 / std::sqrt(double(std::max<int64_t>(c.D, 1)));
  p.causal = c.causal, p.chunk = c.chunk, p.window = c.window;
  p.band = c.band, p.band_left = c.band_left, p.band_right = c.band_right;
  p.fixed_block = c.fixed_block, p.fixed_summary = c.fixed_summary, p.fixed_global_first = c.global_first;
  p.alpha = c.alpha ? in.alpha.data() : nullptr;
  p.key_mask = c.mask ? in.mask.data() : nullptr;
  p.bias_batch_stride = c.bias == 2 ? c.H * c.L * c.L : 0;
  return in;
}

Result run_fast(const Inputs& in) {
  const size_t n = in.q.size();
  Result r;
  r.out.assign(n, 7.0f), r.gq.assign(n, 7.0f), r.gk.assign(n, 7.0f), r.gv.assign(n, 7.0f);  // stale values
  r.lse.assign(size_t(in.p.B * in.p.H * in.p.L), 7.0f);
  r.gbias.assign(in.bias.size(), 7.0f);
  const float* bias = in.bias.empty() ? nullptr : in.bias.data();
  ops::cpu::attention_forward_fast(in.p, in.q.data(), in.k.data(), in.v.data(), bias, r.out.data(), r.lse.data());
  ops::cpu::attention_backward_fast(in.p, in.q.data(), in.k.data(), in.v.data(), bias, r.out.data(), r.lse.data(),
                                    in.gout.data(), r.gq.data(), r.gk.data(), r.gv.data(),
                                    bias ? r.gbias.data() : nullptr);
  return r;
}

void check_case(const FastCase& c) {
  const Inputs in = make_inputs(c);
  const Result got = run_fast(in);
  // The float64 reference on the same (float) inputs.
  auto wide = [](const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); };
  const std::vector<double> q = wide(in.q), k = wide(in.k), v = wide(in.v), go = wide(in.gout);
  const std::vector<double> bias = wide(in.bias);
  const double* bp = bias.empty() ? nullptr : bias.data();
  const size_t n = q.size(), LL = size_t(c.L * c.L);
  std::vector<double> out(n), gq(n), gk(n), gv(n), gfull(bp ? size_t(c.B * c.H) * LL : 0);
  ops::cpu::attention_forward<double>(in.p, q.data(), k.data(), v.data(), bp, out.data());
  ops::cpu::attention_backward<double>(in.p, q.data(), k.data(), v.data(), bp, go.data(), gq.data(), gk.data(),
                                       gv.data(), bp ? gfull.data() : nullptr);
  // The reference writes the full [B, H, L, L] bias gradient; a shared bias's is its sum over b.
  std::vector<double> gbias = gfull;
  if (c.bias == 1) {
    gbias.assign(size_t(c.H) * LL, 0.0);
    for (int64_t b = 0; b < c.B; ++b)
      for (size_t e = 0; e < gbias.size(); ++e) gbias[e] += gfull[size_t(b) * gbias.size() + e];
  }
  const double atol = 2e-6, rtol = 2e-4;
  auto expect_close = [&](const std::vector<float>& a, const std::vector<double>& want, const char* what) {
    double worst = 0;
    size_t at = 0;
    for (size_t e = 0; e < a.size(); ++e) {
      const double err = std::abs(double(a[e]) - want[e]) - rtol * std::abs(want[e]);
      if (!(err <= worst)) worst = err, at = e;  // NaN lands here too
    }
    EXPECT_LE(worst, atol) << c.name << ": " << what << "[" << at << "] = " << a[at] << ", reference " << want[at]
                           << " (|a − b| − rtol·|b| shown)";
  };
  expect_close(got.out, out, "out");
  expect_close(got.gq, gq, "gq");
  expect_close(got.gk, gk, "gk");
  expect_close(got.gv, gv, "gv");
  if (c.bias) expect_close(got.gbias, gbias, "gbias");
  // A query with no included key (batch 1 with the mask) outputs exactly 0 and passes back exactly 0; its
  // lse is +inf. Keys masked everywhere get exactly zero gradients.
  if (c.mask && c.B > 1)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t e = 0; e < c.L * c.D; ++e) {
        const size_t at = size_t((c.H + h) * c.L * c.D + e);
        ASSERT_EQ(got.out[at], 0.0f) << c.name;
        ASSERT_EQ(got.gq[at], 0.0f) << c.name;
        ASSERT_EQ(got.gk[at], 0.0f) << c.name;
        ASSERT_EQ(got.gv[at], 0.0f) << c.name;
        if (e % c.D == 0 && c.D > 0) ASSERT_EQ(got.lse[size_t((c.H + h) * c.L + e / c.D)], INFINITY) << c.name;
      }
}

std::vector<FastCase> fast_cases() {
  std::vector<FastCase> cs;
  auto add = [&](FastCase c) { cs.push_back(c); };
  add({"empty length", 2, 2, 0, 32});
  add({"empty head dim", 1, 2, 5, 0});
  add({"L 1", 1, 1, 1, 32});
  add({"D 1", 2, 2, 13, 1});
  add({"D 3 prime L", 1, 3, 37, 3});
  add({"D 33", 1, 2, 70, 33});
  add({"D 64 tile-1", 1, 2, 63, 64});
  add({"D 32 tile", 1, 2, 64, 32});
  add({"D 16 prime L", 2, 2, 131, 16});
  add({"D 32 tile+1", 1, 2, 65, 32});
  add({"D 64 two tiles ±1", 2, 1, 129, 64});
  FastCase c{"causal prime", 1, 2, 131, 32};
  c.causal = true;
  add(c);
  c = {"causal key mask, a fully masked batch", 3, 2, 97, 32};
  c.causal = true, c.mask = true;
  add(c);
  c = {"full key mask D 64", 3, 1, 67, 64};
  c.mask = true;
  add(c);
  c = {"chunk 16", 1, 2, 101, 32};
  c.chunk = 16;
  add(c);
  c = {"chunk 50 window 1 causal key mask", 3, 1, 173, 32};
  c.chunk = 50, c.window = 1, c.causal = true, c.mask = true;
  add(c);
  c = {"chunk 7 window 2", 1, 1, 150, 33};
  c.chunk = 7, c.window = 2;
  add(c);
  c = {"chunk 64 (one tile)", 1, 1, 200, 32};
  c.chunk = 64;
  add(c);
  c = {"band 31/33", 1, 2, 197, 32};
  c.band = true, c.band_left = 31, c.band_right = 33;
  add(c);
  c = {"band 0/0 (self)", 1, 1, 70, 3};
  c.band = true;
  add(c);
  c = {"band 255/256 wider than L, key mask", 3, 1, 100, 64};
  c.band = true, c.band_left = 255, c.band_right = 256, c.mask = true;
  add(c);
  c = {"band 5/0 chunk 8 causal", 1, 1, 83, 32};
  c.band = true, c.band_left = 5, c.chunk = 8, c.causal = true;
  add(c);
  c = {"fixed 50/10 global first (LRA)", 1, 1, 151, 32};
  c.fixed_block = 50, c.fixed_summary = 10, c.global_first = true;
  add(c);
  c = {"fixed 7/2 key mask", 3, 1, 71, 32};
  c.fixed_block = 7, c.fixed_summary = 2, c.mask = true;
  add(c);
  c = {"fixed 50/10 global first causal", 2, 2, 130, 16};
  c.fixed_block = 50, c.fixed_summary = 10, c.global_first = true, c.causal = true;
  add(c);
  c = {"fixed 64/3 global first, tile-sized blocks", 1, 1, 200, 32};
  c.fixed_block = 64, c.fixed_summary = 3, c.global_first = true;
  add(c);
  c = {"fixed 5/5 (every key a summary)", 1, 1, 67, 8};
  c.fixed_block = 5, c.fixed_summary = 5;
  add(c);
  c = {"fixed 1/0", 1, 1, 66, 8};
  c.fixed_block = 1;
  add(c);
  c = {"fixed 9/2 band 20/20 (per-pair test)", 1, 1, 100, 32};
  c.fixed_block = 9, c.fixed_summary = 2, c.band = true, c.band_left = 20, c.band_right = 20;
  add(c);
  c = {"LaS causal", 1, 4, 130, 32};
  c.alpha = true, c.causal = true;
  add(c);
  c = {"LaS-chunk 16 key mask", 3, 3, 90, 32};
  c.alpha = true, c.chunk = 16, c.mask = true;
  add(c);
  c = {"scale 0.3, LaS bidirectional, D 33", 1, 3, 77, 33};
  c.scale = 0.3, c.alpha = true;
  add(c);
  // A bias tensor, shared by the batch (its gradient summed over b) or per batch, with every structure.
  for (int bias : {1, 2}) {
    const std::string shape = bias == 1 ? " shared bias" : " per-batch bias";
    c = {"L 1" + shape, 2, 1, 1, 32};
    c.bias = bias;
    add(c);
    c = {"D 3 prime L" + shape, 3, 2, 37, 3};
    c.bias = bias;
    add(c);
    c = {"D 64 two tiles ±1" + shape, 2, 2, 129, 64};
    c.bias = bias;
    add(c);
    c = {"D 16 tile+1 (the synthesizer's head)" + shape, 2, 4, 65, 16};
    c.bias = bias;
    add(c);
    c = {"D 16 tile-1 causal key mask" + shape, 3, 1, 63, 16};
    c.causal = true, c.mask = true, c.bias = bias;
    add(c);
    c = {"causal key mask, a fully masked batch" + shape, 3, 2, 97, 32};
    c.causal = true, c.mask = true, c.bias = bias;
    add(c);
    c = {"chunk 50 window 1 causal key mask" + shape, 3, 1, 173, 33};
    c.chunk = 50, c.window = 1, c.causal = true, c.mask = true, c.bias = bias;
    add(c);
    c = {"band 31/33" + shape, 2, 2, 197, 32};
    c.band = true, c.band_left = 31, c.band_right = 33, c.bias = bias;
    add(c);
    c = {"fixed 7/2 key mask" + shape, 3, 1, 71, 32};
    c.fixed_block = 7, c.fixed_summary = 2, c.mask = true, c.bias = bias;
    add(c);
    c = {"LaS-chunk 16 key mask scale 1" + shape, 3, 3, 90, 32};
    c.alpha = true, c.chunk = 16, c.mask = true, c.scale = 1.0, c.bias = bias;
    add(c);
  }
  return cs;
}

TEST(AttentionCpuFast, MatchesTheReference) {
  for (const FastCase& c : fast_cases()) check_case(c);
}

// One realistic LRA size: text / listops attention at L 1024, D 32 and 64, full and causal (a few heads:
// the float64 reference is O(L²·D) per head).
TEST(AttentionCpuFast, MatchesTheReferenceAtAnLraSize) {
  FastCase c{"LRA full", 1, 2, 1024, 32};
  check_case(c);
  c = {"LRA causal, key mask, batch 1 fully masked", 2, 1, 1024, 64};
  c.causal = true, c.mask = true;
  check_case(c);
  // (The default scale: at scale 1 these q, k give logits of ~±40, whose float32 rounding alone moves P
  // by ~4e-6 relative; the synthesizer scales its q by 1/√d before the call.)
  c = {"LRA synthesizer: shared bias", 2, 1, 1024, 32};
  c.bias = 1;
  check_case(c);
}

// Each task owns its outputs and sums in a fixed order, so 1, 2 or 3 threads give identical bits (the
// shared bias's gradient too: one task per head sums over b in order).
TEST(AttentionCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  for (int bias : {0, 1, 2}) {
    FastCase c{"causal LaS key mask", 3, 3, 200, 32};
    c.causal = true, c.alpha = true, c.mask = true, c.bias = bias;
    const Inputs in = make_inputs(c);
    omp_set_num_threads(1);
    const Result one = run_fast(in);
    for (int t : {2, 3}) {
      omp_set_num_threads(t);
      const Result many = run_fast(in);
      EXPECT_EQ(one.out, many.out) << t << " threads, bias " << bias;
      EXPECT_EQ(one.gq, many.gq) << t << " threads, bias " << bias;
      EXPECT_EQ(one.gk, many.gk) << t << " threads, bias " << bias;
      EXPECT_EQ(one.gv, many.gv) << t << " threads, bias " << bias;
      EXPECT_EQ(one.gbias, many.gbias) << t << " threads, bias " << bias;
    }
  }
  omp_set_num_threads(before);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// Which path the glue takes: float32 without dropout on the fast path (every structure, α, scale, key mask,
// a bias or not); dropout or float64 on the row path. And ops::attention really runs the path named: its
// float32 forward and backward equal the raw entry point's bit for bit, with both bias shapes too.
TEST(AttentionCpuFast, TheGlueDispatchesFloat32WithoutDropoutToIt) {
  using ops::AttentionCpuPath;
  ops::AttentionParams p;
  p.B = 1, p.H = 1, p.L = 8, p.D = 4;
  const float alpha = 0.1f;
  for (int structure = 0; structure < 6; ++structure) {
    ops::AttentionParams s = p;
    if (structure == 1) s.causal = true;
    if (structure == 2) s.chunk = 4, s.window = 1;
    if (structure == 3) s.band = true, s.band_left = 2, s.band_right = 1;
    if (structure == 4) s.fixed_block = 3, s.fixed_summary = 1, s.fixed_global_first = true;
    if (structure == 5) s.alpha = &alpha, s.scale = 0.3;
    EXPECT_EQ(ops::attention_cpu_path(DType::F32, s), AttentionCpuPath::Fast) << structure;
    s.bias_batch_stride = p.H * p.L * p.L;  // a per-batch bias: still fast
    EXPECT_EQ(ops::attention_cpu_path(DType::F32, s), AttentionCpuPath::Fast) << structure;
    EXPECT_EQ(ops::attention_cpu_path(DType::F64, s), AttentionCpuPath::Rows) << structure;
    s.dropout = 0.1;
    EXPECT_EQ(ops::attention_cpu_path(DType::F32, s), AttentionCpuPath::Rows) << structure;
  }

  FastCase c{"glue", 3, 2, 70, 8};
  c.causal = true, c.mask = true, c.alpha = true;
  const Inputs in = make_inputs(c);
  const Result raw = run_fast(in);
  const Shape shape{c.B, c.H, c.L, c.D};
  Tensor q = Tensor::from_vector(in.q, shape), k = Tensor::from_vector(in.k, shape), v = Tensor::from_vector(in.v, shape);
  q.requires_grad_(), k.requires_grad_(), v.requires_grad_();
  ops::AttentionOptions o;
  o.causal = true;
  o.alpha = in.alpha;
  Tensor out = ops::attention(q, k, v, Tensor::from_vector(in.mask, {c.B, c.L}), o);
  out.backward(Tensor::from_vector(in.gout, shape));
  EXPECT_EQ(out.to_vector<float>(), raw.out);
  EXPECT_EQ(q.grad().to_vector<float>(), raw.gq);
  EXPECT_EQ(k.grad().to_vector<float>(), raw.gk);
  EXPECT_EQ(v.grad().to_vector<float>(), raw.gv);

  // With a bias (shared and per batch) the same call runs the fast path too: forward, backward and the
  // bias gradient (in the bias's shape) equal the raw entry point's bit for bit.
  for (int bias_kind : {1, 2}) {
    FastCase cb = c;
    cb.bias = bias_kind;
    const Inputs ib = make_inputs(cb);
    const Result rawb = run_fast(ib);
    const Shape bshape = bias_kind == 1 ? Shape{c.H, c.L, c.L} : Shape{c.B, c.H, c.L, c.L};
    Tensor qb = Tensor::from_vector(ib.q, shape), kb = Tensor::from_vector(ib.k, shape);
    Tensor vb = Tensor::from_vector(ib.v, shape), bias = Tensor::from_vector(ib.bias, bshape);
    qb.requires_grad_(), kb.requires_grad_(), vb.requires_grad_(), bias.requires_grad_();
    Tensor outb = ops::attention(qb, kb, vb, Tensor::from_vector(ib.mask, {c.B, c.L}), o, bias);
    outb.backward(Tensor::from_vector(ib.gout, shape));
    EXPECT_EQ(outb.to_vector<float>(), rawb.out) << bias_kind;
    EXPECT_EQ(qb.grad().to_vector<float>(), rawb.gq) << bias_kind;
    EXPECT_EQ(kb.grad().to_vector<float>(), rawb.gk) << bias_kind;
    EXPECT_EQ(vb.grad().to_vector<float>(), rawb.gv) << bias_kind;
    EXPECT_EQ(bias.grad().shape(), bshape) << bias_kind;
    EXPECT_EQ(bias.grad().to_vector<float>(), rawb.gbias) << bias_kind;
  }
}

}  // namespace
}  // namespace lra
