// CUDA attention against the CPU reference (float32 both) on the longer shapes the gradcheck table
// cannot afford: L in {1, 7, 33, 64, 65, 130} (tile of 32 ± 1, primes, chunk remainders) times
// D in {32, 64, 128}, every structural variant (band and fixed pattern included) with and without
// attention dropout, and realistic LRA shapes. Also: the dropout mask identical on both devices, determinism, the head-dim error, and
// memory that grows linearly in L. Skipped without a GPU.
#include <gtest/gtest.h>

#include "engine/memory.h"
#include "ops/attention/attention.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using ops::AttentionOptions;

Tensor random_f32(const Shape& s, Generator& gen, double lo = -1, double hi = 1) {
  std::vector<double> x = test::random_input(s, gen, lo, hi).to_vector<double>();
  return Tensor::from_vector(std::vector<float>(x.begin(), x.end()), s);
}

AttentionOptions opts(bool causal, int64_t chunk = 0, int window = 0, std::vector<float> alpha = {}) {
  AttentionOptions o;
  o.causal = causal;
  o.chunk = chunk;
  o.window = window;
  o.alpha = std::move(alpha);
  return o;
}

AttentionOptions dropped(AttentionOptions o, double p, uint64_t offset = 12345) {
  o.dropout = p;
  o.dropout_seed = 0xC0FFEE;
  o.dropout_offset = offset;
  return o;
}

AttentionOptions band(int64_t left, int64_t right, AttentionOptions o) {
  o.band = true;
  o.band_left = left;
  o.band_right = right;
  return o;
}

AttentionOptions fixed(int64_t n, int64_t c, bool global_first, AttentionOptions o) {
  o.fixed_block = n;
  o.fixed_summary = c;
  o.fixed_global_first = global_first;
  return o;
}

struct Variant {
  const char* name;
  AttentionOptions o;
  bool mask, bias;
};

// Forward and backward (random upstream gradient) on both devices. Tolerance: see attention_cases.cpp
// (float32 sums in a different order; the same 1e-3 / 1e-4).
void check_against_cpu(const Shape& s, const Variant& var, Generator& gen, double rtol = 1e-3, double atol = 1e-4) {
  const int64_t B = s[0], H = s[1], L = s[2];
  std::vector<Tensor> cpu = {random_f32(s, gen, -2, 2), random_f32(s, gen, -2, 2), random_f32(s, gen)};
  if (var.bias) cpu.push_back(random_f32({H, L, L}, gen));
  Tensor mask;
  if (var.mask) {  // ~1/3 padding, the last batch row fully masked
    mask = test::random_ints({B, L}, gen, 0, 3);
    int32_t* m = mask.data<int32_t>();
    for (int64_t j = 0; j < L; ++j) m[(B - 1) * L + j] = 0;
  }
  std::vector<Tensor> gpu;
  for (Tensor& t : cpu) {
    gpu.push_back(t.to(Device::CUDA));
    t.requires_grad_();
    gpu.back().requires_grad_();
  }
  Tensor gmask = mask.defined() ? mask.to(Device::CUDA) : Tensor();
  Tensor out_c = ops::attention(cpu[0], cpu[1], cpu[2], mask, var.o, var.bias ? cpu[3] : Tensor());
  Tensor out_g = ops::attention(gpu[0], gpu[1], gpu[2], gmask, var.o, var.bias ? gpu[3] : Tensor());
  std::string what = std::string(var.name) + " " + s.to_string();
  EXPECT_TRUE(test::all_close(out_g, out_c, rtol, atol, what + " forward"));
  Tensor w = random_f32(s, gen);
  out_c.backward(w);
  out_g.backward(w.to(Device::CUDA));
  const char* names[] = {"dq", "dk", "dv", "dbias"};
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_TRUE(test::all_close(gpu[i].grad(), cpu[i].grad(), rtol, atol, what + " " + names[i]));
}

