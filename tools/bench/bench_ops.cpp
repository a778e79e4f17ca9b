// bench_ops: times the core ops (matmul, softmax, layer norm, AdamW) and prints achieved throughput
// beside the machine's ceilings. Each op runs on 3 rotating input sets (so repeated runs do not just
// measure the cache), 5 warm-ups, then the median of --iters separately timed calls (CUDA events).
//
// Ceilings: the copy bandwidth is measured in the same run (a 256 MiB device-to-device copy, bytes read
// plus written). Matmul rates are compared with the H100 figures measured for this project (fp32 51,
// tf32 404 TFLOP/s; see docs/benchmarks.md), or with nothing on the CPU.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/autograd.h"
#include "engine/bench.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/softmax/softmax.h"

using namespace lra;

namespace {

struct Sizes {
  int64_t mm, lin_rows, lin_in, lin_out, sm_rows, sm_len, ln_rows, ln_dim, adam_params;
};

Tensor randn(const Shape& s, Device d, Generator& g) {
  Tensor t = Tensor::empty(s, DType::F32, d);
  normal_(t, g);
  return t;
}

class FlatParams : public nn::Module {
 public:
  FlatParams(int64_t n, Device d, Generator& g) {
    Tensor t = Tensor::empty({n}, DType::F32, d);
    normal_(t, g);
    register_parameter("w", t);
  }
};

int run(const std::string& device_name, int iters, bool markdown) {
  Device dev = parse_device(device_name);
  bool gpu = dev == Device::CUDA;
  Sizes s = gpu ? Sizes{4096, 64 * 2000, 256, 768, 32 * 4 * 1024, 1024, 64 * 2000, 256, 20'000'000}
                : Sizes{512, 4 * 500, 128, 384, 2048, 1024, 8192, 256, 1'000'000};
  Generator g(1);
  bench::Ceilings ceil = bench::measure_ceilings(dev);
  const double fp32_tflops = 51.0, tf32_tflops = 404.0;  // H100 ceilings measured for this project
  std::vector<bench::Row> rows;
  auto bw_row = [&](const std::string& name, const std::string& size, bench::Timing t, double bytes) {
    bench::Row r{name, size, t};
    r.gbs = bytes / (t.median_ms * 1e-3) / 1e9;
    r.ceiling_fraction = r.gbs / ceil.copy_gbs;
    r.note = "vs copy " + std::to_string(int(ceil.copy_gbs)) + " GB/s";
    rows.push_back(r);
  };
  auto flop_row = [&](const std::string& name, const std::string& size, bench::Timing t, double flops, double peak) {
    bench::Row r{name, size, t};
    r.tflops = flops / (t.median_ms * 1e-3) / 1e12;
    if (gpu) {
      r.ceiling_fraction = r.tflops / peak;
      r.note = "vs " + std::to_string(int(peak)) + " TFLOP/s";
    }
    rows.push_back(r);
  };
  autograd::NoGrad no_grad;

  // Matmul: square, and the ListOps-shape QKV projection (linear [B*L, D] x [3D, D]^T).
  for (bool tf32 : gpu ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
    set_allow_tf32(tf32);
    const char* prec = tf32 ? " (tf32)" : " (fp32)";
    double peak = tf32 ? tf32_tflops : fp32_tflops;
    std::vector<Tensor> a, b;
    for (int k = 0; k < 3; ++k) a.push_back(randn({s.mm, s.mm}, dev, g)), b.push_back(randn({s.mm, s.mm}, dev, g));
    auto t = bench::time(dev, [&](int i) { ops::matmul(a[size_t(i % 3)], b[size_t(i % 3)]); }, 5, iters);
    std::string sz = std::to_string(s.mm) + "^3";
    flop_row(std::string("matmul") + prec, sz, t, 2.0 * double(s.mm) * s.mm * s.mm, peak);
    std::vector<Tensor> x, w;
    for (int k = 0; k < 3; ++k) x.push_back(randn({s.lin_rows, s.lin_in}, dev, g)), w.push_back(randn({s.lin_out, s.lin_in}, dev, g));
    t = bench::time(dev, [&](int i) { ops::linear(x[size_t(i % 3)], w[size_t(i % 3)]); }, 5, iters);
    flop_row(std::string("linear") + prec, std::to_string(s.lin_rows) + "x" + std::to_string(s.lin_in) + " -> " + std::to_string(s.lin_out),
             t, 2.0 * double(s.lin_rows) * s.lin_in * s.lin_out, peak);
  }
  set_allow_tf32(false);

  {  // Softmax over rows of attention-like logits: reads and writes the matrix once each.
    std::vector<Tensor> x;
    for (int k = 0; k < 3; ++k) x.push_back(randn({s.sm_rows, s.sm_len}, dev, g));
    double bytes = 2.0 * 4 * double(s.sm_rows) * s.sm_len;
    auto t = bench::time(dev, [&](int i) { ops::softmax(x[size_t(i % 3)]); }, 5, iters);
    bw_row("softmax fwd", std::to_string(s.sm_rows) + "x" + std::to_string(s.sm_len), t, bytes);
  }
  {  // Layer norm forward: reads x, writes y (weight, bias and the row statistics are negligible).
    std::vector<Tensor> x;
    for (int k = 0; k < 3; ++k) x.push_back(randn({s.ln_rows, s.ln_dim}, dev, g));
    Tensor w = randn({s.ln_dim}, dev, g), b = randn({s.ln_dim}, dev, g);
    double bytes = 2.0 * 4 * double(s.ln_rows) * s.ln_dim;
    auto t = bench::time(dev, [&](int i) { ops::layer_norm(x[size_t(i % 3)], w, b); }, 5, iters);
    bw_row("layer_norm fwd", std::to_string(s.ln_rows) + "x" + std::to_string(s.ln_dim), t, bytes);
  }
  {  // AdamW: reads p, g, m, v and writes p, m, v: 28 bytes per parameter.
    FlatParams model(s.adam_params, dev, g);
    optim::AdamWConfig cfg;
    cfg.weight_decay = 0.01;
    optim::AdamW opt(model.named_parameters(), cfg);
    opt.zero_grad();
    auto t = bench::time(dev, [&](int) { opt.step(1e-3); }, 5, iters);
    bw_row("adamw step", std::to_string(s.adam_params / 1'000'000) + "M params", t, 28.0 * double(s.adam_params));
  }

  if (markdown) {
    std::printf("Device: %s, copy ceiling %.0f GB/s (measured in this run)\n\n%s", gpu ? cuda_device_name().c_str() : "CPU",
                ceil.copy_gbs, bench::markdown_table(rows).c_str());
  } else {
    for (const auto& r : rows)
      std::printf("%-16s %-22s %9.3f ms  %8.1f GB/s  %7.2f TFLOP/s  %5.0f%%  %s\n", r.name.c_str(), r.size.c_str(),
                  r.timing.median_ms, r.gbs, r.tflops, 100 * r.ceiling_fraction, r.note.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_ops: time matmul, softmax, layer norm and AdamW against the device's ceilings"};
  std::string device = "auto";
  int iters = 20;
  bool markdown = false;
  app.add_option("--device", device, "auto, cpu or cuda")->capture_default_str();
  app.add_option("--iters", iters, "timed calls per op (median reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--markdown", markdown, "print a markdown table (for docs/benchmarks.md)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(device, iters, markdown);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ops: error: %s\n", e.what());
    return 1;
  }
}
