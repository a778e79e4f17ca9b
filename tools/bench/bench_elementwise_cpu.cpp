// bench_elementwise_cpu: the float32 CPU element-wise paths side by side through the raw entry points: the
// reference loops (binary_cpu.cpp, elementwise_cpu.cpp, instantiated in float) and the fast paths
// (binary_cpu_fast.cpp, elementwise_cpu_fast.cpp), forward + backward, at the shapes the --small training
// profiles run (B 2, L 1024, width 64; gMLP's FFN 256; the linear transformer's [B, H, L, D] / [B, H, L, 1]
// normaliser division). Each row is checked first (worst |fast − ref| / (1 + |ref|), above 1e-4 stops the
// run), then the two paths alternate, each repetition timing one call of each; medians of --reps (the
// machine is shared).
//
//   OMP_NUM_THREADS=2 build-cpu/tools/bench_elementwise_cpu [--reps 21]
#include <CLI/CLI.hpp>

#include <array>
#include <cmath>
#include <memory>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/elementwise/binary.h"
#include "ops/elementwise/elementwise.h"

using namespace lra;
using bench::median;
using bench::seconds_of;

namespace {

std::vector<float> random_vec(int64_t n, Generator& gen, float lo, float hi) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = lo + float(gen.uniform()) * (hi - lo);
  return v;
}

double worst_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, double(std::abs(a[i] - b[i])) / (1 + std::abs(b[i])));
  return w;
}

struct Row {
  std::string name;
  std::function<void(bool fast)> run;     // one call of the path
  std::function<double()> check;          // worst difference after one call of each
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_elementwise_cpu: element-wise ops, float32 CPU reference vs fast path"};
  int reps = 21;
  app.add_option("--reps", reps, "timed repetitions (median)");
  CLI11_PARSE(app, argc, argv);
  Generator gen(3);
  std::vector<Row> rows;

  // Unary ops, forward + backward on gMLP's FFN activation [2, 1024, 256].
  const int64_t nu = 2 * 1024 * 256;
  auto ux = std::make_shared<std::vector<float>>(random_vec(nu, gen, -4, 4));
  auto ug = std::make_shared<std::vector<float>>(random_vec(nu, gen, -1, 1));
  for (auto [name, op] : {std::pair{"gelu (erf) [2,1024,256]", ops::UnaryOp::GeluErf},
                          std::pair{"silu [2,1024,256]", ops::UnaryOp::Silu},
                          std::pair{"exp [2,1024,256]", ops::UnaryOp::Exp},
                          std::pair{"laplace [2,1024,256]", ops::UnaryOp::Laplace}}) {
    auto out = std::make_shared<std::array<std::vector<float>, 4>>();
    for (auto& v : *out) v.resize(size_t(nu));
    const ops::UnaryOp o = op;
    rows.push_back({name,
                    [=](bool fast) {
                      auto& y = (*out)[fast ? 2 : 0];
                      auto& gx = (*out)[fast ? 3 : 1];
                      if (fast) {
                        ops::cpu::unary_forward_fast(o, ux->data(), y.data(), nu, 0.0f);
                        ops::cpu::unary_backward_fast(o, ux->data(), y.data(), ug->data(), gx.data(), nu, 0.0f);
                      } else {
                        ops::cpu::unary_forward<float>(o, ux->data(), y.data(), nu, 0.0f);
                        ops::cpu::unary_backward<float>(o, ux->data(), y.data(), ug->data(), gx.data(), nu, 0.0f);
                      }
                    },
                    [=] { return std::max(worst_diff((*out)[2], (*out)[0]), worst_diff((*out)[3], (*out)[1])); }});
  }

