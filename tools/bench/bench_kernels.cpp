// bench_kernels: times the signature kernels (issue 3), forward + backward through the differentiable
// API (so the caching allocator, the autograd tape and the scratch set-up are included, as they are in
// training), next to the naive in-engine baseline:
//   fftconv      FFT path (cuFFT / radix-2)        vs  Algo::Direct (the O(L·Lk) loops, smaller sizes)
//   attention    tiled online-softmax kernels      vs  matmul + softmax + matmul (the L×L matrix stored)
//   rope, avgpool_seq, scan_real, scan_complex     (bandwidth-bound; compared with the copy ceiling)
// Each measurement: 3 rotating input sets, 5 warm-ups, then the median of --iters separately timed
// calls (CUDA events on the engine stream; a steady clock on the CPU). Before timing, the fast path is
// checked against the naive one on the first input set and the worst relative error is printed.
//
// Ceilings: the copy bandwidth is measured in the same run; TFLOP/s are compared with the H100's
// measured fp32 51 TFLOP/s (docs/benchmarks.md) on the GPU, with nothing on the CPU.
// FLOPs and bytes are the useful work and the compulsory traffic (formulas in docs/kernels.md), so the
// same numbers apply to any implementation, PyTorch's included.
//
//   bench_kernels --device cuda --json > lra.jsonl      (joined with torch_kernels.py by compare_kernels.py)
//   bench_kernels --device cpu --markdown               (scaled-down sizes, < 30 s)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"
#include "ops/avgpool/avgpool.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/rope/rope.h"
#include "ops/scan/scan.h"
#include "ops/softmax/softmax.h"

using namespace lra;

namespace {

constexpr double kFp32Tflops = 51.0;  // H100 fp32 GEMM, measured for this project
constexpr int kSets = 3;              // rotating input sets

Tensor randn(const Shape& s, Device d, Generator& g, double std = 1.0, bool grad = false) {
  Tensor t = Tensor::empty(s, DType::F32, d);
  normal_(t, g, 0.0, std);
  if (grad) t.requires_grad_(true);
  return t;
}

// Worst |a − b| / (max |b| + tiny) over all elements: one number that says the two paths agree.
double rel_error(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::fabs(double(x[i]) - double(y[i])));
    scale = std::max(scale, std::fabs(double(y[i])));
  }
  return worst / scale;
}

std::string dims(std::initializer_list<std::pair<const char*, int64_t>> d) {
  std::string s;
  for (const auto& [k, v] : d) s += (s.empty() ? "" : ",") + std::string(k) + "=" + std::to_string(v);
  return s;
}

struct Result {
  bench::Row row;
  std::string kernel, variant, sizes_json;  // sizes_json: "\"B\":32,\"H\":256,..."
};

class Bench {
 public:
  Bench(Device dev, int iters) : dev_(dev), gpu_(dev == Device::CUDA), iters_(iters), ceil_(bench::measure_ceilings(dev)) {}

  // Records one measurement. flops / bytes are per call (forward + backward).
  void add(const std::string& kernel, const std::string& variant, std::initializer_list<std::pair<const char*, int64_t>> d,
           const bench::Timing& t, double flops, double bytes, bool flop_bound, const std::string& note) {
    Result r;
    r.kernel = kernel;
    r.variant = variant;
    for (const auto& [k, v] : d) r.sizes_json += (r.sizes_json.empty() ? "" : ",") + std::string("\"") + k + "\":" + std::to_string(v);
    r.row.name = kernel + " " + variant;
    r.row.size = dims(d);
    r.row.timing = t;
    double s = t.median_ms * 1e-3;
    r.row.gbs = bytes / s / 1e9;
    r.row.tflops = flops / s / 1e12;
    if (flop_bound) {
      if (gpu_) r.row.ceiling_fraction = r.row.tflops / kFp32Tflops;
    } else {
      r.row.ceiling_fraction = r.row.gbs / ceil_.copy_gbs;
    }
    r.row.note = note;
    results_.push_back(r);
  }

