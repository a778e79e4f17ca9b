// bench_attention_cpu: the float32 CPU attention paths side by side, forward + backward through the raw
// entry points: the row path training ran before (attention_cpu_rows.cpp) and the tiled fast path
// (attention_cpu_fast.cpp). Each shape is checked first (fast vs rows, worst |a − b| / (1 + |rows|) over
// out, gq, gk, gv; a mismatch above 1e-3 stops the run), then timed: the two paths alternate, each
// repetition times one forward + backward of each, and the median of --reps repetitions is reported.
// GFLOP/s count as attention.h does: 4·B·H·L·L_eff·D forward, 2.5 times that backward, with L_eff the
// exact number of allowed keys per query (L for full, (L + 1)/2 on average for causal).
//
//   OMP_NUM_THREADS=2 build-cpu/tools/bench_attention_cpu [--B 2 --H 4 --D 32,64 --L 512,1024,2048,4096]
// The row path is slow (~1 GFLOP/s in the backward), so it is timed only up to --rows-max-L.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/attention/attention.h"

using namespace lra;
using bench::median;
using bench::seconds_of;

int main(int argc, char** argv) {
  CLI::App app{"float32 CPU attention: row path vs tiled fast path"};
  int64_t B = 2, H = 4, rows_max_L = 1024;
  std::vector<int64_t> Ds{32, 64}, Ls{512, 1024, 2048, 4096};
  int reps = 5;
  app.add_option("--B", B);
  app.add_option("--H", H);
  app.add_option("--D", Ds)->delimiter(',');
  app.add_option("--L", Ls)->delimiter(',');
  app.add_option("--reps", reps);
  app.add_option("--rows-max-L", rows_max_L, "time the row path only up to this L");
  CLI11_PARSE(app, argc, argv);
  std::printf("| D | L | mask | rows fwd+bwd GFLOP/s | fast fwd GFLOP/s | fast bwd GFLOP/s | fast fwd+bwd GFLOP/s | fast fwd+bwd ms | max err |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  Generator gen(7);
  for (int64_t D : Ds)
    for (int64_t L : Ls)
      for (bool causal : {false, true}) {
        const size_t n = size_t(B * H * L * D);
        auto random = [&](float lo, float hi) {
          std::vector<float> x(n);
          for (float& e : x) e = lo + (hi - lo) * float(gen.uniform());
          return x;
        };
        std::vector<float> q = random(-2, 2), k = random(-2, 2), v = random(-1, 1), go = random(-1, 1);
        std::vector<float> out(n), gq(n), gk(n), gv(n), lse(size_t(B * H * L));
        std::vector<float> out_r(n), gq_r(n), gk_r(n), gv_r(n);
        ops::AttentionParams p;
        p.B = B, p.H = H, p.L = L, p.D = D, p.scale = 1.0 / std::sqrt(double(D)), p.causal = causal;
        const bool rows = L <= rows_max_L;
        auto run_fast_fwd = [&] { ops::cpu::attention_forward_fast(p, q.data(), k.data(), v.data(), nullptr, out.data(), lse.data()); };
        auto run_fast_bwd = [&] {
          ops::cpu::attention_backward_fast(p, q.data(), k.data(), v.data(), nullptr, out.data(), lse.data(), go.data(), gq.data(),
                                            gk.data(), gv.data(), nullptr);
        };
        auto run_rows = [&] {
          ops::cpu::attention_forward_rows<float>(p, q.data(), k.data(), v.data(), nullptr, out_r.data());
          ops::cpu::attention_backward_rows<float>(p, q.data(), k.data(), v.data(), nullptr, go.data(), gq_r.data(),
                                                   gk_r.data(), gv_r.data(), nullptr);
        };
        // Check first, against the row path, at every L it is timed at (above --rows-max-L the row path
        // would take minutes; tests/ops/attention_test_cpu_fast.cpp checks the fast path at L 1024).
        run_fast_fwd();
        run_fast_bwd();
        double err = -1;
        if (rows) {
          run_rows();
          err = 0;
          auto worst = [&](const std::vector<float>& a, const std::vector<float>& b) {
            for (size_t e = 0; e < a.size(); ++e)
              err = std::max(err, double(std::abs(a[e] - b[e])) / (1 + std::abs(double(b[e]))));
          };
          worst(out, out_r), worst(gq, gq_r), worst(gk, gk_r), worst(gv, gv_r);
          if (!(err <= 1e-3)) {
            std::fprintf(stderr, "bench_attention_cpu: fast path differs from the row path by %g at D %lld L %lld\n",
                         err, (long long)D, (long long)L);
            return 1;
          }
        }
        std::vector<double> t_rows, t_fwd, t_bwd;
        for (int r = 0; r < reps; ++r) {
          if (rows) t_rows.push_back(seconds_of(run_rows));
          t_fwd.push_back(seconds_of(run_fast_fwd));
          t_bwd.push_back(seconds_of(run_fast_bwd));
        }
        const double pairs = causal ? double(L) * double(L + 1) / 2 : double(L) * double(L);
        const double fwd_flops = 4.0 * double(B * H) * pairs * double(D), bwd_flops = 2.5 * fwd_flops;
        const double tf = median(t_fwd), tb = median(t_bwd);
        std::vector<double> t_both(t_fwd.size());
        for (size_t e = 0; e < t_fwd.size(); ++e) t_both[e] = t_fwd[e] + t_bwd[e];
        const double tfb = median(t_both);
        char rows_col[32] = "-", err_col[32] = "-";
        if (rows) std::snprintf(rows_col, sizeof rows_col, "%.2f", (fwd_flops + bwd_flops) / median(t_rows) / 1e9);
        if (err >= 0) std::snprintf(err_col, sizeof err_col, "%.1e", err);
        std::printf("| %lld | %lld | %s | %s | %.1f | %.1f | %.1f | %.1f | %s |\n", (long long)D, (long long)L,
                    causal ? "causal" : "full", rows_col, fwd_flops / tf / 1e9, bwd_flops / tb / 1e9,
                    (fwd_flops + bwd_flops) / tfb / 1e9, tfb * 1e3, err_col);
        std::fflush(stdout);
      }
  return 0;
}