  // Binary ops, forward + backward (both operands' per-element gradients).
  struct Pair {
    const char* name;
    ops::BinaryOp op;
    Shape a, b;
  };
  for (const Pair& p : {Pair{"mul same [2,4,1024,16]", ops::BinaryOp::Mul, {2, 4, 1024, 16}, {2, 4, 1024, 16}},
                        Pair{"div column [2,4,1024,16]/[2,4,1024,1]", ops::BinaryOp::Div, {2, 4, 1024, 16}, {2, 4, 1024, 1}},
                        Pair{"mul row [2,1024,64]*[64]", ops::BinaryOp::Mul, {2, 1024, 64}, {64}},
                        Pair{"add scalar [2,1024,256]+[]", ops::BinaryOp::Add, {2, 1024, 256}, {}}}) {
    const Shape out = ops::broadcast_shape(p.a, p.b, "bench");
    const ops::BroadcastGeometry geo = ops::broadcast_geometry(p.a, p.b, out);
    auto a = std::make_shared<std::vector<float>>(random_vec(p.a.numel(), gen, 0.5f, 2));
    auto b = std::make_shared<std::vector<float>>(random_vec(p.b.numel(), gen, 0.5f, 2));
    auto g = std::make_shared<std::vector<float>>(random_vec(out.numel(), gen, -1, 1));
    auto o = std::make_shared<std::array<std::vector<float>, 6>>();
    for (auto& v : *o) v.resize(size_t(out.numel()));
    const ops::BinaryOp op = p.op;
    rows.push_back({p.name,
                    [=](bool fast) {
                      auto& y = (*o)[fast ? 3 : 0];
                      auto& ga = (*o)[fast ? 4 : 1];
                      auto& gb = (*o)[fast ? 5 : 2];
                      if (fast) {
                        ops::cpu::binary_forward_fast(op, a->data(), b->data(), y.data(), geo);
                        ops::cpu::binary_backward_fast(op, a->data(), b->data(), g->data(), ga.data(), gb.data(), geo);
                      } else {
                        ops::cpu::binary_forward<float>(op, a->data(), b->data(), y.data(), geo);
                        ops::cpu::binary_backward<float>(op, a->data(), b->data(), g->data(), ga.data(), gb.data(), geo);
                      }
                    },
                    [=] {
                      double w = 0;
                      for (int k = 0; k < 3; ++k) w = std::max(w, worst_diff((*o)[size_t(k + 3)], (*o)[size_t(k)]));
                      return w;
                    }});
  }

  // sum_middle: a bias gradient ([2048, 64] -> [64]) and row sums ([2·4·1024, 16] -> [.., 1]).
  struct Sum {
    const char* name;
    int64_t outer, n, inner;
  };
  for (const Sum& s : {Sum{"sum_middle [1,2048,64]", 1, 2048, 64}, Sum{"sum_middle [8192,16,1]", 8192, 16, 1},
                       Sum{"sum_middle [1,524288,1]", 1, 524288, 1}}) {
    auto x = std::make_shared<std::vector<float>>(random_vec(s.outer * s.n * s.inner, gen, -1, 1));
    auto o = std::make_shared<std::array<std::vector<float>, 2>>();
    for (auto& v : *o) v.resize(size_t(s.outer * s.inner));
    rows.push_back({s.name,
                    [=](bool fast) {
                      if (fast) ops::cpu::sum_middle_fast(x->data(), (*o)[1].data(), s.outer, s.n, s.inner);
                      else ops::cpu::sum_middle<float>(x->data(), (*o)[0].data(), s.outer, s.n, s.inner);
                    },
                    [=] { return worst_diff((*o)[1], (*o)[0]) / std::sqrt(double(s.n)); }});
  }

  std::printf("| op (forward + backward) | reference ms | fast ms | speed-up |\n|---|---:|---:|---:|\n");
  for (Row& r : rows) {
    r.run(false);
    r.run(true);
    const double w = r.check();
    if (w > 1e-4) {
      std::fprintf(stderr, "%s: fast vs reference differ by %g\n", r.name.c_str(), w);
      return 1;
    }
    std::vector<double> tr, tf;
    for (int i = 0; i < reps; ++i) {
      tr.push_back(seconds_of([&] { r.run(false); }));
      tf.push_back(seconds_of([&] { r.run(true); }));
    }
    const double mr = median(tr) * 1e3, mf = median(tf) * 1e3;
    std::printf("| %s | %.3f | %.3f | %.1fx |\n", r.name.c_str(), mr, mf, mr / mf);
  }
  return 0;
}