  bench::Timing time(const std::function<void(int)>& fn) { return bench::time(dev_, fn, 5, iters_); }

  void print(bool json, bool markdown) const {
    if (json) {
      for (const auto& r : results_)
        std::printf("{\"impl\":\"lra\",\"kernel\":\"%s\",\"variant\":\"%s\",%s,\"precision\":\"fp32\",\"device\":\"%s\","
                    "\"fwd_bwd_ms\":%.4f,\"min_ms\":%.4f,\"gbs\":%.2f,\"tflops\":%.4f,\"ceiling_fraction\":%.4f,"
                    "\"note\":\"%s\"}\n",
                    r.kernel.c_str(), r.variant.c_str(), r.sizes_json.c_str(), gpu_ ? "cuda" : "cpu", r.row.timing.median_ms,
                    r.row.timing.min_ms, r.row.gbs, r.row.tflops, r.row.ceiling_fraction, r.row.note.c_str());
      return;
    }
    std::vector<bench::Row> rows;
    for (const auto& r : results_) rows.push_back(r.row);
    if (markdown) {
      std::printf("Device: %s, copy ceiling %.0f GB/s (measured in this run); forward + backward, median of %d\n\n%s",
                  gpu_ ? cuda_device_name().c_str() : "CPU", ceil_.copy_gbs, iters_, bench::markdown_table(rows).c_str());
    } else {
      for (const auto& r : rows)
        std::printf("%-24s %-26s %10.3f ms  %8.1f GB/s  %7.3f TFLOP/s  %5.1f%%  %s\n", r.name.c_str(), r.size.c_str(),
                    r.timing.median_ms, r.gbs, r.tflops, 100 * r.ceiling_fraction, r.note.c_str());
    }
  }

  Device dev_;
  bool gpu_;
  int iters_;
  bench::Ceilings ceil_;
  std::vector<Result> results_;
};

std::string err_note(double e) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "check vs naive: rel err %.1e", e);
  return buf;
}

// ---- fftconv: y = fftconv(u, k, -, D), one causal kernel per channel (C = H, Lk = L), as S4D uses it.
void bench_fftconv(Bench& b, Generator& g, int64_t B, int64_t H, int64_t L, bool with_direct) {
  Device dev = b.dev_;
  struct Set { Tensor u, k, D, gy; };
  std::vector<Set> sets;
  for (int i = 0; i < kSets; ++i)
    sets.push_back({randn({B, H, L}, dev, g, 1.0, true), randn({H, L}, dev, g, 1.0 / std::sqrt(double(L)), true),
                    randn({H}, dev, g, 1.0, true), randn({B, H, L}, dev, g)});
  ops::FFTConvOptions fft, direct;
  fft.algo = ops::FFTConvOptions::Algo::FFT;
  direct.algo = ops::FFTConvOptions::Algo::Direct;
  auto step = [&](int i, const ops::FFTConvOptions& o) {
    const Set& s = sets[size_t(i % kSets)];
    ops::fftconv(s.u, s.k, Tensor(), s.D, o).backward(s.gy);
  };
  // FFT flops: 2.5·n·log2(n) per real transform; forward 2·B·H + C transforms, backward 3·B·H + 2·C.
  int64_t n = b.gpu_ ? ops::cuda::fft_size(L, L) : ops::cpu::fft_size(L, L);
  double fft_flops = (5.0 * B * H + 3.0 * H) * 2.5 * double(n) * std::log2(double(n));
  // Compulsory bytes: forward reads u, writes y; backward reads u, gy, writes gu (kernels are small).
  double bytes = 4.0 * 5 * double(B * H * L) + 4.0 * 4 * double(H * L);
  std::string note = "n=" + std::to_string(n);
  if (with_direct) {
    autograd::NoGrad ng;
    const Set& s = sets[0];
    note += ", " + err_note(rel_error(ops::fftconv(s.u, s.k, Tensor(), s.D, fft), ops::fftconv(s.u, s.k, Tensor(), s.D, direct)));
  }
  auto t = b.time([&](int i) { step(i, fft); });
  b.add("fftconv", "fft", {{"B", B}, {"H", H}, {"L", L}}, t, fft_flops, bytes, false, note);
  if (with_direct) {
    // Direct: each output t sums min(t+1, L) causal taps; forward, ∂u and ∂k each do that many FMAs.
    double taps = double(L) * double(L + 1) / 2;
    double direct_flops = 3 * 2.0 * double(B * H) * taps;
    auto td = b.time([&](int i) { step(i, direct); });
    b.add("fftconv", "direct (naive)", {{"B", B}, {"H", H}, {"L", L}}, td, direct_flops, bytes, true, "");
  }
}

