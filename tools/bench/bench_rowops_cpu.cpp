// bench_rowops_cpu: the float32 CPU paths of layer_norm, softmax, sum over a dim and masked_mean side by
// side, forward + backward through the raw entry points: the reference (ops/<family>/<family>_cpu.cpp,
// instantiated in float) and the fast path (<family>_cpu_fast.cpp), at the shapes the --small LRA models
// run (B 2, width 64, L 1024 and 2048: layer_norm over [B·L, 64], Linformer's softmax over [B·H·L, 64],
// Sinkhorn's over [B·H·L/32, 32]-ish blocks stand in as [B·H·L, 32], a mean over L of [B, L, 64]).
// Each op is checked first (worst |fast − ref| / (1 + |ref|) over the outputs and gradients; above 1e-4
// stops the run), then timed: the two paths alternate, each repetition times one forward + backward of each,
// and the median of --reps repetitions is reported (the machine is shared). Output buffers are allocated
// once per op; the concatenated copy each call returns (the same for both sides) is included.
//
//   OMP_NUM_THREADS=2 build-cpu/tools/bench_rowops_cpu [--L 1024,2048 --reps 21]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/softmax/softmax.h"

using namespace lra;
using bench::median;
using bench::seconds_of;

namespace {

struct Op {
  std::string name, shape;
  // Runs forward + backward of the reference (false) or the fast path (true) into buffers the op keeps
  // between calls (nothing is allocated while timing); returns the outputs and gradients, concatenated.
  std::function<std::vector<float>(bool)> run;
};

std::vector<float> random_vec(size_t n, Generator& gen, double lo, double hi) {
  std::vector<float> v(n);
  for (float& x : v) x = float(lo + (hi - lo) * gen.uniform());
  return v;
}

std::vector<float> cat(std::initializer_list<const std::vector<float>*> parts) {
  std::vector<float> all;
  for (const auto* p : parts) all.insert(all.end(), p->begin(), p->end());
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_rowops_cpu: layer_norm, softmax, sum, masked_mean: float32 CPU reference vs fast path"};
  int reps = 21;
  int64_t B = 2, D = 64, H = 4;
  std::vector<int64_t> lengths{1024, 2048};
  app.add_option("--L", lengths, "sequence lengths")->delimiter(',');
  app.add_option("--reps", reps, "timed repetitions (median)");
  CLI11_PARSE(app, argc, argv);

  std::printf("| op | shape | reference fwd+bwd ms | fast fwd+bwd ms | speed-up | check |\n|---|---|---:|---:|---:|---:|\n");
  for (int64_t L : lengths) {
    Generator gen(7);
    std::vector<Op> ops_;
    {  // layer_norm over [B·L, D] with weight and bias
      const int64_t rows = B * L;
      auto x = random_vec(size_t(rows * D), gen, -2, 2), gy = random_vec(size_t(rows * D), gen, -1, 1);
      auto w = random_vec(size_t(D), gen, 0.5, 1.5), b = random_vec(size_t(D), gen, -1, 1);
      ops_.push_back({"layer_norm", "[" + std::to_string(rows) + ", " + std::to_string(D) + "]", [=, y = std::vector<float>(x.size()), dx = std::vector<float>(x.size()), m = std::vector<float>(size_t(rows)),
                                 s = std::vector<float>(size_t(rows)), dw = std::vector<float>(size_t(D)),
                                 db = std::vector<float>(size_t(D))](bool fast) mutable {
                        if (fast) {
                          ops::cpu::norm_forward_fast(x.data(), w.data(), b.data(), y.data(), m.data(), s.data(), rows, D,
                                                      1e-5f, false);
                          ops::cpu::norm_backward_fast(x.data(), w.data(), m.data(), s.data(), gy.data(), dx.data(),
                                                       dw.data(), db.data(), rows, D, false);
                        } else {
                          ops::cpu::norm_forward<float>(x.data(), w.data(), b.data(), y.data(), m.data(), s.data(), rows,
                                                        D, 1e-5f, false);
                          ops::cpu::norm_backward<float>(x.data(), w.data(), m.data(), s.data(), gy.data(), dx.data(),
                                                         dw.data(), db.data(), rows, D, false);
                        }
                        return cat({&y, &dx, &dw, &db});
                      }});
    }
    for (int64_t len : {int64_t(64), int64_t(32)}) {  // softmax over [B·H·L, len]
      const int64_t rows = B * H * L;
      auto x = random_vec(size_t(rows * len), gen, -4, 4), gy = random_vec(size_t(rows * len), gen, -1, 1);
      ops_.push_back({"softmax", "[" + std::to_string(rows) + ", " + std::to_string(len) + "]", [=, y = std::vector<float>(x.size()), gx = std::vector<float>(x.size())](bool fast) mutable {
                        if (fast) {
                          ops::cpu::softmax_forward_fast(x.data(), y.data(), nullptr, rows, len, 1, false);
                          ops::cpu::softmax_backward_fast(y.data(), gy.data(), gx.data(), nullptr, rows, len, 1, false);
                        } else {
                          ops::cpu::softmax_forward<float>(x.data(), y.data(), nullptr, rows, len, 1, false);
                          ops::cpu::softmax_backward<float>(y.data(), gy.data(), gx.data(), nullptr, rows, len, 1, false);
                        }
                        return cat({&y, &gx});
                      }});
    }
    {  // mean over L of [B, L, D] (the mean pooling), and a sum over the last dim of [B·H·L, 16]
      auto x = random_vec(size_t(B * L * D), gen, -1, 1), gy = random_vec(size_t(B * D), gen, -1, 1);
      ops_.push_back({"mean dim 1", "[" + std::to_string(B) + ", " + std::to_string(L) + ", " + std::to_string(D) + "]",
                      [=, y = std::vector<float>(gy.size()), gx = std::vector<float>(x.size())](bool fast) mutable {
                        const float sc = 1.0f / float(L);
                        if (fast) {
                          ops::cpu::sum_forward_fast(x.data(), y.data(), B, L, D, sc);
                          ops::cpu::sum_backward_fast(gy.data(), gx.data(), B, L, D, sc);
                        } else {
                          ops::cpu::sum_forward<float>(x.data(), y.data(), B, L, D, sc);
                          ops::cpu::sum_backward<float>(gy.data(), gx.data(), B, L, D, sc);
                        }
                        return cat({&y, &gx});
                      }});
      const int64_t rows = B * H * L, n = 16;
      auto x2 = random_vec(size_t(rows * n), gen, -1, 1), gy2 = random_vec(size_t(rows), gen, -1, 1);
      ops_.push_back({"sum dim -1", "[" + std::to_string(rows) + ", " + std::to_string(n) + "]", [=, y = std::vector<float>(gy2.size()), gx = std::vector<float>(x2.size())](bool fast) mutable {
                        if (fast) {
                          ops::cpu::sum_forward_fast(x2.data(), y.data(), rows, n, 1, 1.0f);
                          ops::cpu::sum_backward_fast(gy2.data(), gx.data(), rows, n, 1, 1.0f);
                        } else {
                          ops::cpu::sum_forward<float>(x2.data(), y.data(), rows, n, 1, 1.0f);
                          ops::cpu::sum_backward<float>(gy2.data(), gx.data(), rows, n, 1, 1.0f);
                        }
                        return cat({&y, &gx});
                      }});
    }
    for (const Op& op : ops_) {
      const auto ref = op.run(false), fast = op.run(true);
      double worst = 0;
      for (size_t i = 0; i < ref.size(); ++i)
        worst = std::max(worst, std::abs(double(fast[i]) - double(ref[i])) / (1.0 + std::abs(double(ref[i]))));
      if (!(worst <= 1e-4)) {
        std::fprintf(stderr, "bench_rowops_cpu: %s %s: fast path differs from the reference by %g\n", op.name.c_str(),
                     op.shape.c_str(), worst);
        return 1;
      }
      std::vector<double> t_ref, t_fast;
      for (int r = 0; r < reps; ++r) {
        t_ref.push_back(seconds_of([&] { op.run(false); }));
        t_fast.push_back(seconds_of([&] { op.run(true); }));
      }
      const double mr = median(t_ref) * 1e3, mf = median(t_fast) * 1e3;
      std::printf("| %s | %s | %.3f | %.3f | %.1fx | %.1e |\n", op.name.c_str(), op.shape.c_str(), mr, mf, mr / mf, worst);
    }
  }
  return 0;
}