TEST(AttentionCuda, MatchesCpuOverShapesAndVariants) {
  LRA_REQUIRE_CUDA();
  const Variant variants[] = {
      {"full", opts(false), false, false},
      {"causal", opts(true), false, false},
      {"key mask", opts(false), true, false},
      {"chunk 16", opts(false, 16), false, false},
      {"chunk 50 causal key mask", opts(true, 50), true, false},
      {"chunk 16 window 1", opts(false, 16, 1), false, false},
      {"chunk 16 window 1 causal", opts(true, 16, 1), true, false},
      {"LaS causal", opts(true, 0, 0, {0.0f, 0.05f, 0.6f}), false, false},
      {"LaS-chunk 16", opts(false, 16, 0, {0.0f, 0.05f, 0.6f}), true, false},
      {"bias [H, L, L]", opts(false), true, true},
      {"dropout 0.3", dropped(opts(false), 0.3), false, false},
      {"dropout 0.1 causal key mask", dropped(opts(true), 0.1), true, false},
      {"dropout 0.5 chunk 16 window 1", dropped(opts(false, 16, 1), 0.5), false, false},
      {"dropout 0.2 LaS-chunk 16", dropped(opts(false, 16, 0, {0.0f, 0.05f, 0.6f}), 0.2), true, false},
      {"dropout 0.3 bias [H, L, L]", dropped(opts(false), 0.3), true, true},
      {"band 5/7", band(5, 7, opts(false)), false, false},
      {"band 31/32 key mask", band(31, 32, opts(false)), true, false},
      {"band 0/0", band(0, 0, opts(false)), false, false},
      {"band 200/200 (wider than L)", band(200, 200, opts(false)), true, false},
      {"fixed 5/2", fixed(5, 2, false, opts(false)), false, false},
      {"fixed 33/10 global first key mask", fixed(33, 10, true, opts(false)), true, false},
      {"fixed 63/5 global first", fixed(63, 5, true, opts(false)), false, false},
      {"dropout 0.2 band 9/4", dropped(band(9, 4, opts(false)), 0.2), true, false},
      {"dropout 0.3 fixed 7/2 global first", dropped(fixed(7, 2, true, opts(false)), 0.3), true, false},
  };
  Generator gen(21);
  for (int64_t L : {1, 7, 33, 64, 65, 130})
    for (int64_t D : {32, 64, 128})
      for (const Variant& v : variants) check_against_cpu({2, 3, L, D}, v, gen);
}

TEST(AttentionCuda, RealisticLraShape) {
  LRA_REQUIRE_CUDA();
  Generator gen(22);
  // Text-like: 4 heads of 64 at L = 1024, LaS-chunk 128 with a key mask, and full bidirectional.
  check_against_cpu({1, 4, 1024, 64}, {"LaS-chunk 128", opts(false, 128, 0, {0.0f, 0.01f, 0.1f, 1.0f}), true, false},
                    gen);
  check_against_cpu({1, 2, 1024, 64}, {"full", opts(false), true, false}, gen);
  check_against_cpu({1, 4, 1024, 64}, {"full, dropout 0.1", dropped(opts(false), 0.1, uint64_t(1) << 40), true, false},
                    gen);
  // Longformer's window 512 (a = 255, b = 256) and the Sparse Transformer's LRA pattern at L = 1001
  // (text with its CLS: global first position, blocks of 50, c = 10).
  check_against_cpu({1, 2, 1024, 64}, {"band 255/256", band(255, 256, opts(false)), true, false}, gen);
  check_against_cpu({1, 2, 1001, 64}, {"fixed 50/10 global first", fixed(50, 10, true, opts(false)), true, false},
                    gen);
}