// ---- attention: [B, H, L, D] fp32, full and causal, and the materialised baseline (full only: the
// engine's softmax mask is a key-padding mask, so a causal naive version would need an L×L bias).
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  double scale = 1.0 / std::sqrt(double(q.shape()[3]));
  Tensor s = ops::scale(ops::matmul(q, k, false, true), scale);  // [B, H, L, L]
  return ops::matmul(ops::softmax(s), v);
}

void bench_attention(Bench& b, Generator& g, int64_t B, int64_t H, int64_t L, int64_t D, bool with_naive) {
  Device dev = b.dev_;
  struct Set { Tensor q, k, v, go; };
  std::vector<Set> sets;
  for (int i = 0; i < kSets; ++i)
    sets.push_back({randn({B, H, L, D}, dev, g, 1.0, true), randn({B, H, L, D}, dev, g, 1.0, true),
                    randn({B, H, L, D}, dev, g, 1.0, true), randn({B, H, L, D}, dev, g)});
  // Useful FLOPs: forward QKᵀ and PV (4·L·L_eff·D per (b, h)), backward dV, dP, dQ, dK (8·L·L_eff·D);
  // the FlashAttention recomputation of QKᵀ is not counted. Compulsory bytes: q, k, v, out forward;
  // q, k, v, out, dout read and dq, dk, dv written backward: 12 tensors of B·H·L·D floats.
  double bytes = 12.0 * 4 * double(B * H * L * D);
  for (bool causal : {false, true}) {
    ops::AttentionOptions o;
    o.causal = causal;
    double pairs = causal ? double(L) * double(L + 1) / 2 : double(L) * double(L);
    double flops = 12.0 * double(B * H) * pairs * double(D);
    std::string note;
    if (with_naive && !causal) {
      autograd::NoGrad ng;
      const Set& s = sets[0];
      note = err_note(rel_error(ops::attention(s.q, s.k, s.v, Tensor(), o), naive_attention(s.q, s.k, s.v)));
    }
    auto t = b.time([&](int i) {
      const Set& s = sets[size_t(i % kSets)];
      ops::attention(s.q, s.k, s.v, Tensor(), o).backward(s.go);
    });
    b.add("attention", causal ? "causal" : "full", {{"B", B}, {"H", H}, {"L", L}, {"d", D}}, t, flops, bytes, true, note);
  }
  if (with_naive) {
    double flops = 12.0 * double(B * H) * double(L) * double(L) * double(D);
    auto t = b.time([&](int i) {
      const Set& s = sets[size_t(i % kSets)];
      naive_attention(s.q, s.k, s.v).backward(s.go);
    });
    b.add("attention", "materialised (naive)", {{"B", B}, {"H", H}, {"L", L}, {"d", D}}, t, flops, bytes, true,
          "matmul+softmax+matmul, stores B·H·L² floats");
  }
}