// With v = identity (D = L) out is the weight matrix, so the zeros of the output are the dropped
// weights: they must be exactly the same set on both devices (the tolerance of the parity test would
// also see a differing mask, but this names the first differing weight).
TEST(AttentionCuda, DropoutMaskIsIdenticalOnBothDevices) {
  LRA_REQUIRE_CUDA();
  Generator gen(26);
  const int64_t B = 2, H = 3, L = 32, D = 32;
  std::vector<float> eye(size_t(B * H * L * D), 0.0f);
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t j = 0; j < L; ++j) eye[size_t((bh * L + j) * D + j)] = 1.0f;
  Tensor v = Tensor::from_vector(eye, {B, H, L, D});
  Tensor q = random_f32({B, H, L, D}, gen, -2, 2), k = random_f32({B, H, L, D}, gen, -2, 2);
  AttentionOptions o = dropped(opts(false), 0.5, 777);
  std::vector<float> c = ops::attention(q, k, v, Tensor(), o).to_vector<float>();
  std::vector<float> g =
      ops::attention(q.to(Device::CUDA), k.to(Device::CUDA), v.to(Device::CUDA), Tensor(), o).to_vector<float>();
  int64_t dropped_weights = 0;
  for (size_t e = 0; e < c.size(); ++e) {
    ASSERT_EQ(c[e] == 0.0f, g[e] == 0.0f) << "weight " << e << ": cpu " << c[e] << ", cuda " << g[e];
    dropped_weights += c[e] == 0.0f;
  }
  EXPECT_GT(dropped_weights, 0);
  EXPECT_LT(dropped_weights, B * H * L * L);
}

TEST(AttentionCuda, BackwardIsDeterministic) {
  LRA_REQUIRE_CUDA();
  Generator gen(23);
  Shape s{2, 2, 97, 64};
  Tensor q = random_f32(s, gen).to(Device::CUDA), k = random_f32(s, gen).to(Device::CUDA),
         v = random_f32(s, gen).to(Device::CUDA), w = random_f32(s, gen).to(Device::CUDA);
  std::vector<std::vector<float>> runs;
  for (int r = 0; r < 2; ++r) {
    Tensor qq = q.clone(), kk = k.clone(), vv = v.clone();
    qq.requires_grad_();
    kk.requires_grad_();
    vv.requires_grad_();
    ops::attention(qq, kk, vv, Tensor(), dropped(opts(true, 0, 0, {0.0f, 0.3f}), 0.2)).backward(w);
    std::vector<float> all;
    for (const Tensor& t : {qq.grad(), kk.grad(), vv.grad()}) {
      std::vector<float> x = t.to_vector<float>();
      all.insert(all.end(), x.begin(), x.end());
    }
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(AttentionCuda, UnsupportedHeadDimIsAClearError) {
  LRA_REQUIRE_CUDA();
  Generator gen(24);
  Tensor q = random_f32({1, 1, 8, 48}, gen).to(Device::CUDA);
  std::string m = test::error_of([&] { ops::attention(q, q, q, Tensor(), AttentionOptions()); });
  EXPECT_NE(m.find("head dims 32, 64 and 128, got D = 48"), std::string::npos) << m;
}

// No L×L buffer: the forward's extra memory (out + lse) and the backward's (grads + delta) are linear
// in L, so going from L to 4L multiplies the peak by about 4, not 16.
TEST(AttentionCuda, MemoryGrowsLinearlyInL) {
  LRA_REQUIRE_CUDA();
  Generator gen(25);
  auto peak_for = [&](int64_t L) {
    Shape s{1, 2, L, 64};
    Tensor q = random_f32(s, gen).to(Device::CUDA), k = random_f32(s, gen).to(Device::CUDA),
           v = random_f32(s, gen).to(Device::CUDA), w = random_f32(s, gen).to(Device::CUDA);
    q.requires_grad_();
    empty_cuda_cache();
    size_t before = cuda_memory_stats().current;
    reset_cuda_peak_memory();
    ops::attention(q, k, v, Tensor(), AttentionOptions()).backward(w);
    return double(cuda_memory_stats().peak - before);
  };
  double small = peak_for(2048), big = peak_for(8192);
  EXPECT_LT(big / small, 6.0) << "peak " << small << " bytes at L = 2048, " << big << " at L = 8192";
}

}  // namespace
}  // namespace lra