// The bfloat16 tensor-core path (CUDA only), checked against the float32 kernel on the same inputs.
void bench_attention_bf16(Bench& b, Generator& g, int64_t B, int64_t H, int64_t L, int64_t D) {
  if (b.dev_ != Device::CUDA) return;
  struct Set { Tensor q, k, v, go; };
  auto bf16 = [&](bool grad) {
    Tensor t = ops::cast(randn({B, H, L, D}, b.dev_, g), DType::BF16);
    if (grad) t.requires_grad_(true);
    return t;
  };
  std::vector<Set> sets;
  for (int i = 0; i < kSets; ++i) sets.push_back({bf16(true), bf16(true), bf16(true), bf16(false)});
  const double bytes = 12.0 * 2 * double(B * H * L * D);  // the same 12 tensors, 2 bytes each
  for (bool causal : {false, true}) {
    ops::AttentionOptions o;
    o.causal = causal;
    double pairs = causal ? double(L) * double(L + 1) / 2 : double(L) * double(L);
    double flops = 12.0 * double(B * H) * pairs * double(D);
    std::string note;
    {
      autograd::NoGrad ng;
      const Set& s = sets[0];
      auto f32 = [](const Tensor& t) { return ops::cast(t, DType::F32); };
      note = err_note(rel_error(f32(ops::attention(s.q, s.k, s.v, Tensor(), o)),
                                ops::attention(f32(s.q), f32(s.k), f32(s.v), Tensor(), o))) + " vs fp32 kernel";
    }
    auto t = b.time([&](int i) {
      const Set& s = sets[size_t(i % kSets)];
      ops::attention(s.q, s.k, s.v, Tensor(), o).backward(s.go);
    });
    b.add("attention", causal ? "causal bf16" : "full bf16", {{"B", B}, {"H", H}, {"L", L}, {"d", D}}, t, flops,
          bytes, true, note);
  }
}

// ---- rope on q [B, H, L, d]: reads and writes x forward, reads and writes the gradient backward.
void bench_rope(Bench& b, Generator& g, int64_t B, int64_t H, int64_t L, int64_t D) {
  std::vector<std::pair<Tensor, Tensor>> sets;
  for (int i = 0; i < kSets; ++i) sets.push_back({randn({B, H, L, D}, b.dev_, g, 1.0, true), randn({B, H, L, D}, b.dev_, g)});
  double elems = double(B * H * L * D);
  auto t = b.time([&](int i) {
    const auto& s = sets[size_t(i % kSets)];
    ops::rope(s.first).backward(s.second);
  });
  b.add("rope", "fwd+bwd", {{"B", B}, {"H", H}, {"L", L}, {"d", D}}, t, 2 * 6.0 * elems / 2, 4.0 * 4 * elems, false, "");
}

// ---- avgpool_seq over L of [B, H, L, d], window P: one pass forward, one (self-adjoint) backward.
void bench_avgpool(Bench& b, Generator& g, int64_t B, int64_t H, int64_t L, int64_t D, int P) {
  std::vector<std::pair<Tensor, Tensor>> sets;
  for (int i = 0; i < kSets; ++i) sets.push_back({randn({B, H, L, D}, b.dev_, g, 1.0, true), randn({B, H, L, D}, b.dev_, g)});
  double elems = double(B * H * L * D);
  auto t = b.time([&](int i) {
    const auto& s = sets[size_t(i % kSets)];
    ops::avgpool_seq(s.first, P).backward(s.second);
  });
  b.add("avgpool_seq", "P=" + std::to_string(P), {{"B", B}, {"H", H}, {"L", L}, {"d", D}}, t, 2 * 2.0 * elems,
        4.0 * 4 * elems, false, "");
}

// ---- scan over b [B, L, N] (complex: [B, L, N, 2]) with |lambda| < 1.
void bench_scan(Bench& b, Generator& g, int64_t B, int64_t L, int64_t N, bool complex) {
  Device dev = b.dev_;
  Shape bs = complex ? Shape{B, L, N, 2} : Shape{B, L, N};
  Shape ls = complex ? Shape{N, 2} : Shape{N};
  struct Set { Tensor lambda, x, g; };
  std::vector<Set> sets;
  for (int i = 0; i < kSets; ++i) {
    Tensor lam = ops::scale(ops::sigmoid(randn(ls, dev, g)), complex ? 0.7 : 0.99).detach();  // |lambda| < 1
    lam.requires_grad_(true);
    sets.push_back({lam, randn(bs, dev, g, 1.0, true), randn(bs, dev, g)});
  }
  double elems = double(bs.numel());  // floats
  auto t = b.time([&](int i) {
    const Set& s = sets[size_t(i % kSets)];
    (complex ? ops::scan_complex(s.lambda, s.x) : ops::scan_real(s.lambda, s.x)).backward(s.g);
  });
  // Real: 2 FLOPs per step forward, 2 backward scan + 2 for the lambda reduction; complex: 8 per
  // complex step (4 per float) forward, 4 + 4 backward. Compulsory bytes: b read and x written
  // forward; g read, gb written, x read backward.
  double flops_per_float = complex ? 12.0 : 6.0;
  b.add(complex ? "scan_complex" : "scan_real", "fwd+bwd", {{"B", B}, {"L", L}, {"N", N}}, t, flops_per_float * elems,
        4.0 * 5 * elems, false, "");
}

int run(const std::string& device_name, int iters, bool json, bool markdown) {
  Device dev = parse_device(device_name);
  bool gpu = dev == Device::CUDA;
  set_allow_tf32(false);
  Generator g(1);
  Bench b(dev, iters);
  if (gpu) {
    bench_fftconv(b, g, 32, 256, 1024, true);
    bench_fftconv(b, g, 8, 256, 4096, false);
    bench_fftconv(b, g, 2, 256, 16384, false);
    bench_attention(b, g, 32, 4, 1024, 64, true);
    bench_attention(b, g, 8, 4, 4096, 64, true);
    bench_attention(b, g, 1, 4, 16384, 64, false);  // memory linear in L: no L×L buffer
    bench_attention_bf16(b, g, 32, 4, 1024, 64);
    bench_attention_bf16(b, g, 8, 4, 4096, 64);
    bench_attention_bf16(b, g, 1, 4, 16384, 64);
    bench_rope(b, g, 8, 4, 4096, 64);
    bench_rope(b, g, 2, 4, 16384, 64);
    bench_avgpool(b, g, 8, 4, 4096, 64, 5);
    bench_avgpool(b, g, 2, 4, 16384, 64, 5);
    bench_scan(b, g, 8, 16384, 256, false);
    bench_scan(b, g, 8, 16384, 128, true);
  } else {  // scaled down so the whole run takes well under 30 s on a laptop-class core
    bench_fftconv(b, g, 2, 16, 1024, true);
    bench_fftconv(b, g, 1, 16, 4096, false);
    bench_fftconv(b, g, 1, 4, 16384, false);
    bench_attention(b, g, 1, 2, 256, 64, true);
    bench_attention(b, g, 1, 1, 512, 64, false);
    bench_rope(b, g, 1, 4, 4096, 64);
    bench_avgpool(b, g, 1, 4, 4096, 64, 5);
    bench_scan(b, g, 1, 16384, 64, false);
    bench_scan(b, g, 1, 16384, 32, true);
  }
  b.print(json, markdown);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_kernels: forward+backward timings of fftconv, attention, rope, avgpool and scan"};
  std::string device = "auto";
  int iters = 20;
  bool json = false, markdown = false;
  app.add_option("--device", device, "auto, cpu or cuda")->capture_default_str();
  app.add_option("--iters", iters, "timed calls per measurement (median reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--json", json, "one JSON line per measurement (for tools/bench/compare_kernels.py)");
  app.add_flag("--markdown", markdown, "print a markdown table (for docs/kernels.md)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(device, iters, json, markdown);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: error: %s\n", e.what());
    return 1;
  }
}
